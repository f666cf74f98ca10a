"""Oracles that run an external program: a simulator, a legacy scorer, a lab-results lookup script.

The command runs **without a shell** (``subprocess.Popen(list, shell=False)``) in a session of its own,
with a time limit that holds whatever the tool does: its pipes are read without blocking against a
deadline, so a tool that leaves children or grandchildren holding stdout/stderr cannot stall the caller;
once the tool exits (or the deadline passes) every process left in its session is killed. Stdout is
capped (``max_output`` bytes) and only the tail of stderr is kept. Sequences go in one per line, on stdin
or in a temporary file; scores come back on stdout as JSON or CSV (formats below). A failure of the tool (a
non-zero exit, a timeout, a missing program, too much output, output that cannot be parsed or has the wrong
number of rows) never raises: every item of the batch comes back invalid with the reason and the tail of
the tool's stderr, marked transient (caches do not keep it; a later call may retry).

With ``batch_size``, the batch is scored by one tool run per chunk and :meth:`External.stream` yields each
chunk as soon as its run ends (``batch_size=1``: item by item), so a design loop can store every result at
once. The stdin text is written only after the tool has started and its chunk was announced, so a caller
killed before that point has sent nothing.

Accepted output, for N inputs and K objectives:

* JSON: a list of N numbers (or ``null`` for an item the tool could not score); a list of N lists of K
  numbers; a list of N objects ``{"value": x}`` / ``{"values": [...]}`` with an optional ``"error"``;
  or an object ``{"values": [...], "errors": [...]}``.
* CSV: N rows of K numbers, with or without a header; with a header, the columns ``value``/``score``
  (or ``value_0..``) are the scores and an ``error`` column, if present, gives per-item reasons.
  Empty cells, ``nan`` and ``null`` mean "no score".
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import selectors
import shlex
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from oracles.base import Oracle, OracleResult
from seqguide.alphabet import Alphabet, get_alphabet

__all__ = ["External", "parse_scores"]

_STDERR_TAIL = 600
_PLACEHOLDER = "{input}"
#: Default cap on a tool's stdout (bytes).
DEFAULT_MAX_OUTPUT = 64 * 1024 * 1024
_STDERR_KEEP = 64 * 1024  # bytes of stderr kept (the tail)
_READ_CHUNK = 65536
_POLL = 0.05  # seconds between checks that the tool has exited while its pipes stay open
_EXIT_GRACE = 0.5  # seconds to wait for end-of-file on the pipes after the tool exits
_REAP = 2.0  # seconds to wait for a killed tool to be reaped


class _OutputError(ValueError):
    """The tool's output could not be turned into N scores."""


def _number(v: Any) -> float:
    if v is None:
        return math.nan
    if isinstance(v, bool):
        raise _OutputError(f"expected a number, got {v!r}")
    if isinstance(v, int | float):
        return float(v)
    if isinstance(v, str):
        text = v.strip().lower()
        if text in ("", "nan", "null", "none", "na"):
            return math.nan
        try:
            return float(text)
        except ValueError:
            raise _OutputError(f"expected a number, got {v!r}") from None
    raise _OutputError(f"expected a number, got {type(v).__name__} {v!r}")


def _rows_from_json(data: Any) -> tuple[list[list[float]], list[str | None]]:
    errors: list[str | None] = []
    if isinstance(data, dict):
        if "values" not in data:
            raise _OutputError("a JSON object needs a 'values' list")
        vals = data["values"]
        errs = data.get("errors") or [None] * (len(vals) if isinstance(vals, list) else 0)
        if not isinstance(vals, list) or not isinstance(errs, list) or len(errs) != len(vals):
            raise _OutputError("'values' and 'errors' must be lists of equal length")
        rows, _ = _rows_from_json(vals)
        return rows, [None if e is None else str(e) for e in errs]
    if not isinstance(data, list):
        raise _OutputError(f"expected a JSON list or object, got {type(data).__name__}")
    rows: list[list[float]] = []
    for item in data:
        err = None
        if isinstance(item, dict):
            err = item.get("error")
            raw = item.get("values", item.get("value", item.get("score")))
        else:
            raw = item
        row = [_number(x) for x in raw] if isinstance(raw, list) else [_number(raw)]
        rows.append(row)
        errors.append(None if err is None else str(err))
    return rows, errors


