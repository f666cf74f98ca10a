"""FDG: frequency-decoupled guidance (Sadat et al. 2025, arXiv 2506.19713, Alg. 1).

Both predictions are split into a Laplacian pyramid (Burt & Adelson 1983: blur with a 5-tap binomial kernel and
downsample by 2; each level keeps what the next coarser one cannot reconstruct), each level l is guided with its
own scale,

    guided_l = u_l + w_l (c_l - u_l),

and the levels are summed back. ``scales`` runs from the finest (high-frequency) level to the coarsest
(low-frequency) one. The paper finds that low-frequency guidance governs global structure and condition
alignment but, strong, oversaturates and costs diversity, while high-frequency guidance adds visual detail; it
recommends a high scale on the high frequencies and a lower one on the low frequencies (e.g. w_high = 10,
w_low = 5 for SDXL, the paper's Table 8; diffusers' ``FrequencyDecoupledGuidance`` defaults to ``[10, 5]``,
high to low). The default ``scales=(10.0, 5.0)`` follows that order. Equal scales give CFG exactly (the pyramid
is linear and reconstructs exactly). ``parallel_weights`` optionally down-weights each level's component parallel
to the conditional level, as APG does. Images only (``(B, C, H, W)`` predictions).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from seqguide.guidance.cfg.apg import project
from seqguide.guidance.cfg.common import CFGBase, guidance_difference
from seqguide.models.prediction import Prediction

__all__ = ["FDG", "laplacian_pyramid", "reconstruct_pyramid"]

_BINOMIAL = (1.0, 4.0, 6.0, 4.0, 1.0)


def _blur(x: torch.Tensor) -> torch.Tensor:
    k = torch.tensor(_BINOMIAL, dtype=x.dtype, device=x.device)
    k = (k[:, None] * k[None, :]) / k.sum() ** 2
    C = x.shape[1]
    weight = k.expand(C, 1, 5, 5)
    pad = min(2, x.shape[-1] - 1, x.shape[-2] - 1)
    if pad < 2:  # images too small for reflect padding of the 5-tap kernel
        return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="replicate"), weight, groups=C)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), weight, groups=C)


def _down(x: torch.Tensor) -> torch.Tensor:
    return _blur(x)[..., ::2, ::2]


def _up(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    return _blur(F.interpolate(x, size=size, mode="bilinear", align_corners=False))


def laplacian_pyramid(x: torch.Tensor, levels: int) -> list[torch.Tensor]:
    """``levels`` tensors, finest first: ``levels - 1`` band-pass residuals and the coarsest low-pass image."""
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    out, g = [], x
    for _ in range(levels - 1):
        down = _down(g)
        out.append(g - _up(down, g.shape[-2:]))
        g = down
    out.append(g)
    return out


def reconstruct_pyramid(levels: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of :func:`laplacian_pyramid` (exact)."""
    x = levels[-1]
    for band in reversed(levels[:-1]):
        x = _up(x, band.shape[-2:]) + band
    return x


class FDG(CFGBase):
    """Frequency-decoupled guidance on a Laplacian pyramid.

    Args:
        scales: Guidance scale per pyramid level, finest (high frequency) first; ``len(scales)`` levels. Scale
            ``w_l`` multiplies level l's guidance difference, ``guided_l = u_l + w_l (c_l - u_l)``: ``scales[0]``
            the high-frequency band, ``scales[-1]`` the low-frequency (coarsest) image. 1 on every level = the
            conditional prediction (no guidance), 0 = the unconditional one; equal scales = CFG with that scale.
            The default ``(10.0, 5.0)`` is the paper's order (stronger on high frequencies).
        parallel_weights: Per-level weight of the update's component parallel to the conditional level ``c_l``
            (APG's projection; None: 1 everywhere, plain per-level CFG).
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not.
    """

    paper: ClassVar[str] = "Sadat et al. 2025, arXiv 2506.19713 (FDG), Alg. 1"

    def __init__(self, *, scales: tuple[float, ...] = (10.0, 5.0), parallel_weights: tuple[float, ...] | None = None,
                 start: float = 0.0, stop: float = 1.0) -> None:
        scales = tuple(float(w) for w in scales)
        if not scales:
            raise ValueError("scales must hold at least one scale (one pyramid level)")
        if parallel_weights is not None and len(parallel_weights) != len(scales):
            raise ValueError(f"parallel_weights must have one weight per level ({len(scales)}), "
                             f"got {len(parallel_weights)}")
        super().__init__(scale=max(scales, key=lambda w: abs(w - 1.0)), start=start, stop=stop)
        self.scales = scales
        self.parallel_weights = None if parallel_weights is None else tuple(float(p) for p in parallel_weights)

    def is_noop(self) -> bool:
        return all(abs(w - 1.0) < 1e-12 for w in self.scales) and (
            self.parallel_weights is None or all(p == 1.0 for p in self.parallel_weights))

    def combine(self, preds, t):
        if "uncond" in preds and not isinstance(preds["cond"], Prediction) and self.guidance_active(t):
            raise TypeError("FDG splits images into frequency bands: it needs an image model's (B, C, H, W) "
                            "predictions, not a discrete model's logits")
        return super().combine(preds, t)

    def guide(self, c: torch.Tensor, u: torch.Tensor, t: float) -> torch.Tensor:
        L = len(self.scales)
        if min(c.shape[-2:]) < 2 ** (L - 1):
            raise ValueError(f"{L} pyramid levels need images of at least {2 ** (L - 1)} pixels a side, "
                             f"got {tuple(c.shape[-2:])}")
        cs, us = laplacian_pyramid(c, L), laplacian_pyramid(u, L)
        out = []
        for level, (cl, ul, w) in enumerate(zip(cs, us, self.scales)):
            d = guidance_difference(cl, ul)
            if self.parallel_weights is not None:
                par, orth = project(d, cl)
                d = orth + self.parallel_weights[level] * par
            out.append(ul + w * d)
        return reconstruct_pyramid(out)

    def _hyper(self) -> str:
        return f"scales={self.scales}, parallel_weights={self.parallel_weights}"
