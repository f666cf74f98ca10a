"""APG: adaptive projected guidance (Sadat et al. 2024, arXiv 2410.02416, Alg. 1).

With ``D = c - u`` the CFG update on the denoised (x0) predictions:

1. momentum (optional, beta < 0 in the paper, e.g. -0.5): ``D <- D + beta * D_prev``, the running buffer
   ``D_prev <- D`` (reset before every run, reordered with the rows on resampling);
2. norm threshold r (optional): ``D <- D * min(1, r / ||D||)``;
3. projection on the conditional prediction: ``D_par = <D, c> / <c, c> c``, ``D_orth = D - D_par``;
4. ``guided = c + (w - 1) (D_orth + eta * D_par)``.

eta = 0 (the paper's choice) drops the parallel component that causes oversaturation; eta = 1 with no threshold
and no momentum is CFG with scale w. The paper works on denoised predictions (``space="x0"``; the result is
mapped back to the model's parameterisation); ``space="prediction"`` works on eps/v/velocity as given
(diffusers' choice). Discrete log-probabilities already predict x0.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch

from seqguide.guidance.cfg.common import CFGBase, _per_sample, dot, flat_norm, from_x0, guidance_difference, to_x0
from seqguide.models.prediction import Prediction
from seqguide.sampling.numerics import EPS

__all__ = ["APG", "project"]


def project(d: torch.Tensor, onto: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(parallel, orthogonal)`` parts of ``d`` w.r.t. ``onto``, per sample (float64 inner products)."""
    coef = dot(d, onto) / dot(onto, onto).clamp_min(EPS)
    onto = torch.where(torch.isfinite(onto), onto, torch.zeros_like(onto))
    par = _per_sample(coef, d) * onto
    return par, d - par


class APG(CFGBase):
    """Adaptive projected guidance.

    Args:
        scale: Guidance scale w, multiplying the projected update in ``guided = c + (w - 1) update``: w = 1 is
            the conditional prediction (no guidance); with eta = 1 and no threshold or momentum, CFG's w.
        eta: Weight of the parallel component (0 in the paper; 1 keeps it, as CFG).
        norm_threshold: r, the largest norm of the update; None for no threshold.
        momentum: beta of the running average of updates (0: none; the paper uses negative values).
        space: ``"x0"`` (the paper: denoised predictions) or ``"prediction"`` (eps/v/velocity as given).
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not.
    """

    paper: ClassVar[str] = "Sadat et al. 2024, arXiv 2410.02416 (APG), Alg. 1"

    def __init__(self, *, scale: float = 5.0, eta: float = 0.0, norm_threshold: float | None = None,
                 momentum: float = 0.0, space: Literal["x0", "prediction"] = "x0", start: float = 0.0,
                 stop: float = 1.0) -> None:
        super().__init__(scale=scale, start=start, stop=stop)
        if norm_threshold is not None and norm_threshold <= 0:
            raise ValueError(f"norm_threshold must be > 0 or None, got {norm_threshold}")
        if space not in ("x0", "prediction"):
            raise ValueError(f"space must be 'x0' or 'prediction', got {space!r}")
        self.eta, self.norm_threshold, self.momentum, self.space = float(eta), norm_threshold, float(momentum), space

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self._running: torch.Tensor | None = None  # (rows, ...) the momentum buffer, explicit per run

    def reorder(self, index: torch.Tensor) -> None:
        if self._running is not None:
            self._running = self._running[index]

    def update(self, c: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Steps 1-3: the projected (and thresholded, momentum-averaged) update ``D_orth + eta D_par``."""
        d = guidance_difference(c, u)
        d = torch.where(torch.isfinite(d), d, torch.zeros_like(d))
        if self.momentum != 0.0:
            ctx = self.ctx
            prev = self._running
            if prev is not None and ctx.lookahead_rows is not None:
                prev = prev[ctx.lookahead_rows]
            if prev is not None and prev.shape == d.shape:
                d = d + self.momentum * prev
            if not ctx.lookahead:  # look-ahead predictions of candidates never move the buffer
                self._running = d
        if self.norm_threshold is not None:
            factor = (self.norm_threshold / flat_norm(d).clamp_min(EPS)).clamp(max=1.0)
            d = d * _per_sample(factor, d)
        par, orth = project(d, c)
        return orth + self.eta * par

    def guide(self, c: torch.Tensor, u: torch.Tensor, t: float) -> torch.Tensor:
        return c + (self.weight - 1.0) * self.update(c, u)

    def combine(self, preds, t):
        if (self.space == "prediction" or "uncond" not in preds or not self.guidance_active(t)
                or not isinstance(preds["cond"], Prediction)):
            return super().combine(preds, t)
        model = self.ctx.model  # the paper's space: denoised predictions, mapped back to the model's kind
        guided = self.guided_value(to_x0(model, preds["cond"]), to_x0(model, preds["uncond"]), t, discrete=False)
        out = dict(preds)
        out["cond"] = from_x0(model, preds["cond"], guided)
        return out

    def _hyper(self) -> str:
        return (f"scale={self.scale}, eta={self.eta}, norm_threshold={self.norm_threshold}, "
                f"momentum={self.momentum}, space={self.space!r}")
