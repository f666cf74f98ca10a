"""Import paths for the oracle tests, whatever pytest's import mode.

* ``oracle_helpers`` (shared test oracles) is imported by name, so this folder goes on ``sys.path``
  (``--import-mode=importlib`` does not put it there).
* In the default ``prepend`` mode, with ``tests/conftest.py`` present, pytest puts ``tests/`` on
  ``sys.path``; the folder ``tests/oracles/`` (no ``__init__.py``) then looks like a namespace package
  called ``oracles`` that shadows the editable install (whose finder runs after the path finder).
  Putting the repository root first lets the path finder see the regular ``oracles`` package.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
for _path in (str(_HERE), str(_HERE.parents[1])):
    if _path not in sys.path:
        sys.path.insert(0, _path)
_mod = sys.modules.get("oracles")
if _mod is not None and getattr(_mod, "__file__", None) is None:  # a namespace package: drop it
    for _name in [n for n in sys.modules if n == "oracles" or n.startswith("oracles.")]:
        del sys.modules[_name]