def _rows_from_csv(text: str) -> tuple[list[list[float]], list[str | None]]:
    lines = [r for r in csv.reader(io.StringIO(text)) if r and any(c.strip() for c in r)]
    if not lines:
        return [], []
    header = [c.strip().lower() for c in lines[0]]

    def numeric(c: str) -> bool:
        try:
            _number(c)
            return True
        except _OutputError:
            return False

    if all(numeric(c) for c in header):
        return [[_number(c) for c in r] for r in lines], [None] * len(lines)
    value_cols = [i for i, h in enumerate(header) if h in ("value", "score") or h.startswith(("value_", "score_"))]
    if not value_cols:
        raise _OutputError(f"CSV header {lines[0]!r} has no 'value' or 'score' column")
    err_col = header.index("error") if "error" in header else None
    rows, errors = [], []
    for r in lines[1:]:
        r = r + [""] * (len(header) - len(r))
        rows.append([_number(r[i]) for i in value_cols])
        e = r[err_col].strip() if err_col is not None else ""
        errors.append(e or None)
    return rows, errors


def parse_scores(text: str, fmt: str, n: int, n_objectives: int = 1) -> OracleResult:
    """Parse a tool's stdout into an :class:`OracleResult` of ``n`` items.

    Raises:
        ValueError: if the text is not valid ``fmt`` or does not hold ``n`` rows of ``n_objectives`` values.
    """
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise _OutputError(f"output is not JSON ({err}); it starts {text[:80]!r}") from None
        rows, errors = _rows_from_json(data)
    elif fmt == "csv":
        rows, errors = _rows_from_csv(text)
    else:
        raise ValueError(f"output format must be 'json' or 'csv', got {fmt!r}")
    if len(rows) != n:
        raise _OutputError(f"expected {n} scores, got {len(rows)}")
    bad = [i for i, r in enumerate(rows) if len(r) != n_objectives]
    if bad:
        raise _OutputError(f"row {bad[0]} has {len(rows[bad[0]])} values, expected {n_objectives}")
    values = np.array(rows, dtype=np.float64).reshape(n, n_objectives)
    valid = np.isfinite(values).all(axis=1)
    reasons = [None if ok else (e or "the external tool returned no score") for ok, e in zip(valid, errors)]
    return OracleResult(values[:, 0] if n_objectives == 1 else values, valid, reasons)


class _RunFailure(Exception):
    """The tool run failed as a whole (timeout, too much output); the message is the reason."""

    def __init__(self, reason: str, stderr: bytes = b"") -> None:
        super().__init__(reason)
        self.stderr = stderr


def _session_members(sid: int) -> list[int]:
    """Process ids whose session id is ``sid`` (Linux ``/proc``; empty elsewhere)."""
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                fields = fh.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and int(fields[3]) == sid:  # state, ppid, pgrp, session, ...
            found.append(int(entry))
    return found


