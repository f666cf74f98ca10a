"""Evaluation metrics shared by the benchmarks: guidance diagnostics, reconstruction error and diversity.

- :func:`expected_reciprocal_probability`: the classifier-free-guidance diagnostic of Jiao, Chen & Li 2025
  (arXiv 2512.04985): CFG provably lowers ``E[1 / p(c | X)]`` over generated samples X, an average
  dominated by the rare samples the classifier finds unlikely for the class.
- :func:`mse` and :func:`psnr`: reconstruction error in the data's own units (e.g. grey levels).
- :func:`pairwise_diversity`: mean pairwise distance within groups of samples (posterior diversity).
- :func:`spearman`: rank correlation of predictions with true values (does a value model rank?).

Example:
    >>> import torch
    >>> expected_reciprocal_probability(torch.tensor([0.5, 1.0]))
    1.5
    >>> round(psnr(torch.zeros(2, 4), torch.ones(2, 4), peak=16.0), 2)
    24.08
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

__all__ = ["expected_reciprocal_probability", "mse", "pairwise_diversity", "psnr", "spearman"]


def expected_reciprocal_probability(probs: torch.Tensor | np.ndarray | Any,
                                    labels: torch.Tensor | np.ndarray | Any | None = None) -> float:
    """``E[1 / p(c | X)]`` over samples: the quantity classifier-free guidance decreases (Jiao et al. 2025).

    Args:
        probs: ``(N,)`` the classifier's probability of the target class for each sample, or ``(N, C)``
            class probabilities together with ``labels``.
        labels: ``(N,)`` (or one int) target class per sample, when ``probs`` is ``(N, C)``.

    Returns:
        The mean reciprocal probability (``inf`` if some sample has probability 0).

    Raises:
        ValueError: for probabilities outside [0, 1], a missing ``labels`` with ``(N, C)`` input, or no samples.
    """
    p = torch.as_tensor(np.asarray(probs) if not isinstance(probs, torch.Tensor) else probs, dtype=torch.float64)
    if p.dim() == 2:
        if labels is None:
            raise ValueError("probs of shape (N, C) need labels= (the target class of each sample)")
        y = torch.as_tensor(np.asarray(labels), dtype=torch.long).expand(p.shape[0])
        p = p.gather(1, y[:, None])[:, 0]
    if p.dim() != 1 or p.numel() == 0:
        raise ValueError(f"probs must be (N,) or (N, C) with N >= 1, got shape {tuple(p.shape)}")
    if ((p < 0) | (p > 1) | ~torch.isfinite(p)).any():
        raise ValueError("probs must be probabilities in [0, 1]")
    return float((1.0 / p).mean())


def mse(x: torch.Tensor, reference: torch.Tensor) -> float:
    """Mean squared error over all entries (same units as the inputs)."""
    return float(((x.double() - reference.double()) ** 2).mean())


def psnr(x: torch.Tensor, reference: torch.Tensor, *, peak: float) -> float:
    """Peak signal-to-noise ratio ``10 log10(peak^2 / MSE)`` in dB (``inf`` for an exact match)."""
    err = mse(x, reference)
    return math.inf if err == 0 else 10.0 * math.log10(peak**2 / err)


def pairwise_diversity(x: torch.Tensor, groups: int, *, metric: str = "l1") -> float:
    """Mean distance between the samples of each group, averaged over groups.

    Args:
        x: ``(groups * k, L)`` samples, ordered so that rows ``g*k .. g*k + k - 1`` answer the same request.
        groups: Number of groups (requests).
        metric: ``"l1"`` (mean absolute difference per position, e.g. grey levels) or ``"hamming"`` (fraction of
            positions that differ).

    Returns:
        The mean pairwise distance per position (NaN when each group holds one sample).
    """
    if metric not in ("l1", "hamming"):
        raise ValueError(f"metric must be 'l1' or 'hamming', got {metric!r}")
    if x.shape[0] % groups:
        raise ValueError(f"{x.shape[0]} rows do not split into {groups} equal groups")
    k = x.shape[0] // groups
    if k < 2:
        return float("nan")
    g = x.reshape(groups, k, -1)
    diff = g[:, :, None, :] != g[:, None, :, :] if metric == "hamming" else (
        g[:, :, None, :].double() - g[:, None, :, :].double()).abs()
    per_pair = diff.double().mean(dim=-1)  # (groups, k, k), zero diagonal
    return float(per_pair.sum(dim=(1, 2)).mean() / (k * (k - 1)))


def spearman(a: Any, b: Any) -> float:
    """Spearman rank correlation of two ``(N,)`` arrays; NaN for fewer than 3 pairs or a constant side."""
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)
