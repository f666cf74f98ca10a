"""STGFlow: straight-through guided flows (Tang, Zhang, Tong, Chatterjee 2025, arXiv 2503.17361, Fig. 2).

Guidance from a model trained on *clean* sequences (a surrogate regressor or a classifier; no noisy-input
model needed). At every step inside the window:

1. draw M hard sequences ``h^(m)`` from the current point's per-position token distribution (the simplex state
   ``x_t`` itself, as in the paper, or the denoiser's prediction ``p(x_1 | x_t)``);
2. score them with the objective ``f`` in the forward pass (one batched call on one-hots);
3. back-propagate with the straight-through estimator: the forward pass sees the hard ``h``, the gradient flows
   to the soft point as if ``h = x`` (``h + x - stopgrad(x)``), so ``d f / d x = d f / d h`` at the drawn one-hot;
4. average the M gradients: ``g = mean_m grad f(h^(m))`` ``(B, L, K)``;
5. steer the flow: the denoiser's clean-token distribution is tilted, ``p~ proportional to p * exp(scale * g)``,
   and the velocity is built from ``p~``. The guidance velocity added to the unconditional one is therefore
   ``v(p~) - v(p) = (decay / T) x * ((p~ - p) - <x, p~ - p>)``, tangent to the simplex like ``v`` itself.

Why a tilt of the denoiser: with ``f`` the log-likelihood of a property ``y`` of the clean sequence, the exact
guided denoiser is ``p(x_1 | x_t, y) proportional to p(x_1 | x_t) p(y | x_1)``; ``g`` is the first-order
(Taylor, one token at a time) expansion of ``log p(y | x_1)`` averaged over plausible ``x_1``, so for an
additive objective ``f(x) = sum_l w_l[x_l]`` the tilt is exact and the guided flow samples
``p(x) exp(scale * f(x)) / Z`` (checked on :class:`~seqguide.models.toy.ExactSimplexModel`). How the paper scales
the gradient before adding it is not stated in the public text; ``scale`` and ``particles`` (M) are tuned in
``benchmarks/gradient_guidance.py``.

Several objectives combine as ``f = sum_j weights[j] * f_j`` (a list of models, or the K outputs of one
multi-objective surrogate); a model with ``maximize=False`` is negated. Works on masked models too with
``source="prediction"`` (draws from the denoiser, unmasked tokens carried).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F

from seqguide.guidance.base import Guider

__all__ = ["STGFlow"]


class STGFlow(Guider):
    """Straight-through guidance from differentiable clean-sequence models, on the ``adjust`` hook.

    Args:
        value: A differentiable model of clean sequences, called (its ``forward``) on one-hots ``(N, L, V)``
            (``V`` = the alphabet's vocabulary size: regular tokens, pad, mask; e.g. :class:`oracles.Surrogate`,
            whose ``forward`` drops the special columns) and returning ``(N,)`` or ``(N, K)``; or a list of them.
        scale: Multiplies the averaged straight-through gradient g in the tilt of the denoiser,
            ``p~ ∝ p exp(scale * g)`` (inverse units of the objective): 0 = the unguided flow; for an additive
            objective f the flow samples ``p(x) exp(scale * f(x)) / Z`` (so 1 = the tilt by f itself).
        particles: M, hard sequences drawn per row and step to estimate the gradient.
        weights: One weight per objective (a list of models, or the K outputs of one model); None = 1 each.
        source: ``"state"`` draws from the simplex state (the paper; simplex models only), ``"prediction"`` from
            the denoiser's clean-token distribution (any discrete model).
        start: Fraction of the run at which guidance starts.
        stop: Fraction at which it stops.

    Raises:
        ValueError: for a non-finite or negative ``scale``, ``particles < 1``, an unknown ``source``, or weights
            that do not match the models.
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"value": ("surrogate",)}
    paper: ClassVar[str] = "Tang et al. 2025, arXiv 2503.17361 (Gumbel-Softmax FM), STGFlow (Fig. 2)"

    def __init__(self, value: Any, *, scale: float = 10.0, particles: int = 8,
                 weights: tuple[float, ...] | None = None, source: Literal["state", "prediction"] = "state",
                 start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(start=start, stop=stop)
        models = list(value) if isinstance(value, (list, tuple)) else [value]
        if not models or not all(callable(m) for m in models):
            raise TypeError("value must be a differentiable model (callable on one-hots) or a list of them, got "
                            f"{type(value).__name__}")
        if not (scale >= 0 and scale < float("inf")):
            raise ValueError(f"scale must be finite and >= 0, got {scale}")
        if particles < 1:
            raise ValueError(f"particles must be >= 1, got {particles}")
        if source not in ("state", "prediction"):
            raise ValueError(f"source must be 'state' or 'prediction', got {source!r}")
        if weights is not None:
            weights = tuple(float(w) for w in weights)
            if len(models) > 1 and len(weights) != len(models):
                raise ValueError(f"weights must give one weight per model ({len(models)}), got {len(weights)}")
        self.models = models
        self.scale = float(scale)
        self.particles = int(particles)
        self.weights = weights
        self.source = source

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self._guided_steps = 0
        self._rows = 0
        self._objective_sum = 0.0
        self._objective_last = float("nan")

    # ------------------------------------------------------------------ objective
    def objective(self, onehot: torch.Tensor) -> torch.Tensor:
        """The weighted, larger-is-better objective ``f`` of one-hots ``(N, L, V)``: ``(N,)`` (differentiable)."""
        total = torch.zeros(onehot.shape[0], dtype=torch.float32, device=onehot.device)
        for j, model in enumerate(self.models):
            out = _differentiable(model)(onehot)
            if out.dim() == 2 and out.shape[1] == 1:
                out = out[:, 0]
            if out.dim() == 2:  # a multi-objective model (only allowed alone, with one weight per output)
                if self.weights is None or len(self.models) > 1 or len(self.weights) != out.shape[1]:
                    raise ValueError(f"model {j} returns {out.shape[1]} objectives: give weights= with one weight "
                                     "per objective")
                out = out @ torch.tensor(self.weights, dtype=out.dtype, device=out.device)
            else:
                if self.weights is not None and len(self.weights) != len(self.models):
                    raise ValueError(f"weights has {len(self.weights)} entries for {len(self.models)} "
                                     "single-objective model(s)")
                out = out * (1.0 if self.weights is None else self.weights[j])
            sign = 1.0 if getattr(model, "maximize", True) else -1.0
            total = total + sign * out.to(total.device).float()
        return total

    def _distribution(self, state: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        if self.source == "state":
            if not state.is_floating_point() or state.shape != pred.shape:
                raise ValueError("STGFlow(source='state') needs a simplex model (state (B, L, K) on the simplex); "
                                 "use source='prediction' for masked diffusion")
            return state
        return pred.exp()

    def gradient(self, state: torch.Tensor, pred: torch.Tensor) -> torch.Tensor:
        """The averaged straight-through gradient ``g = mean_m d f / d h (h^(m))``: ``(B, L, K)`` (K = pred's width).

        Args:
            state: The loop state.
            pred: ``(B, L, K)`` clean-token log-probabilities.
        """
        model = self.ctx.model
        probs = self._distribution(state, pred).float()
        B, L, K = probs.shape
        M = self.particles
        flat = probs.reshape(B * L, K).clamp_min(0)
        draws = torch.multinomial(flat, M, replacement=True, generator=self.ctx.generator)  # (B*L, M)
        draws = draws.view(B, L, M).permute(0, 2, 1).reshape(B * M, L)
        with torch.enable_grad():
            hard = F.one_hot(draws, K).float().requires_grad_(True)  # the straight-through point
            inputs = model.soft_tokens(hard) if hasattr(model, "soft_tokens") else hard
            f = self.objective(inputs)
            (grad,) = torch.autograd.grad(f.sum(), hard)
        self._rows += B * M
        self._objective_last = float(f.detach().mean())
        self._objective_sum += self._objective_last
        extra = self.ctx.counters.extra
        extra["stgflow_rows"] = extra.get("stgflow_rows", 0) + B * M
        return grad.view(B, M, L, K).mean(dim=1).to(pred.dtype)

    # ------------------------------------------------------------------ hook
    def adjust(self, state: torch.Tensor, pred: Any, t: float) -> Any:
        if not self.is_active() or self.scale == 0:
            return pred
        g = self.gradient(state, pred)
        self._guided_steps += 1
        tilted = torch.where(torch.isfinite(pred), pred + self.scale * g, pred)
        return tilted.log_softmax(dim=-1)

    def trace(self) -> dict[str, Any]:
        mean = self._objective_sum / self._guided_steps if self._guided_steps else float("nan")
        return {"guided_steps": self._guided_steps, "gradient_rows": self._rows, "objective_mean": mean,
                "objective_last": self._objective_last}

    def __repr__(self) -> str:
        names = [getattr(m, "name", type(m).__name__) for m in self.models]
        return (f"STGFlow({names if len(names) > 1 else names[0]!r}, scale={self.scale:g}, "
                f"particles={self.particles}, source={self.source!r})")


def _differentiable(model: Any) -> Any:
    """The differentiable call of a model: ``forward`` when it has one (an ``oracles.Surrogate``, whose ``__call__``
    is the oracle interface on strings; a torch module), else the model itself (a plain function)."""
    forward = getattr(model, "forward", None)
    return forward if callable(forward) else model
