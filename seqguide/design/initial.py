"""Your own assay data as designs: a labelled CSV/TSV/parquet or FASTA file read, validated and turned into the
records of an *import* round (round 0 of a campaign, or a later wet-lab batch), never charged to the budget.

A table names its sequence and value columns; a FASTA file carries each value in its header as ``KEY=VALUE``
(``>seq7 value=0.82``, the key being ``value_column``). Sequences are validated like any input: an illegal
character, an empty or missing sequence cell, a non-numeric value, a sequence longer than the model are one-line
``ValueError`` s naming the file, the line (or record), the column and the character. A value cell that is empty
or ``NA``/``NaN`` is a *failed measurement*: the design is stored invalid (``transient``: a repeat might succeed)
and is never proposed again. Rows of one design (the same design key) are replicates: their finite values are
averaged, and every row is kept in the design's ``provenance`` (file, sha256, rows, values). Imported values are
read as values of the campaign's combined objective (same units and direction).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqguide.alphabet import Alphabet
from seqguide.data.encoding import validate_records
from seqguide.data.formats import check_file, detect_format, open_text
from seqguide.data.readers import read_fasta, read_table
from seqguide.data.records import SequenceRecords
from seqguide.design.loop_types import Purpose, derive_seed
from seqguide.design.store.database import DesignStore
from seqguide.design.store.records import DesignRecord

__all__ = ["InitialData", "LabelledFile", "file_sha256", "import_into", "import_labelled", "read_labelled"]

_MISSING_VALUES = {"", "na", "nan", "n/a", "null", "none"}


@dataclass(frozen=True)
class InitialData:
    """A labelled file to import as designs (``DesignLoop(..., initial=InitialData(...))``, YAML ``data.initial``).

    Attributes:
        path: A CSV/TSV/TXT/parquet table or a FASTA file (optionally gzipped).
        sequence_column: The table's sequence column (ignored for FASTA).
        value_column: The table's value column, or the header key of a FASTA file's values (``value=0.3``).
        missing: A row whose *sequence* cell is missing: ``error`` (naming file, line and column) or ``drop``.
            A missing *value* is a failed measurement either way (stored invalid, never charged).
    """

    path: str
    sequence_column: str = "sequence"
    value_column: str = "value"
    missing: str = "error"


@dataclass
class LabelledFile:
    """A labelled file read and validated: one entry per design (replicate rows merged).

    Attributes:
        path: The file as given.
        sha256: The file's SHA-256 (hex): an import of the same bytes twice is a no-op.
        sequences: Each design as first written in the file.
        keys: Each design's key (deduplication identity).
        values: The mean of each design's finite values (NaN: no row of it has a value).
        rows: Where each design's rows are in the file (1-based lines, or ``record N`` for parquet).
        replicates: Each design's raw values, row by row (NaN for a missing value).
        n_rows: Data rows read.
        n_dropped: Rows left out for a missing sequence cell (``missing="drop"``).
    """

    path: str
    sha256: str
    sequences: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    rows: list[list[Any]] = field(default_factory=list)
    replicates: list[list[float]] = field(default_factory=list)
    n_rows: int = 0
    n_dropped: int = 0

    @property
    def n_duplicates(self) -> int:
        """Rows that repeat a design of an earlier row."""
        return self.n_rows - len(self.keys)

    @property
    def n_missing(self) -> int:
        """Designs with no finite value (failed measurements)."""
        return sum(not math.isfinite(v) for v in self.values)

    def records(self, round: int, *, skip: set[str] = frozenset(), session: int | None = None) -> list[DesignRecord]:
        """The designs as uncharged records of an import round (those whose key is in ``skip`` left out)."""
        out: list[DesignRecord] = []
        for i, (seq, key, value) in enumerate(zip(self.sequences, self.keys, self.values, strict=True)):
            if key in skip:
                continue
            ok = math.isfinite(value)
            where = ", ".join(f"line {r}" if isinstance(r, int) else str(r) for r in self.rows[i][:3])
            where += ", ..." if len(self.rows[i]) > 3 else ""
            out.append(DesignRecord(
                sequence=seq, key=key, round=round, idx=len(out), objective=value if ok else None, valid=ok,
                reason=None if ok else f"no measured value in {self.path} ({where})", charged=False, transient=not ok,
                guidance="import", session=session,
                provenance={"file": self.path, "sha256": self.sha256, "rows": self.rows[i],
                            "values": [v if math.isfinite(v) else None for v in self.replicates[i]]}))
        return out


def file_sha256(path: str | Path) -> str:
    """The SHA-256 (hex) of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _number(text: str, where: str) -> float:
    if text.strip().lower() in _MISSING_VALUES:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a number") from None
    if math.isinf(value):
        raise ValueError(f"{where}: {text!r} is infinite; give a finite number, or leave it empty for a "
                         "failed measurement")
    return value


