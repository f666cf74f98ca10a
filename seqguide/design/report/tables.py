"""The tables of a report: the top designs and the rounds of a run, written as CSV and Markdown (cells in
``.6g``, recorded weight-0 components marked in the Markdown header)."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from seqguide.design.report.run_data import RunData

__all__ = ["cell_text", "header_text", "markdown_table", "round_rows", "top_columns", "top_rows", "write_csv"]


def cell_text(v: Any) -> str:
    """A cell: empty for None and non-finite floats, floats in ``.6g``."""
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return str(v)


def header_text(data: RunData, column: str) -> str:
    """A table header: recorded (weight-0) components are marked as such."""
    return f"{column} (recorded)" if column in data.recorded else column


def top_columns(data: RunData) -> list[str]:
    """The columns of the top-designs table: rank, round, objective, every component, sequence (SMILES), id."""
    columns = ["rank", "round", "objective", *data.labels, "sequence"]
    if data.kind == "selfies":
        columns.append("smiles")
    columns.append("id")
    return columns


def top_rows(data: RunData, k: int) -> list[dict[str, Any]]:
    """The ``k`` best valid designs as rows of the :func:`top_columns` table."""
    rows = []
    for rank, d in enumerate(data.ranked()[:k], start=1):
        row: dict[str, Any] = {"rank": rank, "round": d.round + 1, "objective": d.objective}
        for label in data.labels:
            row[label] = d.components.get(label)
        row["sequence"] = d.sequence
        if data.kind == "selfies":  # the key is the canonical SMILES when the SELFIES decodes
            row["smiles"] = "" if d.key.startswith("selfies:") else d.key
        row["id"] = d.id
        rows.append(row)
    return rows


def markdown_table(rows: list[dict[str, Any]], columns: list[str], data: RunData | None = None) -> str:
    """A Markdown table of ``rows`` (headers marked by :func:`header_text` when ``data`` is given)."""

    def cell(v: Any) -> str:
        return cell_text(v).replace("|", "\\|")

    header = [header_text(data, c) for c in columns] if data is not None else columns
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Write ``rows`` as a CSV file with a header (cells as :func:`cell_text` shows them)."""
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: cell_text(r.get(c)) for c in columns})


def round_rows(data: RunData) -> list[dict[str, Any]]:
    """One row per round: counts, the oracle calls of its designs (re-paid ones apart), guidance calls, the value
    source and its held-out rho, the best so far and the wall time."""
    per_round: dict[int, list[int]] = {}
    for c in data.calls:
        per_round.setdefault(int(c["round"]), [0, 0])[0] += 1
        per_round[int(c["round"])][1] += c["design"] is None
    return [{"round": r.round + 1, "status": r.status, "candidates": r.n_candidates, "duplicates": r.n_duplicates,
             "scored": r.n_scored, "valid": r.n_valid, "charged": r.n_charged,
             "oracle calls": per_round.get(r.round, [r.n_charged, 0])[0],
             "re-paid": per_round.get(r.round, [0, 0])[1],
             "guidance calls": r.guidance_oracle_calls, "guidance paid": r.guidance_charged,
             "value": r.value_source, "value rho": r.value_spearman, "best so far": r.best,
             "seconds": round(r.wall_seconds, 1)} for r in data.rounds]
