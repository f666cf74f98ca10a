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
    (e.g. a segfault in a native library) costs only its chunk: the pool is rebuilt, the chunks it took down
    with it are run again alone (not charged for the run that broke), and the chunk that kills a worker when
    alone comes back invalid and transient. At most ``workers`` chunks are in flight at a time (the next one
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

    def _collect(self, fut: Future[Any], size: int) -> OracleResult:
        """A finished task's result, crediting the worker's receipts (not for a task of a broken pool)."""
        try:
            res, received = fut.result()
        except (BudgetExhausted, OracleOutputError):
            raise
        except Exception as err:  # the inner oracle never raises; this is pickling or the pool
            return OracleResult.invalid(size, f"{self.name}: parallel evaluation failed: {type(err).__name__}: "
                                              f"{err}", self.n_objectives, transient=True)
        _add_received(self.inner, received)
        return res

    def _died(self, size: int, err: BaseException) -> OracleResult:
        _add_received(self.inner, size)  # it was handed to the worker that died: assume it was paid
        return OracleResult.invalid(size, f"{self.name}: worker process died ({err})", self.n_objectives,
                                    transient=True)

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        """Forget a broken pool (the next submission starts a new one)."""
        if self._pool is pool:
            self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    def _stream_valid(self, xs: list[Any], gate: Callable[[list[int]], bool]
                      ) -> Iterator[tuple[list[int], OracleResult]]:
        """Yield ``(indices, result)`` per chunk as chunks finish.

        A worker that dies breaks the pool, and every chunk in flight fails with it, though only one killed it.
        The pool is rebuilt and the chunks that had not finished are run again, one at a time, each alone in the
        pool, and charged only for that run: a chunk that breaks the pool when alone is the one that killed it
        (its items invalid and transient, charged as paid); the others score normally.
        """
        n = len(xs)
        size = self.chunk_size or max(1, math.ceil(n / self.workers))
        chunks = iter([list(range(i, min(n, i + size))) for i in range(0, n, size)])
        pending: dict[Future[Any], tuple[list[int], ProcessPoolExecutor]] = {}
        suspects: list[list[int]] = []  # chunks a broken pool took down with it: re-run alone, one at a time
        sending = True

        def submit(chunk: list[int]) -> None:
            items = [xs[j] for j in chunk]
            pool = self._get_pool()
            try:
                fut = pool.submit(_pool_score, items)
            except BrokenProcessPool:  # it broke before a finished task said so: never sent, start a new one
                self._drop(pool)
                pool = self._get_pool()
                fut = pool.submit(_pool_score, items)
            pending[fut] = (chunk, pool)

        def fill() -> None:
            nonlocal sending
            if suspects:
                if not pending:
                    submit(suspects.pop(0))
                return
            while sending and len(pending) < self.workers:
                chunk = next(chunks, None)
                if chunk is None or not gate(chunk):
                    sending = False
                    return
                submit(chunk)

        try:
            fill()
            while pending:
                done, _ = wait(list(pending), return_when=FIRST_COMPLETED)
                for fut in done:
                    if fut not in pending:  # taken with a broken pool's other tasks below
                        continue
                    chunk, pool = pending.pop(fut)
                    err = fut.exception()
                    if not isinstance(err, BrokenProcessPool):
                        yield chunk, self._collect(fut, len(chunk))
                        continue
                    self._drop(pool)
                    others = [f for f, (_, p) in pending.items() if p is pool]
                    wait(others)  # a broken pool fails all its tasks at once
                    broken = [chunk]
                    for other in others:
                        other_chunk, _ = pending.pop(other)
                        if isinstance(other.exception(), BrokenProcessPool):
                            broken.append(other_chunk)
                        else:
                            yield other_chunk, self._collect(other, len(other_chunk))
                    if len(broken) == 1:
                        yield chunk, self._died(len(chunk), err)  # alone in its pool: it killed the worker
                    else:
                        suspects.extend(broken)
                fill()
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
