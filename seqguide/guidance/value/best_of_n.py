"""Best-of-N: draw N independent samples per request from the unguided model and keep the best.

The classic baseline of reward-guided sampling (used as such by SVDD and FK steering): no per-step
guidance, N times the network cost of one sample and N oracle calls per request.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch

from seqguide.guidance.base import Final, Guider
from seqguide.guidance.value.functions import ValueFunction, as_value

__all__ = ["BestOfN"]


class BestOfN(Guider):
    """Keep the highest-reward of N unguided samples per request.

    Args:
        value: An Oracle or a :class:`ValueFunction` (only its terminal reward is used).
        n: Samples drawn per request.
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"value": ("oracle", "surrogate", "value_model")}
    paper: ClassVar[str] = "best-of-N baseline (as in Li et al. 2024, arXiv 2408.08252, and Singhal et al. 2025)"

    def __init__(self, value: Any, *, n: int = 8) -> None:
        super().__init__()
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.value: ValueFunction = as_value(value)
        self.n = n
        self.expansion = n

    def finalize(self, state: torch.Tensor) -> Final:
        ctx = self.ctx
        r = self.value(state, 0.0, ctx)  # clean states: the value is the reward
        pick = torch.nan_to_num(r.view(ctx.n, self.n), nan=float("-inf")).argmax(dim=1)
        index = torch.arange(ctx.n, device=state.device) * self.n + pick
        scores = self.value.to_oracle_units(r[index]) if self.value.oracle is not None else None
        return Final(state[index], scores=scores)

    def __repr__(self) -> str:
        return f"BestOfN({self.value!r}, n={self.n})"
