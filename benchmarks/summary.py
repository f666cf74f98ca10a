"""The README's design-benchmark summary, regenerated from the tables the runner wrote.

``python -m benchmarks summary`` reads ``benchmarks/results/campaigns.csv``, ``design_ehrlich.csv``,
``design_pmo.csv`` and ``design_bio.csv`` (each written by ``python -m benchmarks run NAME``), writes
``benchmarks/results/summary.md`` and replaces the README blocks between ``<!-- summary:NAME -->`` and
``<!-- /summary:NAME -->`` (``campaigns``, ``design``) with the same text; ``--check`` only reports whether the
README is up to date (exit 1 if not). Every number in a block is a cell of one of those CSV files, named under
each table.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import format_value, markdown_table, read_table

__all__ = ["README", "RESULTS", "build_blocks", "build_summary", "main", "update_readme"]

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
README = ROOT / "README.md"

#: Ehrlich methods shown, in order (the rest are in design_ehrlich.md).
_EHRLICH_METHODS = ("infill", "infill_feas", "ga", "ga_p1024", "best_of_n", "best_of_n_dmp", "random")
_BIO_METHODS = ("infill", "infill_ft", "ga", "random", "best_of_n")


def _num(text: str | None) -> float | None:
    if text in (None, ""):
        return None
    value = float(text)
    return None if math.isnan(value) else value


def _budget_label(budget: str) -> str:
    return f"{int(float(budget)):.0e}".replace("+0", "")


def _by_task_method(rows: list[dict[str, str]], methods: Sequence[str],
                    fill: Callable[[dict[str, Any], dict[str, str]], None]) -> list[dict[str, Any]]:
    """One entry per (task, method) of ``methods``, in order of first appearance: ``fill(entry, row)`` adds each
    row's (one budget's) columns to its entry."""
    table: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        if r["method"] in methods:
            fill(table.setdefault((r["task"], r["method"]), {"task": r["task"], "method": r["method"]}), r)
    return list(table.values())


def _ehrlich(rows: list[dict[str, str]]) -> str:
    def fill(entry: dict[str, Any], r: dict[str, str]) -> None:
        best = _num(r["best_mean"])
        entry[_budget_label(r["budget"])] = f"{format_value(best, 3) if best is not None else 'nan'} ({r['solved']})"
        if int(float(r["budget"])) == 100_000:
            entry["calls @1e5"] = f"{float(r['calls']):,.0f}"
            entry["wall s @1e5"] = format_value(_num(r["wall_seconds"]), 3)

    order = {m: i for i, m in enumerate(_EHRLICH_METHODS)}
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    ordered = sorted(_by_task_method(rows, _EHRLICH_METHODS, fill),
                     key=lambda e: (tasks.index(e["task"]), order[e["method"]]))
    columns = ["task", "method", "1e3", "1e4", "1e5", "calls @1e5", "wall s @1e5"]
    return markdown_table(ordered, columns)


def _pmo(rows: list[dict[str, str]]) -> str:
    """Per method: the top-10 AUC summed over the 16 tasks comparable with PMO and over the 4 it scored differently,
    with PMO's published sums for REINVENT and Graph GA over the same tasks."""
    from benchmarks.pmo_tasks import COMPARABLE, TDC_SCORED, published

    pub = published()
    out = []
    for label, group in (("16 comparable", COMPARABLE), ("4 TDC-scored", TDC_SCORED)):
        by_method: dict[str, dict[str, Any]] = {}
        for r in rows:
            if r["task"] not in group:
                continue
            entry = by_method.setdefault(r["method"], {"tasks": set(), "sum": 0.0, "seeds": r["seeds"], "calls": 0.0})
            entry["tasks"].add(r["task"])
            entry["sum"] += float(r["top10_auc"])
            entry["calls"] = max(entry["calls"], float(r["calls"]))
        for method, e in sorted(by_method.items(), key=lambda kv: -kv[1]["sum"]):
            tasks = sorted(e["tasks"])
            out.append({"tasks": label if len(tasks) == len(group) else f"{len(tasks)} of {label}",
                        "method": method, "seeds": e["seeds"], "sum of top-10 AUC": format_value(e["sum"], 4),
                        "PMO REINVENT": format_value(sum(pub[t]["reinvent"] for t in tasks), 4),
                        "PMO Graph GA": format_value(sum(pub[t]["graph_ga"] for t in tasks), 4),
                        "calls per task": f"{e['calls']:,.0f}"})
    return markdown_table(out)


