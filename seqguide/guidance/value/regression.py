"""Regression metrics of predicted values against rewards (MSE, R^2, Spearman): what the value model logs while it
trains (:mod:`seqguide.guidance.value.model`) and what its fit reports (:mod:`seqguide.guidance.value.fit`)."""

from __future__ import annotations

import numpy as np

from seqguide.metrics.samples import spearman

__all__ = ["regression_metrics"]


def regression_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """MSE, R^2 (against the target variance) and Spearman rank correlation of two ``(N,)`` arrays."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    mse = float(np.mean((pred - target) ** 2)) if pred.size else float("nan")
    var = float(np.var(target)) if target.size else float("nan")
    r2 = 1.0 - mse / var if var > 0 else float("nan")
    return {"mse": mse, "r2": r2, "spearman": spearman(pred, target)}
