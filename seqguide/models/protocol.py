"""The model protocol: what the one sampling loop needs from a generative model (docs/architecture.md).

Every model is a *process* with five methods:

- ``prior(n, length) -> state``: the start of sampling (fully masked tokens, simplex or Gaussian noise).
- ``predict(state, t, cond=None) -> prediction``: one network call. ``cond`` is None, labels ``(B,)``,
  or a dict ``{branch: labels or None}`` evaluated as **one** batched forward, returning
  ``{branch: prediction}``.
- ``step(state, pred, t, s, generator) -> state``: one reverse step from t to s < t.
- ``x0_estimate(state, pred) -> clean``: the look-ahead used by value guidance.
- ``decode(clean) -> list[str] | Tensor``.

``time_conditioned`` tells the sampler whether a prediction may be reused at another time (MDLM
caching). Time runs from 1 (noise) to 0 (data).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, runtime_checkable

import torch

__all__ = ["Cond", "GenerativeProcess", "predict_branches"]

Cond = torch.Tensor | Mapping[str, torch.Tensor | None] | None


@runtime_checkable
class GenerativeProcess(Protocol):
    """Structural type of a model the sampler can drive."""

    time_conditioned: bool

    def prior(
        self, n: int, length: int | None = None, *, generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor: ...

    def predict(self, state: torch.Tensor, t: float | torch.Tensor, cond: Cond = None): ...

    def step(
        self, state: torch.Tensor, pred: torch.Tensor, t: float, s: float,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor: ...

    def x0_estimate(
        self, state: torch.Tensor, pred: torch.Tensor, *, generator: torch.Generator | None = None,
        sample: bool = False,
    ) -> torch.Tensor: ...

    def decode(self, clean: torch.Tensor) -> list[str] | torch.Tensor: ...


def predict_branches(
    forward: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    state: torch.Tensor,
    cond: Mapping[str, torch.Tensor | None],
    null_label: int,
) -> dict[str, torch.Tensor]:
    """Evaluate several conditioning branches in one batched forward.

    Args:
        forward: ``forward(state, labels) -> pred`` for a batch (labels ``(B,)`` or None).
        state: ``(B, ...)`` the current state, shared by all branches.
        cond: ``{branch: labels (B,) or None}``; None means the null (unconditional) label.
        null_label: The id of the null class.

    Returns:
        ``{branch: pred (B, ...)}`` in the order of ``cond``.
    """
    names = list(cond)
    if not names:
        raise ValueError("predict_branches needs at least one branch")
    B = state.shape[0]
    if len(names) == 1 and cond[names[0]] is None:
        return {names[0]: forward(state, None)}
    labels = []
    for name in names:
        y = cond[name]
        if y is None:
            y = torch.full((B,), null_label, dtype=torch.long, device=state.device)
        y = torch.as_tensor(y, dtype=torch.long, device=state.device).expand(B)
        labels.append(y)
    out = forward(state.repeat(len(names), *([1] * (state.dim() - 1))), torch.cat(labels))
    return dict(zip(names, out.chunk(len(names), dim=0)))
