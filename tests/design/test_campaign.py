"""A tiny campaign end to end: YAML -> rounds -> store -> report, and the value sources of the guidance."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest

from seqguide.design import Campaign, CampaignError, ConfigError, DesignStore, load_run
from seqguide.design.cli import design_main, report_main

CAMPAIGN = """
name: tiny
seed: 4
run_dir: {run_dir}
model:
  checkpoint: {ckpt}
  alphabet: dna
  length: 26
objective:
  oracles:
    - name: jaspar
      args: {{motif: MA2303.1}}
      label: motif_score
    - name: gc
      weight: 0.5
  constraints:
    - name: restriction_sites
    - name: gc
      lower: 0.3
      upper: 0.7
      label: gc_window
guidance:
  - method: svdd
    value: {value}
    particles: 2
sampling:
  steps: 8
loop:
  rounds: {rounds}
  candidates: 6
  score_batch: 4
  budget: 3000   # designs and the look-ahead's real calls (value: oracle) alike
surrogate: {{members: 2, channels: 8, epochs: 2, min_labels: 4}}
value_model: {{max_steps: 4, batch_size: 8, val_fraction: 0.0, min_labels: 4}}
report:
  top_k: 5
"""


def _campaign(write_yaml, tmp_path: Path, ckpt: Path, value: str = "oracle", rounds: int = 2) -> Path:
    return write_yaml(CAMPAIGN.format(run_dir=tmp_path / "run", ckpt=ckpt, value=value, rounds=rounds))


@pytest.mark.slow
def test_two_rounds_fill_the_store_and_the_report(tiny_checkpoint, tmp_path, write_yaml, capsys):
    path = _campaign(write_yaml, tmp_path, tiny_checkpoint)
    result = Campaign.from_yaml(path).run()
    out = capsys.readouterr().out
    store = tmp_path / "run" / "campaign.sqlite"
    assert f"store:  {store}" in out and f"report: seqguide report {tmp_path / 'run'}" in out

    db = sqlite3.connect(store)
    (name, status, config, model, version, budget), = db.execute(
        "SELECT name, status, config, model, code_version, budget FROM runs").fetchall()
    assert (name, status, budget) == ("tiny", result.status, 3000)
    assert json.loads(config)["objective"]["oracles"][0]["label"] == "motif_score"
    assert json.loads(model)["sha256"] and version
    rounds = db.execute("SELECT round, status, n_candidates, n_scored, n_charged, guidance_oracle_calls, nfe, "
                        "seed, guidance_charged FROM rounds ORDER BY round").fetchall()
    assert [r[:4] for r in rounds] == [(0, "done", 6, 6), (1, "done", 6, 6)]
    assert all(r[5] > 0 and r[6] > 0 for r in rounds) and rounds[0][7] != rounds[1][7]
    # The look-ahead's real calls (memo misses) are paid from the same budget as the designs.
    assert all(0 < r[8] <= r[5] for r in rounds)
    (memo,) = db.execute("SELECT COUNT(*) FROM oracle_cache WHERE namespace LIKE 'guidance-lookahead:%'").fetchone()
    assert memo == sum(r[8] for r in rounds)
    designs = db.execute("SELECT sequence, valid, charged, reason, components, guidance, model, session FROM designs"
                         ).fetchall()
    assert len(designs) == 12 == len({d[0] for d in designs})
    assert sum(d[2] for d in designs) + memo == result.budget_used
    for seq, valid, charged, reason, comps, guidance, model_id, session in designs:
        assert len(seq) == 26 and guidance.startswith("SVDD(PosteriorMeanValue('objective')")
        assert model_id == f"{tiny_checkpoint.name}@{json.loads(model)['sha256']}" and session == 1
        values = json.loads(comps)
        if charged:
            assert set(values) == {"motif_score", "gc"} and (valid or reason)
        else:
            assert reason.startswith("constraint ")
    assert result.best == sorted(result.best, key=lambda d: -d.objective)

    assert report_main([str(tmp_path / "run")]) == 0
    report = tmp_path / "run" / "report"
    for f in ("top_designs.csv", "top_designs.md", "best_so_far.png", "scores_by_round.png",
              "diversity_by_round.png", "pareto.png", "logo.png", "report.md"):
        assert (report / f).stat().st_size > 0, f
    with open(report / "top_designs.csv") as fh:
        rows = list(csv.DictReader(fh))
    n_valid = db.execute("SELECT COUNT(*) FROM designs WHERE valid = 1").fetchone()[0]
    assert len(rows) == min(5, n_valid)
    assert list(rows[0])[:5] == ["rank", "round", "objective", "motif_score", "gc"]
    assert [float(r["objective"]) for r in rows] == sorted((float(r["objective"]) for r in rows), reverse=True)
    assert (report / "top_designs.md").read_text().startswith("| rank | round | objective | motif_score | gc |")


def test_rerun_needs_resume_and_resume_checks_the_config(tiny_checkpoint, tmp_path, write_yaml):
    path = _campaign(write_yaml, tmp_path, tiny_checkpoint, rounds=1)
    first = Campaign.from_yaml(path).run(progress=False)
    with pytest.raises(CampaignError, match="pass --resume to continue it"):
        Campaign.from_yaml(path).run(progress=False)
    with pytest.raises(CampaignError, match=r"seed: 4 -> 5"):
        Campaign.from_yaml(path, ["seed=5"]).run(resume=True, progress=False)
    again = Campaign.from_yaml(path).run(resume=True, progress=False)  # nothing left to do
    assert [d.sequence for d in again.best] == [d.sequence for d in first.best]
    longer = Campaign.from_yaml(path, ["loop.rounds=2"]).run(resume=True, progress=False)  # extending is allowed
    assert len(longer.rounds) == 2 and longer.budget == 3000
    with DesignStore(tmp_path / "run" / "campaign.sqlite", readonly=True) as store:
        sessions = store.sessions(longer.run_id)
    assert [(s["resumed"], s["status"]) for s in sessions] == [(0, "completed"), (1, "completed"),
                                                             (1, "completed")]


@pytest.mark.parametrize("value", ["surrogate", "value_model"])
def test_learned_values_start_unguided_then_refit_each_round(tiny_checkpoint, tmp_path, write_yaml, value):
    path = _campaign(write_yaml, tmp_path, tiny_checkpoint, value=value, rounds=2)
    result = Campaign.from_yaml(path).run(progress=False)
    states = [(r.value_source, r.value_state) for r in result.rounds]
    assert states[0] == (value, f"unguided (0 labels < {value}.min_labels=4)")
    if value == "surrogate":  # its ranking of each guided round, held out
        rho = [r.value_spearman for r in result.rounds]
        assert rho[0] is None and all(r is None or -1.0 <= r <= 1.0 for r in rho[1:])
    folder = "surrogates" if value == "surrogate" else "value_models"
    for r, (source, state) in enumerate(states[1:], start=1):
        assert source == value and state.startswith(f"{folder}/round_{r:03d}/")
        assert (tmp_path / "run" / folder / f"round_{r:03d}").is_dir()
    guidance = {d.round: d.guidance for d in load_run(tmp_path / "run").designs}
    assert guidance[0].startswith("unguided [") and guidance[1].startswith("SVDD(")
    assert all(r.guidance_oracle_calls == 0 for r in result.rounds[:1])


def test_cli_run_exit_codes(tiny_checkpoint, tmp_path, write_yaml, capsys):
    path = _campaign(write_yaml, tmp_path, tiny_checkpoint, rounds=1)
    assert design_main(["run", str(path), "loop.candidates=2", "--no-progress"]) == 0
    assert design_main(["run", str(path), "loop.candidates=2"]) == 2  # exists, no --resume
    assert "pass --resume to continue it" in capsys.readouterr().err
    assert design_main(["run", str(path), "loop.candidates=x"]) == 2
    assert "loop.candidates: Input should be a valid integer" in capsys.readouterr().err


def test_model_checks_name_the_key(tiny_checkpoint, tmp_path, write_yaml):
    path = _campaign(write_yaml, tmp_path, tiny_checkpoint, rounds=1)
    with pytest.raises(ConfigError, match=r"campaign.yaml: model.length: the model generates length 26, not 30"):
        Campaign.from_yaml(path, ["model.length=30"]).run(progress=False)


def test_anchored_campaign_refills_the_elites(tiny_checkpoint, tmp_path, write_yaml):
    text = CAMPAIGN.format(run_dir=tmp_path / "run", ckpt=tiny_checkpoint, value="oracle", rounds=2)
    text = text.replace("sampling:\n  steps: 8\n",
                        "sampling:\n  steps: 8\n  anchor: {elites: 2, edits: [1, 2], crossover: 0.0}\n")
    text = text.replace("  score_batch: 4\n", "  score_batch: 4\n  feasibility: 2\n")
    result = Campaign.from_yaml(write_yaml(text)).run(progress=False)
    designs = load_run(tmp_path / "run").designs
    elites = sorted((d for d in designs if d.round == 0 and d.valid), key=lambda d: (-d.objective, d.idx))[:2]
    later = [d for d in designs if d.round == 1]
    assert later and all("elite infill: 2 elites, 1-2 edits" in d.guidance for d in later)
    assert all("pair feasibility:" in d.guidance for d in later)
    for d in later:  # every candidate is an elite of round 0 with at most two positions refilled
        assert min(sum(a != b for a, b in zip(d.sequence, e.sequence)) for e in elites) <= 2
    assert len(result.rounds) == 2
    bad = text.replace("edits: [1, 2]", "edits: [3, 1]")
    with pytest.raises(ConfigError, match="edits"):
        Campaign.from_yaml(write_yaml(bad))


def test_the_campaign_device_is_validated_used_and_recorded(tiny_checkpoint, tmp_path, write_yaml):
    text = CAMPAIGN.format(run_dir=tmp_path / "run", ckpt=tiny_checkpoint, value="surrogate", rounds=1)
    result = Campaign.from_yaml(write_yaml(text + "devices: {device: cpu}\n")).run(progress=False)
    with DesignStore(tmp_path / "run" / "campaign.sqlite", readonly=True) as store:
        assert store.get_run(result.run_id)["model"]["device"] == "cpu"
    with pytest.raises(ConfigError, match="unknown device 'tpu'"):
        Campaign.from_yaml(write_yaml(text + "devices: {device: tpu}\n"))
    with pytest.raises(ConfigError, match="precision"):
        Campaign.from_yaml(write_yaml(text + "devices: {precision: fp8}\n"))
