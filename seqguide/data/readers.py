"""Readers for sequence files: FASTA (Biopython ``SeqIO``) and tables (CSV/TSV/TXT/parquet, pandas).

Both return :class:`~seqguide.data.records.SequenceRecords` that remember the line each record starts
on, so every later error can point into the file. Malformed input fails here with a message of the form
``"<file>, line <n>: <what is wrong>"``.

Comment lines: in FASTA files, lines starting with ``#`` are skipped anywhere (as in the logomaker
example files); in text tables, ``#`` comment lines and blank lines are skipped only above the header
line (a ``#`` inside a data row is data: SELFIES tokens such as ``[#C]`` contain it).

Missing cells: a sequence (or label) cell that is empty or holds one of pandas' missing-value markers
(``NA``, ``NaN``, ``None``, ``null``, ``N/A``, ...; :data:`MISSING_CELLS`) is never read as a sequence. By
default (``missing="error"``) it is an error naming the file, the line (or parquet row) and the column; with
``missing="drop"`` its row is left out, and the count (with the first lines) is logged and kept in
``SequenceRecords.n_dropped``. The same rule holds for single- and multi-column CSV/TSV/TXT/parquet tables.

Binary or non-UTF-8 files, corrupt gzip or parquet files fail with one ``ValueError`` naming the file.
"""

from __future__ import annotations

import gzip
import io
import logging
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from Bio import SeqIO

from seqguide.alphabet import Alphabet, get_alphabet
from seqguide.data.encoding import validate_records
from seqguide.data.formats import (
    COMMENT_PREFIXES,
    check_file,
    check_text,
    data_extension,
    is_parquet,
    leading_comment_lines,
    open_text,
)
from seqguide.data.records import SequenceRecords, describe_record

__all__ = ["MISSING_CELLS", "MISSING_POLICIES", "labels_from_values", "read_fasta", "read_table", "table_columns"]

log = logging.getLogger(__name__)

#: Cell values read as "missing" in score columns (case-insensitive).
_MISSING = {"", "na", "nan", "n/a", "null", "none"}
#: Sequence and label cells that are missing values, never data (pandas' default markers, case-sensitive).
MISSING_CELLS = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                           "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})
#: What to do with a row whose sequence or label cell is missing.
MISSING_POLICIES = ("error", "drop")
_SHOWN_DROPS = 5  # dropped rows named in the warning


def _is_missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float | np.floating):
        return bool(np.isnan(v))
    if v is pd.NA or v is pd.NaT:
        return True
    return isinstance(v, str) and v.strip() in MISSING_CELLS


# --------------------------------------------------------------------------------------------- FASTA
def _scan_fasta(path: Path, limit: int | None) -> tuple[str, list[int]]:
    """Check the FASTA layout line by line.

    Returns:
        ``(text, header_lines)``: the file without comment lines (for ``SeqIO``) and the 1-based line
        number of each kept record's header.

    Raises:
        ValueError: ``"<file>, line <n>: ..."`` for sequence data before the first header, a header
            without an id, or a header without sequence lines; or an empty file.
    """
    kept: list[str] = []
    headers: list[int] = []
    has_sequence = True
    check_text(path, "FASTA")
    try:
        with open_text(path) as handle:
            for n, line in enumerate(handle, start=1):
                if line.startswith(COMMENT_PREFIXES) or not line.strip():
                    continue
                if line.startswith(">"):
                    if headers and not has_sequence:
                        raise ValueError(_no_sequence(path, headers[-1], kept))
                    if limit is not None and len(headers) == limit:
                        break
                    if not line[1:].strip():
                        raise ValueError(f"{path}, line {n}: empty FASTA header '>' (a header needs an id)")
                    headers.append(n)
                    has_sequence = False
                elif not headers:
                    raise ValueError(
                        f"{path}, line {n}: sequence data {line.strip()[:30]!r} before the first '>' header "
                        "(each FASTA record starts with a '>id' line; comment lines must start with '#')"
                    )
                else:
                    odd = next((c for c in line.rstrip("\r\n") if ord(c) > 127), None)
                    if odd is not None:  # Biopython stores sequences as ASCII bytes
                        raise ValueError(f"{path}, line {n}: non-ASCII character {odd!r} in sequence data")
                    has_sequence = True
                kept.append(line if line.endswith("\n") else line + "\n")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    except (OSError, EOFError, zlib.error) as err:  # a corrupt or truncated .gz
        raise ValueError(f"{path}: cannot read the file ({type(err).__name__}: {err})") from None
    if not headers:
        raise ValueError(f"{path}: no FASTA records found (the file is empty or holds only comments)")
    if not has_sequence:
        raise ValueError(_no_sequence(path, headers[-1], kept))
    return "".join(kept), headers


