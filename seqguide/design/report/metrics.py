"""What a report measures on designs: mean pairwise diversity (Hamming distance of sequences, Tanimoto distance
of Morgan fingerprints of molecules) and the Pareto front of two objectives."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["MAX_DIVERSITY", "hamming_diversity", "molecule", "pareto_mask", "spread_subset", "tanimoto_diversity"]

MAX_DIVERSITY = 400  # designs per round used for the O(n^2) diversity (evenly spaced subset beyond this)


def spread_subset(items: Sequence[Any], limit: int = MAX_DIVERSITY) -> list[Any]:
    """``items``, or ``limit`` of them evenly spaced when there are more."""
    if len(items) <= limit:
        return list(items)
    idx = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in idx]


def hamming_diversity(tokens: Sequence[Sequence[str]]) -> float:
    """Mean pairwise Hamming distance; sequences of unequal length also differ by their length difference.

    Returns:
        The mean over all pairs (NaN for fewer than two sequences).
    """
    if len(tokens) < 2:
        return float("nan")
    vocab: dict[str, int] = {}
    L = max(len(t) for t in tokens)
    ids = np.full((len(tokens), L), -1, dtype=np.int64)
    for i, t in enumerate(tokens):
        ids[i, : len(t)] = [vocab.setdefault(x, len(vocab)) for x in t]
    total, pairs = 0.0, 0
    for i in range(len(ids) - 1):
        diff = (ids[i + 1 :] != ids[i]).sum(axis=1)
        total += float(diff.sum())
        pairs += len(diff)
    return total / pairs


def molecule(selfies_or_smiles: str) -> Any:
    """An RDKit molecule of a SELFIES or SMILES string (None: it does not decode or parse)."""
    from rdkit import Chem, rdBase

    text = selfies_or_smiles
    if text.startswith("["):
        import selfies as sf

        try:
            text = sf.decoder(text)
        except Exception:  # an undecodable string is simply not drawn / not counted
            return None
    if not text:
        return None
    with rdBase.BlockLogs():
        return Chem.MolFromSmiles(text)


def tanimoto_diversity(molecules: Sequence[str]) -> float:
    """Mean pairwise Tanimoto distance (1 - similarity) of Morgan fingerprints (radius 2, 2048 bits).

    Args:
        molecules: SELFIES or SMILES strings (unparsable ones are left out).

    Returns:
        The mean over pairs of parsable molecules (NaN for fewer than two).
    """
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [gen.GetFingerprint(m) for m in (molecule(x) for x in molecules) if m is not None]
    if len(fps) < 2:
        return float("nan")
    total, pairs = 0.0, 0
    for i in range(len(fps) - 1):
        sims = DataStructs.BulkTanimotoSimilarity(fps[i], fps[i + 1 :])
        total += float(len(sims) - sum(sims))
        pairs += len(sims)
    return total / pairs


def pareto_mask(points: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Non-dominated rows of ``points (N, K)`` given each column's direction. Returns ``(N,)`` bool."""
    x = np.asarray(points, dtype=np.float64) * np.where(np.asarray(maximize), 1.0, -1.0)
    keep = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        dominated = (x >= x[i]).all(axis=1) & (x > x[i]).any(axis=1)
        keep[i] = not dominated.any()
    return keep