def _fasta(path: Path, spec: InitialData) -> tuple[SequenceRecords, np.ndarray]:
    records = read_fasta(path)
    with open_text(path) as fh:
        lines = fh.read().splitlines()
    pattern = re.compile(rf"(?:^|\s){re.escape(spec.value_column)}=(\S*)")
    values = np.empty(len(records), dtype=np.float64)
    for i, line in enumerate(records.lines or []):
        header = lines[line - 1]
        hit = pattern.search(header[1:])
        where = records.where(i)
        if hit is None:
            raise ValueError(f"{where}: the header {header[:60]!r} has no {spec.value_column}=VALUE field (a labelled "
                             f"FASTA file gives each value in its header, e.g. '>seq1 {spec.value_column}=0.5')")
        values[i] = _number(hit.group(1), f"{where}, header field {spec.value_column!r}")
    return records, values


def read_labelled(spec: InitialData | str | Path, *, alphabet: Alphabet | None = None, length: int | None = None,
                  key: Callable[[str], str] | None = None) -> LabelledFile:
    """Read and validate a labelled file (see the module docstring).

    Args:
        spec: The file and its columns (a bare path: columns ``sequence`` and ``value``).
        alphabet: Check every sequence against it (the model's alphabet).
        length: The model's length in tokens: a longer sequence is an error.
        key: A design's deduplication key (default: the sequence).

    Returns:
        The :class:`LabelledFile`.

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: one line naming the file, line/record, column and what is wrong.
    """
    if not isinstance(spec, InitialData):
        spec = InitialData(str(spec))
    if spec.missing not in ("error", "drop"):
        raise ValueError(f"missing must be 'error' or 'drop', got {spec.missing!r}")
    path = check_file(spec.path)
    if detect_format(path) == "fasta":
        records, values = _fasta(path, spec)
    else:
        records, values = _table(path, spec)
    if len(records) == 0:
        raise ValueError(f"{path}: no labelled rows")
    try:
        counts = validate_records(records, alphabet) if alphabet is not None else None
    except ValueError as err:
        column = "" if detect_format(path) == "fasta" else f" (column {spec.sequence_column!r})"
        raise ValueError(f"{err}{column}") from None
    if counts is not None and length is not None and int(counts.max()) > length:
        i = int(np.argmax(counts))
        raise ValueError(f"{records.where(i)}: sequence has {int(counts[i])} tokens, longer than the model's "
                         f"length {length}")
    out = LabelledFile(path=str(spec.path), sha256=file_sha256(path), n_rows=len(records), n_dropped=records.n_dropped)
    index: dict[str, int] = {}
    keyfn = key or (lambda s: s)
    for i, seq in enumerate(records.sequences):
        k = keyfn(seq)
        row: Any = records.lines[i] if records.lines is not None else f"record {i}"
        j = index.get(k)
        if j is None:
            index[k] = len(out.keys)
            out.sequences.append(seq)
            out.keys.append(k)
            out.rows.append([row])
            out.replicates.append([float(values[i])])
        else:
            out.rows[j].append(row)
            out.replicates[j].append(float(values[i]))
    for reps in out.replicates:
        finite = [v for v in reps if math.isfinite(v)]
        out.values.append(sum(finite) / len(finite) if finite else math.nan)
    return out


