"""One runner for every benchmark: plan, resume cell by cell, write the tables and plots.

``python -m benchmarks list`` lists :data:`benchmarks.registry.BENCHMARKS`;
``python -m benchmarks run NAME [--quick] [--seeds 0 1 ...]`` runs one. A *cell benchmark* (a module
defining ``BENCHMARK``, a :class:`CellBenchmark`) is a list of independent cells, one per
method x task x seed x budget. Each finished cell is appended, as one JSON line, to
``NAME.cells.jsonl`` next to the tables (full runs: ``benchmarks/results/``, committed with the tables, so
every number traces to the cell that produced it; ``--quick`` runs: ``runs/benchmarks/quick/``). A run
that is restarted skips every cell already in that file whose settings are unchanged (a cell's settings are
hashed into its record, so changing a method's settings recomputes its cells), then writes
``NAME.csv`` / ``NAME.md`` and the PNG plots from all finished cells of the plan. A *script benchmark*
(a module with ``main(argv)``) is called with ``--quick`` / ``--seeds`` and any extra arguments.

Example (Python)::

    from benchmarks.runner import run_benchmark
    run_benchmark("design_ehrlich", quick=True, methods=["ga"], seeds=[0])
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as _dt
import importlib
import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

from benchmarks.cells import Cell, CellRecord, CellStore, exclusive
from benchmarks.common import device_name, environment, git_commit, write_table
from benchmarks.registry import BENCHMARKS

__all__ = [
    "QUICK_DIR",
    "RESULTS_DIR",
    "WORK_DIR",
    "Cell",
    "CellBenchmark",
    "CellRecord",
    "CellStore",
    "Report",
    "RunContext",
    "RunOptions",
    "describe_benchmarks",
    "main",
    "resolve",
    "run_benchmark",
]

_REPO = Path(__file__).resolve().parent.parent
RESULTS_DIR = _REPO / "benchmarks" / "results"
QUICK_DIR = Path("runs/benchmarks/quick")
WORK_DIR = Path("runs/benchmarks")
_CELLS_SUFFIX = ".cells.jsonl"


# ------------------------------------------------------------------------------------- protocol
@dataclass
class RunOptions:
    """What a run was asked for (the benchmark's ``cells`` reads ``quick`` and ``seeds``)."""

    quick: bool = False
    seeds: list[int] | None = None
    methods: list[str] | None = None
    tasks: list[str] | None = None
    budgets: list[int] | None = None
    fresh: bool = False
    device: str = "cpu"
    progress: bool = True
    keep_going: bool = False
    dry_run: bool = False


@dataclass
class RunContext:
    """What a cell and the report see: where to write, where to cache, the run's options and metadata.

    Attributes:
        name: The benchmark's registered name.
        out_dir: Where the tables, plots and cells file go.
        work_dir: A git-ignored directory for caches (trained models, sample pools), shared by quick and
            full runs and keyed by the caller's own settings.
        options: The run's options.
        env: The run's metadata (:func:`benchmarks.common.environment` plus seeds and cell counts).
    """

    name: str
    out_dir: Path
    work_dir: Path
    options: RunOptions
    env: dict[str, Any] = field(default_factory=dict)

    @property
    def quick(self) -> bool:
        return self.options.quick

    @property
    def device(self) -> str:
        return self.options.device

    def figure_path(self, suffix: str = "") -> Path:
        """``out_dir/NAME[_suffix].png``."""
        return self.out_dir / f"{self.name}{'_' + suffix if suffix else ''}.png"


@dataclass
class Report:
    """What a cell benchmark's ``report`` returns: the main table and the Markdown around it.

    Attributes:
        rows: The main table (one mapping per row), written to ``NAME.csv`` and ``NAME.md``.
        columns: Column order (default: as the rows give them).
        notes: A paragraph before the table.
        sections: ``(heading, markdown)`` sections after it (further tables, plots, caveats).
        figures: The PNG files the report wrote (listed in the run summary).
    """

    rows: list[dict[str, Any]]
    columns: list[str] | None = None
    notes: str = ""
    sections: list[tuple[str, str]] = field(default_factory=list)
    figures: list[Path] = field(default_factory=list)


class CellBenchmark:
    """Base class of cell benchmarks: subclasses set the class attributes and the three methods.

    Attributes:
        name: Registered name (also the stem of the output files).
        title: Title of the Markdown page.
        version: Part of every cell's digest: bump it when a code change makes finished cells stale.
        default_seeds: Seeds of a full run when ``--seeds`` is not given.
    """

    name: ClassVar[str] = "benchmark"
    title: ClassVar[str] = "Benchmark"
    version: ClassVar[int] = 1
    default_seeds: ClassVar[tuple[int, ...]] = (0,)

    def seeds(self, options: RunOptions) -> list[int]:
        """The seeds of this run: ``--seeds`` if given, else :attr:`default_seeds` (the first for quick runs)."""
        if options.seeds is not None:
            return list(options.seeds)
        return list(self.default_seeds[:1] if options.quick else self.default_seeds)

    def cells(self, options: RunOptions) -> list[Cell]:
        """Every cell of a run with these options (before the ``--methods/--tasks/--budgets`` filters)."""
        raise NotImplementedError

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict[str, Any]:
        """Compute one cell: a JSON-serialisable dict of scalars (table columns) and lists (curves)."""
        raise NotImplementedError

    def report(self, records: list[CellRecord], ctx: RunContext) -> Report:
        """Tables and plots from the finished cells (also called on a partial run)."""
        raise NotImplementedError


# ------------------------------------------------------------------------------------- registry
def resolve(name: str, registry: Mapping[str, Any] | None = None) -> Any:
    """The benchmark registered as ``name``: a :class:`CellBenchmark` or a module with ``main(argv)``.

    Registry values may be a module path (imported here), a module or a ``CellBenchmark`` instance.

    Raises:
        KeyError: for an unknown name (with the registered names).
        TypeError: if the module defines neither ``BENCHMARK`` nor ``main``.
    """
    reg = BENCHMARKS if registry is None else registry
    if name not in reg:
        import difflib

        close = difflib.get_close_matches(name, list(reg), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown benchmark {name!r}{hint} Registered: {', '.join(sorted(reg))}")
    target = reg[name]
    if isinstance(target, str):
        target = importlib.import_module(target)
    if isinstance(target, CellBenchmark):
        return target
    if isinstance(target, ModuleType):
        bench = getattr(target, "BENCHMARK", None)
        if isinstance(bench, CellBenchmark):
            return bench
        if callable(getattr(target, "main", None)):
            return target
    raise TypeError(f"benchmark {name!r} ({target!r}) defines neither BENCHMARK (a CellBenchmark) nor main(argv)")


def _module_summary(path: str) -> tuple[str, str]:
    """(kind, first docstring line) of a module, read from its source without importing it."""
    spec = importlib.util.find_spec(path)
    if spec is None or spec.origin is None:
        return "missing", f"module {path} not found"
    tree = ast.parse(Path(spec.origin).read_text())
    doc = (ast.get_docstring(tree) or "").strip().splitlines()
    names = {t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
             if isinstance(t, ast.Name)}
    funcs = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    kind = "cells" if "BENCHMARK" in names else "script" if "main" in funcs else "unknown"
    return kind, doc[0] if doc else ""


def describe_benchmarks(registry: Mapping[str, Any] | None = None) -> list[tuple[str, str, str]]:
    """``(name, kind, description)`` of every registered benchmark, sorted by name; kind is ``cells``
    (resumable cell benchmark) or ``script`` (``main(argv)``)."""
    reg = BENCHMARKS if registry is None else registry
    out = []
    for name in sorted(reg):
        target = reg[name]
        if isinstance(target, str):
            kind, doc = _module_summary(target)
        elif isinstance(target, CellBenchmark):
            kind, doc = "cells", target.title
        else:
            doc_lines = (getattr(target, "__doc__", "") or "").strip().splitlines()
            kind = "cells" if isinstance(getattr(target, "BENCHMARK", None), CellBenchmark) else "script"
            doc = doc_lines[0] if doc_lines else ""
        out.append((name, kind, doc))
    return out


# ---------------------------------------------------------------------------------------- running
def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # pragma: no cover - tqdm is a dependency
        return None
    return tqdm(total=total, unit="cell", dynamic_ncols=True)


def _run_cell(bench: CellBenchmark, cell: Cell, ctx: RunContext) -> CellRecord:
    wall, cpu = time.perf_counter(), time.process_time()
    result = bench.run_cell(cell, ctx)
    if not isinstance(result, dict):
        raise TypeError(f"{bench.name}.run_cell({cell.key}) returned a {type(result).__name__}, not a dict")
    meta = {"seconds": round(time.perf_counter() - wall, 4), "cpu_seconds": round(time.process_time() - cpu, 4),
            "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "git_commit": ctx.env.get("git_commit") or git_commit(),  # the code the run started with
            "device": ctx.device, "device_name": device_name(ctx.device), "host": os.uname().nodename}
    return CellRecord(cell, result, meta)


def _selected(cell: Cell, options: RunOptions) -> bool:
    return ((options.methods is None or cell.method in options.methods)
            and (options.tasks is None or cell.task in options.tasks)
            and (options.budgets is None or cell.budget in options.budgets))


def _check_filters(plan: Sequence[Cell], options: RunOptions, name: str) -> None:
    for label, wanted, have in (("methods", options.methods, {c.method for c in plan}),
                                ("tasks", options.tasks, {c.task for c in plan}),
                                ("budgets", options.budgets, {c.budget for c in plan})):
        unknown = sorted(set(wanted or ()) - have, key=str)
        if unknown:
            raise ValueError(f"{name}: --{label} {unknown} not in this run's plan; it has "
                             f"{sorted(have, key=str)}")


def _run_cells(bench: CellBenchmark, ctx: RunContext) -> int:
    options = ctx.options
    plan = bench.cells(options)
    keys = [c.key for c in plan]
    if len(set(keys)) != len(keys):
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        raise ValueError(f"{bench.name}: the plan has duplicate cells {dupes[:5]}")
    _check_filters(plan, options, bench.name)
    store = CellStore(ctx.out_dir / f"{bench.name}{_CELLS_SUFFIX}")
    lock = contextlib.nullcontext() if options.dry_run else exclusive(ctx.out_dir / f".{bench.name}.lock")
    with lock:
        if options.fresh and store.path.exists() and not options.dry_run:
            store.path.rename(store.path.with_suffix(f".jsonl.{int(time.time())}.bak"))
        done = store.load()
        digests = {c.key: c.digest(bench.version) for c in plan}
        finished = {c.key for c in plan if c.key in done and done[c.key][0] == digests[c.key]}
        stale = sum(1 for c in plan if c.key in done and c.key not in finished)
        todo = [c for c in plan if _selected(c, options) and c.key not in finished]
        print(f"{bench.name}: {len(plan)} cells in the plan, {len(finished)} finished"
              f"{f', {stale} stale (settings or code changed)' if stale else ''}, {len(todo)} to run; cells file "
              f"{store.path}")
        if options.dry_run:
            for c in plan:
                state = "done" if c.key in finished else "todo" if c in todo else "skip (filtered)"
                print(f"  {state:16s} {c.key}")
            return 0
        failures: list[str] = []
        bar = _progress(len(todo), options.progress)
        for cell in todo:
            if bar is not None:
                bar.set_description(cell.key)
            try:
                record = _run_cell(bench, cell, ctx)
            except KeyboardInterrupt:
                print(f"\ninterrupted in cell {cell.key}; the {len(finished)} finished cells are kept in "
                      f"{store.path}; run the same command again to continue", file=sys.stderr)
                raise
            except Exception as err:
                failures.append(cell.key)
                print(f"cell {cell.key} failed: {type(err).__name__}: {err}", file=sys.stderr)
                traceback.print_exc()
                if not options.keep_going:
                    break
                continue
            store.append(record, digests[cell.key])
            done[cell.key] = (digests[cell.key], record)
            finished.add(cell.key)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        records = [done[c.key][1] for c in plan if c.key in finished]
        commits = sorted({r.meta.get("git_commit", "unknown") for r in records})
        ctx.env.update(cells_planned=len(plan), cells_finished=len(records), cells_file=store.path.name,
                       cell_commits=", ".join(commits))
        if records:
            report = bench.report(records, ctx)
            csv_path, md_path = write_table(report.rows, ctx.out_dir / bench.name, title=bench.title, env=ctx.env,
                                            notes=report.notes, columns=report.columns, sections=report.sections)
            written = [csv_path, md_path, *report.figures]
            print("wrote " + ", ".join(str(p) for p in written))
        if failures:
            print(f"{len(failures)} cell(s) failed: {', '.join(failures)}", file=sys.stderr)
            return 1
        if len(records) < len(plan):
            print(f"{len(plan) - len(records)} cell(s) of the plan not run yet (filters); the tables show "
                  f"{len(records)} finished cells")
        return 0


def _script_argv(module: ModuleType, options: RunOptions, extra: Sequence[str]) -> list[str]:
    argv = ["--quick"] if options.quick else []
    if options.seeds is not None:
        argv += ["--seeds", *map(str, options.seeds)]
    for label, value in (("methods", options.methods), ("tasks", options.tasks), ("budgets", options.budgets)):
        if value is not None:
            raise ValueError(f"--{label} works only for cell benchmarks; {module.__name__} is a script benchmark "
                             f"(pass its own flags after --)")
    return argv + list(extra)


def run_benchmark(name: str, *, quick: bool = False, seeds: Sequence[int] | None = None,
                  methods: Sequence[str] | None = None, tasks: Sequence[str] | None = None,
                  budgets: Sequence[int] | None = None, fresh: bool = False, out_dir: str | Path | None = None,
                  device: str = "cpu", progress: bool = True, keep_going: bool = False, dry_run: bool = False,
                  extra: Sequence[str] = (), registry: Mapping[str, Any] | None = None) -> int:
    """Run the benchmark registered as ``name``; returns an exit status (0 = every planned cell ran).

    Args:
        name: A name in :data:`benchmarks.registry.BENCHMARKS` (or in ``registry``).
        quick: The smoke version (minutes on a CPU); writes under ``runs/benchmarks/quick/``.
        seeds: Seeds to run instead of the benchmark's defaults.
        methods: Compute only these methods' cells (the tables still show every finished cell).
        tasks: Compute only these tasks' cells.
        budgets: Compute only these budgets' cells.
        fresh: Move the cells file aside (``.bak``) and recompute everything.
        out_dir: Where tables, plots and the cells file go (default: ``benchmarks/results/`` for full runs).
        device: Torch device for the benchmarks that use one.
        progress: Show a progress bar over cells.
        keep_going: After a failed cell, continue with the others (default: stop, keep what finished).
        dry_run: Print the plan (done / to do) and exit.
        extra: Arguments passed through to a script benchmark's ``main``.
        registry: A registry to use instead of :data:`~benchmarks.registry.BENCHMARKS` (tests).
    """
    target = resolve(name, registry)
    options = RunOptions(quick=quick, seeds=None if seeds is None else [int(s) for s in seeds],
                         methods=None if methods is None else list(methods),
                         tasks=None if tasks is None else list(tasks),
                         budgets=None if budgets is None else [int(b) for b in budgets], fresh=fresh,
                         device=device, progress=progress, keep_going=keep_going, dry_run=dry_run)
    if not isinstance(target, CellBenchmark):
        return int(target.main(_script_argv(target, options, extra)) or 0)
    if extra:
        raise ValueError(f"{name} is a cell benchmark and takes no extra arguments, got {list(extra)}")
    out = Path(out_dir) if out_dir is not None else QUICK_DIR if quick else RESULTS_DIR
    seeds_used = target.seeds(options)
    env = environment(device, benchmark=name, quick=quick, seeds=" ".join(map(str, seeds_used)))
    ctx = RunContext(name=name, out_dir=out, work_dir=WORK_DIR / name, options=options, env=env)
    return _run_cells(target, ctx)


# -------------------------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="list the registered benchmarks")
    sub.add_parser("summary", help="regenerate the README's design-benchmark summary from benchmarks/results/",
                   add_help=False)
    run = sub.add_parser("run", help="run one benchmark (resumes a full run where it stopped)")
    run.add_argument("name", help="a name from `python -m benchmarks list`")
    run.add_argument("--quick", action="store_true", help="smoke version, minutes on a CPU (runs/benchmarks/quick)")
    run.add_argument("--seeds", type=int, nargs="+", default=None, help="seeds instead of the defaults")
    run.add_argument("--methods", nargs="+", default=None, help="compute only these methods' cells")
    run.add_argument("--tasks", nargs="+", default=None, help="compute only these tasks' cells")
    run.add_argument("--budgets", type=int, nargs="+", default=None, help="compute only these budgets' cells")
    run.add_argument("--fresh", action="store_true", help="set the finished cells aside and start over")
    run.add_argument("--out", type=Path, default=None, help="output directory (default benchmarks/results)")
    run.add_argument("--device", default="cpu", help="torch device (default cpu)")
    run.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1; 0 = torch's)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--keep-going", action="store_true", help="continue after a failed cell")
    run.add_argument("--dry-run", action="store_true", help="print the plan and which cells are finished")
    parser.epilog = "Arguments after a lone -- go to a script benchmark's own main(argv)."
    return parser


def main(argv: Sequence[str] | None = None, *, registry: Mapping[str, Any] | None = None) -> int:
    """``python -m benchmarks list`` / ``python -m benchmarks run NAME [...]`` / ``python -m benchmarks summary``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    if argv[:1] == ["summary"]:
        from benchmarks.summary import main as summary_main

        return summary_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "list":
        rows = describe_benchmarks(registry)
        width = max((len(n) for n, _, _ in rows), default=4)
        for name, kind, doc in rows:
            print(f"{name:<{width}}  {kind:<6}  {doc}")
        return 0
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        return run_benchmark(args.name, quick=args.quick, seeds=args.seeds, methods=args.methods, tasks=args.tasks,
                             budgets=args.budgets, fresh=args.fresh, out_dir=args.out, device=args.device,
                             progress=not args.no_progress, keep_going=args.keep_going, dry_run=args.dry_run,
                             extra=extra, registry=registry)
    except (KeyError, ValueError, RuntimeError, TypeError) as err:
        print(f"error: {err.args[0] if isinstance(err, KeyError) else err}", file=sys.stderr)
        return 2
