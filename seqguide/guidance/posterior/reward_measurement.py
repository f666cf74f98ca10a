"""Rewards as measurements: posterior sampling toward ``p(x) exp(weight * r(x))``.

A reward r defines the likelihood ``q(y | x) ∝ exp(weight * r(x))`` ("the observation is: x scores well"),
so every measurement-based guider (APS, the measurement value of SVDD/SMC) also steers toward a reward:

- :class:`RewardMeasurement`: a black-box :class:`~oracles.Oracle` scored on decoded sequences (no
  gradients; APS then uses a score-function estimate and every call is counted in ``oracle_calls``);
- :class:`DifferentiableReward`: a differentiable function of one-hot/probability tensors ``(B, L, K)``,
  e.g. a :class:`~oracles.surrogate.Surrogate`; APS differentiates it through the quantized expectation.

:func:`as_measurement` turns a campaign resource (an oracle or a surrogate) into one of these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import torch

from seqguide.guidance.posterior.measurement import Measurement

__all__ = ["DifferentiableReward", "RewardMeasurement", "as_measurement"]


def _sign(oracle: Any) -> float:
    return 1.0 if getattr(oracle, "maximize", True) else -1.0


class RewardMeasurement(Measurement):
    """A black-box oracle reward as a measurement: ``loss(x) = -weight * r(x)`` (``r`` negated for an oracle
    that minimises). Invalid designs get ``NaN`` (APS treats them as the worst of their batch).

    Args:
        oracle: Any :class:`~oracles.Oracle` (wrap it in ``Cached``/``Budgeted`` to control cost).
        weight: Inverse temperature of the target ``p(x) exp(weight * r(x))``.
        objective_weights: Scalarisation weights for a multi-objective oracle.
    """

    differentiable: ClassVar[bool] = False

    def __init__(self, oracle: Any, *, weight: float = 1.0, objective_weights: list[float] | None = None) -> None:
        if not callable(oracle):
            raise TypeError(f"oracle must be callable (an Oracle), got {type(oracle).__name__}")
        if not weight > 0:
            raise ValueError(f"weight must be > 0, got {weight}")
        self.oracle = oracle
        self.weight = float(weight)
        self.objective_weights = objective_weights
        alphabet = getattr(oracle, "alphabet", None)
        self.values = None if alphabet is None else torch.eye(alphabet.size)

    def loss(self, v: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        raise TypeError(f"{type(self).__name__} wraps a black-box oracle: it scores token sequences "
                        "(token_loss), not soft values; use DifferentiableReward with a surrogate for gradients")

    def token_loss(self, tokens: torch.Tensor, index: torch.Tensor | None = None, ctx: Any = None) -> torch.Tensor:
        if ctx is not None:
            result = ctx.score(self.oracle, tokens)
        else:
            alphabet = getattr(self.oracle, "alphabet", None)
            if alphabet is None:
                raise ValueError(f"{self!r} cannot decode token ids outside a sample() run: the oracle has no "
                                 "alphabet (pass ctx=, or give the oracle an alphabet)")
            result = self.oracle(alphabet.decode(tokens))
        values = np.asarray(result.values, dtype=np.float64)
        if values.ndim == 2:
            if values.shape[1] == 1:
                values = values[:, 0]
            elif self.objective_weights is None:
                raise ValueError(f"oracle {getattr(self.oracle, 'name', self.oracle)!r} returns {values.shape[1]} "
                                 "objectives: give objective_weights=[...] to combine them")
            else:
                values = values @ np.asarray(self.objective_weights, dtype=np.float64)
        values = np.where(np.asarray(result.valid, dtype=bool), values, np.nan)
        r = torch.as_tensor(_sign(self.oracle) * values, dtype=torch.float32, device=tokens.device)
        return -self.weight * r

    def __repr__(self) -> str:
        return f"RewardMeasurement({getattr(self.oracle, 'name', self.oracle)!r}, weight={self.weight})"


class DifferentiableReward(Measurement):
    """A differentiable reward of token probabilities as a measurement: ``loss(v) = -weight * f(v)``.

    Args:
        fn: ``f(v (B, L, K)) -> (B,)`` (or ``(B, 1)``), differentiable in one-hot/probability inputs, e.g. a
            :class:`~oracles.surrogate.Surrogate` (its ``forward``). An object with ``maximize=False`` is negated.
        num_tokens: K; default ``fn.alphabet.size``.
        weight: Inverse temperature of the target ``p(x) exp(weight * f(x))``.
    """

    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor], *, num_tokens: int | None = None,
                 weight: float = 1.0) -> None:
        if not callable(fn):
            raise TypeError(f"fn must be callable on (B, L, K) tensors, got {type(fn).__name__}")
        if not weight > 0:
            raise ValueError(f"weight must be > 0, got {weight}")
        alphabet = getattr(fn, "alphabet", None)
        k = num_tokens if num_tokens is not None else (alphabet.size if alphabet is not None else None)
        if k is None or k < 2:
            raise ValueError(f"num_tokens must be given (>= 2) when fn has no alphabet, got {num_tokens}")
        self.fn = fn
        # An oracle-like surrogate is called on strings; its differentiable form is ``forward``.
        self._forward = fn if isinstance(fn, torch.nn.Module) else getattr(fn, "forward", fn)
        self.weight = float(weight)
        self.values = torch.eye(int(k))

    def loss(self, v: torch.Tensor, index: torch.Tensor | None = None) -> torch.Tensor:
        dev = getattr(self.fn, "device", v.device)
        r = self._forward(v.to(dev)).to(v.device)
        if r.dim() == 2 and r.shape[1] == 1:
            r = r[:, 0]
        if r.shape != (v.shape[0],):
            raise ValueError(f"the reward function must return one number per row, shape ({v.shape[0]},); "
                             f"got {tuple(r.shape)}")
        return -self.weight * _sign(self.fn) * r.float()

    def __repr__(self) -> str:
        return f"DifferentiableReward({getattr(self.fn, 'name', type(self.fn).__name__)!r}, weight={self.weight})"


def as_measurement(resource: Any) -> Measurement:
    """A :class:`Measurement` from a measurement, a differentiable surrogate (an object with ``forward`` and an
    alphabet, e.g. :class:`~oracles.surrogate.Surrogate`) or a black-box oracle.

    Raises:
        TypeError: for anything else.
    """
    if isinstance(resource, Measurement):
        return resource
    if callable(getattr(resource, "forward", None)) and getattr(resource, "alphabet", None) is not None:
        return DifferentiableReward(resource)
    if callable(resource) and hasattr(resource, "maximize"):
        return RewardMeasurement(resource)
    raise TypeError(f"measurement must be a Measurement, a differentiable surrogate or an Oracle, got "
                    f"{type(resource).__name__}")
