"""Reports of a campaign run: ranked tables and plots, from the SQLite store alone.

``write_report(run)`` (``seqguide report RUN``) reads a run directory or a store file and writes, in
``<run_dir>/report/`` by default:

* ``top_designs.csv`` / ``top_designs.md``: the top-k valid designs with every component value (in the
  Markdown table, components recorded with weight 0 are marked ``(recorded)``: they are not optimised);
* ``best_so_far.png``: the best objective so far against real oracle calls (the store's ledger, in call order:
  calls whose result an interruption lost are counted where they happened, and the guidance's paid look-ahead
  calls before the scoring of their round, so the axis ends at the run's paid calls), with the best unguided
  design as a dashed baseline when the run has both unguided and guided designs;
* ``scores_by_round.png``: the objective's distribution in every round;
* ``diversity_by_round.png``: mean pairwise distance of each round's valid designs: Hamming distance for
  sequences (positions that differ plus the length difference), Tanimoto distance of Morgan fingerprints
  (radius 2, 2048 bits) for molecules (SELFIES decoded with ``selfies.decoder``);
* ``pareto.png``: with two or more *optimised* components (non-zero weight), the first two and their Pareto
  front, each axis marked with the direction the campaign pushes it (from the sign of its weight and the
  objective's direction); recorded (weight-0) properties never appear as objectives;
* ``logo.png`` (sequences, logomaker, top-k) or ``molecules.png`` (SELFIES, RDKit grid, top-k);
* ``report.html``: the same in one self-contained page (figures embedded as base64 PNG, no external CSS or
  JavaScript: it reads offline), with the run's configuration;
* ``report.md``: the run (a run or session still marked ``running`` whose process is gone is shown as
  ``interrupted``), the objective (optimised terms with their weights, recorded ones apart), the oracle calls
  (designs charged plus calls re-paid after interruptions), its rounds, the top table and the figures.

Rounds are numbered from 1 in every table, figure and console line (the store keeps its 0-based index).
Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas: no global pyplot state.
The run is read by :mod:`.run_data`, measured by :mod:`.metrics`, tabled by :mod:`.tables` and drawn by
:mod:`.plots`; this module decides what goes in and writes ``report.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqguide.design.report.facts import describe_objective, run_cost
from seqguide.design.report.html import write_html
from seqguide.design.report.plots import (
    molecule_grid,
    plot_best_so_far,
    plot_diversity,
    plot_logo,
    plot_pareto,
    plot_scores,
)
from seqguide.design.report.run_data import RunData, load_run
from seqguide.design.report.tables import markdown_table, round_rows, top_columns, top_rows, write_csv

__all__ = ["Report", "write_report"]


@dataclass
class Report:
    """What :func:`write_report` wrote: ``files`` maps a short name to its path; ``skipped`` says why not."""

    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


def _pareto_pair(data: RunData) -> list[str]:
    """The first two optimised components (recorded, weight-0 ones are not objectives); [] if fewer."""
    return data.optimised[:2] if len(data.optimised) >= 2 else []


def write_report(source: str | Path, out_dir: str | Path | None = None, *, top_k: int | None = None,
                 run_id: int | None = None) -> Report:
    """Write the tables and figures of a run.

    Args:
        source: A run directory or a store file.
        out_dir: Output directory (default: ``report/`` next to the store).
        top_k: Designs in the top table and the logo / molecule grid (default: the run's ``report.top_k``).
        run_id: Which run of the store (default: the latest).

    Returns:
        The :class:`Report` (files written, figures skipped and why).
    """
    data = load_run(source, run_id)
    out = Path(out_dir) if out_dir is not None else data.store.parent / "report"
    out.mkdir(parents=True, exist_ok=True)
    k = top_k or int(((data.run.get("config") or {}).get("report") or {}).get("top_k", 20))
    rep = Report(out)
    rows = top_rows(data, k)
    columns = top_columns(data)
    write_csv(out / "top_designs.csv", rows, columns)
    rep.files["top_csv"] = out / "top_designs.csv"
    (out / "top_designs.md").write_text(markdown_table(rows, columns, data))
    rep.files["top_md"] = out / "top_designs.md"
    rep.files["best_so_far"] = plot_best_so_far(data, out / "best_so_far.png")
    rep.files["scores_by_round"] = plot_scores(data, out / "scores_by_round.png")
    rep.files["diversity_by_round"] = plot_diversity(data, out / "diversity_by_round.png")
    pair = _pareto_pair(data)
    if pair:
        rep.files["pareto"] = plot_pareto(data, pair, out / "pareto.png")
    elif data.recorded:
        rep.skipped["pareto"] = (f"fewer than two optimised components ({', '.join(data.recorded)} recorded with "
                                 "weight 0, not optimised)")
    else:
        rep.skipped["pareto"] = "a single objective component"
    if not rows:
        rep.skipped["designs"] = "no valid designs"
    elif data.kind == "selfies":
        grid = molecule_grid(rows, out / "molecules.png")
        if grid is not None:
            rep.files["molecules"] = grid
        else:
            rep.skipped["molecules"] = "no top design could be drawn"
    else:
        rep.files["logo"] = plot_logo(data, [r["sequence"] for r in rows], out / "logo.png")
    rep.files["summary"] = _write_summary(data, rep, rows, columns, out / "report.md")
    rep.files["html"] = write_html(data, rep.files, rep.skipped, rows, columns, out / "report.html")
    return rep


def _write_summary(data: RunData, rep: Report, rows: list[dict[str, Any]], columns: list[str], path: Path) -> Path:
    """``report.md``: the run, its oracle calls and objective, the rounds and top tables, the figures."""
    run = data.run
    cost = run_cost(data)
    interrupted = sum(s.get("status") == "interrupted" for s in data.sessions)
    lines = [
        f"# Campaign report: {run['name']}",
        "",
        f"- status: {data.status} (started {run['started_at']}, ended {run.get('ended_at') or '-'}; "
        f"{len(data.sessions)} session(s), {interrupted} interrupted)",
        f"- designs scored: {len(data.designs)} ({len(data.valid)} valid)",
        f"- oracle calls: {cost.total} of the budget of {cost.budget} = {cost.charged} designs charged + "
        f"{cost.repaid} re-paid (results lost in flight at an interruption, scored again after the resume) + "
        f"{cost.lookahead} look-ahead calls of the guidance (value: oracle)",
        f"- objective: {describe_objective(data)}",
        f"- model: {(run.get('model') or {}).get('id', '-')}",
        f"- code: seqguide {run.get('code_version') or '?'} (git {run.get('git_commit') or 'n/a'})",
        f"- store: {data.store}",
        "",
        "## Rounds",
        "",
    ]
    rounds = round_rows(data)
    lines.append(markdown_table(rounds, list(rounds[0]) if rounds else ["round"]))
    lines += ["## Top designs", "", markdown_table(rows, columns, data), "## Figures", ""]
    for key, file in rep.files.items():
        if file.suffix == ".png":
            lines.append(f"![{key}]({file.name})")
    for key, why in rep.skipped.items():
        lines.append(f"- {key}: not drawn ({why})")
    path.write_text("\n".join(lines) + "\n")
    return path
