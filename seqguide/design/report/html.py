"""``report.html``: a campaign report in one self-contained page that reads offline: the run and its cost, the
rounds and top-designs tables, the figures embedded as base64 PNG, and the run's configuration (inline CSS, no
JavaScript, nothing fetched)."""

from __future__ import annotations

import base64
import html
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from seqguide.design.report.facts import describe_objective, run_cost
from seqguide.design.report.plots import best_so_far_curve
from seqguide.design.report.run_data import RunData
from seqguide.design.report.tables import cell_text, header_text, round_rows

__all__ = ["html_table", "write_html"]

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f3f7; } td.text { text-align: left; font-family: monospace; word-break: break-all; }
figure { display: inline-block; margin: 0.5em; } img { max-width: 100%; border: 1px solid #eee; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
"""
_TEXT = ' class="text"'
_TEXT_COLUMNS = {"sequence", "smiles", "id", "status", "value", "key"}


def html_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], data: RunData | None = None) -> str:
    """An HTML ``<table>`` of ``rows`` (cells as :func:`cell_text` shows them, every one escaped)."""
    head = "".join(f"<th>{html.escape(header_text(data, c) if data is not None else c)}</th>" for c in columns)
    body = []
    for r in rows:
        cells = "".join(f"<td{_TEXT if c in _TEXT_COLUMNS else ''}>{html.escape(cell_text(r.get(c)))}</td>"
                        for c in columns)
        body.append(f"<tr>{cells}</tr>")
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>\n"


def _image(path: Path, caption: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _facts(data: RunData) -> list[tuple[str, str]]:
    run = data.run
    cost = run_cost(data)
    interrupted = sum(s.get("status") == "interrupted" for s in data.sessions)
    facts = [
        ("status", f"{data.status} (started {run['started_at']}, ended {run.get('ended_at') or '-'}; "
                   f"{len(data.sessions)} session(s), {interrupted} interrupted)"),
        ("designs scored", f"{len(data.designs)} ({len(data.valid)} valid)"),
        ("oracle calls (cost)", f"{cost.total} of the budget of {cost.budget} = {cost.charged} designs charged + "
                                f"{cost.repaid} re-paid after interruptions + {cost.lookahead} look-ahead calls of "
                                "the guidance"),
        ("objective", describe_objective(data)),
        ("model", str((run.get("model") or {}).get("id", "-"))),
        ("code", f"seqguide {run.get('code_version') or '?'} (git {run.get('git_commit') or 'n/a'})"),
        ("store", str(data.store)),
    ]
    curve = best_so_far_curve(data)
    if curve.baseline is not None:
        best = curve.best[-1] if curve.best else float("nan")
        facts.append(("unguided baseline", f"best of {curve.baseline_n} unguided designs: {cell_text(curve.baseline)}"
                                           f" (best of the run: {cell_text(best)})"))
    return facts


def write_html(data: RunData, files: Mapping[str, Path], skipped: Mapping[str, str], rows: Sequence[Mapping[str, Any]],
               columns: Sequence[str], path: Path) -> Path:
    """Write ``report.html`` for ``data``.

    Args:
        data: The run.
        files: The report's files by short name; every ``.png`` among them is embedded.
        skipped: Figures not drawn, and why.
        rows: The top-designs rows (:func:`~seqguide.design.report.tables.top_rows`) and ``columns`` their columns.
        path: Where to write.

    Returns:
        ``path``.
    """
    name = html.escape(str(data.run["name"]))
    facts = "".join(f"<tr><th>{html.escape(k)}</th><td class=\"text\">{html.escape(v)}</td></tr>"
                    for k, v in _facts(data))
    rounds = round_rows(data)
    figures = "\n".join(_image(p, key.replace("_", " ")) for key, p in files.items() if p.suffix == ".png")
    notes = "".join(f"<li>{html.escape(k)}: not drawn ({html.escape(v)})</li>" for k, v in skipped.items())
    config = json.dumps(data.run.get("config") or {}, indent=2, sort_keys=True, default=str)
    parts = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f"<title>Campaign report: {name}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
        f"<h1>Campaign report: {name}</h1>",
        "<h2>Run and cost</h2>", f"<table>{facts}</table>",
        "<h2>Rounds</h2>", html_table(rounds, list(rounds[0]) if rounds else ["round"]),
        f"<h2>Top designs ({len(rows)})</h2>", html_table(rows, columns, data),
        "<h2>Figures</h2>", figures, f"<ul>{notes}</ul>" if notes else "",
        "<h2>Configuration</h2>", f"<pre>{html.escape(config)}</pre>",
        "</body>", "</html>",
    ]
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
