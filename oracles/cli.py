"""``seqguide oracles``: list the available oracles and score a FASTA or CSV file.

    seqguide oracles list
    seqguide oracles score NAME FILE [--oracle-arg key=value ...] [--out scores.csv] [--column sequence]
                                     [--missing error|drop]
    seqguide oracles fit-surrogate SCORES.csv --alphabet dna --out surrogate.safetensors [--epochs 30]

The top-level ``seqguide`` command dispatches ``seqguide oracles ...`` to :func:`main`. ``--oracle-arg``
(repeatable, one ``key=value`` each, the same option as in ``seqguide sample`` and ``train-value``;
``--kwargs key=value ...`` is its deprecated alias) values are read as JSON when they parse
(``normalize=false``, ``motif='["MA0139.1","MA0079.5"]'``, ``target=0.5``; NaN and infinities are refused) and
as plain strings otherwise (``motif=CTCF``). Input
files are read by the :mod:`seqguide.data` readers, with their rules: FASTA, CSV/TSV/TXT/parquet tables,
and ``.smi`` SMILES files (optionally ``.gz``); a missing sequence cell is an error naming file, line and
column unless ``--missing drop``; a binary file is refused. The result table (id, sequence, value(s),
valid, error) goes to ``--out`` as CSV, or to stdout. ``fit-surrogate`` trains an
:class:`oracles.surrogate.Surrogate` on such a table (its valid rows) and saves it for ``seqguide sample
--surrogate FILE`` (STGFlow, ``value: surrogate``). Every problem is one ``error:`` line (exit status 2).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any, TextIO

__all__ = ["main", "parse_kwargs", "read_sequences"]

_FASTA_SUFFIXES = {".fa", ".fasta", ".fna", ".faa", ".ffn", ".frn", ".fas", ".mpfa"}
_TABLE_SUFFIXES = {".csv", ".tsv", ".txt", ".parquet"}
_SMILES_SUFFIXES = {".smi", ".smiles"}


def _finite(value: Any, key: str) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise CLIError(f"--oracle-arg {key}: must be a finite number, got {value}")
    if isinstance(value, dict):
        for k, v in value.items():
            _finite(v, f"{key}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _finite(v, f"{key}[{i}]")
    return value


class CLIError(Exception):
    """A usage or input problem reported as ``error: ...`` with exit status 2."""


def parse_kwargs(items: list[str] | None) -> dict[str, Any]:
    """``["a=1", "b=x", "c=[1,2]"]`` -> ``{"a": 1, "b": "x", "c": [1, 2]}`` (JSON if it parses, else text)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise CLIError(f"--oracle-arg expects key=value, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = _finite(value, key)
    return out


def read_sequences(path: str | Path, *, column: str = "sequence", fmt: str = "auto",
                   missing: str = "error") -> tuple[list[str], list[str]]:
    """Read ``(ids, sequences)`` from FASTA, a CSV/TSV/TXT/parquet table or a ``.smi`` file (``.gz`` is fine), with
    the rules of :mod:`seqguide.data.readers` (missing cells, binary files, line numbers in errors).

    Raises:
        CLIError: one line: a missing, binary or malformed file, an unknown format, a missing column (naming
            the ones present), a missing sequence cell (unless ``missing="drop"``).
    """
    from seqguide.data.readers import read_fasta, read_table, table_columns
    from seqguide.data.smiles import read_smiles_file

    path = Path(path)
    if not path.exists():
        raise CLIError(f"no such file: {path}")
    if not path.is_file():
        raise CLIError(f"{path}: not a file")
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    suffix = suffixes[-1] if suffixes else ""
    if fmt == "auto":
        if suffix in _FASTA_SUFFIXES:
            fmt = "fasta"
        elif suffix in _TABLE_SUFFIXES:
            fmt = "csv"
        elif suffix in _SMILES_SUFFIXES:
            fmt = "smi"
        else:
            raise CLIError(f"cannot tell the format of {path.name!r} from its extension; pass --format fasta|csv|smi")
    try:
        if fmt == "fasta":
            rec = read_fasta(path)
            return list(rec.ids or []), rec.sequences
        if fmt == "smi":
            rec = read_smiles_file(path)
            return (rec.ids if rec.ids else [str(n) for n in rec.lines or range(len(rec))]), rec.sequences
        if fmt != "csv":
            raise CLIError(f"--format must be auto, fasta, csv or smi, got {fmt!r}")
        columns = table_columns(path, sep="\t" if suffix == ".tsv" else None)
        if column not in columns:
            raise CLIError(f"{path}: no column {column!r}; columns are {columns} (choose one with --column)")
        rec = read_table(path, column=column, missing=missing, id_column="id" if "id" in columns else None)
    except ValueError as err:  # the readers name file, line and column
        raise CLIError(str(err)) from None
    ids = rec.ids if rec.ids is not None else [str(i) for i in range(len(rec))]
    return ids, rec.sequences


def _cmd_list(out: TextIO) -> int:
    from oracles.registry import describe_oracles

    table = describe_oracles()
    width = max(len(n) for n in table)
    for name, text in table.items():
        print(f"{name:<{width}}  {text}", file=out)
    return 0


def _oracle_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """``--oracle-arg`` items and the deprecated ``--kwargs`` ones, as one dict; a key given twice is an error."""
    items = [*args.oracle_arg, *args.kwargs]
    keys = [item.partition("=")[0].strip() for item in items]
    twice = sorted({k for k in keys if k and keys.count(k) > 1})
    if twice:
        raise CLIError(f"--oracle-arg {twice[0]}: given more than once")
    arguments = parse_kwargs(items)
    if args.kwargs:
        print("seqguide oracles: warning: --kwargs is deprecated and will be removed; use --oracle-arg KEY=VALUE "
              "(once per argument, as in seqguide sample)", file=sys.stderr)
    return arguments


def _cmd_score(args: argparse.Namespace, out: TextIO) -> int:
    import pandas as pd

    from oracles.registry import get_oracle

    kwargs = _oracle_arguments(args)
    ids, seqs = read_sequences(args.file, column=args.column, fmt=args.format, missing=args.missing)
    try:
        oracle = get_oracle(args.name, **kwargs)
    except KeyError as err:
        raise CLIError(str(err.args[0]) if err.args else str(err)) from None
    except (TypeError, ValueError, ImportError, FileNotFoundError) as err:
        raise CLIError(f"cannot build oracle {args.name!r}: {err}") from None
    try:
        res = oracle(seqs)
    except ValueError as err:  # OracleOutputError: a scorer that returned the wrong number of values
        raise CLIError(f"oracle {args.name!r} failed: {err}") from None
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


def _cmd_fit_surrogate(args: argparse.Namespace, out: TextIO) -> int:
    """Fit a :class:`~oracles.surrogate.Surrogate` on a scored table's finite rows and save it to ``--out``."""
    import numpy as np

    from seqguide.alphabet import get_alphabet
    from seqguide.data.readers import read_table

    if not str(args.out).endswith(".safetensors"):
        raise CLIError(f"--out must end in .safetensors, got {args.out!r}")
    try:
        alphabet = get_alphabet(args.alphabet)
    except (KeyError, ValueError) as err:
        raise CLIError(f"--alphabet: {err}") from None
    path = Path(args.file)
    if not path.is_file():
        raise CLIError(f"no such file: {path}")
    try:
        rec = read_table(path, column=args.column, score_columns=[args.value_column], missing="drop")
    except ValueError as err:  # the reader names file, line and column
        raise CLIError(str(err)) from None
    scores = np.asarray(rec.scores, dtype=np.float64)
    keep = np.isfinite(scores)
    sequences = [s for s, k in zip(rec.sequences, keep) if k]
    for i, s in enumerate(sequences):
        problem = alphabet.validate(s)
        if problem is not None:
            raise CLIError(f"{path}: row {i + 1} of the scored rows: {problem} (is --alphabet right?)")
    if len(sequences) < 2:
        raise CLIError(f"{path}: {len(sequences)} rows with a finite {args.value_column!r}; need at least 2")
    from oracles.surrogate import Surrogate

    surrogate = Surrogate(alphabet, members=args.members, channels=args.channels, name=args.name,
                          maximize=not args.minimize)
    surrogate.fit(sequences, scores[keep], epochs=args.epochs, seed=args.seed)
    saved = surrogate.save(args.out)
    print(f"fitted a surrogate on {len(sequences)} scored sequences ({int((~keep).sum())} without a finite "
          f"{args.value_column!r} left out) -> {saved}", file=out)
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqguide oracles", description="List oracles and score sequences.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="print every oracle name with a one-line description")
    score = sub.add_parser("score", help="score the sequences of a FASTA or CSV file")
    score.add_argument("name", help="oracle name (see `seqguide oracles list`)")
    score.add_argument("file", help="FASTA (.fa/.fasta/...) or CSV/TSV file, optionally .gz")
    score.add_argument("--oracle-arg", action="append", default=[], metavar="KEY=VALUE",
                       help="an oracle argument, repeatable; values are JSON when they parse, else strings")
    score.add_argument("--kwargs", nargs="*", metavar="KEY=VALUE", default=[],
                       help="deprecated alias of --oracle-arg (several KEY=VALUE after one flag)")
    score.add_argument("--out", help="write the table to this CSV file instead of stdout")
    score.add_argument("--column", default="sequence", help="CSV column holding the sequences")
    score.add_argument("--format", default="auto", choices=["auto", "fasta", "csv", "smi"], help="input format")
    score.add_argument("--missing", default="error", choices=["error", "drop"],
                       help="a table row with an empty/NA/NaN/None sequence cell: error (default) or drop it")
    fit = sub.add_parser("fit-surrogate", help="fit a differentiable surrogate on a scored table (for --surrogate)")
    fit.add_argument("file", help="CSV/TSV table with a sequence and a score column (e.g. from `oracles score`)")
    fit.add_argument("--alphabet", required=True, help="alphabet of the sequences: dna, rna, protein, ...")
    fit.add_argument("--out", required=True, help="where to save it (.safetensors, with a .json beside it)")
    fit.add_argument("--column", default="sequence", help="the sequence column (default sequence)")
    fit.add_argument("--value-column", default="value", help="the score column (default value); NaN rows are left out")
    fit.add_argument("--epochs", type=int, default=30, help="training passes (default 30)")
    fit.add_argument("--members", type=int, default=4, help="ensemble members (default 4)")
    fit.add_argument("--channels", type=int, default=64, help="width of each member (default 64)")
    fit.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    fit.add_argument("--name", default="surrogate", help="display name of the surrogate")
    fit.add_argument("--minimize", action="store_true", help="lower scores are better")
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
        if args.command == "fit-surrogate":
            return _cmd_fit_surrogate(args, sys.stdout)
        return _cmd_score(args, sys.stdout)
    except CLIError as err:
        print(f"seqguide oracles: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `seqguide oracles score ... | head`: the reader left; stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
