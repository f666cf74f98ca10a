"""The ``cpg_count`` oracle of the example plugin: CpG dinucleotides per sequence (an Oracle subclass)."""

from __future__ import annotations

import numpy as np

from oracles import Oracle
from seqguide import DNA
from seqguide.alphabet import Alphabet


class CpGCount(Oracle):
    """The number of CpG dinucleotides of a DNA sequence, optionally per 100 nt.

    Args:
        per_100nt: Divide by the length and multiply by 100.
    """

    name = "cpg_count"
    alphabet: Alphabet = DNA
    maximize = True

    def __init__(self, *, per_100nt: bool = False) -> None:
        self.per_100nt = per_100nt

    def _score(self, xs: list[str]) -> np.ndarray:
        counts = np.array([x.count("CG") for x in xs], dtype=float)
        return 100.0 * counts / np.array([len(x) for x in xs]) if self.per_100nt else counts
