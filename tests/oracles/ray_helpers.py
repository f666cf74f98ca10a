"""Oracles that misbehave inside a Ray worker (module level; the Ray tests pickle this module by value)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from oracles.base import Oracle
from seqguide.alphabet import DNA


class KillsWorker(Oracle):
    """GC count; the worker process exits (as on a segfault) on an item containing ``fatal``. With ``once_dir``
    set, only the first time (a marker file remembers it across processes)."""

    alphabet = DNA
    name = "kills_worker"

    def __init__(self, fatal: str = "AAAA", once_dir: str | None = None) -> None:
        self.fatal = fatal
        self.once_dir = once_dir

    def _score(self, xs: list[str]) -> np.ndarray:
        for x in xs:
            if self.fatal in x:
                marker = None if self.once_dir is None else Path(self.once_dir) / f"died-{x}"
                if marker is None or not marker.exists():
                    if marker is not None:
                        marker.touch()
                    os._exit(3)
        return np.array([float(x.count("G") + x.count("C")) for x in xs])
