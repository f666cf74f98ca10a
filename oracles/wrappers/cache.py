"""Memoised scores: :class:`Cached`, in memory or in a SQLite file (WAL), and the JSON form of a stored row."""

from __future__ import annotations

import json
import math
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oracles.base import Oracle, OracleResult
from oracles.wrappers.common import Wrapper, _positions, _spread


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
