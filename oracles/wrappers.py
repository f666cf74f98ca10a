"""Composable oracle wrappers: cache, budget, process pool, timeout, transforms and composites.

Every wrapper is itself an :class:`~oracles.base.Oracle` and forwards ``name``, ``alphabet``,
``maximize``, ``n_objectives`` and ``optimal_value`` of the oracle it wraps, so stacks such as
``Cached(Budgeted(Parallel(oracle), budget=1000), path="scores.sqlite")`` behave like the bare oracle
except for what each layer adds.

Order matters in two ways, and the wrong order raises when the stack is built:

* the stateful layers (:class:`Cached`, :class:`Budgeted`) sit *outside* the layers that run work in
  other processes (:class:`Parallel`, :class:`Timeout`): state changed in a child never reaches the
  parent;
* :class:`Timeout` sits inside :class:`Parallel` (``Parallel(Timeout(oracle))``), not around it.

A budget counts cache hits as free wherever the cache sits (``Oracle.is_cached`` is forwarded), but
placing :class:`Cached` outermost is the natural order. It charges what the scorer at the bottom of the
stack actually received (``Oracle.items_received``: retries of a crashed batch included, and the counts
of child processes reported back by :class:`Parallel` and :class:`Timeout`).

:class:`Cached`, :class:`Budgeted`, :class:`Parallel` and :class:`Transform` pass :meth:`Oracle.stream`
through, so a caller sees each chunk a process pool finishes as soon as it finishes.

The multiplicative / geometric-mean composites follow the GuacaMol multi-property objectives
(Brown et al. 2019, J. Chem. Inf. Model. 59:1096).
"""

from __future__ import annotations

import json
import math
import multiprocessing as mp
import os
import signal
import sqlite3
import sys
import threading
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

import numpy as np

from oracles.base import BudgetExhausted, Oracle, OracleOutputError, OracleResult
from seqguide.alphabet import Alphabet

__all__ = [
    "Budgeted",
    "Cached",
    "Composite",
    "Constraint",
    "Negate",
    "Parallel",
    "Timeout",
    "Transform",
    "Wrapper",
]

BUDGET_EXHAUSTED_REASON = "budget exhausted"


def _default_mp_context() -> str:
    """``fork`` where it is safe and cheap (Linux), ``spawn`` elsewhere."""
    return "fork" if sys.platform.startswith("linux") else "spawn"


def _layers(oracle: Oracle) -> list[Oracle]:
    """Every oracle inside ``oracle`` (itself included): through wrappers and composites."""
    found: list[Oracle] = []
    stack: list[Any] = [oracle]
    while stack:
        o = stack.pop()
        found.append(o)
        if isinstance(o, Wrapper):
            stack.append(o.inner)
        if isinstance(o, Composite):
            stack.extend(o.oracles)
            stack.extend(c.oracle for c in o.constraints)
    return found


def _contains(oracle: Oracle, kind: type) -> bool:
    return any(isinstance(o, kind) for o in _layers(oracle))


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


def _check_no_state(oracle: Oracle, where: str) -> None:
    """Cached/Budgeted must not run in a child process: their state would never reach this one."""
    layers = [type(o).__name__ for o in _layers(oracle) if isinstance(o, Cached | Budgeted)]
    if layers:
        raise ValueError(
            f"{where} runs its oracle in other processes, so it cannot wrap {', '.join(layers)}: state "
            f"changed in a child never reaches this process. Put {'/'.join(layers)} outside {where}, "
            f"e.g. Cached(Budgeted({where}(oracle), budget=...))"
        )


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

    def key(self, x: Any) -> str:
        return self.inner.key(x)

    def is_cached(self, key: str) -> bool:
        return self.inner.is_cached(key)

    def _score(self, xs: list[Any]) -> OracleResult:
        return self.inner(xs)

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner}


