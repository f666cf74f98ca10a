"""Time limits: :class:`Timeout` runs its oracle in a child process and kills it when a batch (or an item) takes
longer than allowed; ``_timeout_worker`` is the child's loop (module-level, so a ``spawn`` child imports it)."""

from __future__ import annotations

import multiprocessing as mp
from typing import Any

from oracles.base import BudgetExhausted, Oracle, OracleOutputError, OracleResult
from oracles.wrappers.common import Wrapper, _add_received, _default_mp_context, _ignore_interrupts, _received
from oracles.wrappers.parallel import Parallel
from oracles.wrappers.stack import _check_no_state, _contains


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
