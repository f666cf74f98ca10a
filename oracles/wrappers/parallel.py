"""Scoring on a process pool: :class:`Parallel`, and the worker-side functions its pool runs.

``_pool_init`` and ``_pool_score`` are module-level so a ``spawn``/``forkserver`` worker imports them by name; the
worker's copy of the oracle lives in this module's ``_WORKER_ORACLE``.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np

from oracles.base import BudgetExhausted, Oracle, OracleOutputError, OracleResult
from oracles.wrappers.common import Wrapper, _add_received, _default_mp_context, _ignore_interrupts, _received
from oracles.wrappers.stack import _check_no_state

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
