"""The Python examples in docs/*.md run as written (in a temporary directory)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLES = [(p.name, i, code) for p in sorted(DOCS.glob("*.md"))
            for i, code in enumerate(re.findall(r"```python\n(.*?)```", p.read_text(), flags=re.S))]


@pytest.mark.slow
@pytest.mark.parametrize(("doc", "index", "code"), EXAMPLES, ids=[f"{d}:{i}" for d, i, _ in EXAMPLES])
def test_docs_python_examples_run(doc, index, code, tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{DOCS / doc}[{index}]", "exec"), {})  # the project's own docs, not user data
    assert capsys.readouterr().out.strip()
