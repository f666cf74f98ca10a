"""Helpers the cell benchmarks share for their reports: seed statistics, curves and stamped plots.

Every PNG a benchmark writes carries a footer with the benchmark, seeds, versions, commit, device and
machine (:func:`stamp`), so a plot separated from its table still says where it came from.
"""

from __future__ import annotations

import math
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.runner import CellRecord

__all__ = ["group_records", "mean_sem", "plot_curves", "save_figure", "stamp"]


def mean_sem(values: Iterable[float | None]) -> tuple[float, float, int]:
    """``(mean, standard error, n)`` of the finite values (NaN, NaN, 0 when there are none)."""
    v = np.array([float(x) for x in values if x is not None and math.isfinite(float(x))])
    if not len(v):
        return float("nan"), float("nan"), 0
    sem = float(v.std(ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float("nan")
    return float(v.mean()), sem, len(v)


def group_records(records: Sequence[CellRecord], *keys: str) -> dict[tuple[Any, ...], list[CellRecord]]:
    """Records grouped by cell attributes (``"method"``, ``"task"``, ``"budget"``, ``"seed"``), in
    first-seen order."""
    out: dict[tuple[Any, ...], list[CellRecord]] = defaultdict(list)
    for r in records:
        out[tuple(getattr(r.cell, k) for k in keys)].append(r)
    return dict(out)


def stamp(fig: Any, env: Mapping[str, Any]) -> None:
    """Add a one-line provenance footer to a matplotlib figure."""
    parts = [str(env.get("benchmark", "")), f"seeds {env.get('seeds', '?')}",
             f"seqguide {env.get('seqguide', '?')} ({env.get('git_commit', '?')})", f"torch {env.get('torch', '?')}",
             str(env.get("device_name", "")), f"{env.get('cpu_count', '?')} CPUs, {env.get('torch_threads', '?')} "
             "torch threads", str(env.get("date", ""))]
    fig.text(0.005, 0.003, " | ".join(p for p in parts if p), fontsize=6, color="0.35", ha="left", va="bottom")


def save_figure(fig: Any, path: Path, env: Mapping[str, Any]) -> Path:
    """Stamp, save (PNG, 130 dpi) and close a figure; returns the path."""
    import matplotlib.pyplot as plt

    stamp(fig, env)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def plot_curves(records: Sequence[CellRecord], path: Path, env: Mapping[str, Any], *, curve: str = "curve",
                x: str = "calls", y: str = "best", ylabel: str = "best value so far", xlabel: str = "objective calls",
                logx: bool = True, order: Callable[[str], Any] | None = None, title: str = "") -> Path:
    """One panel per task, one line per method: the mean over seeds of ``result[curve][y]`` against
    ``result[curve][x]``, with a band of +- one standard error. Within a (task, method) only the cells of the
    largest budget are drawn (their curves contain the smaller budgets' prefix).

    Args:
        records: Finished cells whose results hold ``{curve: {x: [...], y: [...]}}``.
        path: The PNG file.
        env: Run metadata for the footer.
        curve, x, y: Where the curve is in each result.
        ylabel, xlabel, title: Axis labels and the figure title.
        logx: Log-scaled x axis.
        order: Sort key of the method names (legend order).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with_curve = [r for r in records if isinstance(r.result.get(curve), dict)]
    tasks = list(dict.fromkeys(r.cell.task for r in with_curve))
    ncols = min(3, max(1, len(tasks)))
    nrows = max(1, math.ceil(len(tasks) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.6 * ncols, 3.5 * nrows + 0.3), squeeze=False)
    for ax, task in zip(axes.flat, tasks):
        rows = [r for r in with_curve if r.cell.task == task]
        methods = list(dict.fromkeys(r.cell.method for r in rows))
        if order is not None:
            methods.sort(key=order)
        for method in methods:
            cells = [r for r in rows if r.cell.method == method]
            top = max((r.cell.budget or 0) for r in cells)
            cells = [r for r in cells if (r.cell.budget or 0) == top]
            grid = np.asarray(cells[0].result[curve][x], dtype=np.float64)
            ys = []
            for r in cells:
                xs_r = np.asarray(r.result[curve][x], dtype=np.float64)
                ys_r = np.asarray(r.result[curve][y], dtype=np.float64)
                ys.append(np.interp(grid, xs_r, ys_r) if not np.array_equal(xs_r, grid) else ys_r)
            arr = np.array(ys, dtype=np.float64)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # curves are NaN before the first valid call
                mean = np.nanmean(arr, axis=0)
                sem = np.nanstd(arr, axis=0, ddof=1) / math.sqrt(len(cells)) if len(cells) > 1 else None
            line = ax.plot(grid, mean, label=f"{method} (n={len(cells)})", lw=1.4)[0]
            if sem is not None:
                ax.fill_between(grid, mean - sem, mean + sem, color=line.get_color(), alpha=0.15, lw=0)
        ax.set_title(task, fontsize=9)
        if logx:
            ax.set_xscale("log")
        ax.set_xlabel(xlabel, fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(tasks):]:
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    return save_figure(fig, path, env)
