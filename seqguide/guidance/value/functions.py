"""Value functions: how promising a noisy state is, for value-based selection (SVDD, SMC, beam, best-of-N).

The soft value of a state x_s is ``v(x_s) = alpha * log E[exp(r(x_0) / alpha) | x_s]`` (SVDD, Li et al.
2024, arXiv 2408.08252, eq. 3); at s = 0 it is the reward itself. Two estimators:

- :class:`PosteriorMeanValue` (SVDD-PM): the oracle applied to the model's look-ahead ``x0_estimate``
  of the state (the argmax, as in the released SVDD code), or to ``k`` sampled completions aggregated
  by ``temperature * log-mean-exp(r / temperature)`` (FK steering's estimate, Singhal et al. 2025).
  No training; one look-ahead network call per distinct state (reused by the next step's prediction).
- a learned value model (SVDD-MC, :mod:`seqguide.guidance.value.model`).

Values are larger-is-better: an oracle with ``maximize=False`` is negated. Invalid designs get
``-inf`` (never selected unless every candidate is invalid). A multi-objective oracle needs ``weights``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

if TYPE_CHECKING:
    from seqguide.sampling.guider_context import GuiderContext

__all__ = ["CallableValue", "PosteriorMeanValue", "ValueFunction", "as_value"]


class ValueFunction:
    """Base class: ``value(states, s, ctx, rows) -> (N,)`` float64, larger is better, ``-inf`` invalid.

    Attributes:
        oracle: The oracle defining the terminal reward (None for a value with no oracle).
        weights: Scalarisation weights for a multi-objective oracle.
    """

    oracle: Any = None
    weights: Sequence[float] | None = None

    def __call__(
        self, states: torch.Tensor, s: float, ctx: GuiderContext, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        raise NotImplementedError

    @property
    def sign(self) -> float:
        return 1.0 if self.oracle is None or getattr(self.oracle, "maximize", True) else -1.0

    def reward(self, clean: torch.Tensor | Sequence[str], ctx: GuiderContext) -> torch.Tensor:
        """Terminal reward ``r(x_0)`` ``(N,)`` float64 of clean states (token ids) or strings.

        Identical designs in the batch are sent to the oracle once.
        """
        if self.oracle is None:
            raise RuntimeError(f"{type(self).__name__} has no oracle to compute rewards with")
        if isinstance(clean, torch.Tensor):
            # One vectorised decode (one transfer to the host); identical designs are then sent to the oracle once.
            seqs, device = ctx.model.decode(clean), clean.device
        else:
            seqs, device = list(clean), ctx.device
        uniq: dict[Any, int] = {}
        index = [uniq.setdefault(_hashable(x), len(uniq)) for x in seqs]
        firsts: dict[int, Any] = {}
        for x, i in zip(seqs, index):
            firsts.setdefault(i, x)
        result = ctx.score(self.oracle, [firsts[i] for i in range(len(firsts))])
        values = result.values
        if values.ndim == 2:
            if values.shape[1] == 1:
                values = values[:, 0]
            elif self.weights is None:
                raise ValueError(
                    f"oracle {getattr(self.oracle, 'name', self.oracle)!r} returns {values.shape[1]} objectives: "
                    "give the value function weights=[...] to combine them"
                )
            else:
                values = values @ np.asarray(self.weights, dtype=np.float64)
        r = self.sign * values.astype(np.float64)
        r[~result.valid | ~np.isfinite(r)] = -np.inf
        return torch.as_tensor(r[np.asarray(index, dtype=np.int64)], device=device)

    def to_oracle_units(self, r: torch.Tensor) -> torch.Tensor:
        """Rewards back in the oracle's own units (undo the sign), NaN where invalid."""
        out = (self.sign * r).double()
        return torch.where(torch.isfinite(out), out, torch.full_like(out, float("nan")))

    def __repr__(self) -> str:
        name = getattr(self.oracle, "name", None)
        return f"{type(self).__name__}({name!r})" if name else f"{type(self).__name__}()"


