"""``RayOracle``: score batches on a Ray cluster (a local one by default), with retries and a per-item timeout.

Install the extra first: ``pip install "seqguide[ray]"``. The oracle is shipped once to a pool of Ray actors
(one worker process each, ``num_cpus``/``num_gpus`` apiece); a batch is cut into chunks of ``chunk_size``
items, dealt to idle actors, and the results come back in input order. Ray starts locally on first use
(``ray.init()``), or connects to a running cluster with ``address="auto"`` (the machine is part of it) or
``address="ray://head:10001"`` (Ray Client). Start a cluster with ``ray start --head`` on one machine and
``ray start --address HEAD:6379`` on the others; every machine needs seqguide installed.

Failures stay per item, as the Oracle protocol says:

* an item the oracle cannot score is invalid with its reason (the oracle runs as usual inside the actor);
* a chunk that takes longer than ``timeout`` seconds per item is abandoned, its actor killed and replaced,
  and its items come back invalid and transient (``"timed out after S s"``); with ``retry_timeouts`` they
  are tried again first;
* a chunk whose actor or node dies is retried on a fresh actor up to ``retries`` times, then invalid and
  transient.

Composition is the same as :class:`~oracles.wrappers.Parallel`: the stateful layers sit outside, so a budget
counts exactly what it counts for the plain oracle: ``Cached(Budgeted(RayOracle(oracle), budget=1000))``.

Example:
    >>> from oracles import Budgeted, Cached, get_oracle
    >>> from oracles.ray import RayOracle
    >>> qed = Cached(Budgeted(RayOracle(get_oracle("qed"), workers=8, timeout=30), budget=5000))  # doctest: +SKIP
    >>> qed(["CCO", "c1ccccc1"]).values                                                        # doctest: +SKIP
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from oracles.base import Oracle, OracleResult
from oracles.wrappers import Wrapper, _add_received, _check_no_state, _received

__all__ = ["RayOracle", "ray_oracle"]

_INSTALL_HINT = 'RayOracle needs Ray: pip install "seqguide[ray]"'


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as err:  # an optional extra
        raise ImportError(_INSTALL_HINT) from err
    return ray


@contextmanager
def _keep_signal_handlers() -> Iterator[None]:
    """Restore SIGTERM/SIGINT handlers afterwards: a campaign's graceful stop or Lightning's step-boundary
    checkpoint must still see the signal after an oracle started Ray in this process."""
    saved = {}
    if threading.current_thread() is threading.main_thread():
        saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)


class _OracleActor:
    """A Ray actor holding one copy of the oracle (module level, so workers import it by reference)."""

    def __init__(self, oracle: Oracle, threads: int) -> None:
        import torch

        torch.set_num_threads(max(1, threads))  # the pool already uses the cores
        self.oracle = oracle

    def ready(self) -> bool:
        """Answers once the actor is up (its start-up is not charged to an item's timeout)."""
        return True

    def score(self, chunk: list[Any]) -> tuple[OracleResult, int]:
        """The result and how many items reached the scorer in this process (the budget's receipts)."""
        before = _received(self.oracle)
        res = self.oracle(chunk)
        return res, _received(self.oracle) - before


@dataclass
class _Task:
    chunk: int  # index of the chunk in the batch
    actor: Any
    started: float
    deadline: float | None
    attempt: int


class RayOracle(Wrapper):
    """Score batches on a pool of Ray actors (see the module docstring).

    Args:
        oracle: A stateless oracle (no Cached/Budgeted inside: put those outside); it must pickle.
        address: None starts a local Ray (or uses the one already initialised in this process); ``"auto"``
            joins the cluster this machine belongs to; ``"ray://host:10001"`` connects with Ray Client.
        workers: Number of actors; default: the cluster's CPUs divided by ``num_cpus``.
        chunk_size: Items per task (1: each item on its own, so a timeout or a crash costs one item).
        timeout: Seconds allowed per item (a chunk gets ``timeout * len(chunk)``); None waits forever.
        retries: Times a chunk whose worker or node died is tried again on a fresh actor.
        retry_timeouts: Also retry chunks that timed out (each retry can cost a full timeout).
        num_cpus: CPUs reserved per actor.
        num_gpus: GPUs reserved per actor (e.g. 1 for an oracle that runs a network on a GPU).
        init_kwargs: Further ``ray.init`` arguments (``num_cpus``, ``runtime_env``, ...) when this oracle
            starts Ray.
        name: Display name (default: the inner oracle's).

    Attributes:
        timeouts: Chunks abandoned for taking too long, so far.
        restarts: Actors replaced (after a timeout or a crash), so far.
    """

    def __init__(self, oracle: Oracle, *, address: str | None = None, workers: int | None = None,
                 chunk_size: int = 1, timeout: float | None = None, retries: int = 2, retry_timeouts: bool = False,
                 num_cpus: float = 1.0, num_gpus: float = 0.0, init_kwargs: dict[str, Any] | None = None,
                 name: str | None = None) -> None:
        super().__init__(oracle, name=name)
        _check_no_state(oracle, "RayOracle")
        if workers is not None and workers < 1:
            raise ValueError(f"RayOracle: workers must be >= 1, got {workers!r}")
        if chunk_size < 1:
            raise ValueError(f"RayOracle: chunk_size must be >= 1, got {chunk_size!r}")
        if timeout is not None and not timeout > 0:
            raise ValueError(f"RayOracle: timeout must be > 0 seconds or None, got {timeout!r}")
        if retries < 0:
            raise ValueError(f"RayOracle: retries must be >= 0, got {retries!r}")
        if num_cpus <= 0 or num_gpus < 0:
            raise ValueError(f"RayOracle: num_cpus must be > 0 and num_gpus >= 0, got {num_cpus!r}, {num_gpus!r}")
        self.address = address
        self.workers = workers
        self.chunk_size = int(chunk_size)
        self.timeout = None if timeout is None else float(timeout)
        self.retries = int(retries)
        self.retry_timeouts = bool(retry_timeouts)
        self.num_cpus = float(num_cpus)
        self.num_gpus = float(num_gpus)
        self.init_kwargs = dict(init_kwargs or {})
        self.timeouts = 0
        self.restarts = 0
        self._actors: list[Any] = []
        self._starting: list[tuple[Any, Any]] = []  # (actor, ready ref) of actors not known to be up yet
        self._actor_cls: Any = None
        self._oracle_ref: Any = None
        self._started_ray = False

    # ----------------------------------------------------------------------------- the pool
    def _start(self) -> Any:
        ray = _import_ray()
        if not ray.is_initialized():
            with _keep_signal_handlers():  # ray.init replaces the driver's SIGTERM handler with sys.exit
                ray.init(address=self.address, **self.init_kwargs)
            self._started_ray = True
        if self._actor_cls is None:
            self._actor_cls = ray.remote(num_cpus=self.num_cpus, num_gpus=self.num_gpus, max_restarts=0,
                                         max_task_retries=0)(_OracleActor)
            self._oracle_ref = ray.put(self.inner)
        if not self._actors:
            n = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1) // self.num_cpus))
            self._starting = [self._new_actor() for _ in range(n)]
        return ray

    def _new_actor(self) -> tuple[Any, Any]:
        """A new actor and the reference that resolves once it is up."""
        actor = self._actor_cls.remote(self._oracle_ref, max(1, int(self.num_cpus)))
        self._actors.append(actor)
        return actor, actor.ready.remote()

    def _replace(self, ray: Any, actor: Any, starting: dict[Any, Any]) -> None:
        """Kill ``actor`` and start a replacement (it joins ``starting`` until it is up)."""
        ray.kill(actor, no_restart=True)
        self.restarts += 1
        self._actors.remove(actor)
        fresh, ref = self._new_actor()
        starting[ref] = fresh

    def close(self) -> None:
        """Stop the actors (and the local Ray this oracle started); a later call starts them again."""
        if not self._actors and not self._started_ray:
            return
        ray = _import_ray()
        if ray.is_initialized():
            for actor in self._actors:
                ray.kill(actor, no_restart=True)
            if self._started_ray:
                ray.shutdown()
        self._actors, self._starting, self._actor_cls, self._oracle_ref = [], [], None, None
        self._started_ray = False

    def __enter__(self) -> RayOracle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_actors=[], _starting=[], _actor_cls=None, _oracle_ref=None, _started_ray=False)
        return state

    # ----------------------------------------------------------------------------- scoring
    def _score(self, xs: list[Any]) -> OracleResult:
        ray = self._start()
        size = self.chunk_size
        chunks = [xs[i : i + size] for i in range(0, len(xs), size)]
        results: list[OracleResult | None] = [None] * len(chunks)
        todo = list(range(len(chunks)))[::-1]  # a stack: pop() takes chunks in order
        attempts = [0] * len(chunks)
        starting = {ref: actor for actor, ref in self._starting}
        idle = [a for a in self._actors if all(a is not b for b in starting.values())]
        pending: dict[Any, _Task] = {}
        while todo or pending:
            while todo and idle:
                c, actor = todo.pop(), idle.pop(0)
                now = time.monotonic()
                deadline = None if self.timeout is None else now + self.timeout * len(chunks[c])
                pending[actor.score.remote(chunks[c])] = _Task(c, actor, now, deadline, attempts[c])
            deadlines = [t.deadline for t in pending.values() if t.deadline is not None]
            wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            ready, _ = ray.wait([*pending, *starting], num_returns=1, timeout=wait)
            for ref in ready:
                if ref in starting:  # a new actor is up: it takes work from now on
                    actor = starting.pop(ref)
                    try:
                        ray.get(ref)
                        idle.append(actor)
                    except Exception:  # it died while starting: start another
                        self._replace(ray, actor, starting)
                    continue
                task = pending.pop(ref)
                try:
                    results[task.chunk], received = ray.get(ref)
                    _add_received(self.inner, received)  # the worker's receipts are this stack's receipts
                    idle.append(task.actor)
                except ray.exceptions.RayTaskError as err:  # the call raised inside a live actor: no retry
                    _add_received(self.inner, len(chunks[task.chunk]))  # it reached the scorer: assume paid
                    idle.append(task.actor)
                    results[task.chunk] = self._invalid(len(chunks[task.chunk]), f"failed on the Ray worker: "
                                                        f"{_first_line(err)}")
                except Exception as err:  # the actor, its worker process or its node died: retry elsewhere
                    _add_received(self.inner, len(chunks[task.chunk]))  # it was handed to a worker: assume paid
                    self._replace(ray, task.actor, starting)
                    self._failed(task, chunks, attempts, todo, results, f"{type(err).__name__}: {_first_line(err)}")
            now = time.monotonic()
            for ref, task in list(pending.items()):
                if task.deadline is not None and now >= task.deadline:
                    del pending[ref]
                    _add_received(self.inner, len(chunks[task.chunk]))  # it reached the scorer: assume paid
                    self.timeouts += 1
                    self._replace(ray, task.actor, starting)
                    what = "item" if len(chunks[task.chunk]) == 1 else f"chunk of {len(chunks[task.chunk])} items"
                    reason = f"timed out after {self.timeout * len(chunks[task.chunk]):g} s ({what})"
                    if self.retry_timeouts:
                        self._failed(task, chunks, attempts, todo, results, reason)
                    else:
                        results[task.chunk] = self._invalid(len(chunks[task.chunk]), reason)
            if not pending and todo and not idle and not starting:  # cannot happen while the pool has actors
                raise RuntimeError("RayOracle: no actor left to run the remaining chunks")
        self._starting = [(a, r) for r, a in starting.items()]
        return OracleResult.concat([r for r in results if r is not None])

    def _failed(self, task: _Task, chunks: list[list[Any]], attempts: list[int], todo: list[int],
                results: list[OracleResult | None], reason: str) -> None:
        attempts[task.chunk] += 1
        if attempts[task.chunk] <= self.retries:
            todo.append(task.chunk)
        else:
            tries = attempts[task.chunk]
            results[task.chunk] = self._invalid(len(chunks[task.chunk]),
                                                f"{reason} (after {tries} attempt{'s' if tries > 1 else ''})")

    def _invalid(self, n: int, reason: str) -> OracleResult:
        return OracleResult.invalid(n, f"{self.name}: {reason}", self.n_objectives, transient=True)

    def _repr_params(self) -> dict[str, Any]:
        return {"oracle": self.inner, "address": self.address, "workers": self.workers,
                "chunk_size": self.chunk_size, "timeout": self.timeout}


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else "(no message)"


def ray_oracle(*, oracle: str, oracle_kwargs: dict[str, Any] | None = None, address: str | None = None,
               workers: int | None = None, chunk_size: int = 1, timeout: float | None = None, retries: int = 2,
               num_cpus: float = 1.0, num_gpus: float = 0.0) -> RayOracle:
    """Registry factory (``get_oracle("ray", oracle="qed", workers=8)``): the registered oracle ``oracle`` built
    with ``oracle_kwargs``, scored on Ray by a :class:`RayOracle` with the other arguments."""
    from oracles.registry import get_oracle

    return RayOracle(get_oracle(oracle, **(oracle_kwargs or {})), address=address, workers=workers,
                     chunk_size=chunk_size, timeout=timeout, retries=retries, num_cpus=num_cpus, num_gpus=num_gpus)