def _table(path: Path, spec: InitialData) -> tuple[SequenceRecords, np.ndarray]:
    """The sequences of a table and its value column as floats (NaN for a missing value)."""
    # The value column is read as text (as ids are) so that a missing value is a failed measurement, not an error.
    records = read_table(path, column=spec.sequence_column, missing=spec.missing, id_column=spec.value_column)
    texts, records.ids = records.ids or [], None
    values = np.empty(len(texts), dtype=np.float64)
    for i, text in enumerate(texts):
        values[i] = _number(str(text), f"{records.where(i)}, column {spec.value_column!r}")
    return records, values


def import_labelled(store: DesignStore, run_id: int, spec: InitialData | str | Path, *,
                    alphabet: Alphabet | None, length: int | None, key: Callable[[str], str] | None = None,
                    seed: int = 0, maximize: bool = True, session: int | None = None) -> dict[str, Any]:
    """Import a labelled file into a run of ``store`` as a new import round, at a round boundary, never charged.

    Designs whose key the run already holds are left out (counted in ``already_stored``); a file whose bytes the
    run imported before is not imported again (``imported`` False), so an import killed before its one
    transaction committed is finished by running it again.

    Args:
        store: The campaign store (opened for writing; hold the run's lock).
        run_id: The run.
        spec: The file and its columns.
        alphabet: The model's alphabet (every sequence is checked against it).
        length: The model's length in tokens (longer sequences are refused).
        key: The run's design key.
        seed: The run's seed (the round's recorded seed is derived from it).
        maximize: The objective's direction (the round's ``best``).
        session: The session writing it.

    Returns:
        The round's ``source``: ``path``, ``sha256``, ``round``, ``rows``, ``designs``, ``duplicates`` (replicate
        rows merged), ``missing_values``, ``already_stored``, ``dropped`` and ``imported``.

    Raises:
        ValueError: a bad file (one line naming file, line, column, character), or a round still open.
    """
    data = read_labelled(spec, alphabet=alphabet, length=length, key=key)
    done = {f.get("sha256"): f for f in store.imported_files(run_id)}
    if data.sha256 in done:
        return {**done[data.sha256], "imported": False}
    rounds = store.rounds(run_id)
    open_rounds = [r.round for r in rounds if r.status != "done"]
    if open_rounds:
        raise ValueError(f"{data.path}: round {open_rounds[0] + 1} of the run is still open; finish it (resume the "
                         "run) before importing a batch")
    r = max((x.round for x in rounds), default=-1) + 1
    stored = store.keys(run_id)
    records = data.records(r, skip=stored, session=session)
    source = {"path": data.path, "resolved": str(Path(data.path).resolve()), "sha256": data.sha256,
              "rows": data.n_rows, "designs": len(records), "duplicates": data.n_duplicates,
              "missing_values": sum(not d.valid for d in records),
              "already_stored": sum(k in stored for k in data.keys), "dropped": data.n_dropped}
    rec = store.import_round(run_id, r, derive_seed(seed, r, Purpose.DATA), records, source, maximize=maximize)
    return {**source, "round": r, "imported": rec is not None}


def import_into(loop: Any, spec: InitialData | str | Path) -> dict[str, Any]:
    """:func:`import_labelled` into a :class:`~seqguide.design.loop.DesignLoop`'s run (its model's alphabet and
    length, its key, seed, direction and session); the loop's next round follows the import."""
    length = getattr(loop.model, "length", None)
    out = import_labelled(loop.store, loop.run_id, spec, alphabet=getattr(loop.model, "alphabet", None),
                          length=length if isinstance(length, int) else None, key=loop.key, seed=loop.seed,
                          maximize=loop.objective.maximize, session=loop.session_id)
    if out["imported"]:
        loop.imported(out["round"])
    return out
