"""Make ``import oracles`` find the real package while these tests run.

pytest (prepend import mode) puts ``tests/`` on ``sys.path`` when ``tests/conftest.py`` exists, and the
folder ``tests/oracles/`` (no ``__init__.py``) then looks like a namespace package called ``oracles``
that shadows the editable install (whose finder runs after the path finder). Putting the repository
root on ``sys.path`` lets the path finder see the regular ``oracles`` package first.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
_mod = sys.modules.get("oracles")
if _mod is not None and getattr(_mod, "__file__", None) is None:  # a namespace package: drop it
    for _name in [n for n in sys.modules if n == "oracles" or n.startswith("oracles.")]:
        del sys.modules[_name]
