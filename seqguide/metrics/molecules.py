"""Distribution metrics of generated molecules, as defined by MOSES, computed with RDKit.

Polykovskiy et al. (2020), "Molecular Sets (MOSES): A Benchmarking Platform for Molecular Generation
Models", Front. Pharmacol. 11:565644, section "Metrics":

* **validity**: fraction of generated strings RDKit reads as a non-empty molecule (SELFIES are decoded first);
* **uniqueness@k**: fraction of distinct canonical SMILES among the first ``k`` valid molecules;
* **novelty**: fraction of the distinct valid molecules that are not in the training set (canonical SMILES);
* **internal diversity** ``IntDiv_p = 1 - (mean_{x, y in G} T(x, y)^p)^(1/p)`` over all pairs of the valid
  generated molecules (self-pairs included, as in MOSES), ``T`` the Tanimoto similarity of Morgan
  fingerprints (radius 2, 1024 bits);
* **SNN**: mean over the valid generated molecules of the Tanimoto similarity to the nearest neighbour in a
  reference set (MOSES: its test split), same fingerprints.

Tanimoto matrices are computed as chunked matrix products of 0/1 fingerprint matrices (NumPy, float32).

Example:
    >>> m = distribution_metrics(["CCO", "CCO", "c1ccccc1", "C1CC"], train=["CCO"], reference=["CCN"])
    >>> m["validity"], m["uniqueness"], m["novelty"]
    (0.75, 0.6666666666666666, 0.5)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

__all__ = [
    "canonical_smiles",
    "distribution_metrics",
    "internal_diversity",
    "morgan_matrix",
    "nearest_neighbour_similarity",
    "novelty",
    "tanimoto_matrix",
    "uniqueness",
    "validity",
]

_FP_BITS = 1024
_FP_RADIUS = 2
_CHUNK = 2048


def canonical_smiles(molecules: Iterable[str]) -> list[str | None]:
    """Canonical SMILES of SMILES or SELFIES strings (None where RDKit cannot read one)."""
    from rdkit import Chem, RDLogger

    from oracles.molecule import parse_molecule

    RDLogger.DisableLog("rdApp.*")
    try:
        out: list[str | None] = []
        for text in molecules:
            mol, err = parse_molecule(text) if isinstance(text, str) else (None, "not a string")
            out.append(Chem.MolToSmiles(mol) if err is None else None)
        return out
    finally:
        RDLogger.EnableLog("rdApp.*")


def validity(canonical: Sequence[str | None]) -> float:
    """Fraction of entries that are valid (not None)."""
    return float(np.mean([c is not None for c in canonical])) if len(canonical) else float("nan")


def uniqueness(canonical: Sequence[str | None], k: int | None = None) -> float:
    """Distinct / total among the first ``k`` valid molecules (all valid ones if ``k`` is None)."""
    valid = [c for c in canonical if c is not None][:k]
    return len(set(valid)) / len(valid) if valid else float("nan")


def novelty(canonical: Sequence[str | None], train: Iterable[str]) -> float:
    """Fraction of the distinct valid molecules not in ``train`` (canonical SMILES strings)."""
    distinct = {c for c in canonical if c is not None}
    if not distinct:
        return float("nan")
    seen = train if isinstance(train, set | frozenset) else set(train)
    return len(distinct - seen) / len(distinct)


def morgan_matrix(smiles: Sequence[str], *, radius: int = _FP_RADIUS, n_bits: int = _FP_BITS) -> np.ndarray:
    """``(N, n_bits)`` uint8 Morgan fingerprint bits of canonical SMILES."""
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    out = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    for i, s in enumerate(smiles):
        out[i] = gen.GetFingerprintAsNumPy(Chem.MolFromSmiles(s))
    return out


def tanimoto_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(N, M)`` Tanimoto similarities of 0/1 fingerprint rows (two empty fingerprints: similarity 1)."""
    fa, fb = a.astype(np.float32), b.astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1.0), 1.0)


def internal_diversity(fps: np.ndarray, p: int = 1) -> float:
    """MOSES ``IntDiv_p`` of ``(N, bits)`` fingerprints (all N^2 pairs, self-pairs included)."""
    if not len(fps):
        return float("nan")
    total = 0.0
    for start in range(0, len(fps), _CHUNK):
        total += float((tanimoto_matrix(fps[start:start + _CHUNK], fps).astype(np.float64) ** p).sum())
    return 1.0 - (total / len(fps) ** 2) ** (1.0 / p)


def nearest_neighbour_similarity(fps: np.ndarray, reference: np.ndarray) -> float:
    """MOSES SNN: mean over ``fps`` rows of the largest Tanimoto similarity to a ``reference`` row."""
    if not len(fps) or not len(reference):
        return float("nan")
    best = np.concatenate([tanimoto_matrix(fps[s:s + _CHUNK], reference).max(axis=1)
                           for s in range(0, len(fps), _CHUNK)])
    return float(best.mean())


def distribution_metrics(generated: Sequence[str], *, train: Iterable[str] | None = None,
                         reference: Sequence[str] | None = None, unique_at: Sequence[int] = (1000, 10000)) -> dict[
                             str, Any]:
    """Every metric of this module for one set of generated molecules.

    Args:
        generated: SMILES or SELFIES strings, in generation order.
        train: Canonical SMILES of the training set (novelty); None skips novelty.
        reference: SMILES of the reference set (SNN; MOSES uses its test split); None skips SNN.
        unique_at: The ``k`` of the ``unique@k`` entries (only those with at least ``k`` valid molecules).

    Returns:
        ``{"n", "validity", "uniqueness", "unique@k"..., "novelty", "intdiv1", "intdiv2", "snn"}``.
    """
    canon = canonical_smiles(generated)
    valid = [c for c in canon if c is not None]
    out: dict[str, Any] = {"n": len(generated), "validity": validity(canon), "uniqueness": uniqueness(canon)}
    for k in unique_at:
        if len(valid) >= k:
            out[f"unique@{k}"] = uniqueness(canon, k)
    if train is not None:
        out["novelty"] = novelty(canon, train)
    fps = morgan_matrix(valid)
    out["intdiv1"] = internal_diversity(fps, 1)
    out["intdiv2"] = internal_diversity(fps, 2)
    if reference is not None:
        ref = [c for c in canonical_smiles(reference) if c is not None]
        out["snn"] = nearest_neighbour_similarity(fps, morgan_matrix(ref))
    return out
