"""Fixtures of the reliability suite and the table of counts it prints at the end of the run.

Every test records what it tried through the ``tally`` fixture: ``tally.inputs(area, n)`` for generated inputs
(hypothesis examples, files, command lines), ``tally.faults(area, n, lost=k)`` for injected faults (an oracle
that raises or hangs, a kill, a full disk) and what they lost. ``pytest -q tests/reliability`` ends with::

    reliability suite: inputs tried, faults injected, what was lost
      area                                     inputs   faults   lost
      campaign YAML (hypothesis)                  420        0      0
      ...
"""

from __future__ import annotations

import sys
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest
import torch

_HERE = str(Path(__file__).resolve().parent)  # reliability_helpers is imported by name
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

_COUNTS: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])


class Tally:
    """Counts of one test session, by area (see the module docstring)."""

    def inputs(self, area: str, n: int = 1) -> None:
        _COUNTS[area][0] += n

    def faults(self, area: str, n: int = 1, *, lost: int = 0) -> None:
        _COUNTS[area][1] += n
        _COUNTS[area][2] += lost


@pytest.fixture(scope="session")
def tally() -> Tally:
    return Tally()


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny models: one torch thread (the `seqguide design run` default), restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _COUNTS:
        return
    tr = terminalreporter
    tr.write_sep("-", "reliability suite: inputs tried, faults injected, what was lost")
    tr.write_line(f"  {'area':<64} {'inputs':>7} {'faults':>7} {'lost':>5}")
    for area in sorted(_COUNTS):
        n_in, n_fault, lost = _COUNTS[area]
        tr.write_line(f"  {area:<64} {n_in:>7} {n_fault:>7} {lost:>5}")
    total = [sum(v[i] for v in _COUNTS.values()) for i in range(3)]
    tr.write_line(f"  {'total':<64} {total[0]:>7} {total[1]:>7} {total[2]:>5}")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A conv MaskedDiffusion trained 20 steps on the ``crp`` preset (DNA, 26 nt): ``best.ckpt`` of the run."""
    from seqguide.data import SequenceDataModule
    from seqguide.models import ConvDenoiser
    from seqguide.training.sequences import train_masked_diffusion

    out = tmp_path_factory.mktemp("tiny_model")
    torch.set_num_threads(1)
    dm = SequenceDataModule(preset="crp", batch_size=32, val_fraction=0.1, seed=0)
    result = train_masked_diffusion(dm, backbone=ConvDenoiser(dim=16, depth=2), out_dir=out, max_steps=20,
                                    val_check_interval=10, seed=0, progress=False, accelerator="cpu")
    return result.checkpoint


@pytest.fixture
def write_text(tmp_path: Path):
    """``write_text(name, text)``: a dedented file in ``tmp_path``."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write
