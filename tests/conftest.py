"""Shared test fixtures: an exactly solvable masked model and tiny trained checkpoints."""

from __future__ import annotations

import itertools
import os

import pytest
import torch

# Two CPU cores: keep torch from oversubscribing them when several test processes run.
torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


def _random_table(alphabet: str, length: int, seed: int) -> dict[str, float]:
    seqs = ["".join(p) for p in itertools.product(alphabet, repeat=length)]
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(len(seqs), generator=g, dtype=torch.float64) ** 3 + 1e-3
    p = p / p.sum()
    return dict(zip(seqs, p.tolist()))


@pytest.fixture
def toy_table() -> dict[str, float]:
    """A random distribution over all 16 sequences of length 4 over {A, B}."""
    return _random_table("AB", 4, seed=3)


@pytest.fixture
def random_table():
    return _random_table
