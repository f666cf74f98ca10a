"""Gumbel noise and Gumbel-max sampling: the one implementation every model and guider draws categorical samples
with (one clamp convention, so a seed gives the same draws wherever the trick is used).

The Gumbel-max trick (Gumbel 1954; e.g. Maddison, Tarlow, Minka 2014, arXiv 1410.0904, eq. 1): with i.i.d.
``g_k = -log(-log u_k)``, ``u_k ~ U(0, 1)``, ``argmax_k (log p_k + g_k)`` is a draw from ``p``. The noise is
*added* (``-log(-log u)`` has a long right tail; subtracting it, or using ``log(-log u)``, draws from the wrong
distribution). Both logarithms' arguments are clamped at the smallest normal number of the noise's dtype, which
only matters for ``u = 0`` exactly (``torch.rand`` can return 0) and keeps the noise finite.

Example:
    >>> import torch
    >>> gen = torch.Generator().manual_seed(0)
    >>> gumbel_argmax(torch.tensor([[0.0, -30.0], [-30.0, 0.0]]), gen).tolist()
    [0, 1]
"""

from __future__ import annotations

import torch

__all__ = ["gumbel_argmax", "gumbel_from_uniform", "gumbel_noise"]


def gumbel_noise(shape: tuple[int, ...] | torch.Size, generator: torch.Generator | None = None,
                 device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """I.i.d. standard Gumbel noise ``-log(-log u)`` of ``shape`` (``u ~ U(0, 1)`` from ``generator``)."""
    return gumbel_from_uniform(torch.rand(tuple(shape), generator=generator, device=device, dtype=dtype))


def gumbel_from_uniform(u: torch.Tensor) -> torch.Tensor:
    """``-log(-log u)`` elementwise, with :func:`gumbel_noise`'s clamps: the noise of any subset of a uniform draw
    (e.g. the positions a step reveals) without transforming the rest."""
    tiny = torch.finfo(u.dtype).tiny
    return -torch.log((-torch.log(u.clamp_min(tiny))).clamp_min(tiny))


def gumbel_argmax(logp: torch.Tensor, generator: torch.Generator | None = None,
                  dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One draw per row from ``softmax(logp)`` over the last dimension ``(..., K) -> (...)`` int64 (Gumbel-max;
    ``logp`` may be unnormalised log-probabilities and may hold ``-inf``). ``dtype``: the noise's precision."""
    return (logp + gumbel_noise(logp.shape, generator, logp.device, dtype)).argmax(dim=-1)
