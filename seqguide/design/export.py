"""``seqguide export RUN``: a campaign's designs as FASTA, CSV, SDF or parquet, with scores and provenance.

Reads the store only. Each exported design carries its rank, objective, every component's value, the round that
proposed it, whether it was charged, its provenance (model, guidance stack, session, sampler seed and draw, when it
was proposed and scored) and the campaign's identity: its name, the run id, the code version and commit, and the
*campaign digest*, the first 16 hex digits of the SHA-256 of the run's stored configuration (JSON, sorted keys):
equal digests mean the same validated campaign file, overrides included.

* ``fasta``: ``>ID key=value ...`` headers (objective, round, components, charged, model, digest), read by Biopython;
* ``csv`` / ``parquet``: one row per design, every column (parquet through pyarrow, or pandas' writer);
* ``sdf``: one RDKit molecule per design (SMILES or SELFIES, decoded as the molecule oracles decode them) with every
  column as an SD property; designs that do not decode are left out and counted.

Designs are the valid ones, best first (``--all`` adds the invalid ones after them, with their reason);
``--top K`` keeps the first K.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FORMATS", "Export", "campaign_digest", "export_main", "export_run", "write_export"]

FORMATS = ("fasta", "csv", "sdf", "parquet")
_EXT = {"fasta": "fasta", "csv": "csv", "sdf": "sdf", "parquet": "parquet"}
_EXIT_BAD = 2


def campaign_digest(config: dict[str, Any]) -> str:
    """The first 16 hex digits of the SHA-256 of ``config`` as JSON with sorted keys (the stored campaign)."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Export:
    """The rows of an export and what they came from.

    Attributes:
        rows: One dict per design, in export order (columns: see :data:`COLUMNS` plus the component labels).
        labels: The objective's component labels (columns of their own).
        run: The stored run (name, config, model, ...).
        digest: :func:`campaign_digest` of the run's configuration.
        alphabet_kind: The run's alphabet kind (``selfies``, ``dna``, ...), or None.
    """

    rows: list[dict[str, Any]]
    labels: list[str]
    run: dict[str, Any]
    digest: str
    alphabet_kind: str | None


def export_run(source: str | Path, *, top: int | None = None, include_invalid: bool = False,
               run_id: int | None = None) -> Export:
    """Read the designs of a run (the latest in the store by default) in export order.

    Raises:
        FileNotFoundError: no store at ``source``.
        ValueError: ``top < 1``, or a store that holds no run.
    """
    if top is not None and (isinstance(top, bool) or top < 1):
        raise ValueError(f"--top must be a positive integer, got {top!r}")
    from seqguide.design.report.run_data import load_run

    data = load_run(source, run_id)
    run = data.run
    sign = 1.0 if data.maximize else -1.0
    valid = sorted((d for d in data.designs if d.valid and d.objective is not None),
                   key=lambda d: (-sign * float(d.objective), d.round, d.idx))
    chosen = valid + ([d for d in data.designs if not d.valid] if include_invalid else [])
    if top is not None:
        chosen = chosen[:top]
    digest = campaign_digest(run.get("config") or {})
    name = str(run.get("name"))
    model = run.get("model") or {}
    rows = []
    for rank, d in enumerate(chosen, start=1):
        row: dict[str, Any] = {
            "id": f"{name}_r{d.round}_{d.idx}", "rank": rank if d.valid else None, "sequence": d.sequence,
            "objective": d.objective, "round": d.round, "idx": d.idx, "valid": bool(d.valid), "reason": d.reason,
            "charged": bool(d.charged)}
        row.update({label: d.components.get(label) for label in data.labels})
        row.update({"model": d.model or model.get("id"), "guidance": d.guidance, "session": d.session,
                    "sample_seed": d.sample_seed, "draw": d.draw, "proposed_at": d.proposed_at,
                    "scored_at": d.scored_at, "campaign": name, "run_id": run.get("id"), "campaign_digest": digest,
                    "code_version": run.get("code_version"), "git_commit": run.get("git_commit")})
        rows.append(row)
    kind = data.alphabet.kind if data.alphabet is not None else None
    return Export(rows, list(data.labels), run, digest, kind)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _fasta(exp: Export, path: Path) -> int:
    keys = ["objective", "round", *exp.labels, "charged", "model", "campaign", "campaign_digest"]
    lines = []
    for row in exp.rows:
        desc = " ".join(f"{k}={_text(row[k]).replace(' ', '_')}" for k in keys if row.get(k) is not None)
        lines.append(f">{row['id']} {desc}\n{row['sequence']}\n")
    path.write_text("".join(lines))
    return len(exp.rows)


def _csv(exp: Export, path: Path) -> int:
    import csv

    columns = list(exp.rows[0]) if exp.rows else ["id", "sequence", "objective", "round"]
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: _text(v) for k, v in row.items()} for row in exp.rows)
    return len(exp.rows)


