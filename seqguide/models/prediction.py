"""``Prediction``: what a continuous model's ``predict`` returns and what its ``step`` consumes.

A discrete model predicts plain logits ``(B, L, V)``; they need nothing else to be stepped. A continuous
image model's raw network output (eps, x0, v or a velocity) only means something together with the noisy
state it was computed for and its time, so :class:`Prediction` carries them, plus the optional fields that
guidance methods hand to the step:

- ``uncond``: the unconditional prediction, for CFG++ (Chung et al. 2024, arXiv 2406.08070), which
  renoises along the unconditional noise direction instead of the guided one;
- ``evaluate`` / ``rows``: a callback giving the loop's *guided* prediction of other states at another time
  (counted in ``nfe``), for second-order solvers such as Heun, whose corrector needs a second evaluation
  that every guider must see.

It behaves like a batch along dim 0 (``repeat_interleave``, indexing), so value-based guiders (SVDD's
per-particle proposals, look-ahead values) treat it exactly like a tensor of predictions.

Example:
    >>> import torch
    >>> p = Prediction(torch.zeros(2, 1, 8, 8), kind="eps", t=torch.full((2,), 0.5), state=torch.zeros(2, 1, 8, 8))
    >>> p.repeat_interleave(3).value.shape
    torch.Size([6, 1, 8, 8])
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["PREDICTION_KINDS", "Prediction", "prediction_value", "with_value"]

#: The parameterisations of continuous predictions: noise, clean data, v = alpha eps - sigma x0
#: (Salimans & Ho 2022) and the flow velocity dx/dt.
PREDICTION_KINDS = ("eps", "x0", "v", "velocity")

_BATCHED = ("value", "t", "state", "uncond", "rows")


@dataclass(frozen=True)
class Prediction:
    """A batch of continuous predictions with the state and time they belong to.

    Attributes:
        value: ``(B, C, H, W)`` the prediction in the model's parameterisation (``kind``).
        kind: ``"eps"``, ``"x0"``, ``"v"`` or ``"velocity"``.
        t: ``(B,)`` float times of the prediction (1 = noise, 0 = data).
        state: ``(B, C, H, W)`` the noisy states ``x_t`` it was computed for.
        uncond: ``(B, C, H, W)`` the unconditional prediction (same kind) when a guider asks the step to
            renoise with it (CFG++); None otherwise.
        evaluate: ``evaluate(states, t, rows) -> Prediction``: the loop's guided prediction of other states,
            for solvers that need a second evaluation per step; None outside the sampling loop.
        rows: ``(B,)`` int64, the loop row each prediction belongs to (labels for ``evaluate``).
    """

    value: torch.Tensor
    kind: str
    t: torch.Tensor
    state: torch.Tensor
    uncond: torch.Tensor | None = None
    evaluate: Callable[[torch.Tensor, float, torch.Tensor], Prediction] | None = None
    rows: torch.Tensor | None = None

    def __post_init__(self) -> None:
        if self.kind not in PREDICTION_KINDS:
            raise ValueError(f"kind must be one of {PREDICTION_KINDS}, got {self.kind!r}")
        B = self.value.shape[0]
        for name in _BATCHED[1:]:
            x = getattr(self, name)
            if x is not None and x.shape[0] != B:
                raise ValueError(f"Prediction.{name} has {x.shape[0]} rows, value has {B}")

    # -- batch behaviour -------------------------------------------------------------------
    def _map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> Prediction:
        return dataclasses.replace(self, **{n: fn(getattr(self, n)) for n in _BATCHED if getattr(self, n) is not None})

    def repeat_interleave(self, repeats: int, dim: int = 0) -> Prediction:
        """Repeat every row ``repeats`` times (as ``Tensor.repeat_interleave`` along dim 0)."""
        if dim != 0:
            raise ValueError(f"a Prediction is a batch along dim 0; cannot repeat along dim {dim}")
        return self._map(lambda x: x.repeat_interleave(repeats, dim=0))

    def __getitem__(self, index: Any) -> Prediction:
        return self._map(lambda x: x[index])

    def __len__(self) -> int:
        return int(self.value.shape[0])

    def replace(self, **changes: Any) -> Prediction:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    @property
    def shape(self) -> torch.Size:
        return self.value.shape

    @property
    def device(self) -> torch.device:
        return self.value.device

    @property
    def dtype(self) -> torch.dtype:
        return self.value.dtype


def prediction_value(pred: Any) -> torch.Tensor:
    """The tensor of a prediction: ``pred.value`` for a :class:`Prediction`, the tensor itself otherwise."""
    return pred.value if isinstance(pred, Prediction) else pred


def with_value(pred: Any, value: torch.Tensor, **changes: Any) -> Any:
    """``pred`` with its tensor replaced by ``value`` (a plain tensor stays a plain tensor).

    Extra fields (``uncond=...``) can only be attached to a :class:`Prediction`.
    """
    if isinstance(pred, Prediction):
        return dataclasses.replace(pred, value=value, **changes)
    if changes:
        raise TypeError(f"cannot attach {sorted(changes)} to a plain tensor prediction (a discrete model's logits)")
    return value
