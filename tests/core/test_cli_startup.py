"""The CLI imports only what a command needs: ``--version`` and ``--help`` load neither torch nor Lightning, and
``design validate`` of shipped campaigns does not load Lightning (its data presets, model and guidance are
described without the training stack). The start-up times themselves are a benchmark (``benchmarks/startup.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_HEAVY = ("torch", "lightning", "pytorch_lightning")

# Runs the console script's entry point with the given argv, then reports which heavy packages it loaded.
_WRAPPER = """
import contextlib, io, json, sys
from seqguide.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    rc = main(json.loads(sys.argv[1]))
print(json.dumps({"rc": rc, "out": out.getvalue(),
                  "loaded": sorted({m.split(".")[0] for m in sys.modules} & set(json.loads(sys.argv[2])))}))
"""


def _run_cli(*argv: str) -> dict:
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, json.dumps(list(argv)), json.dumps(_HEAVY)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [["--version"], ["--help"], []])
def test_version_and_help_load_neither_torch_nor_lightning(argv: list[str]) -> None:
    res = _run_cli(*argv)
    assert res["rc"] == 0
    assert "seqguide" in res["out"]
    assert res["loaded"] == [], f"seqguide {' '.join(argv)} imported {res['loaded']}"


@pytest.mark.slow
@pytest.mark.parametrize("config", ["dna_motif.yaml", "amp_simplex.yaml"])  # a preset, a simplex model
def test_design_validate_does_not_load_lightning(config: str) -> None:
    res = _run_cli("design", "validate", f"configs/campaigns/{config}")
    assert res["rc"] == 0
    assert ": OK" in res["out"]
    assert not {"lightning", "pytorch_lightning"} & set(res["loaded"]), res["loaded"]


def test_import_seqguide_is_light_and_still_offers_its_names() -> None:
    code = ("import sys, seqguide\nlight = 'torch' not in sys.modules\nseqguide.sample, seqguide.DNA\n"
            "print(light, 'torch' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]  # torch only once a name that needs it is asked for
