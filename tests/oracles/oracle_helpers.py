"""Shared helpers for the oracle tests (module-level classes, so they pickle for process pools).

Imported by name (``from oracle_helpers import ...``): pytest puts this folder on ``sys.path``.
"""

from __future__ import annotations

import time
from collections import Counter

import numpy as np

from oracles.base import Oracle
from seqguide.alphabet import DNA


class CountingOracle(Oracle):
    """GC fraction, recording every item it is asked to score (what a real oracle would bill)."""

    name = "counting"
    alphabet = DNA

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.batches: list[int] = []

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def _score(self, xs: list[str]) -> np.ndarray:
        self.batches.append(len(xs))
        self.calls.update(x.upper() for x in xs)
        return np.array([(x.upper().count("G") + x.upper().count("C")) / len(x) for x in xs])


class CrashOn(Oracle):
    """Length of the sequence, but raises for any sequence containing ``bad`` (crashes its whole batch)."""

    alphabet = DNA

    def __init__(self, bad: str = "TTTT") -> None:
        self.bad = bad
        self.name = "crash_on"

    def _score(self, xs: list[str]) -> np.ndarray:
        if any(self.bad in x for x in xs):
            raise RuntimeError(f"boom: saw {self.bad}")
        return np.array([float(len(x)) for x in xs])


class Sleepy(Oracle):
    """Length of the sequence; sleeps ``seconds`` for sequences starting with ``slow_prefix``."""

    alphabet = DNA

    def __init__(self, seconds: float = 5.0, slow_prefix: str = "GGGG") -> None:
        self.seconds = seconds
        self.slow_prefix = slow_prefix
        self.name = "sleepy"

    def _score(self, xs: list[str]) -> np.ndarray:
        for x in xs:
            if x.startswith(self.slow_prefix):
                time.sleep(self.seconds)
        return np.array([float(len(x)) for x in xs])


def random_dna(n: int, length: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join("ACGT"[i] for i in row) for row in rng.integers(0, 4, (n, length))]
