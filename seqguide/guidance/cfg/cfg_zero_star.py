"""CFG-Zero*: CFG with an optimised scale and zero-init for flow matching (Fan et al. 2025, arXiv 2503.18886).

The unconditional prediction is first scaled by the least-squares projection coefficient of c on u,

    s* = <c, u> / ||u||^2           (per sample; eq. 6),

and guidance extrapolates from the scaled branch: ``guided = s* u + w (c - s* u)`` (``base="cond"``:
``c + w (c - s* u)``). During the first ``zero_init_steps`` steps the velocity is set to zero ("zero-init":
the early ODE steps of a flow are less accurate than standing still), which needs no network call at all
(only the conditional branch is asked for, and not used). Zero-init is defined for velocity predictions.
With ``optimized_scale=False`` (s* = 1) and no zero-init it is CFG.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch

from seqguide.guidance.cfg.common import CFGBase, _per_sample, dot
from seqguide.models.prediction import Prediction, with_value
from seqguide.sampling.numerics import EPS

__all__ = ["CFGZeroStar", "optimized_scale"]


def optimized_scale(c: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``s* = <c, u> / (||u||^2 + eps)`` ``(B,)``."""
    return dot(c, u) / (dot(u, u) + EPS)


class CFGZeroStar(CFGBase):
    """CFG-Zero*: optimised unconditional scale and zero-init steps.

    Args:
        scale: Guidance scale w on ``c - s* u`` (s* the optimised scale of u).
            Multiplies the guidance difference ``c - u``: with ``base="uncond"`` ``u + w (c - u)`` (w = 0
            the unconditional prediction, 1 the conditional one: no guidance); with ``base="cond"``
            ``c + w (c - u)`` (w = 0 no guidance).
        zero_init_steps: Number of first steps whose velocity is zero (0 to disable; velocity models only).
        optimized_scale: Use s*; False uses s* = 1 (plain CFG apart from zero-init).
        base: ``"uncond"`` or ``"cond"``.
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not.
    """

    paper: ClassVar[str] = "Fan et al. 2025, arXiv 2503.18886 (CFG-Zero*), eq. 6 and zero-init"

    def __init__(self, *, scale: float = 3.0, zero_init_steps: int = 1, optimized_scale: bool = True,
                 base: Literal["uncond", "cond"] = "uncond", start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(scale=scale, base=base, start=start, stop=stop)
        if zero_init_steps < 0:
            raise ValueError(f"zero_init_steps must be >= 0, got {zero_init_steps}")
        self.zero_init_steps = zero_init_steps
        self.use_optimized_scale = optimized_scale

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        if self.zero_init_steps and getattr(ctx.model, "prediction", None) != "velocity":
            raise ValueError(f"zero_init_steps={self.zero_init_steps} zeroes a velocity; "
                             f"{type(ctx.model).__name__} does not predict one (use zero_init_steps=0)")

    def _zero_init(self) -> bool:
        return self.ctx.step_index < self.zero_init_steps

    def is_noop(self) -> bool:
        return super().is_noop() and not self.use_optimized_scale

    def guidance_active(self, t: float) -> bool:
        return super().guidance_active(t) and not self._zero_init()

    def guide(self, c: torch.Tensor, u: torch.Tensor, t: float) -> torch.Tensor:
        if self.use_optimized_scale:
            u = _per_sample(optimized_scale(c, u), u) * u
        base = u if self.base == "uncond" else c
        return base + self.scale * (c - u)

    def combine(self, preds, t):
        if self._zero_init():
            out = dict(preds)
            c = preds["cond"]
            out["cond"] = with_value(c, torch.zeros_like(c.value if isinstance(c, Prediction) else c))
            return out
        return super().combine(preds, t)

    def _hyper(self) -> str:
        return f"{super()._hyper()}, zero_init_steps={self.zero_init_steps}, optimized_scale={self.use_optimized_scale}"
