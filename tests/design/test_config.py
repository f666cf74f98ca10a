"""Campaign files: validation, interpolation, overrides, quick mode, and the exact error texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from oracles import list_oracles
from seqguide.design import CampaignConfig, ConfigError, load_campaign
from seqguide.design.cli import design_main
from seqguide.design.objective import build_objective

BASE = """
seed: 7
run_dir: out/${name}
model:
  checkpoint: model.ckpt
objective:
  oracles:
    - name: gc
guidance:
  - method: svdd
    particles: 4
loop:
  rounds: 3
  candidates: 8
quick:
  loop:
    rounds: 1
  guidance.0.particles: 2
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in tmp_path (messages then name 'campaign.yaml'), with a placeholder checkpoint file."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "model.ckpt").write_bytes(b"")
    return tmp_path


def _error(text: str, write_yaml, overrides: tuple[str, ...] = (), quick: bool = False) -> str:
    write_yaml(text)
    with pytest.raises(ConfigError) as info:
        load_campaign("campaign.yaml", overrides, quick=quick)
    return str(info.value)


def _with(old: str, new: str) -> str:
    assert old in BASE
    return BASE.replace(old, new)


# ------------------------------------------------------------------------------------------- valid
def test_valid_file_resolves_interpolation_defaults_and_name(here, write_yaml):
    write_yaml(BASE)
    loaded = load_campaign("campaign.yaml")
    cfg = loaded.config
    assert isinstance(cfg, CampaignConfig)
    assert cfg.name == "campaign"  # the file name
    assert cfg.run_dir == "out/campaign"  # ${name} interpolated
    assert cfg.guidance[0].particles == 4 and cfg.loop.rounds == 3
    assert cfg.budget == 3 * 8  # default: rounds x candidates
    assert not loaded.quick


def test_quick_section_applies_only_with_quick(here, write_yaml):
    write_yaml(BASE)
    quick = load_campaign("campaign.yaml", quick=True).config
    assert (quick.loop.rounds, quick.guidance[0].particles, quick.loop.candidates) == (1, 2, 8)


def test_command_line_overrides_win_over_quick_and_accept_both_index_styles(here, write_yaml):
    write_yaml(BASE)
    cfg = load_campaign("campaign.yaml", ["loop.rounds=5", "guidance[0].alpha=0.5", "guidance.0.particles=6",
                                          "seed=11", "name=other"], quick=True).config
    assert (cfg.loop.rounds, cfg.guidance[0].alpha, cfg.guidance[0].particles, cfg.seed) == (5, 0.5, 6, 11)
    assert cfg.run_dir == "out/other"  # interpolation sees the overridden name


# -------------------------------------------------------------------------------------- bad values
def test_wrong_type(here, write_yaml):
    msg = _error(_with("rounds: 3", "rounds: four"), write_yaml)
    assert msg == ("campaign.yaml: loop.rounds: Input should be a valid integer, unable to parse string as an "
                   "integer (got 'four')")


def test_negative_guidance_parameter(here, write_yaml):
    msg = _error(_with("particles: 4", "particles: -3"), write_yaml)
    assert msg == "campaign.yaml: guidance[0].particles: particles must be >= 1, got -3"


def test_negative_budget(here, write_yaml):
    msg = _error(_with("candidates: 8", "candidates: 8\n  budget: -5"), write_yaml)
    assert msg == "campaign.yaml: loop.budget: Input should be greater than 0 (got -5)"


def test_unknown_oracle_lists_the_available_ones(here, write_yaml):
    msg = _error(_with("- name: gc", "- name: foo"), write_yaml)
    assert msg == (f"campaign.yaml: objective.oracles[0].name: unknown oracle 'foo' (available: "
                   f"{', '.join(list_oracles())})")


def test_unknown_key_suggests_the_closest(here, write_yaml):
    msg = _error(_with("checkpoint: model.ckpt", "chekpoint: model.ckpt"), write_yaml)
    assert msg == ("campaign.yaml: model.chekpoint: unknown key (did you mean 'checkpoint'? allowed: checkpoint, "
                   "train, alphabet, length, finetune)")


