"""Shared helpers of the reliability suite (imported by name: the conftest puts this folder on ``sys.path``)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Sequence

__all__ = ["MISSING_MARKERS", "call_cli", "one_or_two_lines"]

#: Cells that must never become a sequence.
MISSING_MARKERS = ("", "NA", "NaN", "nan", "None", "null", "N/A", "<NA>")


def one_or_two_lines(message: str) -> bool:
    """A refusal is one or two non-empty lines and carries no traceback."""
    lines = [ln for ln in message.strip().splitlines() if ln.strip()]
    return 1 <= len(lines) <= 2 and "Traceback" not in message


def call_cli(main: Callable[[Sequence[str]], int], argv: Sequence[str]) -> tuple[int, str, str]:
    """Run a CLI entry point in this process: ``(exit status, stdout, stderr)``; SystemExit is an exit status,
    any other exception propagates (a traceback the user would see)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    return int(code or 0), out.getvalue(), err.getvalue()
