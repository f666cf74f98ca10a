"""LinearAG (Castillo et al. 2023, arXiv 2312.12487, §5): replace unconditional network calls by an affine
combination of past predictions.

The paper observes that in the first half of sampling the unconditional (and CFG) estimates are well predicted by
simple affine transformations of the score estimates of the previous steps, fitted by linear regression on
sampling trajectories. Here, inside ``window`` (fractions of the run), every step that is not a multiple of
``every`` (counted from the window's start) skips the unconditional network call and estimates

    u_t ~ a_t c_t + b_t c_{t-1} + d_t u_{t-1}

(``c_{t-1}``, ``u_{t-1}``: the previous step's conditional and (possibly estimated) unconditional predictions of
the same row), then applies CFG with it. The per-step coefficients default to ``(1, -1, 1)``, i.e. the guidance
direction ``c - u`` carried over from the previous step; :meth:`LinearAG.fit` fits them by least squares on
full-CFG trajectories of the model, as the paper does. Skipped calls show in ``nfe``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

import torch

from seqguide.guidance.cfg.common import CFGBase
from seqguide.models.prediction import prediction_value, with_value

__all__ = ["LinearAG"]

_DEFAULT = (1.0, -1.0, 1.0)


class LinearAG(CFGBase):
    """CFG whose unconditional branch is, on some steps, an affine estimate from past predictions.

    Args:
        scale: Guidance scale w (on the estimated u where it is not evaluated).
            Multiplies the guidance difference ``c - u``: with ``base="uncond"`` ``u + w (c - u)`` (w = 0
            the unconditional prediction, 1 the conditional one: no guidance); with ``base="cond"``
            ``c + w (c - u)`` (w = 0 no guidance).
        window: ``(start, stop)`` fractions of the run in which estimated steps may occur.
        every: In the window, one step in ``every`` evaluates the unconditional branch; the others estimate it.
        coefficients: Per-step ``(a, b, d)`` (one triple per step of the run, from :meth:`fit`); None uses
            ``(1, -1, 1)`` everywhere.
        base: ``"uncond"`` or ``"cond"``.
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not.
    """

    paper: ClassVar[str] = "Castillo et al. 2023, arXiv 2312.12487 (LinearAG), §5"

    def __init__(self, *, scale: float = 3.0, window: tuple[float, float] = (0.0, 0.5), every: int = 2,
                 coefficients: tuple[tuple[float, float, float], ...] | None = None,
                 base: Literal["uncond", "cond"] = "uncond", start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(scale=scale, base=base, start=start, stop=stop)
        lo, hi = window
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"window must be (start, stop) with 0 <= start < stop <= 1, got {window}")
        if every < 2:
            raise ValueError(f"every must be >= 2 (every=1 never estimates), got {every}")
        if coefficients is not None and any(len(c) != 3 for c in coefficients):
            raise ValueError("coefficients must be (a, b, d) triples, one per step")
        self.window, self.every = (float(lo), float(hi)), every
        self.coefficients = None if coefficients is None else tuple(tuple(float(v) for v in c) for c in coefficients)

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        if self.coefficients is not None and len(self.coefficients) != ctx.num_steps:
            raise ValueError(f"LinearAG has coefficients for {len(self.coefficients)} steps; this run has "
                             f"{ctx.num_steps} (fit() with the same number of steps)")
        self._prev: tuple[torch.Tensor, torch.Tensor] | None = None  # (c, u) of the previous step, per row
        self._estimated = 0

    def reorder(self, index: torch.Tensor) -> None:
        if self._prev is not None:
            self._prev = (self._prev[0][index], self._prev[1][index])

    def estimates_now(self) -> bool:
        """Whether this step estimates the unconditional branch instead of evaluating it."""
        ctx = self.ctx
        n = ctx.num_steps
        lo, hi = int(self.window[0] * n), int(self.window[1] * n)
        i = ctx.step_index
        return self._prev is not None and lo <= i < hi and (i - lo) % self.every != 0

    def conditions(self, t: float) -> tuple[str, ...]:
        if self.guidance_active(t) and self.estimates_now():
            return ("cond",)
        return super().conditions(t)

    def _coef(self) -> tuple[float, float, float]:
        return _DEFAULT if self.coefficients is None else self.coefficients[self.ctx.step_index]

    def combine(self, preds: Mapping[str, Any], t: float) -> Mapping[str, Any]:
        if not self.guidance_active(t):
            return preds
        c = prediction_value(preds["cond"])
        if self.estimates_now():
            a, b, d = self._coef()
            pc, pu = self._prev
            if self.ctx.lookahead_rows is not None:
                pc, pu = pc[self.ctx.lookahead_rows], pu[self.ctx.lookahead_rows]
            u = a * c + b * pc + d * pu
            if not self.ctx.lookahead:
                self._estimated += 1
            preds = {**preds, "uncond": with_value(preds["cond"], u)}
        elif "uncond" not in preds:
            return preds
        if not self.ctx.lookahead:
            self._prev = (c, prediction_value(preds["uncond"]))
        return super().combine(preds, t)

    def trace(self) -> dict[str, Any]:
        return {"estimated_uncond_steps": self._estimated}

    def fit(self, model: Any, n: int, *, steps: int, cond: Any, seed: int = 0,
            batch_size: int | None = None) -> LinearAG:
        """A copy with per-step coefficients fitted by least squares on ``n`` full-CFG trajectories.

        Each step's ``(a, b, d)`` minimises ``sum ||u_t - a c_t - b c_{t-1} - d u_{t-1}||^2`` over all rows and
        pixels of the trajectories sampled with plain CFG at this guider's scale.
        """
        from seqguide.guidance.cfg.cfg import CFG
        from seqguide.sampling import sample

        records: list[list[tuple[torch.Tensor, torch.Tensor]]] = [[] for _ in range(steps)]

        class _Record(CFG):
            def combine(self_inner, preds, t):
                if "uncond" in preds and not self_inner.ctx.lookahead:
                    records[self_inner.ctx.step_index].append(
                        (prediction_value(preds["cond"]).double(), prediction_value(preds["uncond"]).double()))
                return super().combine(preds, t)

        sample(model, n, steps=steps, cond=cond, seed=seed, batch_size=batch_size, progress=False,
               guidance=[_Record(scale=self.scale, base=self.base)])
        coefs: list[tuple[float, float, float]] = [_DEFAULT]
        for i in range(1, steps):
            if not records[i] or not records[i - 1]:
                coefs.append(_DEFAULT)
                continue
            c_t = torch.cat([r[0] for r in records[i]]).flatten()
            u_t = torch.cat([r[1] for r in records[i]]).flatten()
            c_p = torch.cat([r[0] for r in records[i - 1]]).flatten()
            u_p = torch.cat([r[1] for r in records[i - 1]]).flatten()
            X = torch.stack([c_t, c_p, u_p], dim=1)
            ok = torch.isfinite(X).all(dim=1) & torch.isfinite(u_t)
            sol = torch.linalg.lstsq(X[ok], u_t[ok, None]).solution.flatten()
            coefs.append(tuple(float(v) for v in sol))
        return LinearAG(scale=self.scale, window=self.window, every=self.every, coefficients=tuple(coefs),
                        base=self.base, start=self.start, stop=self.stop)

    def _hyper(self) -> str:
        fitted = "fitted" if self.coefficients is not None else "default"
        return f"{super()._hyper()}, window={self.window}, every={self.every}, coefficients={fitted}"