def _parquet(exp: Export, path: Path) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        pa = None
    columns = list(exp.rows[0]) if exp.rows else ["id", "sequence", "objective", "round"]
    data = {c: [row.get(c) for row in exp.rows] for c in columns}
    if pa is not None:
        table = pa.table(data)
        meta = {b"seqguide.campaign": str(exp.run.get("name")).encode(),
                b"seqguide.campaign_digest": exp.digest.encode()}
        pq.write_table(table.replace_schema_metadata({**(table.schema.metadata or {}), **meta}), path)
        return len(exp.rows)
    try:
        import pandas as pd

        pd.DataFrame(data).to_parquet(path)
    except ImportError as err:
        raise RuntimeError(f"parquet export needs pyarrow (pip install pyarrow): {err}") from None
    return len(exp.rows)


def _sdf(exp: Export, path: Path) -> int:
    try:
        from rdkit import Chem
    except ImportError as err:
        raise RuntimeError(f"SDF export needs RDKit (pip install rdkit): {err}") from None
    from oracles.molecule import parse_molecule

    if exp.alphabet_kind in ("dna", "rna", "protein"):
        raise ValueError(f"SDF export needs molecule designs (SMILES or SELFIES); this run's alphabet is "
                         f"{exp.alphabet_kind!r} (export fasta, csv or parquet instead)")
    fmt = "selfies" if exp.alphabet_kind == "selfies" else "auto"
    writer = Chem.SDWriter(str(path))
    written = skipped = 0
    try:
        for row in exp.rows:
            mol, _ = parse_molecule(row["sequence"], fmt)
            if mol is None:
                skipped += 1
                continue
            mol.SetProp("_Name", row["id"])
            mol.SetProp("smiles", Chem.MolToSmiles(mol))
            for key, value in row.items():
                if value is not None:
                    mol.SetProp(key, _text(value))
            writer.write(mol)
            written += 1
    finally:
        writer.close()
    if skipped and not written:
        path.unlink(missing_ok=True)
        raise ValueError(f"none of the {skipped} designs decodes to a molecule (SMILES or SELFIES); export fasta, "
                         "csv or parquet instead")
    if skipped:
        print(f"seqguide export: {skipped} design(s) did not decode to a molecule and were left out", file=sys.stderr)
    return written


def write_export(exp: Export, fmt: str, path: str | Path) -> int:
    """Write ``exp`` as ``fmt`` to ``path``; returns the number of designs written.

    Raises:
        ValueError: an unknown format, or SDF of a run whose designs are not molecules.
        RuntimeError: a missing optional package (RDKit for SDF, pyarrow/pandas for parquet).
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose one of {', '.join(FORMATS)})")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    return {"fasta": _fasta, "csv": _csv, "sdf": _sdf, "parquet": _parquet}[fmt](exp, out)


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(_EXIT_BAD, f"{self.prog}: error: {message}\n")


def export_main(argv: Sequence[str]) -> int:
    """Entry point of ``seqguide export`` (``argv`` without the word ``export``)."""
    parser = _OneLineParser(prog="seqguide export", description="Export a campaign's designs with scores, round, "
                            "provenance and the campaign digest.")
    parser.add_argument("run", help="a run directory (runs/campaigns/<name>) or its campaign.sqlite")
    parser.add_argument("--format", required=True, help=f"one of {', '.join(FORMATS)}")
    parser.add_argument("--top", default=None, help="keep the K best designs")
    parser.add_argument("--all", action="store_true", help="also export invalid designs (after the valid ones)")
    parser.add_argument("--out", "-o", default=None, help="output file (default: <run dir>/export/designs.<format>)")
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as stop:  # --help (0) or a usage error (2, one line): a return code, as other commands
        return int(stop.code or 0)
    fmt = args.format.lower()
    if fmt not in FORMATS:
        return _fail(f"unknown --format {args.format!r} (choose one of {', '.join(FORMATS)})")
    top = None
    if args.top is not None:
        try:
            top = int(args.top)
        except ValueError:
            return _fail(f"--top must be a positive integer, got {args.top!r}")
    from seqguide.design.store import StoreError

    try:
        exp = export_run(args.run, top=top, include_invalid=args.all)
        run_dir = Path(args.run) if Path(args.run).is_dir() else Path(args.run).parent
        out = Path(args.out) if args.out else run_dir / "export" / f"designs.{_EXT[fmt]}"
        n = write_export(exp, fmt, out)
    except (FileNotFoundError, ValueError, RuntimeError, StoreError, OSError) as err:
        return _fail(str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__)
    print(f"wrote {n} design(s) to {out} (campaign {exp.run.get('name')!r}, digest {exp.digest})")
    return 0


def _fail(message: str) -> int:
    print(f"seqguide export: error: {message}", file=sys.stderr)
    return _EXIT_BAD
