"""Fixtures for the design tests: a tiny trained checkpoint, an exact toy model, campaign files."""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from seqguide import DNA


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Campaign models are tiny: one torch thread is as fast, and far faster on a busy 2-core machine (the
    ``seqguide design run`` default). Restored after each test."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer, width-32 MaskedDiffusion trained 20 steps on the ``crp`` preset (DNA, 26 nt)."""
    from seqguide.data import SequenceDataModule
    from seqguide.models import TransformerDenoiser
    from seqguide.training.sequences import train_masked_diffusion

    out = tmp_path_factory.mktemp("tiny_model")
    dm = SequenceDataModule(preset="crp", batch_size=32, val_fraction=0.1, seed=0)
    result = train_masked_diffusion(dm, backbone=TransformerDenoiser(dim=32, depth=2, heads=2), out_dir=out,
                                    max_steps=20, val_check_interval=20, seed=0, progress=False,
                                    accelerator="cpu")
    assert result.checkpoint.is_file()
    return result.checkpoint


@pytest.fixture(scope="session")
def toy_dna_model():
    """An exact masked model over all 4^5 DNA 5-mers with a random (seeded) distribution."""
    from seqguide.models import ExactMaskedModel

    seqs = ["".join(p) for p in itertools.product("ACGT", repeat=5)]
    g = torch.Generator().manual_seed(0)
    p = torch.rand(len(seqs), generator=g, dtype=torch.float64) ** 2 + 1e-3
    p = p / p.sum()
    return ExactMaskedModel(DNA, dict(zip(seqs, p.tolist())))


@pytest.fixture
def write_yaml(tmp_path: Path) -> Callable[..., Path]:
    """Write dedented YAML text to ``tmp_path/<name>`` and return the path."""

    def write(text: str, name: str = "campaign.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    return write
