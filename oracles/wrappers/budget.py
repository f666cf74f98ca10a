"""Paid evaluations: :class:`Budgeted` charges what the scorer at the bottom of the stack received, and stops at
a budget (raising :class:`~oracles.base.BudgetExhausted`, or with ``partial`` filling what is left)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from oracles.base import BudgetExhausted, Oracle, OracleResult
from oracles.wrappers.common import Wrapper, _positions, _received, _spread

BUDGET_EXHAUSTED_REASON = "budget exhausted"


class Budgeted(Wrapper):
    """Count unique paid evaluations and stop at a budget.

    A *paid* evaluation is one input that reaches the scorer at the bottom of the wrapped stack: what it
    received (``Oracle.items_received``), not what this layer meant to send. Items that fail validation
    are free; duplicates within a batch are sent (and paid) once; cache hits of an inner :class:`Cached`
    are free. Without a cache, an input scored again in a later call is paid again: wrap as
    ``Cached(Budgeted(...))`` to avoid that. When a batch makes the scorer raise, the base class retries
    it item by item; the failed attempt and the retries are all real calls and are all charged, so ``used``
    can exceed ``budget`` by the size of that batch (``remaining`` is then 0).

    When a batch needs more new evaluations than remain:

    * by default (``partial=False``) the call raises :class:`~oracles.base.BudgetExhausted` before
      anything is spent;
    * with ``partial=True``, or for one call through :meth:`call_partial`, the first ``remaining``
      new unique inputs (in batch order) are scored and the rest come back invalid with the reason
      ``"budget exhausted"`` (marked transient, so caches do not keep them).

    Args:
        oracle: The oracle whose evaluations cost budget.
        budget: The number of unique paid evaluations allowed (a non-negative integer).
        partial: Fill the remaining budget instead of raising.

    Attributes:
        used: Paid evaluations so far.
        remaining: ``budget - used``.
    """

    def __init__(self, oracle: Oracle, *, budget: int, partial: bool = False) -> None:
        super().__init__(oracle)
        if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
            raise ValueError(f"Budgeted: budget must be a non-negative integer, got {budget!r}")
        self.budget = int(budget)
        self.partial = bool(partial)
        self.used = 0
        self._partial_once = False

    @property
    def remaining(self) -> int:
        return max(0, self.budget - self.used)

    def call_partial(self, xs: Sequence[Any]) -> OracleResult:
        """Score ``xs``, filling what is left of the budget exactly; the rest is invalid, never raises."""
        self._partial_once = True
        try:
            return self(xs)
        finally:
            self._partial_once = False

    def _plan(self, xs: list[Any]) -> tuple[dict[str, int], dict[str, list[int]], list[str]]:
        """First/all positions of each key and the unique keys to send (raises BudgetExhausted before
        spending anything)."""
        keys = [self.key(x) for x in xs]
        first, where = _positions(keys)
        new = [k for k in first if not self.inner.is_cached(k)]
        new_set = set(new)
        allowed = new_set
        if len(new) > self.remaining:
            if not (self.partial or self._partial_once):
                raise BudgetExhausted(
                    f"{self.name}: this batch needs {len(new)} new evaluations but only {self.remaining} "
                    f"of the budget of {self.budget} remain ({self.used} used); nothing was spent. "
                    "Score a smaller batch, or use Budgeted(..., partial=True) / call_partial() to fill "
                    "the remaining budget"
                )
            allowed = set(new[: self.remaining])
        return first, where, [k for k in first if k in allowed or k not in new_set]

    def _exhausted(self, keys: list[str], where: dict[str, list[int]]) -> tuple[list[int], OracleResult]:
        idx = [i for k in keys for i in where[k]]
        return idx, OracleResult.invalid(len(idx), BUDGET_EXHAUSTED_REASON, self.n_objectives, transient=True)

    def _score(self, xs: list[Any]) -> OracleResult:
        first, where, send = self._plan(xs)
        before = _received(self.inner)
        try:
            res = self.inner([xs[first[k]] for k in send]) if send else OracleResult.empty(self.n_objectives)
        finally:
            self.used += _received(self.inner) - before
        out = OracleResult.invalid(len(xs), BUDGET_EXHAUSTED_REASON, self.n_objectives, transient=True)
        for j, k in enumerate(send):
            for i in where[k]:
                out.values[i] = res.values[j]
                out.valid[i] = res.valid[j]
                out.errors[i] = res.errors[j]
                out.transient[i] = res.transient[j]
        return OracleResult(out.values, out.valid, out.errors, out.transient)

    def _stream_valid(self, xs: list[Any], gate: Callable[[list[int]], bool]
                      ) -> Iterator[tuple[list[int], OracleResult]]:
        first, where, send = self._plan(xs)
        sent = set(send)
        refused = [k for k in first if k not in sent]
        if refused:
            yield self._exhausted(refused, where)

        def inner_gate(local: list[int]) -> bool:
            return gate([i for j in local for i in where[send[j]]])

        before = _received(self.inner)
        try:
            for local, res in self.inner.stream([xs[first[k]] for k in send], on_send=inner_gate):
                now = _received(self.inner)
                self.used += now - before
                before = now
                yield _spread(res, [send[j] for j in local], where)
        finally:
            self.used += _received(self.inner) - before

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner, "budget": self.budget}
