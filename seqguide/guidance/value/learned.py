"""The SVDD-MC value function: a trained :class:`~seqguide.guidance.ValueModel` on noisy states, the oracle's
reward on clean ones (Li et al. 2024, arXiv 2408.08252, §4; see :mod:`seqguide.guidance.value.model`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from seqguide.guidance.value.functions import ValueFunction
from seqguide.guidance.value.model import ValueModel
from seqguide.sampling.rows import unique_rows

if TYPE_CHECKING:
    from seqguide.sampling.guider_context import GuiderContext

__all__ = ["LearnedValue"]


class LearnedValue(ValueFunction):
    """SVDD-MC value: a trained :class:`ValueModel` on noisy states, the oracle's reward on clean ones.

    For each batch of states, rows with no masked position are scored by the oracle (when one is given:
    then SVDD's last selection, SMC's final weights and ``Samples.scores`` use the true reward), every
    other row by the network in one batched call (identical rows evaluated once), at the states' time
    ``s`` and on the states' device. Values are larger-is-better: a minimised oracle is negated.

    Variable-length designs (and short runs) can be complete before the last step; with
    ``oracle_on="clean"`` such a row is sent to the oracle at every remaining step, with
    ``oracle_on="last_step"`` the network scores it until the last step, so the oracle cost of an SVDD run
    is at most the M candidates of its final selection.

    The network's cost is counted in ``ctx.counters.extra["value_model_rows"]`` (distinct rows evaluated)
    and ``["value_model_calls"]`` (batched calls); ``rows_evaluated`` and ``calls`` hold the same totals
    over the object's lifetime (``reset_counts()`` clears them).

    Args:
        model: A trained :class:`ValueModel` or the path of its checkpoint.
        oracle: The oracle for clean rows; None scores every row with the network.
        weights: Scalarisation weights for a multi-objective oracle (default: the ones it was trained with).
        batch_size: Rows per network call (bounds memory).
        oracle_on: ``"clean"`` (every fully clean row) or ``"last_step"`` (only rows of the run's last step).

    Raises:
        ValueError: if the oracle's ``maximize`` disagrees with the one the model was trained for, or for an
            unknown ``oracle_on``.
    """

    def __init__(self, model: ValueModel | str | Path, oracle: Any = None, *, weights: Sequence[float] | None = None,
                 batch_size: int = 8192, oracle_on: str = "clean") -> None:
        if isinstance(model, (str, Path)):
            model = ValueModel.load(model)
        if not isinstance(model, ValueModel):
            raise TypeError(f"model must be a ValueModel or a checkpoint path, got {type(model).__name__}")
        if oracle is not None and not callable(oracle):
            raise TypeError(f"oracle must be callable (an Oracle), got {type(oracle).__name__}")
        if oracle is not None and bool(getattr(oracle, "maximize", True)) != bool(model.hparams.maximize):
            raise ValueError(f"oracle {getattr(oracle, 'name', oracle)!r} has maximize={oracle.maximize} but the value "
                             f"model was trained with maximize={model.hparams.maximize}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if oracle_on not in ("clean", "last_step"):
            raise ValueError(f"oracle_on must be 'clean' or 'last_step', got {oracle_on!r}")
        self.oracle_on = oracle_on
        self.model = model.eval()
        self.oracle = oracle
        self.weights = list(weights) if weights is not None else model.hparams.weights
        self.batch_size = batch_size
        self.rows_evaluated = 0
        self.calls = 0

    @property
    def sign(self) -> float:
        if self.oracle is not None:
            return 1.0 if getattr(self.oracle, "maximize", True) else -1.0
        return 1.0 if self.model.hparams.maximize else -1.0

    def reset_counts(self) -> None:
        """Zero ``rows_evaluated`` and ``calls``."""
        self.rows_evaluated = 0
        self.calls = 0

    def network_value(self, states: torch.Tensor, s: float | torch.Tensor) -> torch.Tensor:
        """The network's value of ``states (N, L)`` at time ``s``, larger-is-better: ``(N,)`` float64."""
        if self.model.device != states.device:
            self.model.to(states.device)
        out = [self.model.predict(states[i : i + self.batch_size], s) for i in range(0, states.shape[0],
                                                                                        self.batch_size)]
        self.calls += len(out)
        self.rows_evaluated += states.shape[0]
        return self.sign * torch.cat(out).double()

    def __call__(
        self, states: torch.Tensor, s: float, ctx: GuiderContext, rows: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Values of ``states (N, L)`` at time ``s``: ``(N,)`` float64 (``-inf`` for invalid clean designs)."""
        model = ctx.model
        alphabet = getattr(model, "alphabet", None)
        if alphabet is not None and alphabet != self.model.alphabet:
            raise ValueError(f"the value model was trained for alphabet {self.model.alphabet!r}, but the sampled "
                             f"model uses {alphabet!r}")
        N = states.shape[0]
        if hasattr(model, "is_clean"):
            clean = model.is_clean(states)
        else:
            clean = (states != self.model.mask_id).all(dim=-1)
        use_oracle = self.oracle is not None and (self.oracle_on == "clean" or ctx.is_last_step)
        exact = clean if use_oracle else torch.zeros_like(clean)
        values = torch.empty(N, dtype=torch.float64, device=states.device)
        if exact.any():
            values[exact] = self.reward(states[exact], ctx)
        net = ~exact
        if net.any():
            x = states[net]
            inverse, first = unique_rows(x)
            before = self.calls
            v = self.network_value(x[first], s)
            values[net] = v[inverse]
            extra = ctx.counters.extra
            extra["value_model_rows"] = extra.get("value_model_rows", 0) + int(first.numel())
            extra["value_model_calls"] = extra.get("value_model_calls", 0) + (self.calls - before)
        return values

    def __repr__(self) -> str:
        name = getattr(self.oracle, "name", None) or self.model.hparams.oracle_name
        return f"LearnedValue({name!r})" if name else "LearnedValue()"
