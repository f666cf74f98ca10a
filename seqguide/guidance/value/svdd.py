"""SVDD: soft value-based decoding (Li, Zhao, Wang, ..., Levine, Uehara 2024, arXiv 2408.08252, Alg. 1).

At every step the pretrained model proposes M candidates ``x_s^(m) ~ p_pre(x_s | x_t)`` (one network call
shared by all M), a value function scores them, and one is kept per sample by drawing from
``softmax(v(x_s^(m)) / alpha)``, a self-normalised importance sampler of the soft-optimal kernel

    p*(x_s | x_t)  proportional to  p_pre(x_s | x_t) exp(v(x_s) / alpha)          (SVDD eq. 4)

whose product over steps targets ``p_pre(x_0) exp(r(x_0) / alpha)`` when v is the exact soft value.
``alpha = 0`` keeps the argmax: the setting of the released SVDD code. With ``value`` an oracle,
the value is the oracle on the model's look-ahead ``x0_estimate`` (SVDD-PM); pass a learned value
model for SVDD-MC.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from seqguide.guidance.base import Candidates, Final, Guider
from seqguide.guidance.value.functions import ValueFunction, as_value

__all__ = ["SVDD"]


class SVDD(Guider):
    """Soft value-based decoding on the ``propose``/``select`` hooks.

    Args:
        value: An Oracle (SVDD-PM look-ahead value) or a :class:`ValueFunction` (e.g. a learned value model).
        particles: M, candidates drawn per sample and step (the paper's and code's default is 10-20).
        alpha: Temperature of the selection; 0 = argmax (the released code's setting).
        start: Fraction of the run at which guidance starts (earlier steps are plain model steps).
        stop: Fraction at which it stops.
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"value": ("oracle", "surrogate", "value_model")}
    paper: ClassVar[str] = "Li et al. 2024, arXiv 2408.08252 (SVDD), Alg. 1"

    def __init__(self, value: Any, *, particles: int = 8, alpha: float = 0.0, start: float = 0.0,
                 stop: float = 1.0) -> None:
        super().__init__(start=start, stop=stop)
        if particles < 1:
            raise ValueError(f"particles must be >= 1, got {particles}")
        if alpha < 0:
            raise ValueError(f"alpha must be >= 0, got {alpha}")
        self.value: ValueFunction = as_value(value)
        self.particles = particles
        self.alpha = alpha

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self._scores: torch.Tensor | None = None
        self._guided_steps = 0

    def propose(self, model: Any, state: torch.Tensor, pred: Any, t: float, s: float) -> Candidates | None:
        if not self.is_active():
            return None
        M = self.particles
        B = state.shape[0]
        rep_state = state.repeat_interleave(M, dim=0)
        rep_pred = pred.repeat_interleave(M, dim=0)
        nxt = model.step(rep_state, rep_pred, t, s, self.ctx.generator)
        return Candidates(nxt.view(B, M, *state.shape[1:]), state, pred, t, s)

    def select(self, cands: Candidates, t: float) -> torch.Tensor | None:
        if not self.is_active():
            return None
        B, M = cands.states.shape[:2]
        flat = cands.states.flatten(0, 1)
        rows = torch.arange(B, device=flat.device).repeat_interleave(M)
        v = self.value(flat, cands.s, self.ctx, rows).view(B, M)
        if self.alpha == 0:
            pick = v.argmax(dim=1)
        else:
            logits = torch.nan_to_num(v / self.alpha, nan=float("-inf"))
            dead = torch.isneginf(logits).all(dim=1, keepdim=True)
            logits = torch.where(dead, torch.zeros_like(logits), logits)
            pick = torch.multinomial(torch.softmax(logits, dim=1).float(), 1, generator=self.ctx.generator)[:, 0]
        chosen = v.gather(1, pick[:, None])[:, 0]
        self._guided_steps += 1
        if self.ctx.is_last_step:
            self._scores = chosen
        return cands.states[torch.arange(B, device=flat.device), pick]

    def finalize(self, state: torch.Tensor) -> Final:
        scores = None
        if self._scores is not None and self.value.oracle is not None:
            scores = self.value.to_oracle_units(self._scores)
        return Final(state, scores=scores)

    def trace(self) -> dict[str, Any]:
        return {"guided_steps": self._guided_steps}

    def __repr__(self) -> str:
        return f"SVDD({self.value!r}, particles={self.particles}, alpha={self.alpha})"
