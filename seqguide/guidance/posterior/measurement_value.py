"""Measurements in value-based guidance and the plain-conditioning baseline.

- :class:`MeasurementValue`: the measurement log-likelihood as the value of SVDD / SMC / best-of-N, so the
  derivative-free methods solve the same posterior-sampling problems as APS. ``v(x_s) = log q(y |
  x0_estimate(x_s))`` (SVDD-PM's look-ahead value with the log-likelihood as reward). With this value,
  SMC with ``lam=1`` targets ``p(x) q(y | x) / Z``, the posterior itself.
- :class:`ClampObserved`: inpainting by clamping: the tokens a measurement observes directly are written
  into the state and the model fills the rest (the usual way a masked model is conditioned on known
  tokens; with noisy observations it copies the noise).

Example:
    >>> from seqguide.guidance import SMC, MeasurementValue
    >>> smc = SMC(MeasurementValue(measurement), particles=4, lam=1.0)   # doctest: +SKIP
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.nn.functional as F

from seqguide.guidance.base import Guider
from seqguide.guidance.posterior.measurement import Measurement
from seqguide.guidance.posterior.reward_measurement import as_measurement
from seqguide.guidance.value.functions import ValueFunction

if TYPE_CHECKING:
    from seqguide.sampling.guider_context import GuiderContext

__all__ = ["ClampObserved", "MeasurementValue"]


class MeasurementValue(ValueFunction):
    """Value of a state: the measurement log-likelihood of its clean look-ahead.

    Args:
        measurement: A :class:`~seqguide.guidance.posterior.measurement.Measurement` (or an oracle / surrogate).
        samples: 0 scores the argmax look-ahead ``x0_estimate``; ``k > 0`` draws k completions and aggregates
            their log-likelihoods by ``temperature * log-mean-exp(ll / temperature)`` (FK steering's estimate).
        temperature: Aggregation temperature for ``samples > 0``.
    """

    def __init__(self, measurement: Measurement | Any, *, samples: int = 0, temperature: float = 1.0) -> None:
        if samples < 0:
            raise ValueError(f"samples must be >= 0, got {samples}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.measurement = as_measurement(measurement)
        self.samples = samples
        self.temperature = temperature

    def log_likelihood(self, clean: torch.Tensor, index: torch.Tensor, ctx: GuiderContext) -> torch.Tensor:
        """``(N,)`` float64 ``log q(y | x)`` of clean token rows; ``-inf`` where the measurement rejects x."""
        ll = -self.measurement.token_loss(clean, index, ctx).double()
        extra = ctx.counters.extra
        extra["measurement_rows"] = extra.get("measurement_rows", 0) + int(clean.shape[0])
        return torch.nan_to_num(ll, nan=float("-inf"))

    def __call__(self, states: torch.Tensor, s: float, ctx: GuiderContext,
                 rows: torch.Tensor | None = None) -> torch.Tensor:
        model = ctx.model
        N = states.shape[0]
        if rows is None:
            rows = torch.arange(N, device=states.device)
        index = ctx.requests(rows)
        clean = model.is_clean(states)
        values = torch.empty(N, dtype=torch.float64, device=states.device)
        if clean.any():
            values[clean] = self.log_likelihood(states[clean], index[clean], ctx)
        noisy = ~clean
        if noisy.any():
            x = states[noisy]
            pred = ctx.predict(x, s, rows[noisy])
            if self.samples == 0:
                values[noisy] = self.log_likelihood(model.x0_estimate(x, pred), index[noisy], ctx)
            else:
                k = self.samples
                draws = model.x0_estimate(x.repeat_interleave(k, 0), pred.repeat_interleave(k, 0),
                                          generator=ctx.generator, sample=True)
                ll = self.log_likelihood(draws, index[noisy].repeat_interleave(k), ctx).view(-1, k)
                tau = self.temperature
                values[noisy] = tau * (torch.logsumexp(ll / tau, dim=1) - math.log(k))
        return values

    def __repr__(self) -> str:
        return f"MeasurementValue({self.measurement!r})"


class ClampObserved(Guider):
    """Condition by clamping: the tokens a measurement observes directly (``measurement.observed_tokens()``:
    inpainting, token observations, identity denoising) are written into the state after every step, and
    the model's prediction at those positions is set to them. The model sees them from step 1 on.

    Args:
        measurement: A measurement with directly observed positions.
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"measurement": ()}
    paper: ClassVar[str] = "inpainting by clamping observed tokens (baseline of Rout et al. 2025, arXiv 2510.02291)"

    def __init__(self, measurement: Measurement) -> None:
        super().__init__()
        if not isinstance(measurement, Measurement):
            raise TypeError(f"measurement must be a Measurement, got {type(measurement).__name__}")
        observed = measurement.observed_tokens()
        if observed is None:
            raise ValueError(f"{measurement!r} observes no position directly: there is nothing to clamp")
        self.measurement = measurement
        self._mask_all, self._tokens_all = observed

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        index = ctx.requests()
        if self._mask_all.shape[0] == 1:
            index = torch.zeros_like(index)
        elif int(index.max()) >= self._mask_all.shape[0]:
            raise ValueError(f"the measurement holds {self._mask_all.shape[0]} observations but request "
                             f"{int(index.max())} was asked for")
        self._mask = self._mask_all.to(ctx.device)[index]
        self._tokens = self._tokens_all.to(ctx.device)[index]

    def adjust(self, state: torch.Tensor, pred: torch.Tensor, t: float) -> torch.Tensor:
        onehot = F.one_hot(self._tokens, pred.shape[-1]).bool()
        clamped = torch.where(onehot, torch.zeros_like(pred), torch.full_like(pred, float("-inf")))
        return torch.where(self._mask.unsqueeze(-1), clamped, pred)

    def remask(self, state: torch.Tensor, pred: Any, t: float) -> torch.Tensor:
        return torch.where(self._mask, self._tokens, state)

    def __repr__(self) -> str:
        return f"ClampObserved({self.measurement!r})"
