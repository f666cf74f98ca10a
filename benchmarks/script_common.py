"""What the sampling script benchmarks share: their command line, their tasks, and where and with what metadata
their tables are written.

``gradient_guidance``, ``value_guidance`` and ``posterior_sampling`` are *script benchmarks* (the runner calls
their ``main(argv)`` with ``--quick``); each takes ``--quick``, ``--tasks``, ``--device``, ``--retrain``,
``--progress`` and ``--threads`` (:func:`parse_args`), keeps its tasks as :class:`OracleTask` records (or
its own, by name: :func:`by_name`), and writes full runs to ``benchmarks/results/NAME.*`` and ``--quick`` runs
to ``runs/benchmarks/NAME_quick.*`` (:func:`benchmarks.common.output_stem`) with the run's metadata and total
time (:class:`ScriptRun`)::

    args = parse_args(argv, description=__doc__.splitlines()[0], tasks=TASKS, seed=SEED)
    run = ScriptRun.start("value_guidance", args.quick, args.device, seed=SEED)
    rows = ...
    total = run.finish()
    run.write(rows, title="What was measured", columns=COLUMNS, notes=notes)
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch

from benchmarks.common import environment, output_stem, write_table
from oracles import Oracle, get_oracle
from seqguide.data import SequenceDataModule

__all__ = ["OracleTask", "ScriptRun", "by_name", "parse_args"]

_THREADS_HELP = "torch intra-op threads (default: torch's)"


class _Named(Protocol):
    name: str


T = TypeVar("T", bound=_Named)


@dataclass
class OracleTask:
    """A task whose model is trained on a data preset and whose samples an oracle scores.

    A benchmark subclasses it with its own settings (model sizes, training steps of its other networks).

    Attributes:
        name: The task's name (``--tasks``, the table's ``task`` column).
        preset: The data preset the model is trained on.
        oracle: The registered oracle that scores the samples, built with ``oracle_kwargs``.
        oracle_kwargs: Its arguments.
        objective: What the oracle measures, for the tables and plots.
        length: Sequence length of the data module (None: the preset's).
        train_steps: Training steps of the generative model in a full run.
        data_kwargs: Further arguments of the data module.
    """

    name: str
    preset: str
    oracle: str
    oracle_kwargs: dict[str, Any]
    objective: str
    length: int | None = None
    train_steps: int = 2000
    data_kwargs: dict[str, Any] = field(default_factory=dict)

    def make_oracle(self) -> Oracle:
        """The task's oracle."""
        return get_oracle(self.oracle, **self.oracle_kwargs)

    def data_module(self, seed: int) -> SequenceDataModule:
        """The task's data (batches of 64, split with ``seed``)."""
        return SequenceDataModule(preset=self.preset, batch_size=64, length=self.length, seed=seed, **self.data_kwargs)


def by_name(*tasks: T) -> dict[str, T]:
    """``{task.name: task}`` in the order given (a benchmark's ``TASKS``; ``--tasks`` defaults to all of them)."""
    return {task.name: task for task in tasks}


def parse_args(argv: Sequence[str] | None, *, description: str, tasks: Mapping[str, Any], seed: int,
               threads: int | None = None, threads_help: str = _THREADS_HELP,
               options: Sequence[tuple[str, dict[str, Any]]] = ()) -> argparse.Namespace:
    """A script benchmark's command line, parsed; sets torch's thread count (when given) and seed.

    Args:
        argv: The arguments (None: ``sys.argv[1:]``).
        description: The help's description (the module docstring's first line).
        tasks: The benchmark's tasks by name: the choices of ``--tasks``, all of them by default.
        seed: Seeds torch after parsing.
        threads: Default of ``--threads`` (None: leave torch's).
        threads_help: Help of ``--threads``.
        options: The benchmark's own flags as ``(flag, add_argument keywords)``, listed after ``--tasks``.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small smoke run (writes under runs/benchmarks/)")
    parser.add_argument("--tasks", nargs="+", choices=sorted(tasks), default=list(tasks))
    for flag, kwargs in options:
        parser.add_argument(flag, **kwargs)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--retrain", action="store_true", help="ignore cached models")
    parser.add_argument("--progress", action="store_true", help="show progress bars")
    parser.add_argument("--threads", type=int, default=threads, help=threads_help)
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    torch.manual_seed(seed)
    return args


@dataclass
class ScriptRun:
    """One run of a script benchmark: where its files go, its metadata and its clock.

    Attributes:
        stem: The output path without suffix (:func:`benchmarks.common.output_stem`).
        env: The run's metadata (:func:`benchmarks.common.environment`), written above every table.
        started: ``time.perf_counter()`` at the start.
    """

    stem: Path
    env: dict[str, Any]
    started: float

    @classmethod
    def start(cls, name: str, quick: bool, device: str, **extra: Any) -> ScriptRun:
        """Start the clock. The metadata is taken first, so the recorded commit is the code that runs even if the
        tree changes during the run; ``extra`` (seeds, sample counts) is added to it."""
        env = environment(device, **extra)
        return cls(output_stem(name, quick), env, time.perf_counter())

    def finish(self) -> float:
        """The seconds since :meth:`start`, also recorded as ``total_seconds`` (rounded); creates the output
        folder."""
        total = time.perf_counter() - self.started
        self.env["total_seconds"] = round(total, 1)
        self.stem.parent.mkdir(parents=True, exist_ok=True)
        return total

    def figure_path(self) -> Path:
        """``stem.png``."""
        return self.stem.with_suffix(".png")

    def write(self, rows: Sequence[Mapping[str, Any]], *, suffix: str = "", **table: Any) -> tuple[Path, Path]:
        """:func:`benchmarks.common.write_table` of ``rows`` to ``stem[suffix].csv`` / ``.md`` with the run's
        metadata; ``table`` is its ``title``, ``columns``, ``notes`` and ``sections``."""
        return write_table(rows, self.stem.with_name(self.stem.name + suffix), env=self.env, **table)
