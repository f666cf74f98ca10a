"""DiscreteCFG: classifier-free guidance for discrete models with a time schedule (masked diffusion, simplex flows).

The model gives clean-token log-probabilities for the class (``cond``) and for the null class (``uncond``) in one
batched forward; they are mixed in log space and normalised over the clean tokens (Schiff et al. 2024,
arXiv 2412.10193, D-CFG for absorbing diffusion)::

    log p~(x_0 = v | x_t) = log_softmax_v( log p_u(v) + w(t) (log p_c(v) - log p_u(v)) ),

``w = 0`` the unconditional model, ``w = 1`` the conditional one, ``w > 1`` guided. Only *which* token a masked
position becomes changes: the step still unmasks at the unguided rate ``(alpha_s - alpha_t) / (1 - alpha_t)``
(the mask entry is never tilted), which is the "column normalisation" of Rojas et al. 2025 (arXiv 2507.08965);
tilting the whole transition vector instead, mask entry included, would change how fast tokens are revealed.
On a simplex flow the same mixed distribution drives the velocity.

Schedules of the guidance strength ``gamma(t) = w(t) - 1``, following Rojas et al.'s analysis (strong guidance
while most tokens are masked harms; late guidance helps), with ``kappa(t)`` the fraction of revealed tokens
``alpha(t)`` of a masked model (``1 - t`` for other models):

- ``"constant"``: ``w(t) = scale``;
- ``"linear"``: ``w(t) = 1 + (scale - 1) kappa(t)``: the conditional model early, ``scale`` at the end;
- ``"interval"``: ``w(t) = scale`` once ``kappa(t) >= onset``, 1 before (a guidance interval).

The paper's exact schedule formula was not available to us; ``linear`` is the simplest increasing schedule with
its qualitative properties. Costs two branch rows per sample and step (one forward of twice the batch) while
``w != 1``; steps with ``w = 1`` evaluate only the conditional branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch

from seqguide.guidance.base import Guider

__all__ = ["DiscreteCFG"]

_SCHEDULES = ("constant", "linear", "interval")


class DiscreteCFG(Guider):
    """Discrete classifier-free guidance on the ``combine`` hook (see the module docstring).

    Args:
        scale: ``w`` at full strength, the exponent of ``p_c^w p_u^(1-w)`` (the mixing weight of the two
            log-probabilities): 1 = conditional sampling (no guidance), > 1 guided, 0 = unconditional.
        schedule: ``"constant"``, ``"linear"`` (theory-informed: weak early, strong late) or ``"interval"``.
        onset: For ``"interval"``: the revealed fraction ``kappa`` from which ``w = scale``.
        start: Fraction of the run at which guidance starts (before it: the conditional model).
        stop: Fraction at which it stops.

    Raises:
        ValueError: for a negative or non-finite ``scale``, an unknown ``schedule`` or ``onset`` outside [0, 1].
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {}
    paper: ClassVar[str] = ("Rojas et al. 2025, arXiv 2507.08965 (theory-informed discrete CFG); Schiff et al. 2024, "
                            "arXiv 2412.10193 (D-CFG)")

    def __init__(self, *, scale: float = 2.0, schedule: Literal["constant", "linear", "interval"] = "linear",
                 onset: float = 0.5, start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(start=start, stop=stop)
        if not (scale >= 0 and scale < float("inf")):
            raise ValueError(f"scale must be finite and >= 0, got {scale}")
        if schedule not in _SCHEDULES:
            raise ValueError(f"schedule must be one of {_SCHEDULES}, got {schedule!r}")
        if not 0.0 <= onset <= 1.0:
            raise ValueError(f"onset must be in [0, 1], got {onset}")
        self.scale = float(scale)
        self.schedule = schedule
        self.onset = float(onset)

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self._guided_steps = 0
        self._weights: list[float] = []

    def revealed_fraction(self, t: float) -> float:
        """``kappa(t)``: ``alpha(t)`` of a masked model's schedule, else ``1 - t``."""
        schedule = getattr(self.ctx.model, "schedule", None)
        if schedule is not None and hasattr(schedule, "alpha"):
            return float(schedule.alpha(torch.tensor(t, dtype=torch.float64)))
        return 1.0 - t

    def weight(self, t: float) -> float:
        """The guidance weight ``w(t)`` at this step (1 outside the window)."""
        if not self.is_active():
            return 1.0
        if self.schedule == "constant":
            return self.scale
        kappa = self.revealed_fraction(t)
        if self.schedule == "linear":
            return 1.0 + (self.scale - 1.0) * kappa
        return self.scale if kappa >= self.onset else 1.0

    def conditions(self, t: float) -> tuple[str, ...]:
        return ("cond",) if self.weight(t) == 1.0 else ("cond", "uncond")

    def combine(self, preds: Mapping[str, Any], t: float) -> Mapping[str, Any]:
        if "uncond" not in preds:
            return preds
        w = self.weight(t)
        if w == 1.0:
            return preds
        if self.ctx.cond is None:
            raise ValueError("DiscreteCFG needs class labels: pass cond= to sample() (a class-conditional model)")
        lc, lu = preds["cond"], preds["uncond"]
        ok = torch.isfinite(lc) & torch.isfinite(lu)
        mixed = torch.where(ok, lu + w * (lc - lu), torch.full_like(lc, float("-inf")))
        if not self.ctx.lookahead:
            self._guided_steps += 1
            self._weights.append(w)
        return {**preds, "cond": mixed.log_softmax(dim=-1)}

    def trace(self) -> dict[str, Any]:
        mean = sum(self._weights) / len(self._weights) if self._weights else 1.0
        return {"guided_steps": self._guided_steps, "mean_weight": mean}

    def __repr__(self) -> str:
        extra = f", onset={self.onset:g}" if self.schedule == "interval" else ""
        return f"DiscreteCFG(scale={self.scale:g}, schedule={self.schedule!r}{extra})"
