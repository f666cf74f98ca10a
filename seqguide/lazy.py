"""Names a package exports but imports on first use (PEP 562), so that ``import seqguide`` stays light.

A package whose public names include ones that need Lightning (learned value models, noisy classifiers, the
training entry points) lists them with the module that defines each; :func:`lazy_exports` returns the module-level
``__getattr__`` that imports that module when the name is first asked for.

Example:
    >>> __getattr__ = lazy_exports(__name__, {"ValueModel": "seqguide.guidance.value.model"})  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, names: Mapping[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package`` that imports ``names[name]`` and returns its attribute ``name``."""
    table = dict(names)

    def __getattr__(name: str) -> Any:
        if name in table:
            return getattr(importlib.import_module(table[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
