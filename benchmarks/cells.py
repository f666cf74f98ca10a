"""The cells of a benchmark run and the file they are kept in.

A :class:`Cell` is one independent unit of a run (method x task x seed x budget, plus the settings that change its
result); a finished cell is a :class:`CellRecord`; :class:`CellStore` keeps the records of one benchmark in a
JSON-lines file, one line per finished cell, appended and flushed as each finishes, so a run that is killed
loses at most the cell it was computing.

A cell's digest covers its settings, the benchmark's version and the source code of the modules named in
:attr:`Cell.code` (:func:`code_digest`: a hash of every ``.py`` file of those modules and packages), so a cell
computed by code that has changed since is stale and is recomputed, never mixed into a table with fresh ones.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Cell", "CellRecord", "CellStore", "code_digest", "exclusive"]


@dataclass(frozen=True)
class Cell:
    """One independent unit of a benchmark run.

    Attributes:
        method: The method (a baseline, a design loop, a setting of one).
        task: The task (an oracle instance, a data set).
        seed: The seed of this repetition.
        budget: The objective-call budget, or None for cells without one.
        settings: Everything else that changes the result (JSON-serialisable); hashed into
            :attr:`digest`, so a finished cell is reused only while its settings are unchanged.
        code: Modules or packages (import names) whose source computes the cell (the method, the task's
            oracle); their source is hashed into :attr:`digest`, so a cell is reused only while that code is
            unchanged.
    """

    method: str
    task: str
    seed: int
    budget: int | None = None
    settings: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    code: tuple[str, ...] = field(default=(), compare=False, hash=False)

    @property
    def key(self) -> str:
        """``method/task/seed/budget``: the cell's identity in the cells file."""
        return f"{self.method}/{self.task}/{self.seed}/{'-' if self.budget is None else self.budget}"

    def digest(self, version: int = 1) -> str:
        """A hash of the cell's settings, the benchmark's version and the source of its :attr:`code`."""
        data: dict[str, Any] = {"version": version, "settings": self.settings}
        if self.code:
            data["code"] = code_digest(self.code)
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


def code_digest(modules: tuple[str, ...] | list[str]) -> str:
    """A hash of the source of ``modules`` (import names; a package counts every ``.py`` file below it).

    Raises:
        ModuleNotFoundError: for a name that is not importable.
    """
    return hashlib.sha1("|".join(f"{m}={_module_digest(m)}" for m in sorted(set(modules))).encode()).hexdigest()[:12]


@functools.cache
def _module_digest(name: str) -> str:
    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError(f"Cell.code: no module named {name!r}")
    if spec.submodule_search_locations:
        root = Path(next(iter(spec.submodule_search_locations)))
        files = sorted(root.rglob("*.py"))
    else:
        root, files = Path(spec.origin).parent, [Path(spec.origin)]
    h = hashlib.sha1()
    for f in files:
        h.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:12]


@dataclass
class CellRecord:
    """A finished cell: the cell, its result (metrics and curves) and where/when it was computed."""

    cell: Cell
    result: dict[str, Any]
    meta: dict[str, Any]

    def row(self) -> dict[str, Any]:
        """The cell's identity and scalar results as one table row (lists and dicts left out)."""
        out: dict[str, Any] = {"method": self.cell.method, "task": self.cell.task, "seed": self.cell.seed,
                               "budget": self.cell.budget}
        out.update({k: v for k, v in self.result.items() if not isinstance(v, list | dict)})
        out["seconds"] = self.meta.get("seconds")
        out["cpu_seconds"] = self.meta.get("cpu_seconds")
        return out

    def to_json(self, digest: str) -> str:
        c = self.cell
        return json.dumps({"key": c.key, "digest": digest,
                           "cell": {"method": c.method, "task": c.task, "seed": c.seed, "budget": c.budget,
                                    "settings": dict(c.settings), "code": list(c.code)},
                           "result": self.result, "meta": self.meta}, default=_json_default, allow_nan=True)


def _json_default(value: Any) -> Any:
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cell results must be JSON-serialisable, got a {type(value).__name__}")


class CellStore:
    """Finished cells in a JSON-lines file: one line per cell, appended and flushed as each finishes.

    A line cut short by a kill (the last one) is ignored with a warning; a later line for the same key
    replaces an earlier one.

    Args:
        path: The ``NAME.cells.jsonl`` file (created on the first append).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.torn_lines = 0

    def load(self) -> dict[str, tuple[str, CellRecord]]:
        """``{key: (digest, record)}`` of every readable line."""
        out: dict[str, tuple[str, CellRecord]] = {}
        self.torn_lines = 0
        if not self.path.is_file():
            return out
        with self.path.open() as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    c = data["cell"]
                    cell = Cell(c["method"], c["task"], int(c["seed"]), c["budget"], c.get("settings", {}),
                                tuple(c.get("code", ())))
                    out[data["key"]] = (data["digest"], CellRecord(cell, data["result"], data.get("meta", {})))
                except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
                    self.torn_lines += 1
                    print(f"warning: {self.path}:{number}: unreadable cell line ignored ({type(err).__name__}: "
                          f"{err}); that cell will be recomputed", file=sys.stderr)
        return out

    def append(self, record: CellRecord, digest: str) -> None:
        """Append one finished cell and flush it to disk."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = record.to_json(digest)
        with self.path.open("a") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())


@contextlib.contextmanager
def exclusive(path: Path) -> Iterator[None]:
    """An advisory lock next to the cells file, so two runs never append to one file (released on exit,
    also when the process is killed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Windows
        yield
        return
    with open(path, "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            raise RuntimeError(f"another run of this benchmark holds {path}; wait for it to finish") from err
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
