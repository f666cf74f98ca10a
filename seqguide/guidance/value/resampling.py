"""Resampling within groups of particles (SMC): multinomial and systematic, and the effective sample size.

Particles are laid out as ``n`` groups of ``k`` consecutive rows (request i owns rows ``i*k .. i*k+k-1``);
resampling never moves a particle from one request to another.
"""

from __future__ import annotations

import torch

__all__ = ["ess", "normalize_log_weights", "resample_indices"]


def normalize_log_weights(logw: torch.Tensor) -> torch.Tensor:
    """Normalised weights ``(n, k)`` from log-weights ``(n, k)``; a group whose weights are all zero
    (every particle invalid) gets uniform weights."""
    logw = torch.nan_to_num(logw.double(), nan=float("-inf"))
    dead = torch.isneginf(logw).all(dim=1, keepdim=True)
    logw = torch.where(dead, torch.zeros_like(logw), logw)
    return torch.softmax(logw, dim=1)


def ess(weights: torch.Tensor) -> torch.Tensor:
    """Effective sample size ``1 / sum_j w_j^2`` of normalised weights ``(n, k)``: ``(n,)``."""
    return 1.0 / (weights**2).sum(dim=1)


def resample_indices(weights: torch.Tensor, method: str, generator: torch.Generator | None) -> torch.Tensor:
    """Ancestor indices within each group.

    Args:
        weights: ``(n, k)`` normalised weights.
        method: ``"multinomial"`` (k i.i.d. draws) or ``"systematic"`` (one uniform offset per group,
            lower variance; Kitagawa 1996).
        generator: Random generator.

    Returns:
        ``(n, k)`` int64 indices in ``[0, k)``.
    """
    n, k = weights.shape
    if method == "multinomial":
        return torch.multinomial(weights.float(), k, replacement=True, generator=generator)
    if method == "systematic":
        u = torch.rand(n, 1, generator=generator, device=weights.device, dtype=torch.float64)
        positions = (u + torch.arange(k, device=weights.device, dtype=torch.float64)[None]) / k
        cdf = weights.cumsum(dim=1)
        cdf[:, -1] = 1.0  # guard against round-off
        return torch.searchsorted(cdf, positions).clamp_max(k - 1)
    raise ValueError(f"unknown resampling method {method!r}: expected 'multinomial' or 'systematic'")
