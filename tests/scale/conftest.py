"""Fixtures of the scale-out tests: a tiny untrained model saved as a checkpoint, and a CPU environment for
subprocesses (one thread each: they share two cores). ``scale_helpers`` is imported by name, so this folder
goes on ``sys.path`` (``--import-mode=importlib`` does not put it there)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
import torch

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)

from scale_helpers import tiny_model  # noqa: E402


@pytest.fixture
def tiny_checkpoint(tmp_path: Path) -> Path:
    """A conditional (2 classes) MaskedDiffusion checkpoint in the Lightning format ``MaskedDiffusion.load`` reads."""
    model = tiny_model(num_classes=2)
    path = tmp_path / "tiny.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, path)
    return path


@pytest.fixture
def cpu_env() -> dict[str, str]:
    """Environment of a subprocess: this interpreter's packages, one thread, no GPU, no stray Lightning ranks."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", CUDA_VISIBLE_DEVICES="", PYTHONUNBUFFERED="1",
               SEQGUIDE_DEVICE="cpu")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    return env
