"""Molecules: read SMILES and convert them to SELFIES strings for sequence models.

A SMILES is kept when RDKit parses it and the ``selfies`` encoder accepts it; every other one is
skipped, counted, and reported in one logged warning that shows the first few with their line numbers
and the reason, in RDKit's own words (e.g. ``SMILES Parse Error: unclosed ring for input: 'C1CC'`` or
``Explicit valence for atom # 1 C, 5, is greater than permitted``). SELFIES strings are returned as
written by ``selfies.encoder`` (no canonicalisation), so the alphabet built from them with
:meth:`seqguide.Alphabet.selfies_from_data` covers exactly the tokens in the data.

Input forms: a ``.smi``/``.smiles`` file (one molecule per line: the SMILES, then optionally
whitespace and a name; ``#`` comments and a ``smiles`` header line are skipped), a table that has a
SMILES column (anything :func:`~seqguide.data.readers.read_table` reads), or a list of strings.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from pathlib import Path

from seqguide.alphabet import Alphabet
from seqguide.data.formats import COMMENT_PREFIXES, check_file, check_text, detect_format, open_text
from seqguide.data.readers import read_table, table_columns
from seqguide.data.records import SequenceRecords

__all__ = ["read_smiles", "read_smiles_file", "selfies_alphabet", "smiles_to_selfies", "to_selfies"]

log = logging.getLogger(__name__)

#: How many skipped molecules the warning shows.
_EXAMPLES = 3
#: Column names tried, case-insensitively, when a SMILES table is read without ``column``.
_SMILES_COLUMNS = ("smiles", "sequence")
_LOG_STAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s*")


def _rdkit_reason(smiles: str) -> str:
    """Why RDKit rejects ``smiles``, in its own words (its error log, captured), or a generic reason."""
    from rdkit import Chem, rdBase

    capture = getattr(rdBase, "CaptureErrorLog", None)
    if capture is None:  # older RDKit: no capture
        return "RDKit cannot parse it"
    with capture() as cap:
        Chem.MolFromSmiles(smiles)
    lines: list[str] = []
    for raw in cap.messages.splitlines():
        line = _LOG_STAMP.sub("", raw).strip().rstrip(":")
        if line and line not in lines and not set(line) <= {"~", "^", " "} and "Failed parsing SMILES" not in line \
                and not smiles.startswith(line):
            lines.append(line)
    return "RDKit: " + "; ".join(lines) if lines else "RDKit cannot parse it"


def smiles_to_selfies(smiles: str) -> tuple[str | None, str | None]:
    """Convert one SMILES string.

    Args:
        smiles: A SMILES string.

    Returns:
        ``(selfies, None)`` on success, ``(None, reason)`` when RDKit cannot parse the SMILES or the
        SELFIES encoder rejects it.
    """
    import selfies as sf
    from rdkit import Chem
    from rdkit.rdBase import BlockLogs

    s = smiles.strip()
    if not s:
        return None, "empty SMILES"
    with BlockLogs():  # RDKit would print its own parse errors to stderr
        mol = Chem.MolFromSmiles(s)
    if mol is None:
        return None, _rdkit_reason(s)
    try:
        return sf.encoder(s), None
    except sf.EncoderError as err:
        detail = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        return None, f"SELFIES encoder error: {detail[-1] if detail else 'rejected'}"


def to_selfies(records: SequenceRecords) -> tuple[SequenceRecords, int]:
    """Convert records of SMILES strings to SELFIES, skipping (and reporting) invalid molecules.

    Args:
        records: N records whose ``sequences`` are SMILES.

    Returns:
        ``(selfies_records, n_invalid)``: the M = N - n_invalid convertible molecules (labels, scores,
        ids and line numbers kept) and the number skipped. A warning is logged when n_invalid > 0.

    Raises:
        ValueError: if no molecule at all can be converted.
    """
    converted: list[str] = []
    keep: list[int] = []
    bad: list[tuple[int, str]] = []
    for i, smi in enumerate(records.sequences):
        selfies, reason = smiles_to_selfies(smi)
        if selfies is None:
            bad.append((i, reason or "invalid"))
        else:
            keep.append(i)
            converted.append(selfies)
    examples = "; ".join(
        f"{_locate(records, i)}: {records.sequences[i][:60]!r} ({why})" for i, why in bad[:_EXAMPLES]
    )
    if not keep:
        raise ValueError(
            f"{records.source or 'SMILES'}: none of the {len(records)} SMILES could be converted to SELFIES; "
            f"e.g. {examples}"
        )
    if bad:
        log.warning(
            "%s: skipped %d of %d SMILES as invalid (RDKit parse failure or SELFIES encoder error); first %d: %s",
            records.source or "SMILES", len(bad), len(records), min(len(bad), _EXAMPLES), examples,
        )
    return records.subset(keep).with_sequences(converted), len(bad)


def _locate(records: SequenceRecords, i: int) -> str:
    return f"line {records.lines[i]}" if records.lines is not None else f"item {i}"


def selfies_alphabet(selfies_strings: Sequence[str]) -> Alphabet:
    """Build a SELFIES alphabet from data, including the fragment separator ``.`` when it occurs
    (salts, e.g. ``[Na+].[Cl-]``); see :meth:`Alphabet.selfies_from_data`.

    Args:
        selfies_strings: SELFIES strings.

    Returns:
        An alphabet of kind ``"selfies"`` with the tokens sorted.
    """
    return Alphabet.selfies_from_data(selfies_strings)


def read_smiles_file(path: str | Path, *, limit: int | None = None) -> SequenceRecords:
    """Read the raw SMILES of a ``.smi`` file (no conversion).

    Args:
        path: A ``.smi``/``.smiles`` file, optionally gzipped.
        limit: Read only the first ``limit`` molecules.

    Returns:
        Records of SMILES strings with their names as ``ids`` (when the file has names) and ``lines``.

    Raises:
        ValueError: for a file with no SMILES.
    """
    p = check_file(path)
    check_text(p, "SMILES")
    smiles: list[str] = []
    names: list[str] = []
    lines: list[int] = []
    try:
        with open_text(p) as handle:
            for n, line in enumerate(handle, start=1):
                fields = line.split(None, 1)
                if not fields or line.startswith(COMMENT_PREFIXES):
                    continue
                if not smiles and fields[0].lower() == "smiles":  # a header line
                    continue
                if limit is not None and len(smiles) == limit:
                    break
                smiles.append(fields[0])
                names.append(fields[1].strip() if len(fields) > 1 else "")
                lines.append(n)
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not a UTF-8 text file ({err.reason} at byte {err.start})") from None
    except (OSError, EOFError) as err:  # a corrupt .gz
        raise ValueError(f"{path}: cannot read the file ({type(err).__name__}: {err})") from None
    if not smiles:
        raise ValueError(f"{path}: no SMILES found (the file is empty or holds only comments)")
    return SequenceRecords(smiles, source=str(path), ids=names if any(names) else None, lines=lines)


def _smiles_column(path: str | Path, columns: list[str]) -> str:
    """Pick the SMILES column of a table: one named like ``smiles``/``sequence``, or the only column."""
    for wanted in _SMILES_COLUMNS:
        for col in columns:
            if col.lower() == wanted:
                return col
    if len(columns) == 1:
        return columns[0]
    raise ValueError(
        f"{path}: cannot tell which column holds the SMILES; pass column=... "
        f"(available columns: {', '.join(repr(c) for c in columns)})"
    )


def read_smiles(
    path_or_list: str | Path | Sequence[str],
    *,
    column: str | None = None,
    label_column: str | None = None,
    score_columns: list[str] | str | None = None,
    limit: int | None = None,
    missing: str = "error",
) -> tuple[SequenceRecords, int]:
    """Read SMILES and convert them to SELFIES.

    Args:
        path_or_list: A ``.smi`` file, a table (CSV/TSV/TXT/parquet, optionally ``.gz``), or a list of
            SMILES strings.
        column: The SMILES column of a table; by default a column named ``smiles`` or ``sequence``
            (any case), or the only column.
        label_column: Optional class-label column of a table.
        score_columns: Optional score columns of a table.
        limit: Read only the first ``limit`` molecules (before dropping invalid ones).
        missing: A table row with a missing SMILES or label cell: ``"error"`` or ``"drop"`` (see
            :func:`~seqguide.data.readers.read_table`).

    Returns:
        ``(records, n_invalid)``: SELFIES records and the number of SMILES skipped as invalid.

    Raises:
        ValueError: for an empty input, a missing column, or when no SMILES is valid.
    """
    if isinstance(path_or_list, (str, Path)):
        path = path_or_list
        fmt = detect_format(path)
        if fmt == "fasta":
            raise ValueError(f"{path}: a FASTA file does not hold SMILES; use a .smi file or a table")
        if fmt == "smiles":
            if label_column or score_columns:
                raise ValueError(f"{path}: a .smi file has no columns; labels/scores need a table file")
            raw = read_smiles_file(path, limit=limit)
        else:
            col = column or _smiles_column(path, table_columns(path))
            raw = read_table(path, column=col, label_column=label_column, score_columns=score_columns,
                             limit=limit, missing=missing)
    else:
        items = list(path_or_list)[:limit] if limit is not None else list(path_or_list)
        if not items:
            raise ValueError("read_smiles: the SMILES list is empty")
        raw = SequenceRecords([str(s) for s in items], source="SMILES list")
    return to_selfies(raw)
