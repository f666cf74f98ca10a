"""What a design method paid for, in order: the budgeted objective and the history it records.

Every baseline (and every method a benchmark compares with them) scores designs through a
:class:`BudgetedObjective`: ``Cached(Budgeted(recorder(oracle)))`` from :mod:`oracles`, so each new
design costs one call of the budget, a design scored before costs nothing, and every paid call is
recorded in call order. :class:`DesignHistory` turns that record into the numbers benchmarks report:
best-so-far curves, the best value at a budget, the fraction of paid calls that were valid (feasible),
and PMO's area under the top-k curve (Gao et al. 2022, arXiv 2206.12411, section 3).

Example:
    >>> from oracles import get_oracle
    >>> objective = BudgetedObjective(get_oracle("gc"), budget=3)
    >>> objective.values(["GGCC", "ATAT", "GGCC", "GCGC", "AAAA"]).tolist()   # the 5th is over budget
    [1.0, 0.0, 1.0, 1.0, nan]
    >>> objective.used, objective.history.best_so_far().tolist()
    (3, [1.0, 1.0, 1.0])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oracles import Budgeted, Cached, Oracle, OracleResult, Wrapper

__all__ = ["BudgetedObjective", "DesignHistory", "budgeted", "log_checkpoints", "top_k_auc"]

_PMO_TOP_K = 10
_PMO_FREQ = 100


class _Recorder(Wrapper):
    """Records every item that reaches it; inside :class:`~oracles.Budgeted` that is every paid call."""

    def __init__(self, oracle: Oracle) -> None:
        super().__init__(oracle)
        self.designs: list[Any] = []
        self.values: list[float] = []
        self.times: list[float] = []
        self.best = float("nan")  # best valid value so far, in the oracle's direction
        self.start = time.perf_counter()

    def _score(self, xs: list[Any]) -> OracleResult:
        res = self.inner(xs)
        now = time.perf_counter() - self.start
        scalar = res.scalar()
        self.designs.extend(xs)
        self.values.extend(float(v) if ok else float("nan") for v, ok in zip(scalar, res.valid))
        self.times.extend([now] * len(xs))
        good = scalar[res.valid]
        if len(good):
            top = float(good.max() if self.inner.maximize else good.min())
            better = top > self.best if self.inner.maximize else top < self.best
            if np.isnan(self.best) or better:
                self.best = top
        return res


class _FreeInvalid(Wrapper):
    """Rejects, in validation, the designs ``check`` finds invalid, so they never reach the layers below: no
    budget, no cache entry, no record (counted in :attr:`rejected`)."""

    def __init__(self, oracle: Oracle, check: Callable[[Any], str | None]) -> None:
        super().__init__(oracle)
        self.check = check
        self.rejected = 0

    def validate(self, x: Any) -> str | None:
        err = self.check(x)
        if err is not None:
            self.rejected += 1
            return err
        return super().validate(x)


class BudgetedObjective:
    """An oracle under a budget of unique paid calls, with every paid call recorded.

    The stack is ``Cached(Budgeted(recorder(oracle), budget=budget, partial=True))``: a batch that needs
    more new evaluations than remain is scored up to the budget and the rest comes back invalid
    (``"budget exhausted"``), never raising, so a method simply stops when :attr:`exhausted`.

    Args:
        oracle: A single-objective oracle (or a weighted composite).
        budget: Unique paid evaluations allowed.
        free_invalid: ``check(design) -> reason or None``: designs it rejects come back invalid without being paid
            for or recorded (PMO's accounting: mol_opt scores a molecule RDKit cannot read 0 and does not count
            it); None (default) pays for every new design, valid or not.

    Attributes:
        oracle: The wrapped stack; call it like any oracle.
        maximize: The oracle's direction.
    """

    def __init__(self, oracle: Oracle, *, budget: int, free_invalid: Callable[[Any], str | None] | None = None
                 ) -> None:
        if oracle.n_objectives != 1:
            raise ValueError(f"BudgetedObjective: {oracle.name!r} returns {oracle.n_objectives} objectives; "
                             "combine them into one (oracles.Composite) first")
        self._recorder = _Recorder(oracle)
        self._budgeted = Budgeted(self._recorder, budget=int(budget), partial=True)
        self.oracle: Oracle = Cached(self._budgeted)
        self._free: _FreeInvalid | None = None
        if free_invalid is not None:
            self._free = _FreeInvalid(self.oracle, free_invalid)
            self.oracle = self._free
        self.maximize = bool(oracle.maximize)
        self.optimal_value = getattr(oracle, "optimal_value", None)

    def __call__(self, xs: Sequence[Any]) -> OracleResult:
        return self.oracle(list(xs))

    def values(self, xs: Sequence[Any]) -> np.ndarray:
        """Scalar values of ``xs``: ``(N,)`` float, NaN where invalid or not paid for (budget spent)."""
        return self(xs).scalar()

    def fitness(self, xs: Sequence[Any]) -> np.ndarray:
        """Values as "higher is better" (negated for a minimised oracle), ``-inf`` where NaN: ``(N,)``."""
        v = self.values(xs)
        v = v if self.maximize else -v
        return np.where(np.isnan(v), -np.inf, v)

    @property
    def free_rejected(self) -> int:
        """Designs turned away unpaid by ``free_invalid`` so far (repeats counted each time)."""
        return 0 if self._free is None else self._free.rejected

    @property
    def used(self) -> int:
        return self._budgeted.used

    @property
    def budget(self) -> int:
        return self._budgeted.budget

    @property
    def remaining(self) -> int:
        return self._budgeted.remaining

    @property
    def exhausted(self) -> bool:
        return self._budgeted.remaining <= 0

    def solved(self, tolerance: float = 1e-9) -> bool:
        """True when a paid call reached the oracle's known optimum (``optimal_value``; False without one)."""
        best = self._recorder.best
        if self.optimal_value is None or np.isnan(best):
            return False
        return bool(abs(best - self.optimal_value) <= tolerance)

    @property
    def best_value(self) -> float:
        """The best valid value paid for so far (NaN before the first valid call)."""
        return self._recorder.best

    @property
    def history(self) -> DesignHistory:
        r = self._recorder
        return DesignHistory(list(r.designs), np.asarray(r.values, dtype=np.float64), maximize=self.maximize,
                             seconds=np.asarray(r.times, dtype=np.float64))