def _bio(rows: list[dict[str, str]]) -> str:
    def fill(entry: dict[str, Any], r: dict[str, str]) -> None:
        best = _num(r["best_mean"])
        text = format_value(best, 3) if best is not None else "nan"
        entry[_budget_label(r["budget"])] = f"{text} ({r['solved']})" if r.get("solved") else text

    return markdown_table(_by_task_method(rows, _BIO_METHODS, fill))


def _campaigns(rows: list[dict[str, str]]) -> str:
    def guidance(r: dict[str, str]) -> str:
        return r["guidance"] if r["value"] in ("", "-") else f"{r['guidance']} (value: {r['value']})"

    out = [{"campaign": f"`{r['campaign']}`", "guidance": guidance(r),
            "`--quick` wall time": f"{float(r['seconds']):.0f} s", "best objective": format_value(_num(r["best"]), 4),
            "oracle calls / budget": f"{int(float(r['oracle_calls'])):,} / {int(float(r['budget'])):,}"}
           for r in rows]
    return markdown_table(out).rstrip() + ("\n\nSource: `benchmarks/results/campaigns.csv` "
                                           "(`python -m benchmarks run campaigns`; training included, 2 CPU cores).")


def build_blocks(results: Path = RESULTS) -> dict[str, str]:
    """The README blocks (name -> Markdown) from the committed result tables."""
    design = [
        "**Ehrlich functions** (holo's definition; mean best value over 5 seeds, seeds solved in brackets; "
        "`infill` is the elite-infilling `DesignLoop`, `ga` the genetic algorithm at its best measured setting):",
        "",
        _ehrlich(read_table(results / "design_ehrlich.csv")).rstrip(),
        "",
        "Source: `benchmarks/results/design_ehrlich.csv` (`python -m benchmarks run design_ehrlich`).",
        "",
        "**PMO-style molecule design** (GuacaMol goal-directed tasks, 10,000 oracle calls each; PMO's area under the "
        "top-10 curve, summed over the 16 tasks comparable with PMO's tables and, separately, over the 4 that PMO "
        "scored with an older TDC scorer; `PMO REINVENT` / `PMO Graph GA`: PMO's published sums over the same tasks, "
        "`benchmarks/data/pmo_published.csv`):",
        "",
        _pmo(read_table(results / "design_pmo.csv")).rstrip(),
        "",
        "Source: `benchmarks/results/design_pmo.csv` (`python -m benchmarks run design_pmo`).",
        "",
        "**DNA and peptides** (the tasks of `design_bio.csv`: mean best value over seeds, seeds that reached 1.0 in "
        "brackets where a task has a known optimum; the enhancer-grammar and held-out-AMP tasks that replace the "
        "saturated JASPAR NR3C1 and AMP ones appear once their cells are run):",
        "",
        _bio(read_table(results / "design_bio.csv")).rstrip(),
        "",
        "Source: `benchmarks/results/design_bio.csv` (`python -m benchmarks run design_bio`).",
    ]
    return {"campaigns": _campaigns(read_table(results / "campaigns.csv")) + "\n", "design": "\n".join(design) + "\n"}


def build_summary(results: Path = RESULTS) -> str:
    """All blocks as one Markdown page (``benchmarks/results/summary.md``)."""
    blocks = build_blocks(results)
    return "\n".join(f"## {name}\n\n{text}" for name, text in blocks.items())


def update_readme(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each block between its markers replaced."""
    for name, body in blocks.items():
        start, end = f"<!-- summary:{name} -->", f"<!-- /summary:{name} -->"
        if start not in text or end not in text:
            raise ValueError(f"README: add the markers {start} and {end} where the {name} summary goes")
        head, rest = text.split(start, 1)
        _, tail = rest.split(end, 1)
        text = f"{head}{start}\n{body}{end}{tail}"
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks summary", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the README block is out of date")
    args = parser.parse_args(argv)
    text = README.read_text()
    new = update_readme(text, build_blocks())
    if args.check:
        if new != text:
            print("README.md: the benchmark summary is out of date; run `python -m benchmarks summary`")
            return 1
        print("README.md: the benchmark summary matches benchmarks/results/")
        return 0
    (RESULTS / "summary.md").write_text(build_summary())
    README.write_text(new)
    print(f"wrote {RESULTS / 'summary.md'} and the README blocks")
    return 0
