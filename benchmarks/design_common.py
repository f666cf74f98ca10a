"""What the design benchmarks share: the method interface, cell metrics, sample pools and model caches.

A *method* is a function ``method(task, budget, seed, ctx) -> MethodResult``: it designs against the task's
objective under ``budget`` unique paid calls (through :class:`seqguide.baselines.BudgetedObjective`, so
every call is charged) and returns what it paid for. Each design benchmark keeps a ``METHODS`` dict of
:class:`MethodSpec` (name -> function, settings, which tasks and budgets); adding a method is adding an
entry there. :func:`history_metrics` turns a result into the cell's columns and best-so-far curve.

Best-of-N from a generative model draws from a :class:`SamplePool`: the model's unguided samples for one
(task, seed), generated once in seeded chunks, appended to a file under ``runs/benchmarks/`` and reused by
the cells of every budget (a cell at budget B reads the first samples of the pool, exactly what a run of B
calls with that seed would draw). The pool's sampling time per sample is charged to each cell in proportion
to the samples it used.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.model_cache import settings_hash
from seqguide.baselines import DesignHistory, log_checkpoints

__all__ = ["INFILL_LOOP", "SAMPLER_STREAM", "MethodResult", "MethodSpec", "SamplePool", "Stopwatch", "history_metrics",
           "method_grid",
           "run_infill", "settings_hash"]


@dataclass
class MethodResult:
    """What a method returns for one cell.

    Attributes:
        history: Every paid objective call, in order.
        cpu_seconds: Process CPU time of the method (proposals + objective), shared costs prorated.
        wall_seconds: Wall time of the method, shared costs prorated.
        info: Extra scalars for the table (e.g. generations, why it stopped, training seconds).
    """

    history: DesignHistory
    cpu_seconds: float
    wall_seconds: float
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MethodSpec:
    """A method of a design benchmark.

    Attributes:
        run: ``run(task, budget, seed, ctx) -> MethodResult``.
        settings: Its settings (hashed into the cells, so changing them recomputes the cells).
        include: ``include(task_name, budget, seed_index) -> bool``: which cells of the grid it runs
            (None: all).
        label: Short description for the report.
        code: The modules and packages (import names) whose source computes its cells; hashed into the cells'
            digests (:attr:`benchmarks.cells.Cell.code`), so a change to them makes its finished cells stale.
    """

    run: Callable[..., MethodResult]
    settings: dict[str, Any] = field(default_factory=dict)
    include: Callable[[str, int, int], bool] | None = None
    label: str = ""
    code: tuple[str, ...] = ()


def method_grid(methods: Mapping[str, MethodSpec], tasks: Iterable[str], budgets: Iterable[int], seeds: Sequence[int],
                *, seed_major: bool = False) -> Iterator[tuple[str, MethodSpec, str, int, int]]:
    """``(method name, spec, task, budget, seed)`` of every cell of the grid that the method's ``include`` keeps.

    The order is task, method, budget, seed, or with ``seed_major`` seed, method, task, budget (a run cut short
    then has every method of the first seeds); it is the order of the plan and of the report's rows.
    """
    tasks, budgets = list(tasks), list(budgets)

    def keep(spec: MethodSpec, task: str, budget: int, i: int) -> bool:
        return spec.include is None or spec.include(task, budget, i)

    if seed_major:
        for i, seed in enumerate(seeds):
            for name, spec in methods.items():
                for task in tasks:
                    for budget in budgets:
                        if keep(spec, task, budget, i):
                            yield name, spec, task, budget, seed
        return
    for task in tasks:
        for name, spec in methods.items():
            for budget in budgets:
                for i, seed in enumerate(seeds):
                    if keep(spec, task, budget, i):
                        yield name, spec, task, budget, seed


class Stopwatch:
    """Wall and process-CPU time of a block: ``with Stopwatch() as sw: ...; sw.wall, sw.cpu``."""

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


#: The design loop's random stream: 2 since its draws are sized for duplicates (issue 23). Loop cells hash it, so
#: cells computed with the old stream are recomputed.
SAMPLER_STREAM: dict[str, Any] = {"sampler_stream": 2}

#: The elite-infilling design loop as the design benchmarks run it (cells hash these settings): ``anchor`` are
#: :class:`~seqguide.design.EliteInfill`'s arguments; budget/``rounds_at_least`` candidates per round, clipped to
#: ``min_candidates``..``max_candidates``.
INFILL_LOOP: dict[str, Any] = {
    "anchor": {"elites": 32, "edits": (1, 4), "window": 0.5, "crossover": 0.2, "restart_after": 10_000,
               "ties": "newest"},
    "min_candidates": 50, "max_candidates": 256, "rounds_at_least": 40, "max_draws": 8}


def run_infill(model: Any, objective: Any, budget: int, seed: int, *, loop: dict[str, Any], steps: int,
               model_info: dict[str, Any], name: str, stop_at_optimum: bool = False, **loop_kwargs: Any
               ) -> MethodResult:
    """Run a :class:`~seqguide.design.DesignLoop` with :class:`~seqguide.design.EliteInfill` proposals from ``model``
    against ``objective`` (a :class:`seqguide.baselines.BudgetedObjective`) until the budget is spent, no new
    design comes, or (``stop_at_optimum``) the optimum is found. ``loop_kwargs`` go to the loop (``cond``,
    ``key``, ``feasibility``)."""
    from seqguide.design import DesignLoop, EliteInfill

    candidates = int(min(loop["max_candidates"], max(loop["min_candidates"], budget // loop["rounds_at_least"])))
    rounds = 0
    with Stopwatch() as sw:
        with DesignLoop(model, objective.oracle, None, budget=budget, candidates=candidates, steps=steps, seed=seed,
                        score_batch=candidates, max_draws=loop["max_draws"], anchor=EliteInfill(**loop["anchor"]),
                        name=name, **loop_kwargs) as run:
            while run.budget_remaining > 0 and not (stop_at_optimum and objective.solved()):
                record = run.step()
                rounds += 1
                if record.n_candidates == 0:
                    break
    if stop_at_optimum:
        stopped = "optimum" if objective.solved() else "budget"
    else:
        stopped = "budget" if run.budget_remaining == 0 else "no new designs"
    return MethodResult(objective.history, sw.cpu, sw.wall,
                        {"stopped": stopped, "rounds": rounds, "candidates_per_round": candidates,
                         "model_train_seconds": model_info["train_seconds"]})


def history_metrics(result: MethodResult, budget: int, *, optimum: float | None = None,
                    checkpoints: Sequence[int] | None = None, pmo_k: int | None = None) -> dict[str, Any]:
    """The cell's columns from a method's result.

    Columns: ``best`` (best valid value), ``calls`` (paid calls), ``feasible`` (fraction of paid calls that were
    valid), ``solved`` / ``calls_to_solve`` (when ``optimum`` is given), ``top10_auc`` (PMO, when ``pmo_k``
    is given: ``top{k}_auc``), ``cpu_us_per_call``, ``wall_seconds``, ``best_design`` and the ``curve`` (best so
    far at log-spaced call counts up to the budget), plus the method's own ``info``.
    """
    h = result.history
    calls = len(h)
    if calls > budget:
        raise RuntimeError(f"a method paid {calls} calls with a budget of {budget}")
    grid = [c for c in (checkpoints or log_checkpoints(budget)) if c <= budget]
    best_design, best = h.best()
    out: dict[str, Any] = {"best": best, "calls": calls, "feasible": h.feasible_fraction()}
    if optimum is not None:
        reach = h.calls_to_reach(optimum)
        out.update(solved=reach is not None, calls_to_solve=reach)
    if pmo_k is not None:
        out[f"top{pmo_k}_auc"] = h.top_k_auc(budget, k=pmo_k)
        top = np.sort(np.nan_to_num(h.values, nan=0.0))[-pmo_k:]
        out[f"top{pmo_k}_mean"] = float(top.mean()) if len(top) else 0.0
    out.update(cpu_us_per_call=1e6 * result.cpu_seconds / max(calls, 1), wall_seconds=result.wall_seconds)
    out.update(result.info)
    out["best_design"] = best_design
    curve = h.best_at(grid)
    out["curve"] = {"calls": grid, "best": [None if np.isnan(v) else float(v) for v in curve]}
    return out


class SamplePool:
    """Unguided samples of a model for one (task, seed), generated in seeded chunks and appended to a file.

    Each chunk ``i`` is drawn with ``sample(model, chunk, seed=hash(seed, i))``, so the pool is the same
    whether it was generated in one session or continued after a kill (a chunk cut short is redrawn).

    Args:
        path: The pool file (JSON lines: ``{"chunk", "seed", "cpu", "wall", "sequences"}`` per chunk).
        draw: ``draw(n, seed) -> list of n designs`` (e.g. a closure over ``seqguide.sample``).
        seed: The cell seed the pool belongs to.
        chunk: Samples per chunk.
    """

    def __init__(self, path: str | Path, draw: Callable[[int, int], list[Any]], *, seed: int,
                 chunk: int = 1000) -> None:
        self.path = Path(path)
        self.draw = draw
        self.seed = int(seed)
        self.chunk = int(chunk)

    def _read(self) -> list[dict[str, Any]]:
        chunks: list[dict[str, Any]] = []
        if not self.path.is_file():
            return chunks
        good_bytes = 0
        with self.path.open("rb") as fh:
            for raw in fh:
                try:
                    data = json.loads(raw)
                    ok = data["chunk"] == len(chunks) and len(data["sequences"]) == self.chunk
                except (json.JSONDecodeError, KeyError, TypeError):
                    ok = False
                if not ok or not raw.endswith(b"\n"):
                    break  # a chunk cut short by a kill: everything before it is kept
                chunks.append(data)
                good_bytes += len(raw)
        if good_bytes != self.path.stat().st_size:
            with self.path.open("r+b") as fh:
                fh.truncate(good_bytes)
        return chunks

    def take(self, n: int) -> tuple[list[Any], float, float]:
        """The first ``n`` samples, generating missing chunks; also the CPU and wall seconds that sampling
        them cost (prorated from their chunks)."""
        chunks = self._read()
        need = -(-n // self.chunk)
        if len(chunks) < need:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a") as fh:
                for i in range(len(chunks), need):
                    seed = int(settings_hash([self.seed, i], 8), 16) % (2**31 - 1)
                    wall, cpu = time.perf_counter(), time.process_time()
                    seqs = list(self.draw(self.chunk, seed))
                    c = {"chunk": i, "seed": seed, "cpu": time.process_time() - cpu,
                         "wall": time.perf_counter() - wall, "sequences": seqs}
                    fh.write(json.dumps(c) + "\n")
                    fh.flush()
                    chunks.append(c)
        used = chunks[:need]
        samples = [s for c in used for s in c["sequences"]][:n]
        frac = n / (need * self.chunk) if need else 0.0
        cpu = sum(c["cpu"] for c in used) * frac
        wall = sum(c["wall"] for c in used) * frac
        return samples, cpu, wall

    def take_unique(self, n: int, *, max_factor: float = 3.0) -> tuple[list[Any], float, float]:
        """The shortest prefix of the pool with ``n`` distinct designs (a budget of ``n`` unique paid calls), at
        most ``max_factor * n`` samples; with the CPU and wall seconds of sampling that prefix."""
        limit = int(max_factor * n)
        k = n
        while True:
            samples, cpu, wall = self.take(k)
            seen: set[Any] = set()
            for i, s in enumerate(samples):
                seen.add(s)
                if len(seen) == n:
                    frac = (i + 1) / len(samples)
                    return samples[: i + 1], cpu * frac, wall * frac
            if k >= limit:
                return samples, cpu, wall
            k = min(limit, k + max(self.chunk, n - len(seen)))


def cached_model(directory: str | Path, name: str, settings: dict[str, Any], train: Callable[[Path], Any]) -> tuple[
        Any, dict[str, Any]]:
    """A trained ``MaskedDiffusion`` cached as ``directory/name_<hash of settings>.ckpt``.

    Args:
        directory: Cache directory (git-ignored, e.g. ``runs/benchmarks/NAME/models``).
        name: File stem.
        settings: Everything the model depends on (its hash names the file).
        train: ``train(work_dir) -> seqguide.training.sequences.TrainResult``; called only when the file is missing.

    Returns:
        ``(model in eval mode, info)`` with ``info``: the checkpoint, training seconds and final metrics.
    """
    import shutil

    from seqguide.models import MaskedDiffusion

    directory = Path(directory)
    stem = f"{name}_{settings_hash(settings)}"
    ckpt, meta = directory / f"{stem}.ckpt", directory / f"{stem}.json"
    if not (ckpt.is_file() and meta.is_file()):
        work = directory / f"{stem}_train"
        if work.exists():
            shutil.rmtree(work)
        with Stopwatch() as sw:
            result = train(work)
        info = {"train_seconds": round(sw.wall, 1), "train_cpu_seconds": round(sw.cpu, 1),
                "metrics": {k: round(float(v), 5) for k, v in result.metrics.items()}, "settings": settings}
        tmp = ckpt.with_suffix(".partial")
        shutil.copyfile(result.checkpoint, tmp)
        tmp.replace(ckpt)
        meta.write_text(json.dumps(info, indent=1))
        shutil.rmtree(work, ignore_errors=True)
    info = json.loads(meta.read_text())
    info["checkpoint"] = str(ckpt)
    return MaskedDiffusion.load(ckpt).eval(), info