@dataclass
class DesignHistory:
    """The paid calls of one run, in call order.

    Attributes:
        designs: ``N`` designs, one per paid call.
        values: ``(N,)`` float values, NaN where the design was invalid (infeasible, unparsable).
        maximize: Direction of the values.
        seconds: ``(N,)`` wall seconds from the start of the run to each call's return, if recorded.
    """

    designs: list[Any]
    values: np.ndarray
    maximize: bool = True
    seconds: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.values = np.asarray(self.values, dtype=np.float64).reshape(-1)
        if len(self.designs) != len(self.values):
            raise ValueError(f"DesignHistory: {len(self.designs)} designs but {len(self.values)} values")

    def __len__(self) -> int:
        return len(self.designs)

    @property
    def valid(self) -> np.ndarray:
        """``(N,)`` bool: the calls whose design could be scored."""
        return ~np.isnan(self.values)

    def _signed(self) -> np.ndarray:
        v = self.values if self.maximize else -self.values
        return np.where(np.isnan(v), -np.inf, v)

    def best_so_far(self) -> np.ndarray:
        """``(N,)``: the best valid value among the first ``i + 1`` calls (NaN before the first valid one)."""
        run = np.maximum.accumulate(self._signed()) if len(self) else np.zeros(0)
        run = np.where(np.isinf(run), np.nan, run)
        return run if self.maximize else -run

    def best_at(self, calls: Sequence[int]) -> np.ndarray:
        """Best valid value after each number of calls in ``calls`` (beyond the run: its final best)."""
        curve = self.best_so_far()
        idx = np.minimum(np.asarray(calls, dtype=np.int64), len(curve)) - 1
        return np.array([curve[i] if i >= 0 else np.nan for i in idx])

    def best(self) -> tuple[Any, float]:
        """``(design, value)`` of the best valid call (``(None, nan)`` if none)."""
        signed = self._signed()
        if not len(signed) or np.isneginf(signed.max()):
            return None, float("nan")
        i = int(np.argmax(signed))
        return self.designs[i], float(self.values[i])

    def calls_to_reach(self, value: float) -> int | None:
        """The number of calls after which the best value first reached ``value`` (None if never)."""
        signed = self._signed()
        target = value if self.maximize else -value
        hit = np.flatnonzero(signed >= target)
        return int(hit[0]) + 1 if len(hit) else None

    def feasible_fraction(self) -> float:
        """Fraction of paid calls that were valid (NaN for an empty history)."""
        return float(self.valid.mean()) if len(self) else float("nan")

    def top_k_auc(self, budget: int, *, k: int = _PMO_TOP_K, freq: int = _PMO_FREQ) -> float:
        """PMO's area under the top-k-average curve over ``budget`` calls (see :func:`top_k_auc`)."""
        return top_k_auc(self.values, budget=budget, k=k, freq=freq, maximize=self.maximize)


