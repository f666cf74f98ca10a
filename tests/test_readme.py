"""The README's Python example runs as written (in a temporary directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_the_two_setup_commands_first() -> None:
    text = README.read_text()
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    quickstart, tests = blocks[0].strip(), blocks[1].strip()
    for cmd in (quickstart, tests):
        assert -1 < cmd.find("pip install torch==2.13.0") < cmd.find("pip install -e"), "torch must come first"
    assert "seqguide design run" in quickstart and "seqguide report" in quickstart
    assert tests.endswith("pytest -q") and "<!-- ci:tests -->" in text.split(blocks[1])[0]


@pytest.mark.slow
def test_readme_python_example_runs(tmp_path, monkeypatch, capsys) -> None:
    (code,) = _python_blocks()
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(code, str(README), "exec"), namespace)  # the project's own README, not user data
    svdd, plain = namespace["svdd"], namespace["plain"]
    assert len(svdd.sequences) == len(plain.sequences) == 32
    assert svdd.scores is not None and "nfe" in plain.trace
    assert capsys.readouterr().out.strip()


def test_readme_ray_campaign_keys_validate(tmp_path) -> None:
    """The README's Ray-cluster objective and devices keys, put into a shipped campaign, validate."""
    import yaml

    from seqguide.design import load_campaign

    (block,) = re.findall(r"```yaml\n(.*?)```", README.read_text(), flags=re.S)
    snippet = yaml.safe_load(block)
    root = README.parent
    campaign = yaml.safe_load((root / "configs" / "campaigns" / "dna_motif.yaml").read_text())
    campaign["objective"]["oracles"][0] = snippet["objective"]["oracles"][0]
    campaign["devices"] = snippet["devices"]
    path = tmp_path / "ray.yaml"
    path.write_text(yaml.safe_dump(campaign))
    loaded = load_campaign(path)
    assert loaded.config.devices.device == "cuda"
    assert loaded.config.objective.oracles[0].name == "ray"


def test_readme_summary_blocks_match_the_results() -> None:
    """Every number of the README's benchmark tables comes from benchmarks/results (python -m benchmarks summary)."""
    from benchmarks.summary import build_blocks, update_readme

    text = README.read_text()
    assert update_readme(text, build_blocks()) == text, "run `python -m benchmarks summary`"
