"""PMO's task groups and published numbers: which of our 20 PMO tasks compare with PMO's tables, and its AUCs.

PMO (Gao et al. 2022, arXiv 2206.12411) scored 4 of the tasks :mod:`benchmarks.design_pmo` runs with an older TDC
scorer that counted atoms from the SMILES text (fixed upstream in 2022): :data:`TDC_SCORED`. The other 16,
:data:`COMPARABLE`, can be compared with its published values, which :func:`published` reads from
``benchmarks/data/pmo_published.csv`` (its header names the source). Kept apart from ``design_pmo`` so the README
summary can use it without importing the runner.
"""

from __future__ import annotations

import csv
from pathlib import Path

from oracles.guacamol import PMO_TASKS

__all__ = ["COMPARABLE", "PUBLISHED_FILE", "TDC_SCORED", "published"]

#: PMO tasks its tables scored with an older TDC scorer (atoms counted from the SMILES text; fixed upstream in 2022)
TDC_SCORED = ("guacamol_isomers_c7h8n2o2", "guacamol_isomers_c9h10n2o2pf2cl", "guacamol_zaleplon_mpo",
              "guacamol_sitagliptin_mpo")
#: the 16 tasks whose values can be compared with PMO's published ones
COMPARABLE = tuple(t for t in PMO_TASKS if t not in TDC_SCORED)
PUBLISHED_FILE = Path(__file__).parent / "data" / "pmo_published.csv"


def published(path: Path = PUBLISHED_FILE) -> dict[str, dict[str, float]]:
    """PMO's published top-10 AUC per task (our task names) for ``reinvent`` and ``graph_ga`` (with ``*_std``),
    from ``benchmarks/data/pmo_published.csv`` (its header comment names the source)."""
    with open(path) as fh:
        lines = [ln for ln in fh if ln.strip() and not ln.startswith("#")]
    out: dict[str, dict[str, float]] = {}
    for row in csv.DictReader(lines):
        name = row.pop("task")
        task = name if name == "qed" else f"guacamol_{name}"
        if task not in PMO_TASKS:
            raise ValueError(f"{path}: unknown task {name!r}")
        out[task] = {k: float(v) for k, v in row.items()}
        if bool(out[task].pop("comparable")) != (task in COMPARABLE):
            raise ValueError(f"{path}: task {name!r} has the wrong 'comparable' flag")
    return out
