"""Gobbi 2D pharmacophore fingerprints, vectorised: the same bits as RDKit's ``Gen2DFingerprint``.

GuacaMol's hop tasks compare molecules by the 2- and 3-point topological pharmacophore fingerprint of Gobbi &
Poppinger (1998, Biotechnol. Bioeng. 61:47) as RDKit builds it (``rdkit.Chem.Pharm2D.Generate.Gen2DFingerprint``
with ``Gobbi_Pharm2D.factory``), whose Python loops over feature combinations cost ~30 ms a molecule. This
module computes the same set of bits with NumPy:

1. the feature matches of each family come from the factory (RDKit's SMARTS-based feature definitions);
2. the distance between two matches is the shortest topological distance between their atoms;
3. for every combination of 2 or 3 families (with repetition, in the factory's order) every combination of
   matches is taken once (matches of one family in increasing order of their atom tuples); it counts when
   all its pairwise distances are in ``[min bin, max bin)`` and none is 0 (no shared atom);
4. each distinct (families, distances) pattern is mapped to its bit by the factory's ``GetBitIdx``
   (memoised).

``tests/oracles/test_oracles_pharmacophore.py`` checks bit-for-bit equality with RDKit on a few hundred
molecules.
"""

from __future__ import annotations

import functools
import itertools
from typing import Any

import numpy as np

__all__ = ["gobbi_fingerprint"]


@functools.lru_cache(maxsize=1)
def _factory() -> Any:
    from rdkit.Chem.Pharm2D import Gobbi_Pharm2D, Utils

    f = Gobbi_Pharm2D.factory
    if not f.shortestPathsOnly or f.includeBondOrder or f.useCounts or f.maxPointCount > 3:
        raise RuntimeError("gobbi_fingerprint assumes shortest-path, bond-order-free 2-3 point bit fingerprints")
    n = len(f.GetFeatFamilies())
    perms = [tuple(p) for k in range(f.minPointCount, f.maxPointCount + 1) for p in Utils.GetIndexCombinations(n, k)]
    bins = f.GetBins()
    return f, perms, bins[0][0], bins[-1][1]


@functools.lru_cache(maxsize=200_000)
def _bit(perm: tuple[int, ...], dists: tuple[int, ...]) -> int:
    return int(_factory()[0].GetBitIdx(list(perm), list(dists), sortIndices=False))


def _match_distances(dmat: np.ndarray, matches: list[tuple[int, ...]]) -> np.ndarray:
    """``(M, M)`` shortest distance between the atom sets of every pair of matches."""
    rows = np.stack([dmat[list(m)].min(axis=0) for m in matches])  # (M, n_atoms): distance of each atom to match i
    return np.stack([rows[:, list(m)].min(axis=1) for m in matches], axis=1)


@functools.lru_cache(maxsize=256)
def _combinations(m: int, k: int) -> np.ndarray:
    """All ``i_1 < ... < i_k`` index tuples of ``range(m)`` as an ``(C(m, k), k)`` array."""
    return np.array(list(itertools.combinations(range(m), k)), dtype=np.int64).reshape(-1, k)


def gobbi_fingerprint(mol: Any) -> Any:
    """The Gobbi 2D pharmacophore fingerprint of an RDKit molecule (an RDKit ``SparseBitVect``, equal to
    ``Gen2DFingerprint(mol, Gobbi_Pharm2D.factory)``).

    Matches are ordered by (family, atom tuple); RDKit's combinations of matches for a family combination are
    then exactly the increasing index tuples ``i < j (< k)`` whose families form that combination.
    """
    from rdkit import Chem

    factory, _, min_d, max_d = _factory()
    sig = factory.GetSignature()
    per_family = [sorted(set(map(tuple, ms))) for ms in factory.GetMolFeats(mol)]
    matches = [m for ms in per_family for m in ms]
    if len(matches) < 2:
        return sig
    family = np.repeat(np.arange(len(per_family)), [len(ms) for ms in per_family])
    D = np.floor(_match_distances(Chem.GetDistanceMatrix(mol), matches)).astype(np.int64)
    ok = (D >= min_d) & (D < max_d)  # also excludes 0: matches sharing an atom
    n_fam, span = len(per_family), int(max_d) + 1
    keys = []
    for k in (2, 3):
        idx = _combinations(len(matches), k)
        pairs = list(itertools.combinations(range(k), 2))  # RDKit's distance order: (0,1) / (0,1), (0,2), (1,2)
        keep = np.ones(len(idx), dtype=bool)
        for a, b in pairs:
            keep &= ok[idx[:, a], idx[:, b]]
        idx = idx[keep]
        code = np.zeros(len(idx), dtype=np.int64)
        for c in range(k):
            code = code * n_fam + family[idx[:, c]]
        for a, b in pairs:
            code = code * span + D[idx[:, a], idx[:, b]]
        keys.append((k, np.unique(code)))
    for k, codes in keys:
        for code in codes.tolist():
            dists = []
            for _ in range(k * (k - 1) // 2):
                code, d = divmod(code, span)
                dists.append(d)
            perm = []
            for _ in range(k):
                code, f = divmod(code, n_fam)
                perm.append(f)
            sig.SetBit(_bit(tuple(reversed(perm)), tuple(reversed(dists))))
    return sig