# ------------------------------------------------------------------------------------ Cached
class Cached(Wrapper):
    """Memoise scores by input key, in memory or in a SQLite file, so no design is paid for twice.

    Valid results and deterministic failures (e.g. an unparsable molecule) are stored; transient
    failures (timeouts, crashed tools, an exhausted budget; ``OracleResult.transient``) are not, so they
    are retried on the next call. Items that fail validation never reach the cache. Within one batch a
    repeated input is scored once.

    Args:
        oracle: The oracle to memoise.
        path: SQLite file for a persistent cache (WAL mode, safe to share between processes); None
            keeps the cache in memory.
        namespace: Key prefix inside the file, so several oracles can share one database. Defaults to
            ``repr(oracle)``, which names the oracle and its configuration.

    Attributes:
        hits: Items answered from the cache so far.
        misses: Unique items sent to the inner oracle so far.
    """

    def __init__(self, oracle: Oracle, *, path: str | os.PathLike[str] | None = None,
                 namespace: str | None = None) -> None:
        super().__init__(oracle)
        self.path = Path(path) if path is not None else None
        self.namespace = namespace if namespace is not None else repr(oracle)
        self.hits = 0
        self.misses = 0
        self._memory: dict[str, tuple[Any, bool, str | None]] = {}
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.RLock()
        if self.path is not None:
            self._connect()

    # -- storage -------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), timeout=30.0, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS oracle_cache (namespace TEXT NOT NULL, key TEXT NOT NULL, "
                "value TEXT, valid INTEGER NOT NULL, error TEXT, PRIMARY KEY (namespace, key))"
            )
            conn.commit()
            self._conn = conn
        return self._conn

    def _lookup(self, keys: Sequence[str]) -> dict[str, tuple[Any, bool, str | None]]:
        found = {k: self._memory[k] for k in keys if k in self._memory}
        missing = [k for k in keys if k not in found]
        if self.path is None or not missing:
            return found
        conn = self._connect()
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(
                f"SELECT key, value, valid, error FROM oracle_cache WHERE namespace = ? AND key IN ({marks})",
                [self.namespace, *chunk],
            ).fetchall()
            for key, value, valid, error in rows:
                entry = (_from_json(value), bool(valid), error)
                self._memory[key] = entry
                found[key] = entry
        return found

    def _store(self, entries: dict[str, tuple[Any, bool, str | None]]) -> None:
        self._memory.update(entries)
        if self.path is None or not entries:
            return
        conn = self._connect()
        conn.executemany(
            "INSERT OR REPLACE INTO oracle_cache (namespace, key, value, valid, error) VALUES (?, ?, ?, ?, ?)",
            [(self.namespace, k, _to_json(v), int(ok), err) for k, (v, ok, err) in entries.items()],
        )
        conn.commit()

    def __len__(self) -> int:
        """Number of stored entries (in this namespace)."""
        if self.path is None:
            return len(self._memory)
        row = self._connect().execute(
            "SELECT COUNT(*) FROM oracle_cache WHERE namespace = ?", [self.namespace]
        ).fetchone()
        return int(row[0])

    def clear(self) -> None:
        """Forget every stored result of this namespace."""
        with self._lock:
            self._memory.clear()
            if self.path is not None:
                self._connect().execute("DELETE FROM oracle_cache WHERE namespace = ?", [self.namespace])
                self._connect().commit()

    def close(self) -> None:
        """Close the SQLite connection (reopened on demand)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def is_cached(self, key: str) -> bool:
        return bool(self._lookup([key])) or self.inner.is_cached(key)

    # -- scoring ---------------------------------------------------------------------------
    def _score(self, xs: list[Any]) -> OracleResult:
        with self._lock:
            keys = [self.key(x) for x in xs]
            first: dict[str, int] = {}
            for i, k in enumerate(keys):
                first.setdefault(k, i)
            known = self._lookup(list(first))
            todo = [k for k in first if k not in known]
            self.hits += len(xs) - len(todo)
            computed: dict[str, tuple[Any, bool, str | None]] = {}
            transient: set[str] = set()
            if todo:
                res = self.inner([xs[first[k]] for k in todo])  # BudgetExhausted propagates, nothing stored
                self.misses += len(todo)
                to_store = {}
                for j, k in enumerate(todo):
                    entry = (_row(res.values[j]), bool(res.valid[j]), res.errors[j])
                    computed[k] = entry
                    if res.transient[j]:
                        transient.add(k)
                    else:
                        to_store[k] = entry
                self._store(to_store)
            return self._table_result(keys, {**known, **computed}, transient)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_conn"] = None
        state["_lock"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def _stream_valid(self, xs: list[Any], gate: Callable[[list[int]], bool]
                      ) -> Iterator[tuple[list[int], OracleResult]]:
        """Cache hits first (free, never announced), then the misses as the inner oracle streams them."""
        with self._lock:
            keys = [self.key(x) for x in xs]
            first, where = _positions(keys)
            known = self._lookup(list(first))
            hits = [k for k in first if k in known]
            if hits:
                yield _spread(self._table_result(hits, known), hits, where)
            todo = [k for k in first if k not in known]
            self.hits += len(xs) - len(todo)

            def inner_gate(local: list[int]) -> bool:
                return gate([i for j in local for i in where[todo[j]]])

            for local, res in self.inner.stream([xs[first[k]] for k in todo], on_send=inner_gate):
                got = [todo[j] for j in local]
                self.misses += len(got)
                self._store({k: (_row(res.values[j]), bool(res.valid[j]), res.errors[j])
                             for j, k in enumerate(got) if not res.transient[j]})
                yield _spread(res, got, where)

    def _table_result(self, keys: list[str], table: dict[str, tuple[Any, bool, str | None]],
                      transient: Collection[str] = ()) -> OracleResult:
        """One row per key (repeats included) from ``table``; the keys in ``transient`` are flagged transient."""
        shape = (len(keys),) if self.n_objectives == 1 else (len(keys), self.n_objectives)
        values = np.full(shape, np.nan)
        valid = np.zeros(len(keys), dtype=bool)
        errors: list[str | None] = []
        flags = np.zeros(len(keys), dtype=bool)
        for i, k in enumerate(keys):
            v, ok, err = table[k]
            valid[i] = ok
            if ok:
                values[i] = v
            errors.append(err)
            flags[i] = k in transient
        return OracleResult(values, valid, errors, flags)

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner, "path": None if self.path is None else str(self.path)}


def _row(v: Any) -> Any:
    arr = np.asarray(v, dtype=np.float64)
    return float(arr) if arr.ndim == 0 else arr.tolist()


def _to_json(v: Any) -> str:
    def clean(x: Any) -> Any:
        if isinstance(x, list):
            return [clean(y) for y in x]
        return None if x is None or not math.isfinite(x) else x

    return json.dumps(clean(v))


def _from_json(text: str | None) -> Any:
    if text is None:
        return float("nan")

    def restore(x: Any) -> Any:
        if isinstance(x, list):
            return [restore(y) for y in x]
        return float("nan") if x is None else float(x)

    return restore(json.loads(text))


# ---------------------------------------------------------------------------------- Budgeted
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


# ---------------------------------------------------------------------------------- Parallel
_WORKER_ORACLE: Oracle | None = None


def _pool_init(oracle: Oracle) -> None:
    global _WORKER_ORACLE
    _WORKER_ORACLE = oracle
    _ignore_interrupts()
    try:  # one thread per worker: the pool already uses the cores
        import torch

        torch.set_num_threads(1)
    except Exception:  # pragma: no cover - torch is a dependency, but a worker must not die for this
        pass


def _pool_score(chunk: list[Any]) -> tuple[OracleResult, int]:
    """Score a chunk in a worker; also return how many items the worker's scorer received for it."""
    assert _WORKER_ORACLE is not None, "worker not initialised"
    before = _received(_WORKER_ORACLE)
    res = _WORKER_ORACLE(chunk)
    return res, _received(_WORKER_ORACLE) - before