def _no_sequence(path: Path, line: int, kept: list[str]) -> str:
    header = next(h for h in reversed(kept) if h.startswith(">")).strip()
    return (
        f"{path}, line {line}: FASTA record {header[:40]!r} has no sequence (its header is followed by "
        "another header or the end of the file)"
    )


def read_fasta(
    path: str | Path, *, alphabet: Alphabet | str | list[str] | None = None, limit: int | None = None
) -> SequenceRecords:
    """Read a (possibly gzipped) FASTA file.

    Args:
        path: ``.fa/.fasta/.fna/.faa`` file, optionally ``.gz``. Lines starting with ``#`` are comments.
        alphabet: If given (an :class:`Alphabet` or a spec for :func:`seqguide.alphabet.get_alphabet`),
            every sequence is checked against it.
        limit: Read only the first ``limit`` records.

    Returns:
        Records with ``sequences`` as written (case and gap characters kept), ``ids`` (the FASTA ids)
        and ``lines`` (the header line of each record).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: ``"<file>, line <n>: ..."`` for malformed FASTA, or (with ``alphabet``) an illegal
            character, naming the file, line, record index/id, position and character.
    """
    p = check_file(path)
    text, header_lines = _scan_fasta(p, limit)
    try:
        parsed = list(SeqIO.parse(io.StringIO(text), "fasta"))
    except (ValueError, UnicodeError) as err:  # anything the line scan did not anticipate
        raise ValueError(f"{path}: Biopython cannot parse the FASTA ({_first_line(err)})") from None
    if len(parsed) != len(header_lines):  # the scan and Biopython must agree on what a record is
        raise ValueError(f"{path}: found {len(header_lines)} headers but Biopython parsed {len(parsed)} records")
    records = SequenceRecords(
        sequences=[str(r.seq) for r in parsed],
        source=str(path),
        ids=[r.id for r in parsed],
        lines=header_lines,
    )
    if alphabet is not None:
        validate_records(records, get_alphabet(alphabet))
    return records


# -------------------------------------------------------------------------------------------- tables
def labels_from_values(
    values: Sequence[Any], where: Callable[[int], str] | None = None
) -> tuple[list[int], list[str]]:
    """Map raw label values to class ids ``0..C-1``.

    Integer labels that already are ``0..C-1`` (e.g. ``0``/``1``) keep their values, with class names
    ``"0".."C-1"``; anything else (strings, other integers) is mapped in sorted order.

    Args:
        values: N raw labels (ints, integral floats, or strings).
        where: Optional callable ``i -> str`` describing record i, for the error on a missing label.

    Returns:
        ``(labels, class_names)``.

    Raises:
        ValueError: on a missing (empty/NaN) label.
    """
    cleaned: list[Any] = []
    for i, v in enumerate(values):
        if v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip()):
            loc = where(i) if where is not None else f"record {i}"
            raise ValueError(f"{loc}: missing label")
        cleaned.append(_as_int(v))
    all_int = all(isinstance(v, int) for v in cleaned)
    if all_int and set(cleaned) == set(range(max(cleaned, default=-1) + 1)):
        return cleaned, [str(c) for c in range(max(cleaned, default=-1) + 1)]
    names = [str(v) for v in sorted(set(cleaned))] if all_int else sorted({str(v) for v in cleaned})
    index = {name: i for i, name in enumerate(names)}
    return [index[str(v)] for v in cleaned], names


