"""The package layout's rules (docs/architecture.md, "Layout"), checked on the source tree.

- No file-level import circle among the modules of ``seqguide``, ``oracles`` and ``benchmarks``: every import
  statement in a file counts, including those under ``if TYPE_CHECKING:`` and inside functions.
- No Python file in ``seqguide/`` or ``oracles/`` over :data:`MAX_LINES` lines unless its module docstring says why
  in a line that starts with ``Kept whole:``; every module has a docstring.
- Every import path the README, ``docs/`` and ``configs/`` show resolves to a name at its current place (not through
  :mod:`seqguide.moved`), and every moved module path still imports, with a warning naming the new one.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("seqguide", "oracles", "benchmarks")
SIZE_CHECKED = ("seqguide", "oracles")
MAX_LINES = 500
#: Dotted names in the docs that are entry-point groups, not modules.
ENTRY_POINT_GROUPS = {"seqguide.guiders", "seqguide.oracles"}


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the checked packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the project modules its import statements name (anywhere in the file).

    ``from a.b import c`` is an edge to ``a.b.c`` when that is a module, else to ``a.b``; ``import a.b`` to ``a.b``.
    The implicit import of a parent package is not an edge (importing ``a.b.c`` runs ``a/__init__.py`` first, but
    ``a.b.c`` does not depend on what ``a`` exports).
    """

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [owner(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package
                    for _ in range(node.level - 1):
                        anchor = anchor.rpartition(".")[0]
                    base = f"{anchor}.{base}" if base else anchor
                for alias in node.names:
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else owner(base))
            graph[name].update(t for t in targets if t and t != name)
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return circles


def test_no_import_circle_between_files():
    graph = import_graph(_modules())
    circles = import_circles(graph)
    described = ["; ".join(f"{a} -> {b}" for a in c for b in sorted(graph[a] & set(c))) for c in circles]
    assert not circles, "file-level import circles:\n" + "\n".join(described)


def test_the_circle_check_sees_type_checking_and_function_imports(tmp_path):
    # The check itself: a circle closed only by a TYPE_CHECKING import, and one closed inside a function.
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import B\n")
    (pkg / "b.py").write_text("from pkg import a\n")
    (pkg / "c.py").write_text("def f():\n    from pkg.d import g\n")
    (pkg / "d.py").write_text("from pkg.c import f\ng = f\n")
    modules = {f"pkg.{p.stem}" if p.stem != "__init__" else "pkg": p for p in pkg.glob("*.py")}
    assert import_circles(import_graph(modules)) == [["pkg.a", "pkg.b"], ["pkg.c", "pkg.d"]]


def _docstring_and_length(path: Path) -> tuple[str, int]:
    text = path.read_text()
    return ast.get_docstring(ast.parse(text)) or "", len(text.splitlines())


def test_every_module_has_a_docstring():
    missing = [str(p.relative_to(ROOT)) for p in _modules().values() if not _docstring_and_length(p)[0].strip()]
    assert not missing, f"modules without a docstring: {missing}"


def test_no_oversized_file_without_a_reason():
    oversized = []
    for name, path in _modules().items():
        if not name.startswith(SIZE_CHECKED):
            continue
        doc, lines = _docstring_and_length(path)
        if lines > MAX_LINES and not any(line.strip().startswith("Kept whole:") for line in doc.splitlines()):
            oversized.append(f"{path.relative_to(ROOT)} ({lines} lines)")
    assert not oversized, (f"files over {MAX_LINES} lines without a 'Kept whole: <reason>' line in their "
                           f"docstring: {oversized}")


@pytest.mark.slow
def test_the_light_packages_do_not_load_lightning():
    # seqguide.models and seqguide.training export their names lazily (seqguide.lazy), so the sampler's use of
    # models.prediction / models.devices and the CLI's first import stay free of Lightning.
    script = ("import sys\nimport seqguide, seqguide.guidance, seqguide.models, seqguide.training, seqguide.io\n"
              "import seqguide.models.prediction, seqguide.models.devices, seqguide.sampling\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning', 'pytorch_lightning')))")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]", run.stdout


def test_every_package_exports_what_its_all_lists():
    # Lazy packages list their names three times (TYPE_CHECKING imports for tools, the lazy table, __all__):
    # every __all__ name must resolve, and the names tools see must be the ones exported.
    import importlib

    missing = []
    for name, path in _modules().items():
        if path.name != "__init__.py" or not name.startswith(SIZE_CHECKED):
            continue
        package = importlib.import_module(name)
        exported = set(getattr(package, "__all__", ()))
        missing += [f"{name}.{n}" for n in sorted(exported) if not hasattr(package, n)]
        typed = {a.asname or a.name for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING"
                 for stmt in node.body if isinstance(stmt, ast.ImportFrom) for a in stmt.names}
        if typed and typed != exported:
            missing.append(f"{name}: TYPE_CHECKING imports {sorted(typed ^ exported)} differ from __all__")
    assert not missing, missing


