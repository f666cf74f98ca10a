"""The guider registry: names and class paths, validation against each constructor's own signature, error texts
with the nearest valid name, third-party guiders through the ``seqguide.guiders`` entry-point group, the
``seqguide guiders`` and ``seqguide sample --guidance`` commands, and the generated guidance reference."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import ClassVar

import pytest

from seqguide.design import Campaign, ConfigError, load_campaign, load_run
from seqguide.design.cli import design_main
from seqguide.guidance import SMC, SVDD, BeamSearch, BestOfN
from seqguide.guidance import registry as reg
from seqguide.guidance.registry import GuiderSpecError, build_guider, guider_info, guider_spec, list_guiders
from seqguide.guidance.registry.cli import guiders_main, parse_guidance_option, reference_markdown

ROOT = Path(__file__).resolve().parents[2]

CAMPAIGN = """
seed: 1
run_dir: {run_dir}
model:
  checkpoint: {ckpt}
objective:
  oracles:
    - name: gc
guidance:
{guidance}
sampling:
  steps: 6
loop:
  rounds: 2
  candidates: 6
  score_batch: 6
"""


def _campaign(write_yaml, tmp_path: Path, ckpt: Path, guidance: str, name: str = "campaign.yaml") -> Path:
    body = textwrap.indent(textwrap.dedent(guidance).strip("\n"), "  ")
    write_yaml(CAMPAIGN.format(run_dir=tmp_path / "run", ckpt=ckpt, guidance=body), name)
    return Path(name)  # relative: the tests run in tmp_path, so messages name the file as the user wrote it


@pytest.fixture(autouse=True)
def _in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def _error(path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        load_campaign(path)
    return str(info.value)


# ----------------------------------------------------------------------------------- the signature is the schema
@pytest.mark.parametrize(("name", "cls"), [("svdd", SVDD), ("smc", SMC), ("best_of_n", BestOfN), ("beam", BeamSearch)])
def test_builtin_defaults_and_keys_come_from_the_constructor(name, cls):
    sig = inspect.signature(cls.__init__)
    expected = {p.name: p.default for p in list(sig.parameters.values())[1:] if p.name != "value"}
    spec = guider_spec({"method": name})
    assert spec.arguments() == expected, "every hyperparameter and default is read from the signature"
    assert spec.sources() == {"value": "oracle"}
    assert guider_info(name).allowed_keys() == ["method", "value", *expected]


def test_a_spec_builds_the_guider_with_its_resources(toy_dna_model):
    from oracles import from_function

    oracle = from_function(lambda xs: [s.count("G") / len(s) for s in xs], name="g")
    g = guider_spec({"method": "smc", "particles": 3, "lam": 2.5, "potential": "max"}).build({"value": oracle})
    assert isinstance(g, SMC) and (g.particles, g.lam, g.potential) == (3, 2.5, "max")
    assert build_guider("svdd", value=oracle, particles=5).particles == 5
    assert build_guider(SVDD, value=oracle, alpha=0.5).alpha == 0.5
    # Class paths name any Guider subclass.
    beam = "seqguide.guidance.value.beam"
    assert isinstance(guider_spec({"method": f"{beam}:BeamSearch"}).build({"value": oracle}), BeamSearch)
    assert isinstance(guider_spec({"method": f"{beam}.BeamSearch", "beams": 2}).build({"value": oracle}), BeamSearch)


@pytest.mark.parametrize(("data", "where", "text"), [
    ({"method": "svd"}, "method", "unknown guider 'svd' (did you mean 'svdd'? available: "),
    ({"method": "svdd", "particle": 3}, "particle", "unknown argument of svdd (did you mean 'particles'? allowed: "
                                                    "method, value, particles, alpha, start, stop)"),
    ({"method": "svdd", "particles": "many"}, "particles", "Input should be a valid integer"),
    ({"method": "smc", "potential": "dif"}, "potential",
     "Input should be 'diff', 'max', 'sum' or 'rt' (got 'dif'; did you mean 'diff'?)"),
    ({"method": "svdd", "value": "orcale"}, "value",
     "Input should be 'oracle', 'surrogate' or 'value_model' (got 'orcale'; did you mean 'oracle'?)"),
    ({"method": "svdd", "alpha": float("nan")}, "alpha", "Input should be a finite number"),
    ({"method": "smc", "lam": float("inf")}, "lam", "Input should be a finite number"),
    ({"method": "svdd", "particles": 0}, "particles", "particles must be >= 1, got 0"),
    ({"method": "svdd", "start": 0.6, "stop": 0.5}, "stop", "stop must be in (start, 1]"),
    ({"method": "oracles:Cached"}, "method", "is not a seqguide Guider subclass"),
    ({"method": "no_such_package.guiders:X"}, "method", "cannot import 'no_such_package.guiders:X'"),
    ({"particles": 3}, "method", "required key is missing (available guiders: "),
])
def test_spec_errors_name_the_argument_and_the_nearest_valid_value(data, where, text):
    with pytest.raises(GuiderSpecError) as info:
        guider_spec(data)
    (path, message), = info.value.problems
    assert path == where and text in message


def test_yaml_errors_name_file_key_path_argument_choices_and_nearest_name(tiny_checkpoint, tmp_path, write_yaml,
                                                                          capsys):
    cases = {
        "- method: smcc\n  particles: 4": "campaign.yaml: guidance[0].method: unknown guider 'smcc' (did you mean "
                                           "'smc'? available: ",
        "- method: smc\n  particels: 4": "campaign.yaml: guidance[0].particels: unknown argument of smc (did you mean "
                                          "'particles'? allowed: method, value, particles, lam, potential, ",
        "- method: smc\n  potential: dif": "campaign.yaml: guidance[0].potential: Input should be 'diff', 'max', "
                                            "'sum' or 'rt' (got 'dif'; did you mean 'diff'?)",
        "- method: best_of_n\n  n: 2.5": "campaign.yaml: guidance[0].n: Input should be a valid integer, got a number "
                                         "with a fractional part (got 2.5)",
        "- method: svdd\n  alpha: .nan": "campaign.yaml: guidance[0].alpha: Input should be a finite number",
    }
    for guidance, expected in cases.items():
        path = _campaign(write_yaml, tmp_path, tiny_checkpoint, guidance)
        assert _error(path).startswith(expected), guidance
        assert design_main(["validate", str(path)]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and expected.split(": ", 1)[1][:40] in err


def test_guidance_cannot_come_from_a_source_campaigns_do_not_have(tiny_checkpoint, tmp_path, write_yaml):
    from seqguide.guidance import Guider

    class NeedsJudge(Guider):
        resources: ClassVar[dict[str, tuple[str, ...]]] = {"judge": ("lab_robot",)}

        def __init__(self, judge, *, scale: float = 1.0) -> None:
            super().__init__()

    reg.register_guider("needs_judge_demo", NeedsJudge)
    try:
        path = _campaign(write_yaml, tmp_path, tiny_checkpoint, "- method: needs_judge_demo")
        assert _error(path) == ("campaign.yaml: guidance[0].judge: needs_judge_demo takes its judge from 'lab_robot', "
                                "which campaigns do not provide (campaign sources: oracle, surrogate, value_model)")
    finally:
        reg._registered.pop("needs_judge_demo")
        reg.refresh()


def test_the_resolved_guidance_is_recorded_with_every_default(tiny_checkpoint, tmp_path, write_yaml):
    path = _campaign(write_yaml, tmp_path, tiny_checkpoint, "- method: smc\n  particles: 2\n  lam: 4.0")
    resolved = Campaign(load_campaign(path)).resolved()
    assert resolved["guidance"] == [{"method": "smc", "value": "oracle", "particles": 2, "lam": 4.0,
                                     "potential": "diff", "resample_every": 1, "ess_threshold": 0.5,
                                     "output": "sample", "resampling": "multinomial", "start": 0.0, "stop": 1.0}]


# ------------------------------------------------------------------------------------- a third-party guider
_PLUGIN = '''
"""A third-party guider: adds a bias to one token's logit (a stand-in for any method a package ships)."""
from typing import ClassVar

