"""Adaptive Guidance (Castillo et al. 2023, arXiv 2312.12487, §4): stop evaluating the unconditional branch
once the conditional and unconditional predictions agree.

At every guided step the per-sample cosine similarity ``gamma_t = cos(c, u)`` is measured (on the predictions as
given, eps in the paper, or with ``space="x0"`` on the clean estimates: at high noise every eps prediction is
close to ``x_t / sigma_t``, so eps-space similarities start near 1 for small models); CFG's update
becomes nearly parallel to the conditional step late in sampling, so once ``gamma_t > threshold`` for every
sample of the batch the remaining steps use the conditional prediction alone. From the next step on only the
``"cond"`` branch is requested, so the saved network calls show in ``Samples.trace["nfe"]``; the trace also
reports ``AdaptiveGuidance.stopped_at_step`` and ``AdaptiveGuidance.skipped_uncond_steps``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from seqguide.guidance.cfg.common import CFGBase, cosine, to_x0

__all__ = ["AdaptiveGuidance"]


class AdaptiveGuidance(CFGBase):
    """CFG that switches itself off once ``cos(c, u)`` passes a threshold.

    Args:
        scale: Guidance scale w until the branches agree (then no guidance).
            Multiplies the guidance difference ``c - u``: with ``base="uncond"`` ``u + w (c - u)`` (w = 0
            the unconditional prediction, 1 the conditional one: no guidance); with ``base="cond"``
            ``c + w (c - u)`` (w = 0 no guidance).
        threshold: gamma-bar: the cosine similarity above which the unconditional branch is dropped.
        space: ``"prediction"`` (the paper: eps as predicted) or ``"x0"`` (the clean estimates).
        base: ``"uncond"`` or ``"cond"``.
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not.
    """

    paper: ClassVar[str] = "Castillo et al. 2023, arXiv 2312.12487 (Adaptive Guidance), §4"

    def __init__(self, *, scale: float = 3.0, threshold: float = 0.99,
                 space: Literal["prediction", "x0"] = "prediction", base: Literal["uncond", "cond"] = "uncond",
                 start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(scale=scale, base=base, start=start, stop=stop)
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a cosine similarity in [-1, 1], got {threshold}")
        if space not in ("prediction", "x0"):
            raise ValueError(f"space must be 'prediction' or 'x0', got {space!r}")
        self.threshold = float(threshold)
        self.space = space

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self._stopped_at: int | None = None
        self._skipped = 0
        self._last_cos: float | None = None

    def guidance_active(self, t: float) -> bool:
        return super().guidance_active(t) and self._stopped_at is None

    def conditions(self, t: float) -> tuple[str, ...]:
        branches = super().conditions(t)
        if self._stopped_at is not None and self.is_active() and not self.ctx.lookahead:
            self._skipped += 1
        return branches

    def combine(self, preds: Mapping[str, Any], t: float) -> Mapping[str, Any]:
        if "uncond" in preds and self.guidance_active(t) and not self.ctx.lookahead:
            c, u = preds["cond"], preds["uncond"]
            if self.space == "x0":
                c, u = to_x0(self.ctx.model, c), to_x0(self.ctx.model, u)
            gamma = cosine(getattr(c, "value", c), getattr(u, "value", u))
            self._last_cos = float(gamma.min())
            out = super().combine(preds, t)
            if bool((gamma > self.threshold).all()):
                self._stopped_at = self.ctx.step_index  # this step is still guided; later ones are not
            return out
        return super().combine(preds, t)

    def trace(self) -> dict[str, Any]:
        return {"stopped_at_step": -1 if self._stopped_at is None else self._stopped_at,
                "skipped_uncond_steps": self._skipped}

    def _hyper(self) -> str:
        return f"{super()._hyper()}, threshold={self.threshold}, space={self.space!r}"