def test_each_guidance_family_says_what_belongs_there():
    families = sorted(p.parent.name for p in (ROOT / "seqguide" / "guidance").glob("*/__init__.py"))
    assert {"value", "cfg", "discrete", "posterior"} <= set(families)
    for family in families:
        doc, _ = _docstring_and_length(ROOT / "seqguide" / "guidance" / family / "__init__.py")
        assert "belongs here" in doc, f"seqguide/guidance/{family}/__init__.py does not say what belongs there"


# -------------------------------------------------------------- import paths shown to users
_CODE_BLOCK = re.compile(r"```(\w*)\n(.*?)```", re.S)
_BACKTICKED = re.compile(r"`((?:seqguide|oracles|benchmarks)(?:\.[A-Za-z_]\w*)+(?::[A-Za-z_]\w*)?)")
_CLASS_PATH = re.compile(r"\b(?:class_path|method):\s*((?:seqguide|oracles)\.[\w.:]+)")


def _documented_files() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "configs").rglob("*.yaml"))]


def documented_paths() -> dict[str, set[str]]:
    """Every dotted path the README, docs and configs name: ``module`` or ``module:attr`` or ``module.attr``,
    mapped to the files that name it."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in _documented_files():
        text = path.read_text()
        where = str(path.relative_to(ROOT))
        for m in _CLASS_PATH.finditer(text):
            found[m.group(1)].add(where)
        if path.suffix != ".md":
            continue
        for m in _BACKTICKED.finditer(text):
            found[m.group(1)].add(where)
        for lang, block in _CODE_BLOCK.findall(text):
            if lang not in ("python", "py", ""):
                continue
            try:
                tree = ast.parse(block)
            except SyntaxError:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                    for alias in node.names:
                        found[f"{node.module}:{alias.name}"].add(where)
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        found[alias.name].add(where)
    return {k: v for k, v in found.items() if k.split(":")[0] not in ENTRY_POINT_GROUPS
            and k.split(".")[0] in PACKAGES}


def _resolve(path: str) -> object:
    """Import ``module[:attr]`` or a dotted ``module.attr...`` path; raise if any part is missing."""
    import importlib

    if ":" in path:
        module, attr = path.split(":", 1)
        return getattr(importlib.import_module(module), attr)
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(path)


def test_every_import_path_in_readme_docs_and_configs_resolves():
    from seqguide.moved import MOVED

    paths = documented_paths()
    assert "seqguide.training:train_masked_diffusion" in paths  # the README's API example is among them
    assert "seqguide.models.GumbelSoftmaxFlow" in paths  # a configs/ class_path
    broken, moved = [], []
    for path, files in sorted(paths.items()):
        module = path.split(":")[0]
        if any(module == old or module.startswith(old + ".") for old in MOVED):
            moved.append(f"{path} ({', '.join(sorted(files))})")
            continue
        try:
            _resolve(path)
        except (ImportError, AttributeError) as err:
            broken.append(f"{path} ({', '.join(sorted(files))}): {err}")
    assert not broken, "documented import paths that do not resolve:\n" + "\n".join(broken)
    assert not moved, "documented import paths that only work through seqguide.moved:\n" + "\n".join(moved)


def test_the_project_itself_uses_no_moved_path():
    from seqguide.moved import MOVED

    # Imports, and strings (docstrings, importlib paths, class paths); a comment may name an old path.
    pattern = re.compile(r"(?<![\w.])(" + "|".join(re.escape(old) for old in MOVED) + r")(?!\w)")
    uses = []
    files = [p for d in (*PACKAGES, "tests", "scripts") for p in sorted((ROOT / d).rglob("*.py"))]
    for path in files:
        if path.name == "moved.py" or path == Path(__file__).resolve():
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                texts = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                texts = [node.module or ""]
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                texts = [node.value]
            else:
                continue
            uses += [f"{path.relative_to(ROOT)}:{node.lineno}: {m}" for s in texts for m in pattern.findall(s)]
    assert not uses, "old module paths still used (import the new one):\n" + "\n".join(uses)


@pytest.mark.slow
def test_moved_module_paths_still_import_with_a_warning():
    # A fresh interpreter, so that no moved path is imported yet.
    script = """
import importlib, json, sys, warnings
from seqguide.moved import MOVED
out = {}
for old, new in MOVED.items():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    out[old] = [module is importlib.import_module(new),
                [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]]
from seqguide.guidance.registry import guider_info
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    out["class path"] = guider_info("seqguide.guidance.svdd:SVDD").cls is guider_info("svdd").cls
print(json.dumps(out))
"""
    import json

    from seqguide.moved import MOVED

    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert result.pop("class path") is True  # a campaign's `method: <old module>:Class` still builds
    assert set(result) == set(MOVED)
    for old, (same, warned) in result.items():
        assert same, f"{old} does not import {MOVED[old]}"
        assert any(MOVED[old] in w for w in warned), f"importing {old} does not warn that it moved: {warned}"
