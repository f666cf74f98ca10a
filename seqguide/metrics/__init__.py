"""Evaluation metrics of generated designs (MOSES distribution metrics of molecules)."""

from seqguide.metrics.molecules import (
    canonical_smiles,
    distribution_metrics,
    internal_diversity,
    morgan_matrix,
    nearest_neighbour_similarity,
    novelty,
    tanimoto_matrix,
    uniqueness,
    validity,
)

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
