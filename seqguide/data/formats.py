"""File-format detection and text opening shared by the readers.

The format of a data file is decided by its extension (a trailing ``.gz`` is looked through):

========================================  ==========
``.fa .fasta .fna .faa``                  ``"fasta"``
``.csv .tsv .txt .parquet``               ``"table"``
``.smi .smiles``                          ``"smiles"``
========================================  ==========
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import TextIO

__all__ = [
    "COMMENT_PREFIXES",
    "FASTA_EXTENSIONS",
    "SMILES_EXTENSIONS",
    "TABLE_EXTENSIONS",
    "check_file",
    "check_text",
    "data_extension",
    "detect_format",
    "is_parquet",
    "leading_comment_lines",
    "open_text",
]

FASTA_EXTENSIONS = (".fa", ".fasta", ".fna", ".faa")
TABLE_EXTENSIONS = (".csv", ".tsv", ".txt", ".parquet")
SMILES_EXTENSIONS = (".smi", ".smiles")
#: Lines starting with one of these are comments in FASTA, SMILES and (at the top) table files.
COMMENT_PREFIXES = ("#",)


def data_extension(path: str | Path) -> tuple[str, bool]:
    """Return the lower-case data extension of ``path`` (``".csv"`` for ``x.csv.gz``) and whether it is gzipped."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    if gz:
        suffixes = suffixes[:-1]
    return (suffixes[-1] if suffixes else ""), gz


def detect_format(path: str | Path) -> str:
    """Classify a data file by extension.

    Args:
        path: The file path.

    Returns:
        ``"fasta"``, ``"table"`` or ``"smiles"``.

    Raises:
        ValueError: for an unknown extension (the message lists the known ones).
    """
    ext, gz = data_extension(path)
    if ext in FASTA_EXTENSIONS:
        return "fasta"
    if ext in SMILES_EXTENSIONS:
        return "smiles"
    if ext in TABLE_EXTENSIONS and not (gz and ext == ".parquet"):
        return "table"
    known = " ".join(FASTA_EXTENSIONS + TABLE_EXTENSIONS + SMILES_EXTENSIONS)
    raise ValueError(
        f"{path}: cannot tell the file format from the extension {ext or '(none)'!r}; "
        f"use one of {known} (optionally .gz, except .parquet)"
    )


def is_parquet(path: str | Path) -> bool:
    """True if ``path`` ends in ``.parquet``."""
    return data_extension(path)[0] == ".parquet"


def check_file(path: str | Path) -> Path:
    """Return ``path`` as a :class:`~pathlib.Path`, or raise a clear error if it is not a readable file."""
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{path}: no such file")
    if not p.is_file():
        raise ValueError(f"{path}: not a regular file")
    return p


#: Bytes inspected by :func:`check_text`.
_SNIFF_BYTES = 1 << 16


def check_text(path: str | Path, what: str = "text") -> None:
    """Refuse a binary file early: a NUL byte in its first 64 KiB (after gunzip) is an error naming the file.

    Raises:
        ValueError: ``"<file>: a binary file (a NUL byte at offset N), not <what> text"``, or for a ``.gz`` that
            is not gzip data.
    """
    try:
        if data_extension(path)[1]:
            with gzip.open(path, "rb") as fh:
                head = fh.read(_SNIFF_BYTES)
        else:
            with open(path, "rb") as fh:
                head = fh.read(_SNIFF_BYTES)
    except (OSError, EOFError) as err:  # gzip.BadGzipFile is an OSError
        raise ValueError(f"{path}: cannot read the file ({type(err).__name__}: {err})") from None
    nul = head.find(b"\x00")
    if nul >= 0:
        raise ValueError(f"{path}: a binary file (a NUL byte at offset {nul}), not {what} text")


def open_text(path: str | Path) -> TextIO:
    """Open a (possibly gzipped) UTF-8 text file for reading; a leading byte-order mark (what some editors on
    Windows write) is dropped, as pandas does for CSV."""
    if data_extension(path)[1]:
        return gzip.open(path, "rt", encoding="utf-8-sig")
    return open(path, encoding="utf-8-sig")


def leading_comment_lines(path: str | Path) -> tuple[int, str | None]:
    """Count the comment/blank lines at the top of a text file and return the first other line.

    Args:
        path: A (possibly gzipped) text file.

    Returns:
        ``(n, first)``: the number of leading lines that are blank or start with ``#``, and the first
        line after them without its newline (None for a file with nothing else).
    """
    n = 0
    with open_text(path) as handle:
        for line in handle:
            if line.strip() and not line.startswith(COMMENT_PREFIXES):
                return n, line.rstrip("\r\n")
            n += 1
    return n, None
