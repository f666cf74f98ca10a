"""CFG-Ctrl: classifier-free guidance as feedback control of the error ``e_t = c - u`` (Wang et al. 2026,
arXiv 2603.03281).

Vanilla CFG is proportional control, ``guided = u + w e_t``. CFG-Ctrl replaces ``e_t`` by a control law over the
run's error signal (per sample, state reset before every run and reordered with the rows on resampling):

- ``control="pid"``: ``e' = kp e_t + ki sum_{j<=t} e_j + kd (e_t - e_{t-1})`` (kp = 1, ki = kd = 0 is CFG);
- ``control="smc"`` (SMC-CFG, the paper's method): a sliding surface ``s_t = (e_t - e'_{t-1}) + lam e'_{t-1}``
  and a switching term, ``e' = e_t - K sign(s_t)``, where ``e'_{t-1}`` is the previous corrected error
  (``e'_{t-1} = e_t`` at the first step). The official code's defaults are lam = 0.05, K = 0.3.

Then ``guided = u + w e'``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch

from seqguide.guidance.cfg.common import CFGBase, guidance_difference

__all__ = ["CFGCtrl"]


class CFGCtrl(CFGBase):
    """Control-law guidance on the conditional-unconditional error.

    Args:
        scale: Guidance scale w, multiplying the controlled difference ``e'`` in ``u + w e'`` (w = 0 the
            unconditional prediction; w = 1 with the controller off is the conditional one).
        control: ``"smc"`` (sliding mode) or ``"pid"``.
        kp: Proportional gain (PID).
        ki: Integral gain (PID).
        kd: Derivative gain (PID).
        lam: lambda of the sliding surface (SMC).
        k: Switching gain K (SMC).
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not.
    """

    paper: ClassVar[str] = "Wang et al. 2026, arXiv 2603.03281 (CFG-Ctrl / SMC-CFG)"

    def __init__(self, *, scale: float = 3.0, control: Literal["smc", "pid"] = "smc", kp: float = 1.0,
                 ki: float = 0.0, kd: float = 0.0, lam: float = 0.05, k: float = 0.3, start: float = 0.0,
                 stop: float = 1.0) -> None:
        super().__init__(scale=scale, start=start, stop=stop)
        if control not in ("smc", "pid"):
            raise ValueError(f"control must be 'smc' or 'pid', got {control!r}")
        if k < 0:
            raise ValueError(f"k must be >= 0, got {k}")
        self.control, self.kp, self.ki, self.kd = control, float(kp), float(ki), float(kd)
        self.lam, self.k = float(lam), float(k)

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self._prev: torch.Tensor | None = None  # (rows, ...) previous (corrected, for SMC) error
        self._integral: torch.Tensor | None = None  # (rows, ...) running sum of errors (PID)

    def reorder(self, index: torch.Tensor) -> None:
        if self._prev is not None:
            self._prev = self._prev[index]
        if self._integral is not None:
            self._integral = self._integral[index]

    def _state(self, x: torch.Tensor | None, like: torch.Tensor) -> torch.Tensor | None:
        if x is None:
            return None
        rows = self.ctx.lookahead_rows
        x = x if rows is None else x[rows]
        return x if x.shape == like.shape else None

    def control_error(self, e: torch.Tensor) -> torch.Tensor:
        """The corrected error e' for the current error ``e`` (updates the run's state outside look-aheads)."""
        e = torch.where(torch.isfinite(e), e, torch.zeros_like(e))
        prev, integral = self._state(self._prev, e), self._state(self._integral, e)
        if self.control == "smc":
            prev = e if prev is None else prev
            surface = (e - prev) + self.lam * prev
            out = e - self.k * torch.sign(surface)
            new_prev, new_integral = out, None
        else:
            integral = e if integral is None else integral + e
            deriv = torch.zeros_like(e) if prev is None else e - prev
            out = self.kp * e + self.ki * integral + self.kd * deriv
            new_prev, new_integral = e, integral
        if not self.ctx.lookahead:
            self._prev, self._integral = new_prev, new_integral
        return out

    def guide(self, c: torch.Tensor, u: torch.Tensor, t: float) -> torch.Tensor:
        return u + self.weight * self.control_error(guidance_difference(c, u))

    def is_noop(self) -> bool:
        return super().is_noop() and (self.control == "pid" and self.ki == 0 and self.kd == 0 and self.kp == 1)

    def _hyper(self) -> str:
        gains = (f"kp={self.kp}, ki={self.ki}, kd={self.kd}" if self.control == "pid"
                 else f"lam={self.lam}, k={self.k}")
        return f"scale={self.scale}, control={self.control!r}, {gains}"