class Parallel(Wrapper):
    """Score a batch in chunks on a process pool; results come back in input order.

    The pool starts on the first call and is reused (``close()`` or ``with`` shuts it down). Each
    worker receives the oracle once, when it starts: with the ``spawn``/``forkserver`` contexts the
    oracle must be picklable; with ``fork`` (the default on Linux) it is inherited. A worker that dies
    (e.g. a segfault in a native library) costs only its chunk: those items come back invalid and
    transient, and the pool is rebuilt. At most ``workers`` chunks are in flight at a time (the next one
    is submitted when one finishes), so :meth:`~oracles.base.Oracle.stream` announces a chunk only when a
    worker is free to take it; workers ignore Ctrl-C (the caller decides when to stop).

    Args:
        oracle: A stateless oracle (no Cached/Budgeted inside: put those outside).
        workers: Number of processes; default ``os.cpu_count()``.
        chunk_size: Items per task; default splits each batch evenly over the workers.
        mp_context: ``"fork"``, ``"spawn"`` or ``"forkserver"``; default ``fork`` on Linux else ``spawn``.
    """

    def __init__(self, oracle: Oracle, *, workers: int | None = None, chunk_size: int | None = None,
                 mp_context: str | None = None) -> None:
        super().__init__(oracle)
        _check_no_state(oracle, "Parallel")
        self.workers = int(workers or os.cpu_count() or 1)
        if self.workers < 1:
            raise ValueError(f"Parallel: workers must be >= 1, got {workers!r}")
        if chunk_size is not None and chunk_size < 1:
            raise ValueError(f"Parallel: chunk_size must be >= 1, got {chunk_size!r}")
        self.chunk_size = chunk_size
        self.mp_context = mp_context or _default_mp_context()
        if self.mp_context not in mp.get_all_start_methods():
            raise ValueError(f"Parallel: mp_context {self.mp_context!r} is not available here; "
                             f"use one of {mp.get_all_start_methods()}")
        self._pool: ProcessPoolExecutor | None = None

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=mp.get_context(self.mp_context),
                initializer=_pool_init,
                initargs=(self.inner,),
            )
        return self._pool

    def _score(self, xs: list[Any]) -> OracleResult:
        parts = list(self._stream_valid(xs, lambda _: True))
        order = np.argsort(np.concatenate([np.asarray(idx, dtype=np.int64) for idx, _ in parts]), kind="stable")
        return OracleResult.concat([res for _, res in parts]).take(order)

    def _collect(self, fut: Future[Any], size: int) -> tuple[OracleResult, bool]:
        """A finished task's result (crediting the worker's receipts) and whether the pool broke."""
        try:
            res, received = fut.result()
        except (BudgetExhausted, OracleOutputError):
            raise
        except BrokenProcessPool as err:
            _add_received(self.inner, size)  # it was handed to a worker: assume it was paid
            return OracleResult.invalid(size, f"{self.name}: worker process died ({err})", self.n_objectives,
                                        transient=True), True
        except Exception as err:  # the inner oracle never raises; this is pickling or the pool
            return OracleResult.invalid(size, f"{self.name}: parallel evaluation failed: {type(err).__name__}: "
                                              f"{err}", self.n_objectives, transient=True), False
        _add_received(self.inner, received)
        return res, False

    def _stream_valid(self, xs: list[Any], gate: Callable[[list[int]], bool]
                      ) -> Iterator[tuple[list[int], OracleResult]]:
        n = len(xs)
        size = self.chunk_size or max(1, math.ceil(n / self.workers))
        chunks = iter([list(range(i, min(n, i + size))) for i in range(0, n, size)])
        pending: dict[Future[Any], list[int]] = {}
        sending = True

        def submit_next() -> bool:
            nonlocal sending
            chunk = next(chunks, None) if sending else None
            if chunk is None or not gate(chunk):
                sending = False
                return False
            pending[self._get_pool().submit(_pool_score, [xs[j] for j in chunk])] = chunk
            return True

        try:
            while len(pending) < self.workers and submit_next():
                pass
            while pending:
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in done:
                    chunk = pending.pop(fut)
                    res, broken = self._collect(fut, len(chunk))
                    if broken:  # every task of a broken pool fails; the next submission starts a new pool
                        self._pool = None
                    yield chunk, res
                while len(pending) < self.workers and submit_next():
                    pass
        finally:
            for fut in pending:  # the consumer stopped early (an error): drop what has not started yet
                fut.cancel()

    def close(self) -> None:
        """Shut the worker pool down (a later call starts a new one)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Parallel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        pool = self.__dict__.get("_pool")
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pool"] = None
        return state

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner, "workers": self.workers}


# ----------------------------------------------------------------------------------- Timeout
def _timeout_worker(oracle: Oracle, conn: Any) -> None:
    """Child process loop: receive a chunk, send back ("ok", OracleResult, items received) or
    ("raise", exception text, items received)."""
    _ignore_interrupts()
    while True:
        try:
            chunk = conn.recv()
        except EOFError:
            return
        if chunk is None:
            return
        before = _received(oracle)
        try:
            res = oracle(chunk)
            conn.send(("ok", res, _received(oracle) - before))
        except BaseException as err:
            conn.send(("raise", f"{type(err).__name__}: {err}", _received(oracle) - before))


class Timeout(Wrapper):
    """Give up on a batch (or on each item) that takes longer than ``seconds``.

    The inner oracle runs in a child process that is killed on timeout, so a hung scorer cannot block
    the caller. Items that time out come back invalid with the reason ``"timed out after S s"``,
    marked transient (caches do not keep them, a later call may retry them).

    To time out items scored on a process pool, put the pool outside: ``Parallel(Timeout(oracle, ...))``
    (each worker then enforces the limit on its own chunk).

    Args:
        oracle: A stateless oracle (no Cached/Budgeted/Parallel inside).
        seconds: The time limit, > 0.
        per_item: If False (default) the limit applies to the whole batch and a timeout loses the
            batch; if True each item gets ``seconds`` and only the slow items are lost (one child
            process serves the whole batch and is replaced only after a timeout).
        mp_context: multiprocessing start method; default ``fork`` on Linux, else ``spawn``.
    """

    def __init__(self, oracle: Oracle, *, seconds: float, per_item: bool = False,
                 mp_context: str | None = None) -> None:
        super().__init__(oracle)
        _check_no_state(oracle, "Timeout")
        if _contains(oracle, Parallel):
            raise ValueError("Timeout runs its oracle in a daemonic child process, which cannot start a "
                             "Parallel pool; wrap the other way round: Parallel(Timeout(oracle, seconds=...))")
        if not seconds > 0:
            raise ValueError(f"Timeout: seconds must be > 0, got {seconds!r}")
        self.seconds = float(seconds)
        self.per_item = bool(per_item)
        self.mp_context = mp_context or _default_mp_context()

    def _start(self) -> tuple[Any, Any]:
        ctx = mp.get_context(self.mp_context)
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_timeout_worker, args=(self.inner, child), daemon=True)
        proc.start()
        child.close()
        return proc, parent

    @staticmethod
    def _stop(proc: Any, conn: Any, *, kill: bool) -> None:
        if not kill:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            proc.join(timeout=1.0)
        if proc.is_alive():
            proc.kill()
            proc.join()
        conn.close()

    def _score(self, xs: list[Any]) -> OracleResult:
        chunks = [[x] for x in xs] if self.per_item else [xs]
        results: list[OracleResult] = []
        proc, conn = self._start()
        try:
            for chunk in chunks:
                if proc is None:
                    proc, conn = self._start()
                try:
                    conn.send(chunk)
                    reply = conn.recv() if conn.poll(self.seconds) else None
                    what = "item" if self.per_item else f"batch of {len(chunk)}"
                    failure = None if reply is not None else f"timed out after {self.seconds:g} s ({what})"
                except (EOFError, BrokenPipeError, OSError):
                    proc.join(timeout=1.0)
                    failure = f"worker process died (exit code {proc.exitcode})"
                if failure is not None:  # the worker is stuck or gone: the chunk is invalid, start a new one
                    _add_received(self.inner, len(chunk))  # it reached the scorer: assume it was paid
                    results.append(OracleResult.invalid(len(chunk), f"{self.name}: {failure}", self.n_objectives,
                                                        transient=True))
                    self._stop(proc, conn, kill=True)
                    proc = None
                    continue
                status, payload, received = reply
                _add_received(self.inner, received)
                if status == "raise":
                    if payload.startswith("BudgetExhausted"):
                        raise BudgetExhausted(payload)
                    if payload.startswith("OracleOutputError"):
                        raise OracleOutputError(payload.partition(": ")[2])
                    results.append(OracleResult.invalid(len(chunk), f"{self.name} failed: {payload}",
                                                        self.n_objectives))
                else:
                    results.append(payload)
        finally:
            if proc is not None:
                self._stop(proc, conn, kill=False)
        return OracleResult.concat(results)

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner, "seconds": self.seconds, "per_item": self.per_item}


# ------------------------------------------------------------------------- Transform / Negate
class Transform(Wrapper):
    """Apply ``fn`` to the values of valid items (e.g. a log, a desirability curve, a scale).

    Args:
        oracle: The oracle to transform.
        fn: Vectorised map from a float array of shape ``(M,)``/``(M, K)`` to one of the same shape
            (must be picklable to run under :class:`Parallel`). Non-finite outputs make the item invalid.
        name: Display name (default: the inner oracle's).
        maximize: Direction after the transform (default: unchanged).
        optimal_value: Optimum after the transform (default: ``fn`` of the inner optimum, if known).
    """

    # The inner oracle's constraint bounds do not hold for transformed values.
    default_bounds: tuple[float | None, float | None] = (None, None)

    def __init__(self, oracle: Oracle, fn: Callable[[np.ndarray], np.ndarray], *, name: str | None = None,
                 maximize: bool | None = None, optimal_value: float | None = None) -> None:
        super().__init__(oracle, name=name)
        if not callable(fn):
            raise TypeError(f"Transform: fn must be callable, got {type(fn).__name__}")
        self.fn = fn
        self._maximize = maximize
        self._optimal = optimal_value

    @property  # type: ignore[override]
    def maximize(self) -> bool:
        return self.inner.maximize if self._maximize is None else self._maximize

    @property  # type: ignore[override]
    def optimal_value(self) -> float | None:
        if self._optimal is not None:
            return self._optimal
        inner = self.inner.optimal_value
        if inner is None:
            return None
        return float(np.asarray(self.fn(np.array([inner], dtype=np.float64)))[0])

    def _score(self, xs: list[Any]) -> OracleResult:
        return self._apply(self.inner(xs))

    def _stream_valid(self, xs: list[Any], gate: Callable[[list[int]], bool]
                      ) -> Iterator[tuple[list[int], OracleResult]]:
        for idx, res in self.inner.stream(xs, on_send=gate):
            yield idx, self._apply(res)

    def _apply(self, res: OracleResult) -> OracleResult:
        values = res.values.copy()
        ok = res.valid.copy()
        errors = list(res.errors)
        if ok.any():
            with np.errstate(all="ignore"):  # non-finite results are reported per item below
                out = np.asarray(self.fn(values[ok]), dtype=np.float64)
            if out.shape != values[ok].shape:
                raise ValueError(f"Transform {self.name}: fn changed the shape {values[ok].shape} -> {out.shape}")
            values[ok] = out
            finite = np.isfinite(values) if values.ndim == 1 else np.isfinite(values).all(axis=1)
            for i in np.flatnonzero(ok & ~finite):
                ok[i] = False
                errors[i] = f"{self.name}: transform gave a non-finite value"
        return OracleResult(values, ok, errors, res.transient)

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner, "fn": getattr(self.fn, "__name__", repr(self.fn))}


class Negate(Transform):
    """Flip the sign of the scores and the direction (``maximize``) of an oracle."""

    def __init__(self, oracle: Oracle, *, name: str | None = None) -> None:
        super().__init__(oracle, np.negative, name=name, maximize=not oracle.maximize)

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner}


# --------------------------------------------------------------------------------- Composite
class Constraint:
    """A hard constraint for :class:`Composite`: ``lower <= oracle(x) <= upper`` or the item is invalid.

    An item the constraint oracle cannot score violates the constraint too (with that oracle's reason).
    When neither bound is given, the oracle's ``default_bounds`` attribute is used (the constraint
    oracles in :mod:`oracles.dna` and :mod:`oracles.molecule` declare e.g. ``(None, 0)``: no forbidden
    site, no structural alert). If the oracle has a ``describe(x)`` method, its text is added to the
    reason (which site, which alert).

    Args:
        oracle: A single-objective oracle.
        lower: Smallest allowed value (inclusive), or None.
        upper: Largest allowed value (inclusive), or None.
        name: Shown in reasons; defaults to the oracle's name.
    """

    def __init__(self, oracle: Oracle, *, lower: float | None = None, upper: float | None = None,
                 name: str | None = None) -> None:
        if not isinstance(oracle, Oracle):
            raise TypeError(f"Constraint needs an Oracle, got {type(oracle).__name__}")
        if oracle.n_objectives != 1:
            raise ValueError(f"Constraint {oracle.name!r}: needs a single-objective oracle")
        if lower is None and upper is None:
            lower, upper = getattr(oracle, "default_bounds", (None, None))
        if lower is None and upper is None:
            raise ValueError(f"Constraint {oracle.name!r}: give lower and/or upper (the oracle has no "
                             "default_bounds)")
        for what, bound in (("lower", lower), ("upper", upper)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float | np.number)
                                      or not math.isfinite(float(bound))):
                raise ValueError(f"Constraint {oracle.name!r}: {what} must be a finite number or None (no bound), "
                                 f"got {bound!r}")
        if lower is not None and upper is not None and lower > upper:
            raise ValueError(f"Constraint {oracle.name!r}: lower={lower} > upper={upper}")
        self.oracle = oracle
        self.lower = lower
        self.upper = upper
        self.name = name or oracle.name

    def check(self, xs: list[Any]) -> list[str | None]:
        """Per item, None if the constraint holds, else the reason it does not."""
        res = self.oracle(xs)
        out: list[str | None] = []
        for x, v, ok, err in zip(xs, res.values, res.valid, res.errors):
            if not ok:
                out.append(f"constraint {self.name}: could not be evaluated ({err})")
                continue
            bad = None
            if self.lower is not None and v < self.lower:
                bad = f"value {v:g} < lower bound {self.lower:g}"
            elif self.upper is not None and v > self.upper:
                bad = f"value {v:g} > upper bound {self.upper:g}"
            if bad is not None:
                detail = ""
                describe = getattr(self.oracle, "describe", None)
                if callable(describe):
                    try:
                        detail = f" ({describe(x)})"
                    except Exception:  # a description must never sink the check
                        detail = ""
                bad = f"constraint {self.name} violated: {bad}{detail}"
            out.append(bad)
        return out

    def __repr__(self) -> str:
        return f"Constraint({self.oracle!r}, lower={self.lower!r}, upper={self.upper!r})"


def check_constraints(constraints: Sequence[Constraint], xs: Sequence[Any],
                      errors: list[str | None] | None = None) -> list[str | None]:
    """Apply ``constraints`` in order; each sees only the items every earlier check let through.

    Args:
        constraints: The hard constraints.
        xs: The items.
        errors: Reasons already known per item (None = still alive); items with a reason are not checked.

    Returns:
        Per item, None if every constraint holds, else the first reason it was rejected.
    """
    errors = [None] * len(xs) if errors is None else list(errors)
    for con in constraints:
        alive = [i for i, e in enumerate(errors) if e is None]
        if not alive:
            break
        for i, reason in zip(alive, con.check([xs[i] for i in alive])):
            errors[i] = reason
    return errors


def first_validation_error(oracles: Iterable[Oracle], x: Any) -> str | None:
    """The first oracle's own input check that fails for ``x``, as ``"<oracle>: <reason>"``; None if all pass."""
    for o in oracles:
        err = o._validate_item(x)
        if err is not None:
            return f"{o.name}: {err}"
    return None


_MODES = ("sum", "product", "geometric", "stack")


class Composite(Oracle):
    """Combine several oracles into one, with hard constraints.

    Constraints are checked first; only items that satisfy all of them are scored by the objectives
    (so expensive objectives are not spent on designs that are rejected anyway). An item that any
    component cannot score is invalid with ``"<component>: <reason>"``.

    Modes, for objective values ``v_i`` and weights ``w_i`` (default all 1):

    * ``"sum"``: ``sum_i w_i v_i``;
    * ``"product"``: ``prod_i v_i ** w_i``;
    * ``"geometric"``: ``prod_i v_i ** (w_i / sum_j w_j)``, the weighted geometric mean used by GuacaMol
      MPO scores (values are expected in [0, 1], e.g. desirabilities);
    * ``"stack"``: no combination; values ``(N, K)`` with one column per objective column.

    Values are combined as they come: wrap an objective in :class:`Negate` (or use a negative weight
    in ``"sum"``) to mix minimised and maximised objectives.

    Args:
        oracles: The objectives (one or more). For sum/product/geometric each must be single-objective.
        weights: One weight per objective.
        mode: One of ``"sum"``, ``"product"``, ``"geometric"``, ``"stack"``.
        constraints: :class:`Constraint` objects, or bare oracles with ``default_bounds``.
        name: Display name.
        maximize: Direction of the combined value.
    """

    def __init__(self, oracles: Sequence[Oracle], *, weights: Sequence[float] | None = None, mode: str = "sum",
                 constraints: Sequence[Constraint | Oracle] = (), name: str = "composite",
                 maximize: bool = True) -> None:
        self.oracles = list(oracles)
        if not self.oracles:
            raise ValueError("Composite needs at least one objective oracle")
        for o in self.oracles:
            if not isinstance(o, Oracle):
                raise TypeError(f"Composite: objectives must be Oracles, got {type(o).__name__}")
        if mode not in _MODES:
            raise ValueError(f"Composite: mode must be one of {_MODES}, got {mode!r}")
        if mode != "stack":
            multi = [o.name for o in self.oracles if o.n_objectives != 1]
            if multi:
                raise ValueError(f"Composite mode {mode!r} needs single-objective oracles; {multi} return "
                                 "several columns (use mode='stack' or pick one column with Transform)")
        if weights is None:
            weights = [1.0] * len(self.oracles)
        self.weights = [float(w) for w in weights]
        if len(self.weights) != len(self.oracles):
            raise ValueError(f"Composite: {len(self.weights)} weights for {len(self.oracles)} oracles")
        if mode == "geometric" and (min(self.weights) < 0 or sum(self.weights) <= 0):
            raise ValueError(f"Composite geometric mean needs non-negative weights with a positive sum, "
                             f"got {self.weights}")
        self.constraints = [c if isinstance(c, Constraint) else Constraint(c) for c in constraints]
        self.mode = mode
        self.name = name
        self.maximize = maximize
        self.n_objectives = sum(o.n_objectives for o in self.oracles) if mode == "stack" else 1
        alphabets = {o.alphabet for o in self.oracles}
        self.alphabet = alphabets.pop() if len(alphabets) == 1 else None

    def validate(self, x: Any) -> str | None:
        return first_validation_error([*self.oracles, *(c.oracle for c in self.constraints)], x)

    def _score(self, xs: list[Any]) -> OracleResult:
        n = len(xs)
        errors = check_constraints(self.constraints, xs)
        transient = np.zeros(n, dtype=bool)
        alive = [i for i in range(n) if errors[i] is None]
        columns: list[np.ndarray] = []
        for o in self.oracles:
            col = np.full((n, o.n_objectives), np.nan)
            if alive:
                res = o([xs[i] for i in alive])
                col[alive] = res.values.reshape(len(alive), -1)
                for j, i in enumerate(alive):
                    if not res.valid[j] and errors[i] is None:
                        errors[i] = f"{o.name}: {res.errors[j]}"
                        transient[i] = res.transient[j]
            columns.append(col)
        stacked = np.concatenate(columns, axis=1)  # (N, total columns)
        w = np.asarray(self.weights)
        with np.errstate(all="ignore"):
            if self.mode == "stack":
                values = stacked if stacked.shape[1] > 1 else stacked[:, 0]
            elif self.mode == "sum":
                values = stacked @ w
            elif self.mode == "product":
                values = np.prod(np.power(stacked, w), axis=1)
            else:  # geometric
                wn = w / w.sum()
                values = np.prod(np.power(np.clip(stacked, 0.0, None), wn), axis=1)
        valid = np.array([e is None for e in errors], dtype=bool)
        finite = np.isfinite(values) if values.ndim == 1 else np.isfinite(values).all(axis=1)
        for i in np.flatnonzero(valid & ~finite):
            valid[i] = False
            errors[i] = f"{self.name}: combined value is not finite ({self.mode} of {stacked[i].tolist()})"
        return OracleResult(values, valid, errors, transient)

    def _repr_params(self) -> dict[str, Any]:
        return {"name": self.name, "oracles": self.oracles, "weights": self.weights, "mode": self.mode,
                "constraints": self.constraints}