def test_unknown_top_level_key(here, write_yaml):
    msg = _error(BASE + "rounds: 4\n", write_yaml)
    assert msg.startswith("campaign.yaml: rounds: unknown key (did you mean 'loop.rounds'? allowed: name, "
                          "description, seed, run_dir, store, model, sampling, objective, data, guidance, loop,")
    assert msg.endswith(", quick)")


def test_unknown_key_that_lives_one_level_down(here, write_yaml):
    msg = _error(BASE, write_yaml, overrides=("model.data=x",))
    assert msg.startswith("campaign.yaml: model.data: unknown key (did you mean 'model.train.data'? allowed: ")


def test_unknown_key_inside_a_guider_names_that_guider_s_keys(here, write_yaml):
    msg = _error(_with("particles: 4", "particles: 4\n    beams: 2"), write_yaml)
    assert msg == ("campaign.yaml: guidance[0].beams: unknown argument of svdd (allowed: method, value, particles, "
                   "alpha, start, stop)")
    msg = _error(_with("particles: 4", "particle: 4"), write_yaml)
    assert msg == ("campaign.yaml: guidance[0].particle: unknown argument of svdd (did you mean 'particles'? allowed: "
                   "method, value, particles, alpha, start, stop)")


def test_unknown_guidance_method(here, write_yaml):
    msg = _error(_with("method: svdd", "method: magic"), write_yaml)
    from seqguide.guidance import list_guiders

    names = ", ".join(list_guiders())
    assert msg == (f"campaign.yaml: guidance[0].method: unknown guider 'magic' (available: {names}; or a class path "
                   "such as 'my_package.guiders:MyGuider')")
    msg = _error(_with("method: svdd", "method: svd"), write_yaml)
    assert msg.startswith("campaign.yaml: guidance[0].method: unknown guider 'svd' (did you mean 'svdd'? available: ")


def test_missing_required_section(here, write_yaml):
    text = BASE.replace("objective:\n  oracles:\n    - name: gc\n", "")
    assert _error(text, write_yaml) == "campaign.yaml: objective: required key is missing"


def test_model_needs_exactly_one_source(here, write_yaml):
    msg = _error(_with("checkpoint: model.ckpt", "checkpoint: model.ckpt\n  train: {data: {preset: crp}}"),
                 write_yaml)
    assert msg == ("campaign.yaml: model: give exactly one of checkpoint (a trained model) or train (a training "
                   "spec)")


def test_several_problems_are_reported_together(here, write_yaml):
    text = _with("rounds: 3", "rounds: 0").replace("particles: 4", "particles: 1.5")
    assert _error(text, write_yaml).splitlines() == [
        "campaign.yaml: guidance[0].particles: Input should be a valid integer, got a number with a fractional "
        "part (got 1.5)",
        "campaign.yaml: loop.rounds: Input should be greater than 0 (got 0)",
    ]


def test_bad_override_value_is_reported_at_its_key(here, write_yaml):
    msg = _error(BASE, write_yaml, overrides=("loop.candidates=-1",))
    assert msg == ("campaign.yaml: loop.candidates: Input should be greater than 0 (got -1) [from a command-line "
                   "override]")
    msg = _error(_with("guidance.0.particles: 2", "guidance.0.particles: 0"), write_yaml, quick=True)
    assert msg == "campaign.yaml: guidance[0].particles: particles must be >= 1, got 0 [from a quick: override]"


def test_malformed_override(here, write_yaml):
    msg = _error(BASE, write_yaml, overrides=("loop.rounds",))
    assert msg == "campaign.yaml: override 'loop.rounds' must look like key=value (e.g. loop.rounds=2)"


def test_override_of_an_unknown_key(here, write_yaml):
    msg = _error(BASE, write_yaml, overrides=("loop.round=2",))
    assert msg.startswith("campaign.yaml: loop.round: unknown key (did you mean 'rounds'? allowed: rounds,")
    assert msg.endswith(") [from a command-line override]")