import torch

from seqguide.guidance import Guider


class TokenBias(Guider):
    """Favour one token by adding ``bias`` to its clean-token logit at every step.

    Args:
        token: The token to favour.
        bias: Added to its log-probability.
    """

    paper: ClassVar[str] = "demo plugin"

    def __init__(self, *, token: str = "A", bias: float = 1.0) -> None:
        super().__init__()
        if len(token) != 1:
            raise ValueError(f"token must be one character, got {token!r}")
        self.token, self.bias = token, bias

    def combine(self, preds, t):
        alphabet = self.ctx.model.alphabet
        out = dict(preds)
        cond = out["cond"].clone()
        cond[..., alphabet.encode([self.token])[0, 0]] += self.bias
        out["cond"] = cond
        return out

    def __repr__(self):
        return f"TokenBias({self.token!r}, bias={self.bias})"
'''


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package ``seqguide_demo_plugin``, pip-installed into a target directory: its distribution metadata
    declares ``token_bias = "seqguide_demo_plugin:TokenBias"`` in the ``seqguide.guiders`` group."""
    src = tmp_path_factory.mktemp("plugin_src")
    (src / "seqguide_demo_plugin").mkdir()
    (src / "seqguide_demo_plugin" / "__init__.py").write_text(_PLUGIN)
    (src / "pyproject.toml").write_text(textwrap.dedent("""
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "seqguide-demo-plugin"
        version = "0.1"

        [project.entry-points."seqguide.guiders"]
        token_bias = "seqguide_demo_plugin:TokenBias"

        [tool.setuptools]
        packages = ["seqguide_demo_plugin"]
    """))
    target = tmp_path_factory.mktemp("plugin_site")
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", "--target", str(target), str(src)], check=True, capture_output=True)
    return target


@pytest.fixture
def plugin(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(plugin_dir))
    reg.refresh()
    yield plugin_dir
    reg.refresh()
    sys.modules.pop("seqguide_demo_plugin", None)


@pytest.mark.slow
def test_a_plugin_guider_is_listed_and_usable_from_yaml(plugin, tiny_checkpoint, tmp_path, write_yaml, capsys):
    assert "token_bias" in list_guiders()
    info = guider_info("token_bias")
    assert info.origin.startswith("entry point (seqguide-demo-plugin 0.1") and info.hooks == ["combine"]
    assert guiders_main(["list"]) == 0 and "token_bias  seqguide_demo_plugin:TokenBias" in capsys.readouterr().out

    path = _campaign(write_yaml, tmp_path, tiny_checkpoint, "- method: token_bias\n  token: G\n  bias: 3.0")
    bad = _campaign(write_yaml, tmp_path, tiny_checkpoint, "- method: token_bias\n  token: GG", "bad.yaml")
    assert _error(bad) == "bad.yaml: guidance[0].token: token must be one character, got 'GG'"
    result = Campaign.from_yaml(path).run()
    assert result.budget_used == 12
    run = load_run(tmp_path / "run")
    assert {d.guidance.split(" [")[0] for d in run.designs} == {"TokenBias('G', bias=3.0)"}
    g_frac = sum(d.sequence.count("G") for d in run.designs) / sum(len(d.sequence) for d in run.designs)
    assert g_frac > 0.6, f"the plugin's bias steers sampling (G fraction {g_frac:.2f})"


def test_unguided_reference_for_the_plugin_test(tiny_checkpoint):
    """Without the plugin the tiny model puts far fewer Gs: the plugin test's threshold is meaningful."""
    from seqguide import sample
    from seqguide.models import MaskedDiffusion

    model = MaskedDiffusion.load(tiny_checkpoint)
    seqs = sample(model, 24, steps=6, seed=1, progress=False).sequences
    assert sum(s.count("G") for s in seqs) / sum(len(s) for s in seqs) < 0.4


# ----------------------------------------------------------------------------------------------- commands
def test_guiders_list_and_show(capsys):
    assert guiders_main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("svdd", "smc", "best_of_n", "beam"):
        assert f"\n{name}  " in "\n" + out
    assert "paper: Li et al. 2024, arXiv 2408.08252 (SVDD), Alg. 1" in out
    assert "arguments: value: oracle | surrogate | value_model, particles: int = 8, alpha: float = 0.0" in out
    assert guiders_main(["show", "smc"]) == 0
    out = capsys.readouterr().out
    assert "hooks:  reset, select, finalize" in out
    assert "  potential: diff " in out and "# 'diff' | 'max' | 'sum' | 'rt'." in out
    assert guiders_main(["show", "smcc"]) == 2
    assert "unknown guider 'smcc' (did you mean 'smc'?" in capsys.readouterr().err


def test_the_committed_guidance_reference_is_current():
    committed = (ROOT / "docs" / "guiders.md").read_text()
    assert committed == reference_markdown(), ("docs/guiders.md is stale: regenerate it with "
                                               "'seqguide guiders show --all --markdown > docs/guiders.md'")


def test_guidance_option_syntax():
    assert parse_guidance_option("svdd") == {"method": "svdd"}
    assert parse_guidance_option("smc:particles=4, lam=10,potential=max") == {
        "method": "smc", "particles": 4, "lam": 10, "potential": "max"}
    assert parse_guidance_option("{method: beam, beams: 2}") == {"method": "beam", "beams": 2}
    with pytest.raises(GuiderSpecError, match="expected key=value after the name"):
        parse_guidance_option("svdd:particles")


def test_guidance_option_names_a_class_path():
    """A dotted NAME is a class path: its ':'-part without '=' is the class, arguments follow a second ':'; the
    dotted form ``pkg.mod.Class:args`` and every short-name form keep working; a missing class is one error."""
    path = "seqguide.guidance.value.svdd:SVDD"
    assert parse_guidance_option(path) == {"method": path}
    assert parse_guidance_option(f"{path}:particles=4, alpha=0.5") == {"method": path, "particles": 4, "alpha": 0.5}
    assert parse_guidance_option(f"{path}:") == {"method": path}
    assert parse_guidance_option("seqguide.guidance.value.svdd.SVDD:particles=4") == {
        "method": "seqguide.guidance.value.svdd.SVDD", "particles": 4}
    assert parse_guidance_option("svdd:particles=8") == {"method": "svdd", "particles": 8}
    spec = guider_spec(parse_guidance_option(f"{path}:particles=4"))
    assert spec.info.cls is SVDD and spec.arguments()["particles"] == 4
    with pytest.raises(GuiderSpecError, match="give the class after ':'"):
        parse_guidance_option("seqguide.guidance.value.svdd::particles=4")
    with pytest.raises(GuiderSpecError, match="expected key=value after the name, got 'junk'"):
        parse_guidance_option(f"{path}:junk")
    with pytest.raises(GuiderSpecError, match=r"cannot import 'no_such_pkg\.mod:Guider'"):
        guider_spec(parse_guidance_option("no_such_pkg.mod:Guider:particles=4"))


@pytest.mark.slow
def test_sample_command_with_guidance(tiny_checkpoint, tmp_path):
    import pandas as pd

    out = tmp_path / "guided.csv"
    run = subprocess.run([sys.executable, "-m", "seqguide.cli", "sample", "--ckpt", str(tiny_checkpoint), "-n", "6",
                          "--steps", "6", "--guidance", "svdd:particles=4", "--oracle", "gc", "--out", str(out)],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    table = pd.read_csv(out)
    assert len(table) == 6 and table["score"].notna().all() and "oracle calls=" in run.stderr
    bad = subprocess.run([sys.executable, "-m", "seqguide.cli", "sample", "--ckpt", str(tiny_checkpoint),
                          "--guidance", "svdd:particels=4", "--oracle", "gc"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "--guidance[0].particels: unknown argument of svdd (did you mean 'particles'?" in bad.stderr
    by_path = subprocess.run([sys.executable, "-m", "seqguide.cli", "sample", "--ckpt", str(tiny_checkpoint), "-n", "2",
                              "--steps", "4", "--guidance", "seqguide.guidance.value.svdd:SVDD:particles=2",
                              "--oracle", "gc"], capture_output=True, text=True)
    assert by_path.returncode == 0 and len(by_path.stdout.split()) == 2 and "oracle calls=" in by_path.stderr
    no_class = subprocess.run([sys.executable, "-m", "seqguide.cli", "sample", "--ckpt", str(tiny_checkpoint),
                               "--guidance", "seqguide.guidance.value.svdd::particles=2"],
                              capture_output=True, text=True)
    assert no_class.returncode == 2 and "Traceback" not in no_class.stderr
    assert no_class.stderr.strip().splitlines() == [
        "seqguide sample: error: --guidance[0]: --guidance 'seqguide.guidance.value.svdd::particles=2': give the "
        "class after ':', e.g. pkg.mod:Class"]
    missing = subprocess.run([sys.executable, "-m", "seqguide.cli", "sample", "--ckpt", str(tiny_checkpoint),
                              "--guidance", "smc"], capture_output=True, text=True)
    assert missing.returncode == 2 and "--oracle: a guider takes value: oracle" in missing.stderr


def test_an_entry_point_cannot_shadow_a_built_in_guider(monkeypatch):
    """A plugin that names its guider 'cfg' is ignored with a warning naming it; 'cfg' stays the built-in CFG, and
    the plugin's other names still load."""
    from importlib import metadata

    group = reg.ENTRY_POINT_GROUP
    eps = [metadata.EntryPoint(name="cfg", value="seqguide.guidance.value.svdd:SVDD", group=group),
           metadata.EntryPoint(name="my_svdd", value="seqguide.guidance.value.svdd:SVDD", group=group)]
    monkeypatch.setattr(metadata, "entry_points", lambda **kw: eps if kw == {"group": group} else [])
    reg.refresh()
    try:
        with pytest.warns(UserWarning, match="guider entry point 'cfg' .* is ignored: 'cfg' is a built-in guider"):
            info = guider_info("cfg")
        assert info.cls.__name__ == "CFG" and info.origin == "built-in"
        assert guider_info("my_svdd").cls is SVDD and "my_svdd" in list_guiders()
    finally:
        monkeypatch.undo()
        reg.refresh()


def test_every_guiders_scale_says_what_it_multiplies_and_what_zero_or_one_means(capsys):
    """'scale' means different things across guiders (a CFG weight, a likelihood power, a tilt strength, a
    gradient step): each one's docstring, which `seqguide guiders show` prints, says which."""
    with_scale = [n for n in list_guiders() if any(p.name in ("scale", "scales") for p in guider_info(n).params)]
    assert len(with_scale) >= 12
    for name in with_scale:
        doc = next(p.doc for p in guider_info(name).params if p.name in ("scale", "scales"))
        assert "ultipl" in doc or "power" in doc or "exponent" in doc, (name, doc)
        assert any(k in doc for k in ("0 =", "= 0", "1 =", "= 1", "w = 1", "0: ")), (name, doc)
        assert guiders_main(["show", name]) == 0
        assert doc.split()[0] in capsys.readouterr().out