def _kill_session(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the tool's process group and everything else left in its session (children that moved to a
    group of their own included); a process that started a new session of its own is out of reach."""
    if os.name != "posix":  # pragma: no cover - non-POSIX
        proc.kill()
        return
    gone = (ProcessLookupError, PermissionError)
    with contextlib.suppress(*gone):
        os.killpg(proc.pid, signal.SIGKILL)
    for pid in _session_members(proc.pid):
        with contextlib.suppress(*gone):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(*gone):
        proc.kill()


def _communicate(proc: subprocess.Popen[bytes], payload: bytes | None, deadline: float,
                 max_output: int) -> tuple[bytes, bytes]:
    """Feed stdin and drain stdout/stderr without blocking, until the pipes close (or the tool has exited
    for ``_EXIT_GRACE`` s while something else keeps them open), the deadline, or too much output.

    Returns:
        ``(stdout, stderr tail)``.

    Raises:
        _RunFailure: on the deadline or the output cap (the caller kills the session).
    """
    out = bytearray()
    err = bytearray()
    sel = selectors.DefaultSelector()
    try:
        if payload is not None and proc.stdin is not None:
            if payload:
                os.set_blocking(proc.stdin.fileno(), False)
                sel.register(proc.stdin, selectors.EVENT_WRITE)
            else:
                proc.stdin.close()
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                sel.register(pipe, selectors.EVENT_READ)
        view, sent, exited_at = memoryview(payload or b""), 0, None
        while sel.get_map():
            now = time.monotonic()
            if exited_at is None and proc.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > _EXIT_GRACE:
                break  # the tool is done; what still holds its pipes is a leftover child
            if now >= deadline:
                raise _RunFailure("timed out", bytes(err))
            for key, _ in sel.select(min(_POLL, deadline - now)):
                pipe = key.fileobj
                if pipe is proc.stdin:
                    try:
                        sent += os.write(key.fd, view[sent : sent + _READ_CHUNK])
                    except (BrokenPipeError, ConnectionResetError):
                        sent = len(view)  # the tool stopped reading; its exit status will tell
                    if sent >= len(view):
                        sel.unregister(pipe)
                        pipe.close()
                    continue
                chunk = os.read(key.fd, _READ_CHUNK)
                if not chunk:
                    sel.unregister(pipe)
                elif pipe is proc.stdout:
                    out += chunk
                    if len(out) > max_output:
                        raise _RunFailure(f"wrote more than {max_output} bytes to stdout (max_output)", bytes(err))
                else:
                    err += chunk
                    del err[:-_STDERR_KEEP]
    finally:
        sel.close()
    return bytes(out), bytes(err)


class External(Oracle):
    """Score sequences with an external command (no shell, with a timeout).

    Args:
        command: The program and its arguments as a list (``["python", "score.py", "--fast"]``); a string
            is split with :func:`shlex.split`, never given to a shell. With ``input="file"``, an argument
            ``"{input}"`` is replaced by the temporary file's path (appended if absent).
        input: ``"stdin"`` (one sequence per line) or ``"file"`` (the same text in a temporary file).
        output: ``"json"`` or ``"csv"`` on stdout (see the module docstring).
        timeout: Seconds per tool run (per chunk of ``batch_size``), enforced against the tool and anything it
            leaves running.
        batch_size: Items per tool run (default: the whole batch in one run); results of a run are streamed
            as soon as it ends.
        name: Display name.
        alphabet: Alphabet that inputs must use (``"dna"``, ``"protein"``, an Alphabet), or None.
        maximize: Direction.
        n_objectives: K, the number of scores per item.
        cwd: Working directory of the tool.
        env: Extra environment variables for the tool (added to the current environment).
        max_output: Largest stdout accepted from one run, in bytes (the run fails beyond it).
    """

    def __init__(self, *, command: Sequence[str] | str, input: str = "stdin", output: str = "json",
                 timeout: float = 60.0, batch_size: int | None = None, name: str = "external",
                 alphabet: str | Alphabet | None = None, maximize: bool = True, n_objectives: int = 1,
                 cwd: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None,
                 max_output: int = DEFAULT_MAX_OUTPUT) -> None:
        argv = shlex.split(command) if isinstance(command, str) else [str(c) for c in command]
        if not argv:
            raise ValueError("External: command is empty")
        if input not in ("stdin", "file"):
            raise ValueError(f"External: input must be 'stdin' or 'file', got {input!r}")
        if output not in ("json", "csv"):
            raise ValueError(f"External: output must be 'json' or 'csv', got {output!r}")
        if not timeout > 0:
            raise ValueError(f"External: timeout must be > 0 seconds, got {timeout!r}")
        if batch_size is not None and batch_size < 1:
            raise ValueError(f"External: batch_size must be >= 1, got {batch_size!r}")
        if isinstance(max_output, bool) or not isinstance(max_output, int) or max_output < 1:
            raise ValueError(f"External: max_output must be a positive number of bytes, got {max_output!r}")
        if not math.isfinite(float(timeout)):
            raise ValueError(f"External: timeout must be a finite number of seconds, got {timeout!r}")
        self.command = argv
        self.input = input
        self.output = output
        self.timeout = float(timeout)
        self.batch_size = batch_size
        self.name = name
        self.alphabet = None if alphabet is None else get_alphabet(alphabet)
        self.maximize = bool(maximize)
        self.n_objectives = int(n_objectives)
        self.cwd = None if cwd is None else str(cwd)
        self.env = dict(env) if env else None
        self.max_output = max_output

    def validate(self, x: Any) -> str | None:
        if not isinstance(x, str):
            return f"expected a string, got {type(x).__name__}"
        if "\n" in x or "\r" in x:
            return "sequence contains a line break (inputs are sent one per line)"
        return super().validate(x)

    def _fail(self, n: int, reason: str, stderr: bytes | str = b"") -> OracleResult:
        text = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
        text = text.strip()
        if text:
            tail = text[-_STDERR_TAIL:]
            reason = f"{reason}; stderr: {'...' if len(text) > len(tail) else ''}{tail}"
        return OracleResult.invalid(n, f"{self.name}: {reason}", self.n_objectives, transient=True)

    def _run(self, xs: list[str], announce: Callable[[], bool] | None = None) -> OracleResult | None:
        """One tool run on ``xs``. ``announce()`` is called just before the tool can see the items (after
        it started, before its stdin is written; before it starts with ``input="file"``); if it returns
        False the run is abandoned and None returned (nothing was sent)."""
        payload = "".join(x + "\n" for x in xs).encode()
        argv = list(self.command)
        tmp_path = None
        try:
            if self.input == "file":
                fd, tmp_path = tempfile.mkstemp(prefix="seqguide_", suffix=".txt")
                with os.fdopen(fd, "wb") as fh:
                    fh.write(payload)
                argv = [tmp_path if a == _PLACEHOLDER else a.replace(_PLACEHOLDER, tmp_path) for a in argv]
                if not any(tmp_path in a for a in argv):
                    argv.append(tmp_path)
            env = {**os.environ, **self.env} if self.env else None
            if self.input == "file" and announce is not None and not announce():
                return None
            deadline = time.monotonic() + self.timeout
            try:
                proc = subprocess.Popen(
                    argv, shell=False, stdin=subprocess.PIPE if self.input == "stdin" else subprocess.DEVNULL,
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=self.cwd, env=env,
                    start_new_session=(os.name == "posix"),
                )
            except OSError as err:
                return self._fail(len(xs), f"could not start {argv[0]!r}: {err.strerror or err}")
            err_text = b""
            try:
                if self.input == "stdin" and announce is not None and not announce():
                    return None  # the finally below kills the waiting tool; it read nothing
                out, err_text = _communicate(proc, payload if self.input == "stdin" else None, deadline,
                                             self.max_output)
            except _RunFailure as why:
                reason = f"{why} after {self.timeout:g} s" if str(why) == "timed out" else str(why)
                return self._fail(len(xs), reason, why.stderr)
            finally:
                _kill_session(proc)  # whatever the tool left behind; a no-op when it cleaned up
                for pipe in (proc.stdin, proc.stdout, proc.stderr):
                    if pipe is not None and not pipe.closed:
                        pipe.close()
                try:
                    proc.wait(timeout=_REAP)
                except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL was sent
                    pass
            if proc.returncode != 0:
                return self._fail(len(xs), f"command exited with status {proc.returncode}", err_text)
            try:
                return parse_scores(out.decode(errors="replace"), self.output, len(xs), self.n_objectives)
            except ValueError as err:
                return self._fail(len(xs), f"could not read the tool's {self.output} output: {err}", err_text)
        finally:
            if tmp_path is not None and os.path.exists(tmp_path):
                os.unlink(tmp_path)

    def _chunks(self, n: int) -> list[list[int]]:
        size = self.batch_size or n
        return [list(range(i, min(n, i + size))) for i in range(0, n, size)]

    def _score(self, xs: list[str]) -> OracleResult:
        return OracleResult.concat([self._run([xs[j] for j in c]) for c in self._chunks(len(xs))])

    def _stream_valid(self, xs: list[Any], gate: Callable[[list[int]], bool]
                      ) -> Iterator[tuple[list[int], OracleResult]]:
        for chunk in self._chunks(len(xs)):
            res = self._run([xs[j] for j in chunk], announce=lambda c=chunk: gate(c))
            if res is None:
                return
            self.items_received += len(chunk)  # _run never raises: it is its own isolation
            yield chunk, res

    def _repr_params(self) -> dict[str, Any]:
        return {"name": self.name, "command": self.command, "input": self.input, "output": self.output,
                "n_objectives": self.n_objectives}
