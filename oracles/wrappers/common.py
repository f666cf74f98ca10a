"""What every wrapper shares: the :class:`Wrapper` base class and the small helpers the layers use.

The helpers follow a stack down to its scorer and credit what it received (``_scorer``, ``_received``,
``_add_received``), de-duplicate a batch by key and spread the rows back (``_positions``, ``_spread``), and set up
child processes (``_default_mp_context``, ``_ignore_interrupts``). This module imports no other wrapper module.
"""

from __future__ import annotations

import signal
import sys
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from oracles.base import Oracle, OracleResult
from seqguide.alphabet import Alphabet


def _default_mp_context() -> str:
    """``fork`` where it is safe and cheap (Linux), ``spawn`` elsewhere."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


def _scorer(oracle: Oracle) -> Oracle:
    """The oracle at the bottom of a wrapper stack: the one whose ``items_received`` counts real work."""
    while isinstance(oracle, Wrapper):
        oracle = oracle.inner
    return oracle


def _received(oracle: Oracle) -> int:
    return _scorer(oracle).items_received


def _add_received(oracle: Oracle, n: int) -> None:
    """Credit ``n`` items scored in another process to the scorer of this process's copy of the stack."""
    _scorer(oracle).items_received += int(n)


def _ignore_interrupts() -> None:
    """Worker processes leave Ctrl-C to their parent, which stops at the next item boundary."""
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # pragma: no cover - not the main thread of the child
        pass


def _positions(keys: Sequence[str]) -> tuple[dict[str, int], dict[str, list[int]]]:
    """``(first index of each key, every index of each key)``, keys in first-seen order."""
    first: dict[str, int] = {}
    where: dict[str, list[int]] = defaultdict(list)
    for i, k in enumerate(keys):
        first.setdefault(k, i)
        where[k].append(i)
    return first, where


def _spread(res: OracleResult, keys: Sequence[str], where: dict[str, list[int]]) -> tuple[list[int], OracleResult]:
    """Rows of ``res`` (one per unique key) copied to every position that holds the key."""
    idx = [i for k in keys for i in where[k]]
    rows = [j for j, k in enumerate(keys) for _ in where[k]]
    return idx, res.take(rows)


class Wrapper(Oracle):
    """Base class of the wrappers: forwards the oracle's metadata, validation and cache keys.

    Subclasses override :meth:`_score` (called on validated items). The default passes the batch through.

    Args:
        oracle: The oracle to wrap.
        name: Display name; defaults to the inner oracle's.
    """

    def __init__(self, oracle: Oracle, *, name: str | None = None) -> None:
        if not isinstance(oracle, Oracle):
            raise TypeError(f"{type(self).__name__} wraps an Oracle, got {type(oracle).__name__}")
        self.inner = oracle
        self._name = name

    # forwarded metadata (properties, so a wrapper always reflects the oracle it wraps)
    @property  # type: ignore[override]
    def name(self) -> str:
        return self._name or self.inner.name

    @property  # type: ignore[override]
    def alphabet(self) -> Alphabet | None:
        return self.inner.alphabet

    @property  # type: ignore[override]
    def maximize(self) -> bool:
        return self.inner.maximize

    @property  # type: ignore[override]
    def n_objectives(self) -> int:
        return self.inner.n_objectives

    @property  # type: ignore[override]
    def optimal_value(self) -> float | None:
        return self.inner.optimal_value

    def __getattr__(self, attr: str) -> Any:
        # Oracle-specific extras (Ehrlich.initial_solution, Surrogate.predict, ...) stay reachable
        # through the stack. Private names are not forwarded (keeps pickling and copy sane).
        if attr.startswith("_") or attr == "inner":
            raise AttributeError(attr)
        return getattr(self.inner, attr)

    def validate(self, x: Any) -> str | None:
        return self.inner._validate_item(x)

    def _validate_fresh(self, items: list[Any]) -> list[str | None]:
        if type(self).validate is Wrapper.validate:  # the inner oracle's checks: hand it the batch
            return self.inner._validate_items(items)
        return super()._validate_fresh(items)

    def key(self, x: Any) -> str:
        return self.inner.key(x)

    def is_cached(self, key: str) -> bool:
        return self.inner.is_cached(key)

    def _score(self, xs: list[Any]) -> OracleResult:
        return self.inner(xs)

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner}