def _hashable(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return (tuple(x.shape), x.detach().cpu().numpy().tobytes())
    return x


class PosteriorMeanValue(ValueFunction):
    """SVDD-PM value: the oracle's reward of the model's clean look-ahead from each state.

    Args:
        oracle: Any :class:`oracles.Oracle` (wrap it in ``Cached``/``Budgeted`` to control cost).
        samples: 0 uses the argmax look-ahead ``x0_estimate`` (SVDD-PM); ``k > 0`` draws k completions
            from ``p(x_0 | x_s)`` and aggregates their rewards by ``temperature * log-mean-exp(r / temperature)``
            (FK steering's estimator; temperature -> 0 takes the max, large temperature the mean).
        temperature: Aggregation temperature for ``samples > 0``.
        weights: Scalarisation weights for a multi-objective oracle.
    """

    def __init__(self, oracle: Any, *, samples: int = 0, temperature: float = 1.0,
                 weights: Sequence[float] | None = None) -> None:
        if samples < 0:
            raise ValueError(f"samples must be >= 0, got {samples}")
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not callable(oracle):
            raise TypeError(f"oracle must be callable (an Oracle), got {type(oracle).__name__}")
        self.oracle = oracle
        self.samples = samples
        self.temperature = temperature
        self.weights = weights

    def __call__(
        self, states: torch.Tensor, s: float, ctx: GuiderContext, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        model = ctx.model
        N = states.shape[0]
        if rows is None:
            rows = torch.arange(N, device=states.device)
        # Clean rows are scored as they are, the others through the look-ahead. One sync (the number of clean
        # rows) splits them; a stable sort keeps each part in row order without boolean indexing.
        is_clean = model.is_clean(states) if hasattr(model, "is_clean") else None
        n_clean = 0 if is_clean is None else int(is_clean.sum())
        if n_clean == N:
            return self.reward(states, ctx)
        values = torch.empty(N, dtype=torch.float64, device=states.device)
        noisy = None
        if n_clean:
            order = torch.argsort((~is_clean).to(torch.int8), stable=True)
            clean, noisy = order[:n_clean], order[n_clean:]
            values[clean] = self.reward(states[clean], ctx)
        x = states if noisy is None else states[noisy]
        pred = ctx.predict(x, s, rows if noisy is None else rows[noisy])
        if self.samples == 0:
            v = self.reward(model.x0_estimate(x, pred), ctx)
        else:
            k = self.samples
            x_rep = x.repeat_interleave(k, dim=0)
            p_rep = pred.repeat_interleave(k, dim=0)
            draws = model.x0_estimate(x_rep, p_rep, generator=ctx.generator, sample=True)
            r = self.reward(draws, ctx).view(-1, k)
            tau = self.temperature
            v = tau * (torch.logsumexp(r / tau, dim=1) - math.log(k))
        if noisy is None:
            return v
        values[noisy] = v
        return values


class CallableValue(ValueFunction):
    """A value from a function ``fn(states, s) -> (N,)`` (e.g. an exact soft value in tests).

    Args:
        fn: Maps ``(states (N, ...), s)`` to values ``(N,)``.
        oracle: Optional oracle for the terminal reward (used by ``reward``).
    """

    def __init__(self, fn: Callable[[torch.Tensor, float], torch.Tensor], *, oracle: Any = None) -> None:
        self.fn = fn
        self.oracle = oracle

    def __call__(
        self, states: torch.Tensor, s: float, ctx: GuiderContext, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        return torch.as_tensor(self.fn(states, s), dtype=torch.float64, device=states.device)


def as_value(value: Any) -> ValueFunction:
    """An oracle becomes a :class:`PosteriorMeanValue`; a ValueFunction is returned as is."""
    if isinstance(value, ValueFunction):
        return value
    if callable(value) and hasattr(value, "maximize"):
        return PosteriorMeanValue(value)
    raise TypeError(
        f"value must be an Oracle or a ValueFunction, got {type(value).__name__}; wrap a plain function with "
        "oracles.from_function(fn, name=...)"
    )
