"""Shared helpers of the benchmarks: run metadata, result tables (CSV + Markdown) and a timer.

Every benchmark writes ``benchmarks/results/<name>.csv`` and ``<name>.md`` with the same metadata header,
so a reader can tell where and with what a number was measured::

    from benchmarks.common import Timer, environment, write_table

    env = environment("cpu", seed=0)
    with Timer("cpu") as timer:
        ...
    write_table(rows, RESULTS / "my_bench", title="What was measured", env=env, notes="How to read it.")

The CSV starts with ``# key: value`` comment lines (read it with ``pandas.read_csv(path, comment="#")``);
the Markdown has a title, the metadata as a list, the notes, the table and optional extra sections.
"""

from __future__ import annotations

import csv
import datetime as _dt
import math
import os
import platform
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

__all__ = ["Timer", "device_name", "environment", "format_value", "git_commit", "markdown_table", "output_stem",
           "read_table", "write_table"]

_REPO = Path(__file__).resolve().parent.parent
_RESULTS = Path(__file__).parent / "results"
_QUICK = Path("runs/benchmarks")


def _cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (Linux), else ``platform.processor()``/machine."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(device: str | torch.device | None = None) -> str:
    """A readable name of the device a benchmark ran on: the GPU's name for CUDA, else the CPU model.

    Args:
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, a ``torch.device``, or None (CUDA if available).
    """
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        return torch.cuda.get_device_name(dev)
    if dev.type == "mps":
        return f"Apple MPS ({platform.machine()})"
    return f"CPU: {_cpu_model()}"


def git_commit(repo: str | Path = _REPO) -> str:
    """Short commit hash of the working tree, with ``+dirty`` if tracked files are modified (results files under
    ``benchmarks/results/`` do not count: a running benchmark writes them); ``unknown`` outside a git checkout."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                                ":(exclude)benchmarks/results"], cwd=repo,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def environment(device: str | torch.device | None = None, **extra: Any) -> dict[str, Any]:
    """Metadata of a benchmark run: date, device, torch and library versions, threads, git commit.

    Args:
        device: The device the benchmark ran on (see :func:`device_name`).
        **extra: Further entries (seeds, settings), added after the standard ones.

    Returns:
        An ordered ``{key: value}`` dict of plain values.
    """
    import lightning
    import numpy

    try:
        from seqguide import __version__ as seqguide_version
    except ImportError:  # pragma: no cover - the package is installed with the benchmarks
        seqguide_version = "unknown"
    dev = torch.device(device) if device is not None else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    env: dict[str, Any] = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "device": str(dev),
        "device_name": device_name(dev),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda if dev.type == "cuda" else None,
        "lightning": lightning.__version__,
        "numpy": numpy.__version__,
        "seqguide": seqguide_version,
        "git_commit": git_commit(),
        "platform": platform.platform(),
    }
    env.update(extra)
    return env


def format_value(value: Any, digits: int = 4) -> str:
    """A compact cell: floats with ``digits`` significant digits, NaN as ``nan``, None as empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if value != 0 and (abs(value) >= 10 ** (digits + 2) or abs(value) < 10 ** -(digits - 1)):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:.0f}"
    return str(value)


def _columns(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    out: list[str] = []
    for row in rows:
        for key in row:
            if key not in out:
                out.append(key)
    return out


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, *,
                   digits: int = 4) -> str:
    """A GitHub-flavoured Markdown table of ``rows`` (missing cells empty; ``|`` in cells escaped)."""
    cols = _columns(rows, columns)
    if not cols:
        return "(no rows)\n"

    def cell(v: Any) -> str:
        return format_value(v, digits).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(row.get(c)) for c in cols) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _csv_cell(value: Any) -> str:
    text = "" if value is None else repr(value) if isinstance(value, float) else str(value)
    if any(ch in text for ch in ',"\n'):
        text = '"' + text.replace('"', '""') + '"'
    return text


def output_stem(name: str, quick: bool) -> Path:
    """Where a script benchmark's tables go, without suffix: ``runs/benchmarks/NAME_quick`` for ``--quick`` runs
    (git-ignored: only full runs are results), else ``benchmarks/results/NAME``."""
    return _QUICK / f"{name}_quick" if quick else _RESULTS / name


def write_table(
    rows: Sequence[Mapping[str, Any]],
    path: str | Path,
    *,
    title: str,
    env: Mapping[str, Any] | None = None,
    notes: str = "",
    columns: Sequence[str] | None = None,
    sections: Iterable[tuple[str, str]] = (),
    digits: int = 4,
) -> tuple[Path, Path]:
    """Write ``rows`` to ``<path>.csv`` and ``<path>.md`` with a metadata header.

    Args:
        rows: One mapping per table row (column -> value); columns are the union of keys in order of
            appearance unless ``columns`` is given.
        path: Output path without suffix (a suffix is replaced), e.g. ``benchmarks/results/sampler_speed``.
        title: Title of the Markdown page (and first CSV comment).
        env: Metadata (see :func:`environment`); defaults to ``environment()``.
        notes: A paragraph after the metadata (how the numbers were produced, how to read them).
        columns: Column order (and selection) of both files.
        sections: Extra ``(heading, markdown)`` sections appended after the table (interpretation, plots).
        digits: Significant digits of floats in the Markdown (the CSV keeps full precision).

    Returns:
        The CSV and Markdown paths.
    """
    path = Path(path)
    stem = path.with_suffix("") if path.suffix in (".csv", ".md") else path
    stem.parent.mkdir(parents=True, exist_ok=True)
    env = dict(environment() if env is None else env)
    cols = _columns(rows, columns)

    csv_path = stem.with_name(stem.name + ".csv")
    header = [f"# {title}"] + [f"# {k}: {v}" for k, v in env.items()]
    body = [",".join(_csv_cell(c) for c in cols)]
    body += [",".join(_csv_cell(row.get(c)) for c in cols) for row in rows]
    csv_path.write_text("\n".join(header + body) + "\n")

    md_path = stem.with_name(stem.name + ".md")
    parts = [f"# {title}\n", "\n".join(f"- **{k}**: {format_value(v)}" for k, v in env.items()) + "\n"]
    if notes:
        parts.append(notes.strip() + "\n")
    parts.append(markdown_table(rows, cols, digits=digits))
    for heading, text in sections:
        parts.append(f"## {heading}\n\n{text.strip()}\n")
    md_path.write_text("\n".join(parts))
    return csv_path, md_path


class Timer:
    """Wall-clock timer (context manager) that synchronises CUDA before reading the clock.

    Example:
        >>> with Timer() as t:
        ...     pass
        >>> t.seconds >= 0
        True
    """

    def __init__(self, device: str | torch.device | None = None) -> None:
        self.device = torch.device(device) if device is not None else None
        self.seconds = float("nan")
        self._start = 0.0

    def _sync(self) -> None:
        if torch.cuda.is_available() and (self.device is None or self.device.type == "cuda"):
            torch.cuda.synchronize()

    def __enter__(self) -> Timer:
        self._sync()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._sync()
        self.seconds = time.perf_counter() - self._start


def read_table(path: str | Path) -> list[dict[str, str]]:
    """The rows of a CSV :func:`write_table` wrote (its ``#`` metadata lines skipped), as strings.

    Raises:
        FileNotFoundError: naming the benchmark to run when the file is missing.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing; run `python -m benchmarks run {path.stem}` first")
    with open(path, newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))
