"""Guidance interval (Kynkaanniemi et al. 2024, arXiv 2404.07724, eq. 3): CFG only inside a noise-level interval.

    guided = u + w (c - u)   if sigma_lo < sigma(t) <= sigma_hi,   else c

where sigma(t) is the model's EDM noise level (``model.noise_level(t)``: ``sqrt((1 - alpha_bar) / alpha_bar)``
for Gaussian diffusion, ``t / (1 - t)`` for rectified flow; t itself for models without one, e.g. masked
diffusion). Outside the interval only the conditional branch is evaluated. The step-fraction window of every
guider (``start``/``stop``) also applies. Paper values: SD-XL ``(0.28, 5.42]``; EDM2 ImageNet-512 about
``(0.28, 2.9]`` with larger w.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import torch

from seqguide.guidance.cfg.common import CFGBase

__all__ = ["GuidanceInterval"]


class GuidanceInterval(CFGBase):
    """CFG limited to a noise-level interval (and/or a step-fraction window).

    Args:
        scale: Guidance scale w inside the interval (outside: no guidance).
            Multiplies the guidance difference ``c - u``: with ``base="uncond"`` ``u + w (c - u)`` (w = 0
            the unconditional prediction, 1 the conditional one: no guidance); with ``base="cond"``
            ``c + w (c - u)`` (w = 0 no guidance).
        sigma_lo: Lower end of the interval (exclusive); None for no lower end.
        sigma_hi: Upper end (inclusive); None for no upper end.
        base: ``"uncond"`` or ``"cond"``.
        rescale: Guidance rescale phi.
        start: Fraction of the run (by step) from which guidance may apply.
        stop: Fraction after which it does not.
    """

    paper: ClassVar[str] = "Kynkaanniemi et al. 2024, arXiv 2404.07724 (guidance interval), eq. 3"

    def __init__(self, *, scale: float = 3.0, sigma_lo: float | None = 0.28, sigma_hi: float | None = 5.42,
                 base: Literal["uncond", "cond"] = "uncond", rescale: float = 0.0, start: float = 0.0,
                 stop: float = 1.0) -> None:
        super().__init__(scale=scale, base=base, rescale=rescale, start=start, stop=stop)
        if sigma_lo is not None and sigma_lo < 0:
            raise ValueError(f"sigma_lo must be >= 0 or None, got {sigma_lo}")
        if sigma_lo is not None and sigma_hi is not None and not sigma_hi > sigma_lo:
            raise ValueError(f"sigma_hi must be > sigma_lo, got sigma_lo={sigma_lo}, sigma_hi={sigma_hi}")
        self.sigma_lo, self.sigma_hi = sigma_lo, sigma_hi

    def noise_level(self, t: float) -> float:
        """The model's noise level at t (t itself for a model without ``noise_level``)."""
        model = self.ctx.model
        if hasattr(model, "noise_level"):
            return float(model.noise_level(torch.tensor(t, dtype=torch.float64)))
        return float(t)

    def in_interval(self, t: float) -> bool:
        sigma = self.noise_level(t)
        return (self.sigma_lo is None or sigma > self.sigma_lo) and (self.sigma_hi is None or sigma <= self.sigma_hi)

    def guidance_active(self, t: float) -> bool:
        return super().guidance_active(t) and self.in_interval(t)

    def _hyper(self) -> str:
        return f"{super()._hyper()}, sigma_lo={self.sigma_lo}, sigma_hi={self.sigma_hi}"
