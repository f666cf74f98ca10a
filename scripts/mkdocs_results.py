"""mkdocs hook: the benchmark results in ``benchmarks/results/`` become pages of the docs site, as written.

Every ``benchmarks/results/NAME.md`` is served as the page ``results/NAME.md`` and every plot beside it
(``*.png``, ``image_guidance/*.png``) at the same relative place, so the tables on the site are the files the
benchmark runner wrote (``python -m benchmarks run NAME``), never a copy typed by hand. The marker
``<!-- results-pages -->`` in ``docs/benchmarks.md`` becomes the list of those pages, with each file's title.
Named in ``mkdocs.yml`` under ``hooks:``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SITE_FOLDER = "results"
MARKER = "<!-- results-pages -->"


def result_files() -> dict[str, Path]:
    """``{site path: file}`` for every result table and plot the site serves."""
    found = {}
    for path in sorted(RESULTS.rglob("*")):
        if path.is_file() and path.suffix in (".md", ".png") and not path.name.startswith("."):
            found[f"{SITE_FOLDER}/{path.relative_to(RESULTS).as_posix()}"] = path
    return found


def _title(path: Path) -> str:
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def on_files(files: Files, config: Any) -> Files:
    """Add the result pages and plots to the site (mkdocs event)."""
    for uri, path in result_files().items():
        if files.get_file_from_path(uri) is None:
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Replace the marker of the benchmarks page with links to every result page (mkdocs event)."""
    if MARKER not in markdown:
        return markdown
    lines = [f"- [{_title(path)}]({uri}) (`benchmarks/results/{path.name}`)"
             for uri, path in result_files().items() if path.suffix == ".md" and path.name != "summary.md"]
    return markdown.replace(MARKER, "\n".join(lines))