def _as_int(v: Any) -> Any:
    """``v`` as an int if it is one in disguise (``"1"``, ``1.0``, ``np.int64(1)``), else stripped ``v``."""
    if isinstance(v, (bool, np.bool_)):
        return int(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        try:
            return int(s)
        except ValueError:
            return s
    return v


def _text_layout(path: Path, sep: str | None) -> tuple[int, str]:
    """Return ``(comment lines to skip, separator)`` for a text table."""
    skip, first = leading_comment_lines(path)
    if first is None:
        raise ValueError(f"{path}: empty file (no header line)")
    if sep is None:
        ext = data_extension(path)[0]
        if ext == ".tsv":
            sep = "\t"
        elif ext == ".csv":
            sep = ","
        else:
            sep = "\t" if "\t" in first else "," if "," in first else r"\s+"
    return skip, sep


def table_columns(path: str | Path, *, sep: str | None = None) -> list[str]:
    """Column names of a CSV/TSV/TXT/parquet table (reads only the header)."""
    p = check_file(path)
    if is_parquet(p):
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(p).names)
        except Exception as err:  # pyarrow raises ArrowInvalid / OSError for a file that is not parquet
            raise ValueError(f"{path}: not a readable parquet file ({_first_line(err)})") from None
    check_text(p, "table")
    skip, sep = _text_layout(p, sep)
    return [str(c) for c in _parsed(p, lambda: pd.read_csv(p, sep=sep, skiprows=skip, nrows=0)).columns]


def _first_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__


def _parsed(p: Path, read: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """Run a pandas reader; a malformed table or a corrupt gzip becomes one ValueError naming the file."""
    try:
        return read()
    except UnicodeDecodeError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, EOFError, zlib.error,
            gzip.BadGzipFile) as err:
        raise ValueError(f"{p}: cannot read the table ({_first_line(err)})") from None


def _read_frame(
    p: Path, needed: list[str], sep: str | None, limit: int | None
) -> tuple[pd.DataFrame, list[int] | None]:
    """Read the needed columns; return the frame and the 1-based line of each row (None for parquet)."""
    columns = table_columns(p, sep=sep)
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ValueError(
            f"{p}: no column {missing[0]!r}; available columns: {', '.join(repr(c) for c in columns)}"
        )
    if is_parquet(p):
        try:
            frame = pd.read_parquet(p, columns=needed)
        except Exception as err:  # pyarrow's errors for a damaged file
            raise ValueError(f"{p}: not a readable parquet file ({_first_line(err)})") from None
        return (frame.head(limit) if limit is not None else frame), None
    skip, sep = _text_layout(p, sep)
    frame = _parsed(p, lambda: pd.read_csv(
        p, sep=sep, skiprows=skip, nrows=limit, dtype=str,
        keep_default_na=False, skip_blank_lines=False, engine="python" if sep == r"\s+" else "c",
    ))
    lines = np.arange(len(frame)) + skip + 2  # +1 for the header, +1 for 1-based numbering
    # A blank line has no cell at all; a row whose needed cells are empty is data (a missing cell).
    blank = (frame.fillna("") == "").all(axis=1).to_numpy()
    return frame.loc[~blank, needed].reset_index(drop=True), [int(n) for n in lines[~blank]]


def _scores(frame: pd.DataFrame, columns: list[str], where: Callable[[int], str]) -> np.ndarray:
    """Float ``(N,)`` for one column, ``(N, K)`` for several; missing cells become NaN."""
    out = np.empty((len(frame), len(columns)), dtype=np.float64)
    for k, col in enumerate(columns):
        values = frame[col].to_numpy()
        for i, v in enumerate(values):
            if isinstance(v, str):
                if v.strip().lower() in _MISSING:
                    out[i, k] = np.nan
                    continue
                try:
                    out[i, k] = float(v)
                except ValueError:
                    raise ValueError(f"{where(i)}: score column {col!r} holds {v!r}, not a number") from None
            else:
                out[i, k] = np.nan if v is None else float(v)
    return out[:, 0] if len(columns) == 1 else out


