"""``seqguide oracles``: list the available oracles and score a FASTA or CSV file.

    seqguide oracles list
    seqguide oracles score NAME FILE [--kwargs key=value ...] [--out scores.csv] [--column sequence]

The top-level ``seqguide`` command dispatches ``seqguide oracles ...`` to :func:`main`. ``--kwargs``
values are read as JSON when they parse (``normalize=false``, ``motif='["MA0139.1","MA0079.5"]'``,
``target=0.5``) and as plain strings otherwise (``motif=CTCF``). FASTA is read with Biopython, CSV/TSV
with pandas; the result table (id, sequence, value(s), valid, error) goes to ``--out`` as CSV, or to
stdout.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path
from typing import Any, TextIO

__all__ = ["main", "parse_kwargs", "read_sequences"]

_FASTA_SUFFIXES = {".fa", ".fasta", ".fna", ".faa", ".ffn", ".frn", ".fas", ".mpfa"}
_TABLE_SUFFIXES = {".csv", ".tsv", ".txt"}


class CLIError(Exception):
    """A usage or input problem reported as ``error: ...`` with exit status 2."""


def parse_kwargs(items: list[str] | None) -> dict[str, Any]:
    """``["a=1", "b=x", "c=[1,2]"]`` -> ``{"a": 1, "b": "x", "c": [1, 2]}`` (JSON if it parses, else text)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CLIError(f"--kwargs expects key=value, got {item!r}")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def _open_text(path: Path) -> TextIO:
    return gzip.open(path, "rt") if path.suffix == ".gz" else open(path)


def read_sequences(path: str | Path, *, column: str = "sequence", fmt: str = "auto") -> tuple[list[str], list[str]]:
    """Read ``(ids, sequences)`` from FASTA (Biopython) or CSV/TSV (pandas); ``.gz`` is fine.

    Raises:
        CLIError: for a missing file, an unknown format or a missing column (naming the ones present).
    """
    path = Path(path)
    if not path.exists():
        raise CLIError(f"no such file: {path}")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    if fmt == "auto":
        if suffix in _FASTA_SUFFIXES:
            fmt = "fasta"
        elif suffix in _TABLE_SUFFIXES:
            fmt = "csv"
        else:
            raise CLIError(f"cannot tell the format of {path.name!r} from its extension; pass --format fasta|csv")
    if fmt == "fasta":
        from Bio import SeqIO

        with _open_text(path) as fh:
            records = list(SeqIO.parse(fh, "fasta"))
        if not records:
            raise CLIError(f"{path}: no FASTA records found")
        return [r.id for r in records], [str(r.seq) for r in records]
    if fmt != "csv":
        raise CLIError(f"--format must be auto, fasta or csv, got {fmt!r}")
    import pandas as pd

    sep = "\t" if suffix == ".tsv" else ","
    try:
        df = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, compression="infer")
    except Exception as err:
        raise CLIError(f"{path}: could not read as a table: {err}") from None
    if column not in df.columns:
        raise CLIError(f"{path}: no column {column!r}; columns are {list(df.columns)} (choose one with --column)")
    ids = df["id"].tolist() if "id" in df.columns else [str(i) for i in range(len(df))]
    return ids, [s.strip() for s in df[column].tolist()]


def _cmd_list(out: TextIO) -> int:
    from oracles.registry import describe_oracles

    table = describe_oracles()
    width = max(len(n) for n in table)
    for name, text in table.items():
        print(f"{name:<{width}}  {text}", file=out)
    return 0


def _cmd_score(args: argparse.Namespace, out: TextIO) -> int:
    import pandas as pd

    from oracles.registry import get_oracle

    kwargs = parse_kwargs(args.kwargs)
    ids, seqs = read_sequences(args.file, column=args.column, fmt=args.format)
    try:
        oracle = get_oracle(args.name, **kwargs)
    except KeyError as err:
        raise CLIError(str(err.args[0]) if err.args else str(err)) from None
    except (TypeError, ValueError, ImportError, FileNotFoundError) as err:
        raise CLIError(f"cannot build oracle {args.name!r}: {err}") from None
    res = oracle(seqs)
    table: dict[str, Any] = {"id": ids, "sequence": seqs}
    if res.values.ndim == 1:
        table["value"] = res.values
    else:
        labels = getattr(oracle, "motif_ids", None) or getattr(oracle, "properties", None)
        if not labels or len(labels) != res.values.shape[1]:
            labels = [str(k) for k in range(res.values.shape[1])]
        for k, label in enumerate(labels):
            table[f"value_{label}"] = res.values[:, k]
    table["valid"] = res.valid
    table["error"] = [e or "" for e in res.errors]
    df = pd.DataFrame(table)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(args.out, index=False)
        print(f"scored {len(df)} sequences with {oracle.name!r}: {int(res.valid.sum())} valid -> {args.out}",
              file=out)
    else:
        df.to_csv(out, index=False)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqguide oracles", description="List oracles and score sequences.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print every oracle name with a one-line description")
    score = sub.add_parser("score", help="score the sequences of a FASTA or CSV file")
    score.add_argument("name", help="oracle name (see `seqguide oracles list`)")
    score.add_argument("file", help="FASTA (.fa/.fasta/...) or CSV/TSV file, optionally .gz")
    score.add_argument("--kwargs", nargs="*", metavar="KEY=VALUE", default=[],
                       help="oracle arguments; values are JSON when they parse, else strings")
    score.add_argument("--out", help="write the table to this CSV file instead of stdout")
    score.add_argument("--column", default="sequence", help="CSV column holding the sequences")
    score.add_argument("--format", default="auto", choices=["auto", "fasta", "csv"], help="input format")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``seqguide oracles`` with ``argv`` (without the leading ``oracles``); returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed usage/help
        return int(exc.code or 0)
    try:
        if args.command == "list":
            return _cmd_list(sys.stdout)
        return _cmd_score(args, sys.stdout)
    except CLIError as err:
        print(f"seqguide oracles: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
