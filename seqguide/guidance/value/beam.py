"""Beam search over denoising trajectories with a value function.

Each request keeps ``beams`` states. At every step each beam proposes ``expand`` candidates from the
model's own transition (one network call for all beams), the value function scores all
``beams * expand`` candidates, and the ``beams`` best distinct candidates survive. Greedy SVDD
(``alpha = 0``) is the special case ``beams = 1``; beam search shares the budget across siblings
instead of keeping one lineage per sample.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from seqguide.guidance.base import Candidates, Final, Guider
from seqguide.guidance.value.functions import ValueFunction, as_value

__all__ = ["BeamSearch"]


class BeamSearch(Guider):
    """Value-guided beam search on the ``propose``/``select`` hooks.

    Args:
        value: An Oracle (look-ahead value) or a :class:`ValueFunction`.
        beams: W, states kept per request.
        expand: Candidates proposed per beam and step.
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"value": ("oracle", "surrogate", "value_model")}
    paper: ClassVar[str] = "value-guided beam search over denoising steps (greedy SVDD is beams=1)"

    def __init__(self, value: Any, *, beams: int = 4, expand: int = 4) -> None:
        super().__init__()
        if beams < 1:
            raise ValueError(f"beams must be >= 1, got {beams}")
        if expand < 1:
            raise ValueError(f"expand must be >= 1, got {expand}")
        self.value: ValueFunction = as_value(value)
        self.beams = beams
        self.expand = expand
        self.expansion = beams

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self._values: torch.Tensor | None = None

    def propose(self, model: Any, state: torch.Tensor, pred: Any, t: float, s: float) -> Candidates:
        E = self.expand
        nxt = model.step(state.repeat_interleave(E, 0), pred.repeat_interleave(E, 0), t, s, self.ctx.generator)
        return Candidates(nxt.view(state.shape[0], E, *state.shape[1:]), state, pred, t, s)

    def select(self, cands: Candidates, t: float) -> torch.Tensor:
        ctx = self.ctx
        n, W, E = ctx.n, self.beams, self.expand
        flat = cands.states.flatten(0, 1)  # (n*W*E, ...) grouped by request
        rows = torch.arange(flat.shape[0], device=flat.device) // E
        v = self.value(flat, cands.s, ctx, rows).view(n, W * E)
        # Duplicates within a request would waste beams: keep the first copy of each distinct state.
        keys = flat.reshape(n, W * E, -1)
        same = (keys[:, :, None, :] == keys[:, None, :, :]).all(dim=-1)
        earlier = torch.triu(torch.ones(W * E, W * E, dtype=torch.bool, device=flat.device), diagonal=1)
        duplicate = (same & earlier.T[None]).any(dim=2)
        ranked = torch.where(duplicate, torch.full_like(v, float("-inf")), torch.nan_to_num(v, nan=float("-inf")))
        # Duplicates rank last (with invalid candidates) but still fill a group that has too few.
        order = torch.argsort(ranked, dim=1, descending=True, stable=True)[:, :W]
        index = (order + torch.arange(n, device=flat.device)[:, None] * W * E).flatten()
        self._values = v.flatten()[index]
        ctx.gather(index // E)
        return flat[index]

    def finalize(self, state: torch.Tensor) -> Final:
        n, W = self.ctx.n, self.beams
        v = torch.nan_to_num(self._values.view(n, W), nan=float("-inf"))
        index = torch.arange(n, device=state.device) * W + v.argmax(dim=1)
        scores = self.value.to_oracle_units(self._values[index]) if self.value.oracle is not None else None
        return Final(state[index], scores=scores)

    def __repr__(self) -> str:
        return f"BeamSearch({self.value!r}, beams={self.beams}, expand={self.expand})"