def _missing_rows(frame: pd.DataFrame, lines: list[int] | None, columns: list[str], missing: str,
                  where: Callable[[int], str], source: str) -> tuple[pd.DataFrame, list[int] | None, int]:
    """Apply the missing-cell rule to the required ``columns``: raise for the first one, or drop the rows."""
    bad: list[int] = []
    for i in range(len(frame)):
        hit = next((c for c in columns if _is_missing(frame[c].iat[i])), None)
        if hit is None:
            continue
        if missing == "error":
            what = "sequence" if hit == columns[0] else "label"
            raise ValueError(f"{where(i)}: missing {what} in column {hit!r} ({frame[hit].iat[i]!r}); empty, NA, NaN "
                             f"and None cells are never read as data (missing='drop' leaves such rows out)")
        bad.append(i)
    if not bad:
        return frame, lines, 0
    shown = ", ".join(where(i).removeprefix(source).lstrip(", ") for i in bad[:_SHOWN_DROPS])
    log.warning("%s: dropped %d of %d rows with a missing sequence or label cell (%s%s)", source, len(bad), len(frame),
                shown, ", ..." if len(bad) > _SHOWN_DROPS else "")
    keep = np.setdiff1d(np.arange(len(frame)), bad)
    if not len(keep):
        raise ValueError(f"{source}: every row has a missing sequence or label cell ({len(bad)} dropped)")
    new_lines = [lines[i] for i in keep] if lines is not None else None
    return frame.iloc[keep].reset_index(drop=True), new_lines, len(bad)


def read_table(
    path: str | Path,
    *,
    column: str = "sequence",
    label_column: str | None = None,
    score_columns: list[str] | str | None = None,
    sep: str | None = None,
    alphabet: Alphabet | str | list[str] | None = None,
    limit: int | None = None,
    missing: str = "error",
    id_column: str | None = None,
) -> SequenceRecords:
    """Read sequences (and optional labels/scores) from a CSV, TSV, TXT or parquet table.

    Args:
        path: ``.csv``/``.tsv``/``.txt`` (optionally ``.gz``) with a header line, or ``.parquet``. Comment
            (``#``) and blank lines above the header are skipped.
        column: The sequence column.
        label_column: Optional class-label column (ints ``0..C-1`` kept, other values mapped in sorted order).
        score_columns: Optional numeric columns; one gives ``scores`` of shape ``(N,)``, several ``(N, K)``.
        sep: Field separator; by default ``,`` for ``.csv``, tab for ``.tsv``, and for ``.txt`` a tab,
            comma or whitespace, whichever the header line uses.
        alphabet: If given, every sequence is checked against it.
        limit: Read only the first ``limit`` rows (the rest of the file is not parsed).
        missing: A row whose sequence or label cell is missing (see the module docstring): ``"error"``
            (default) or ``"drop"`` (left out, counted in ``n_dropped`` and logged).
        id_column: Optional column of record ids (kept as ``ids``).

    Returns:
        Records with ``lines`` set to each row's line in the file (None for parquet).

    Raises:
        FileNotFoundError: if the file does not exist.
        ValueError: for an empty, binary or unreadable file, a missing column (the message lists the available
            ones), a missing sequence or label cell (with ``missing="error"``), a non-numeric score, or an
            illegal character.
    """
    if missing not in MISSING_POLICIES:
        raise ValueError(f"missing must be one of {MISSING_POLICIES}, got missing={missing!r}")
    p = check_file(path)
    score_columns = [score_columns] if isinstance(score_columns, str) else list(score_columns or [])
    needed = list(dict.fromkeys([column, *([label_column] if label_column else []), *score_columns,
                                 *([id_column] if id_column else [])]))
    try:
        frame, lines = _read_frame(p, needed, sep, limit)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    if frame.empty:
        raise ValueError(f"{path}: no data rows (only a header line)")

    def where(i: int) -> str:
        return describe_record(str(path), i, line=lines[i] if lines is not None else None)

    frame, lines, dropped = _missing_rows(frame, lines, [column, *([label_column] if label_column else [])],
                                          missing, where, str(path))
    sequences = [str(v).strip() for v in frame[column].to_numpy()]
    labels = class_names = None
    if label_column:
        labels, class_names = labels_from_values(list(frame[label_column].to_numpy()), where)
    records = SequenceRecords(
        sequences=sequences,
        labels=labels,
        scores=_scores(frame, score_columns, where) if score_columns else None,
        class_names=class_names,
        source=str(path),
        ids=[str(v) for v in frame[id_column].to_numpy()] if id_column else None,
        lines=lines,
    )
    records.n_dropped = dropped
    if alphabet is not None:
        validate_records(records, get_alphabet(alphabet))
    return records
