"""Live display of a running campaign: a rich progress bar while a round is scored and one summary line per
round (round, candidates, scored, valid, best so far, budget left, time).

On a terminal the bar is animated; in a log file or a pipe only the summary lines are written.
"""

from __future__ import annotations

import sys
from typing import Any

from seqguide.design.loop import DesignLoop, LoopObserver
from seqguide.design.loop_types import Proposal
from seqguide.design.store.records import DesignRecord, RoundRecord

__all__ = ["ConsoleObserver", "make_console", "print_top"]


def make_console(stream: Any = None) -> Any:
    """A rich Console on ``stream`` (default stdout); plain text when the stream is not a terminal."""
    from rich.console import Console

    stream = stream or sys.stdout
    return Console(file=stream, highlight=False, soft_wrap=True)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


class ConsoleObserver(LoopObserver):
    """Prints the live summary of a :class:`~seqguide.design.loop.DesignLoop`.

    Args:
        rounds: Total rounds planned (for "round r/R").
        console: A rich Console (default: stdout).
        progress: Animate a progress bar while scoring (only on a terminal).
    """

    def __init__(self, rounds: int, console: Any = None, *, progress: bool = True) -> None:
        self.rounds = rounds
        self.console = console or make_console()
        self.animate = progress and self.console.is_terminal
        self._progress: Any = None
        self._task: Any = None

    def round_started(self, loop: DesignLoop, round: int) -> None:
        if self.animate:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._progress = Progress(TextColumn("[bold]round {task.fields[r]}/{task.fields[rounds]}"),
                                      TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                      TimeElapsedColumn(), console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("sampling candidates", total=None, r=round + 1,
                                                 rounds=self.rounds)

    def proposed(self, loop: DesignLoop, proposal: Proposal, to_score: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description="scoring", total=min(to_score, loop.budget_remaining),
                                  completed=0)

    def batch_scored(self, loop: DesignLoop, records: list[DesignRecord]) -> None:
        if self._progress is not None:
            self._progress.advance(self._task, len(records))

    def round_finished(self, loop: DesignLoop, record: RoundRecord) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
        used = loop.budget_used
        self.console.print(
            f"round {record.round + 1}/{self.rounds} | candidates {record.n_candidates} "
            f"(duplicates dropped {record.n_duplicates}) | scored {record.n_scored} (valid {record.n_valid}, "
            f"charged {record.n_charged}) | best {_fmt(record.best)} | budget left {loop.budget - used}/{loop.budget}"
            f" | guidance calls {record.guidance_oracle_calls} (paid {record.guidance_charged})"
            + ("" if record.value_spearman is None else f" | value rho {record.value_spearman:+.2f}")
            + f" | {record.wall_seconds:.1f}s")

    def close(self) -> None:
        """Stop a bar left running (after an error)."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


def print_top(console: Any, designs: list[DesignRecord], labels: list[str], k: int = 5) -> None:
    """Print a rich table of the best designs."""
    from rich.table import Table

    table = Table(title=f"top {min(k, len(designs))} designs", show_lines=False)
    for col in ("rank", "round", "objective", *labels):
        table.add_column(col, no_wrap=True)
    table.add_column("sequence", overflow="fold")
    for i, d in enumerate(designs[:k]):
        seq = d.sequence if len(d.sequence) <= 60 else d.sequence[:57] + "..."
        table.add_row(str(i + 1), str(d.round + 1), _fmt(d.objective), *(_fmt(d.components.get(lab)) for lab in labels),
                      seq)
    console.print(table)