def test_unresolvable_interpolation(here, write_yaml):
    msg = _error(_with("run_dir: out/${name}", "run_dir: out/${nope}"), write_yaml)
    assert msg.startswith("campaign.yaml: run_dir: cannot resolve interpolation: ")
    assert "nope" in msg


def test_quick_without_a_quick_section(here, write_yaml):
    text = BASE[: BASE.index("quick:")]
    assert _error(text, write_yaml, quick=True) == ("campaign.yaml: quick: --quick was given but the file has no "
                                                    "quick: section")


def test_invalid_yaml_names_line_and_column(here, write_yaml):
    msg = _error("seed: 1\nmodel: [unclosed\n", write_yaml)
    assert msg.startswith("campaign.yaml: invalid YAML: line 3, column 1: ")


def test_missing_campaign_file(here):
    with pytest.raises(ConfigError) as info:
        load_campaign("nope.yaml")
    assert str(info.value).startswith("nope.yaml: campaign file not found (")


# ------------------------------------------------------------------------------------ missing files
def test_missing_checkpoint_names_key_and_path(here, write_yaml):
    msg = _error(_with("checkpoint: model.ckpt", "checkpoint: models/missing.ckpt"), write_yaml)
    assert msg == "campaign.yaml: model.checkpoint: file not found: models/missing.ckpt"


def test_missing_data_file_names_key_and_path(here, write_yaml):
    text = _with("checkpoint: model.ckpt", "train:\n    data: {path: data/seqs.fasta, alphabet: dna}")
    assert _error(text, write_yaml) == "campaign.yaml: model.train.data.path: file not found: data/seqs.fasta"


def test_unknown_data_preset(here, write_yaml):
    text = _with("checkpoint: model.ckpt", "train:\n    data: {preset: nope}")
    msg = _error(text, write_yaml)
    assert msg.startswith("campaign.yaml: model.train.data.preset: unknown data preset 'nope' (available: amp,")


# --------------------------------------------------------------------------------- oracle arguments
def test_oracle_arguments_are_checked_when_the_objective_is_built(here, write_yaml):
    write_yaml(_with("- name: gc", "- name: gc\n      args: {window: 3}"))
    cfg = load_campaign("campaign.yaml").config
    with pytest.raises(ConfigError) as info:
        build_objective(cfg.objective, file="campaign.yaml")
    assert str(info.value) == ("campaign.yaml: objective.oracles[0].args: TypeError: oracle 'gc' does not take "
                               "['window']; it accepts ['alphabet', 'target']")


def test_two_selecting_guiders_are_rejected(here, write_yaml):
    msg = _error(_with("particles: 4", "particles: 4\n  - method: beam"), write_yaml)
    assert msg == ("campaign.yaml: guidance: at most one guider per stack may propose and select candidates "
                   "(propose(), select()); got svdd (guidance[0]) and beam (guidance[1])")
    msg = _error(_with("particles: 4", "particles: 4\n  - method: smc"), write_yaml)
    assert msg == ("campaign.yaml: guidance: at most one guider per stack may select among candidates (select()); "
                   "got svdd (guidance[0]) and smc (guidance[1])")


# ----------------------------------------------------------------------------------------------- CLI
def test_cli_validate_reports_errors_with_exit_code_2(here, write_yaml, capsys):
    write_yaml(_with("particles: 4", "particles: -3"))
    assert design_main(["validate", "campaign.yaml"]) == 2
    err = capsys.readouterr().err
    assert "campaign.yaml: guidance[0].particles: particles must be >= 1, got -3" in err


def test_cli_validate_ok(here, write_yaml, capsys):
    write_yaml(BASE)
    assert design_main(["validate", "campaign.yaml", "--quick", "loop.candidates=4"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("campaign.yaml: OK (quick)")
    assert "loop: 1 rounds x 4 candidates, budget 4 oracle calls" in out


def test_a_misspelled_choice_suggests_the_nearest(here, write_yaml):
    msg = _error(_with("    - name: gc\n", "    - name: gc\n  combine: summ\n"), write_yaml)
    assert msg == ("campaign.yaml: objective.combine: Input should be 'sum', 'product' or 'geometric' (got 'summ'; did "
                   "you mean 'sum'?)")
