"""Dynamic CFG via online feedback (Papalampidi et al. 2025, arXiv 2509.16131, §3).

At every step the guided clean estimate for each candidate scale is free given ``c`` and ``u``
(``x0_w = x0_u + w (x0_c - x0_u)``, CFG being affine); a cheap evaluator scores all of them in one batch and
each sample greedily takes the best-scoring scale for this step. The paper's evaluators are small latent-space
models (CLIP alignment, a discriminator, a preference model) combined with step-dependent weights; here the
evaluator is any callable on clean estimates (combine several into one function yourself).

The evaluator receives ``x0 (N, ...)`` (images in model space, or a discrete model's clean-token
log-probabilities ``(N, L, V)``), the class labels ``(N,)`` of those rows (or None) and t, and returns ``(N,)``
scores, larger is better. Its calls are counted in the trace (``DynamicCFG.evaluator_rows``), not as oracle calls;
``DynamicCFG.scale_sum / DynamicCFG.scale_count`` is the mean chosen scale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import torch

from seqguide.guidance.cfg.common import CFGBase, guidance_difference, to_x0
from seqguide.models.prediction import Prediction

__all__ = ["DynamicCFG"]

Evaluator = Callable[[torch.Tensor, torch.Tensor | None, float], torch.Tensor]


class DynamicCFG(CFGBase):
    """Per-step, per-sample choice of the CFG scale by an evaluator of the clean estimates.

    Args:
        evaluator: ``evaluator(x0, labels, t) -> scores (N,)`` (larger is better).
        scales: Candidate scales w, each multiplying ``c - u`` in ``u + w (c - u)`` (w = 1 the conditional
            prediction, no guidance; 0 the unconditional one); the step uses the candidate chosen per sample.
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not.
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"evaluator": ("surrogate", "evaluator")}
    paper: ClassVar[str] = "Papalampidi et al. 2025, arXiv 2509.16131 (dynamic CFG via online feedback), §3"

    def __init__(self, evaluator: Evaluator, *, scales: tuple[float, ...] = (1.0, 2.0, 3.0, 5.0),
                 start: float = 0.0, stop: float = 1.0) -> None:
        scales = tuple(float(w) for w in scales)
        if not scales:
            raise ValueError("scales must hold at least one candidate scale")
        if not callable(evaluator):
            raise TypeError(f"evaluator must be callable (x0, labels, t) -> scores, got {type(evaluator).__name__}")
        super().__init__(scale=max(scales), start=start, stop=stop)
        self.evaluator = evaluator
        self.scales = scales

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self._chosen_sum = 0.0
        self._chosen_n = 0
        self._evaluated = 0

    def is_noop(self) -> bool:
        return all(abs(w - 1.0) < 1e-12 for w in self.scales)

    def choose(self, x0_c: torch.Tensor, x0_u: torch.Tensor, t: float, discrete: bool) -> torch.Tensor:
        """``(B,)`` the best candidate scale of each sample."""
        B, K = x0_c.shape[0], len(self.scales)
        w = torch.tensor(self.scales, dtype=x0_c.dtype, device=x0_c.device)
        d = guidance_difference(x0_c, x0_u)
        cands = x0_u[None] + w.view(K, 1, *([1] * (x0_c.dim() - 1))) * d[None]  # (K, B, ...)
        cands = torch.where(torch.isnan(cands), torch.full_like(cands, float("-inf")), cands).flatten(0, 1)
        if discrete:
            cands = cands.log_softmax(dim=-1)
        labels = self.ctx.current_labels()
        with torch.no_grad():
            scores = torch.as_tensor(self.evaluator(cands, None if labels is None else labels.repeat(K), t))
        scores = torch.nan_to_num(scores.double().view(K, B), nan=float("-inf"))
        self._evaluated += K * B
        return w[scores.argmax(dim=0)]

    def guide(self, c: torch.Tensor, u: torch.Tensor, t: float) -> torch.Tensor:
        raise RuntimeError("DynamicCFG.guide needs the clean estimates; it works through combine()")

    def combine(self, preds, t):
        if "uncond" not in preds or not self.guidance_active(t):
            return preds
        model = self.ctx.model
        cond, uncond = preds["cond"], preds["uncond"]
        discrete = not isinstance(cond, Prediction)
        w = self.choose(to_x0(model, cond), to_x0(model, uncond), t, discrete)
        if not self.ctx.lookahead:
            self._chosen_sum += float(w.sum())
            self._chosen_n += int(w.numel())
        c = cond.value if not discrete else cond
        u = uncond.value if not discrete else uncond
        guided = self._cfg(c, u, w)
        if discrete:
            guided = torch.where(torch.isnan(guided), torch.full_like(guided, float("-inf")), guided).log_softmax(-1)
        out = dict(preds)
        out["cond"] = self.wrap(preds, guided)
        return out

    def trace(self) -> dict[str, Any]:
        return {"scale_sum": self._chosen_sum, "scale_count": self._chosen_n, "evaluator_rows": self._evaluated}

    def _hyper(self) -> str:
        return f"scales={self.scales}"
