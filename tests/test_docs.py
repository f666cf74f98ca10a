"""The code of the docs runs as written (in a temporary directory): the Python examples of docs/*.md one block at
a time, and every tutorial (docs/tutorials/*.md) as a whole, its ```python blocks and the `seqguide ...` lines of
its ```bash blocks in page order, like a reader typing them."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = [(p.name, i, code) for p in sorted(DOCS.glob("*.md"))
            for i, code in enumerate(re.findall(r"```python\n(.*?)```", p.read_text(), flags=re.S))]
TUTORIALS = sorted((DOCS / "tutorials").glob("*.md"))
#: How a tutorial's CLI lines run: the `seqguide` console script of this checkout, whichever Python runs the tests.
CLI = [sys.executable, "-c", "import sys; from seqguide.cli import main; sys.exit(main())"]


@pytest.mark.slow
@pytest.mark.parametrize(("doc", "index", "code"), EXAMPLES, ids=[f"{d}:{i}" for d, i, _ in EXAMPLES])
def test_docs_python_examples_run(doc, index, code, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{DOCS / doc}[{index}]", "exec"), {})  # the project's own docs, not user data
    assert capsys.readouterr().out.strip()


def tutorial_steps(text: str) -> list[tuple[str, str]]:
    """The runnable steps of a page in order: ``("python", code)`` per block, ``("bash", line)`` per command.

    A bash line may continue over ``\\`` and carry ``# comments``; every command in a ```bash block of a tutorial
    must be a ``seqguide`` command (optionally after ``NAME=value`` settings), so nothing a page shows goes unrun.
    """
    steps: list[tuple[str, str]] = []
    for kind, body in re.findall(r"```(python|bash)\n(.*?)```", text, flags=re.S):
        if kind == "python":
            steps.append((kind, body))
            continue
        for line in body.replace("\\\n", " ").splitlines():
            if shlex.split(line, comments=True):
                steps.append((kind, line.strip()))
    return steps


def run_command(line: str, cwd: Path) -> str:
    """Run one ``[NAME=value ...] seqguide ARGS`` line in ``cwd`` with this checkout's package; its stdout."""
    words = shlex.split(line, comments=True)
    env = dict(os.environ)
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        key, _, value = words.pop(0).partition("=")
        env[key] = value
    if not words or words[0] != "seqguide":
        raise ValueError(f"a tutorial's bash block runs only seqguide commands (use ```text otherwise): {line!r}")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    done = subprocess.run([*CLI, *words[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          check=False)
    assert done.returncode == 0, f"{line}\nexit {done.returncode}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def test_tutorial_steps_keep_page_order_and_join_continued_lines() -> None:
    page = ("```python\nx = 1\n```\ntext\n```bash\n# a comment\nseqguide a \\\n  --b c   # why\n\nseqguide d\n```\n"
            "```text\nseqguide not run\n```\n```python\nprint(x)\n```\n")
    assert tutorial_steps(page) == [("python", "x = 1\n"), ("bash", "seqguide a    --b c   # why"),
                                    ("bash", "seqguide d"), ("python", "print(x)\n")]


def test_a_tutorial_command_that_is_not_seqguide_is_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="only seqguide commands"):
        run_command("pip install something", tmp_path)
    assert "seqguide" in run_command("PYTHONPATH=. seqguide --version", tmp_path)


def test_every_tutorial_is_in_the_site_navigation() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    assert TUTORIALS, "docs/tutorials/ has no pages"
    for page in TUTORIALS:
        assert f"tutorials/{page.name}" in nav, f"{page.name} is not in mkdocs.yml's nav"
        assert tutorial_steps(page.read_text()), f"{page.name} has no code to run"


@pytest.mark.slow
@pytest.mark.parametrize("page", TUTORIALS, ids=[p.stem for p in TUTORIALS])
def test_tutorial_runs(page: Path, tmp_path, monkeypatch, capsys) -> None:
    """One page, start to end, in a fresh directory holding links to the repository's configs/ and examples/."""
    for name in ("configs", "examples"):
        (tmp_path / name).symlink_to(ROOT / name, target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))  # modules a page writes import as from the reader's folder
    namespace: dict[str, object] = {"__name__": f"tutorial_{page.stem}"}
    for i, (kind, step) in enumerate(tutorial_steps(page.read_text())):
        if kind == "python":
            exec(compile(step, f"{page}[{i}]", "exec"), namespace)  # the project's own docs, not user data
        else:
            print(run_command(step, tmp_path))
    assert capsys.readouterr().out.strip()