def budgeted(oracle: Any, budget: int | None, who: str) -> BudgetedObjective:
    """``oracle`` itself if it is a :class:`BudgetedObjective`, else a new one of ``budget`` unique paid calls
    (``who`` names the caller in the error when a bare oracle comes without a budget)."""
    if isinstance(oracle, BudgetedObjective):
        return oracle
    if budget is None:
        raise ValueError(f"{who}: give budget= (unique paid calls) for a bare oracle")
    return BudgetedObjective(oracle, budget=budget)


def top_k_auc(values: Sequence[float] | np.ndarray, *, budget: int, k: int = _PMO_TOP_K, freq: int = _PMO_FREQ,
              maximize: bool = True, invalid_value: float = 0.0) -> float:
    """PMO's sample-efficiency metric: the area under the top-k-average curve, divided by the budget.

    Gao, Fu, Coley & Sun (2022), "Sample Efficiency Matters: A Benchmark for Practical Molecular
    Optimization", arXiv 2206.12411, section 3: after every ``freq`` calls, take the mean of the ``k``
    best values so far (fewer while fewer are scored); integrate that curve over calls with the
    trapezoid rule from 0 calls (value 0) to the last call, then flat at the final value up to
    ``budget`` when the run stopped early; divide by ``budget``. With values in [0, 1] the result is in
    [0, 1]. Invalid molecules count as ``invalid_value`` (PMO's TDC oracles score them 0).

    Args:
        values: ``(N,)`` values in call order (NaN = invalid); calls beyond ``budget`` are ignored.
        budget: The call budget the area is normalised by (PMO: 10,000).
        k: How many of the best values are averaged (PMO: 10).
        freq: Calls between two points of the curve (PMO: 100).
        maximize: Direction; for a minimised objective the area is of the negated values.
        invalid_value: The value an invalid call counts as.

    Returns:
        The normalised area (0.0 for an empty run).

    Example:
        >>> round(top_k_auc([1.0] * 100, budget=100, k=1, freq=10), 3)   # 0 -> 1 over the first 10 calls
        0.95
    """
    if budget < 1 or k < 1 or freq < 1:
        raise ValueError(f"top_k_auc: budget, k and freq must be >= 1, got {budget}, {k}, {freq}")
    v = np.asarray(values, dtype=np.float64).reshape(-1)[:budget]
    v = np.where(np.isnan(v), invalid_value, v if maximize else -v)
    n = len(v)
    if n == 0:
        return 0.0
    marks = [*range(freq, n, freq), n]
    area, prev, prev_at = 0.0, 0.0, 0
    top: np.ndarray = np.zeros(0)
    for m in marks:
        # the k best among the first m calls: merge the running top-k with the new calls
        top = np.sort(np.concatenate([top, v[prev_at:m]]))[-k:]
        now = float(top.mean())
        area += (m - prev_at) * (now + prev) / 2.0
        prev, prev_at = now, m
    area += (budget - n) * prev
    return area / budget


def log_checkpoints(budget: int, per_decade: int = 12, start: int = 10) -> list[int]:
    """Call counts for a best-so-far curve: about ``per_decade`` log-spaced points per decade from
    ``start`` to ``budget`` (both included, unique, increasing)."""
    if budget < 1:
        raise ValueError(f"budget must be >= 1, got {budget}")
    lo = min(start, budget)
    n = max(2, int(np.ceil(np.log10(budget / lo) * per_decade)) + 1)
    points = np.unique(np.round(np.logspace(np.log10(lo), np.log10(budget), n)).astype(np.int64))
    return [int(p) for p in points]
