"""Evaluation metrics of generated designs: MOSES distribution metrics of molecules (:mod:`.molecules`), guidance
diagnostics, reconstruction error and diversity of samples (:mod:`.samples`)."""

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
from seqguide.metrics.samples import expected_reciprocal_probability, mse, pairwise_diversity, psnr, spearman

__all__ = [
    "canonical_smiles",
    "distribution_metrics",
    "expected_reciprocal_probability",
    "internal_diversity",
    "morgan_matrix",
    "mse",
    "nearest_neighbour_similarity",
    "novelty",
    "pairwise_diversity",
    "psnr",
    "spearman",
    "tanimoto_matrix",
    "uniqueness",
    "validity",
]
