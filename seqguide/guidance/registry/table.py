"""The table of guiders: short names to classes, entry-point plugins, class paths, and lookup by name.

Built-in names come first and cannot be shadowed (an entry point that uses one is ignored, with a warning);
:func:`register_guider` adds names in this process; other packages add theirs through the ``seqguide.guiders``
entry-point group (read once; :func:`refresh` re-reads it).
Any ``Guider`` subclass can also be named by its class path (``my_pkg.guiders:MyGuider`` or
``my_pkg.guiders.MyGuider``). An unknown name is refused with the nearest known one.
"""

from __future__ import annotations

import difflib
import importlib
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from seqguide.guidance.base import Guider
from seqguide.guidance.registry.errors import GuiderSpecError
from seqguide.guidance.registry.specs import GuiderInfo

__all__ = ["ENTRY_POINT_GROUP", "guider_info", "list_guiders", "refresh", "register_guider"]

#: Entry-point group through which other packages register guiders (``name = "pkg.module:Class"``).
ENTRY_POINT_GROUP = "seqguide.guiders"

#: The built-in guiders: short name -> ``module:Class`` (imported on first use).
_BUILTIN: dict[str, str] = {
    "svdd": "seqguide.guidance.value.svdd:SVDD",
    "smc": "seqguide.guidance.value.smc:SMC",
    "best_of_n": "seqguide.guidance.value.best_of_n:BestOfN",
    "beam": "seqguide.guidance.value.beam:BeamSearch",
    # classifier-free guidance family (combine hook)
    "cfg": "seqguide.guidance.cfg.cfg:CFG",
    "guidance_interval": "seqguide.guidance.cfg.guidance_interval:GuidanceInterval",
    "cfg_plus_plus": "seqguide.guidance.cfg.cfg_plus_plus:CFGPlusPlus",
    "apg": "seqguide.guidance.cfg.apg:APG",
    "fdg": "seqguide.guidance.cfg.fdg:FDG",
    "cfg_zero_star": "seqguide.guidance.cfg.cfg_zero_star:CFGZeroStar",
    "adaptive_guidance": "seqguide.guidance.cfg.adaptive_guidance:AdaptiveGuidance",
    "linear_ag": "seqguide.guidance.cfg.linear_ag:LinearAG",
    "raag": "seqguide.guidance.cfg.raag:RAAG",
    "cfg_ctrl": "seqguide.guidance.cfg.cfg_ctrl:CFGCtrl",
    "dynamic_cfg": "seqguide.guidance.cfg.dynamic_cfg:DynamicCFG",
    # gradient guidance on images (adjust hook)
    "classifier": "seqguide.guidance.cfg.classifier_guidance:ClassifierGuidance",
    # simplex flows and gradient guidance for sequences
    "stgflow": "seqguide.guidance.discrete.stgflow:STGFlow",
    "discrete_cfg": "seqguide.guidance.discrete.cfg:DiscreteCFG",
    "classifier_discrete": "seqguide.guidance.discrete.classifier:DiscreteClassifierGuidance",
    # posterior sampling and reward guidance for masked diffusion
    "aps": "seqguide.guidance.posterior.aps:APS",
    "reward_guidance": "seqguide.guidance.posterior.reward_guidance:RewardGuidance",
    "clamp_observed": "seqguide.guidance.posterior.measurement_value:ClampObserved",
}


@dataclass
class _Entry:
    target: str | type[Guider]  # "module:Class", or the class itself (register_guider)
    origin: str  # "built-in", "entry point (dist x.y)", "registered", "class path"

    def load(self) -> type[Guider]:
        if isinstance(self.target, type):
            return self.target
        return _import(self.target, self.target)


_registered: dict[str, _Entry] = {}  # register_guider() calls, in this process
_plugins: dict[str, _Entry] | None = None  # entry points, discovered once (refresh() re-reads them)
_infos: dict[str, GuiderInfo] = {}


def _discover() -> dict[str, _Entry]:
    global _plugins
    if _plugins is None:
        found: dict[str, _Entry] = {}
        for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            who = f"{dist.name} {dist.version}" if dist is not None else "unknown distribution"
            if ep.name in _BUILTIN:  # a plugin never shadows a built-in: the name keeps its documented meaning
                warnings.warn(f"guider entry point {ep.name!r} = {ep.value!r} from {who} is ignored: {ep.name!r} is a "
                              "built-in guider name (shadowed by a built-in); rename the entry point", UserWarning,
                              stacklevel=2)
                continue
            found.setdefault(ep.name, _Entry(ep.value, f"entry point ({who})"))
        _plugins = found
    return _plugins


def _table() -> dict[str, _Entry]:
    """Every short name: built-ins first (they cannot be shadowed), then registered, then entry points."""
    table = {name: _Entry(target, "built-in") for name, target in _BUILTIN.items()}
    for source in (_registered, _discover()):
        for name, entry in source.items():
            table.setdefault(name, entry)
    return table


def refresh() -> None:
    """Forget discovered entry points and cached infos (after installing a plugin in a running process)."""
    global _plugins
    _plugins = None
    _infos.clear()
    importlib.invalidate_caches()


def register_guider(name: str, target: str | type[Guider]) -> None:
    """Register a guider under ``name`` in this process (plugins normally use the entry-point group).

    Args:
        name: The short name (letters, digits, ``_``; not a built-in name).
        target: The class or its path ``"module:Class"``.
    """
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
        raise ValueError(f"guider name must be letters, digits and '_' starting with a letter, got {name!r}")
    if name in _BUILTIN:
        raise ValueError(f"{name!r} is a built-in guider name")
    if isinstance(target, type):
        _check_class(target, name)
    _registered[name] = _Entry(target, "registered")
    _infos.pop(name, None)


def list_guiders() -> list[str]:
    """Short names of every available guider (built-in, registered and entry-point ones), sorted."""
    return sorted(_table())


# --------------------------------------------------------------------------------------- resolution
def _check_class(obj: Any, shown: str) -> type[Guider]:
    if not (isinstance(obj, type) and issubclass(obj, Guider)):
        raise GuiderSpecError([("method", f"{shown!r} is not a seqguide Guider subclass (got {obj!r})")])
    return obj


def _import(target: str, shown: str) -> type[Guider]:
    module, sep, attr = target.partition(":")
    if not sep:
        module, _, attr = target.rpartition(".")
    if not module or not attr:
        raise GuiderSpecError([("method", f"cannot import {shown!r}: give 'package.module:Class'")])
    if not all(p.isidentifier() for p in (*module.split("."), *attr.split("."))):
        relative = " (a relative path, starting with '.', has no package to start from)" if module[0] == "." else ""
        raise GuiderSpecError([("method", f"cannot import {shown!r}: a class path is dotted Python names, "
                                          f"'package.module:Class'{relative}")])
    try:
        obj: Any = importlib.import_module(module)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError, ValueError, TypeError) as err:
        raise GuiderSpecError([("method", f"cannot import {shown!r}: {type(err).__name__}: {err}")]) from None
    return _check_class(obj, shown)


def _unknown(name: str, names: Iterable[str]) -> GuiderSpecError:
    names = sorted(names)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return GuiderSpecError([("method", f"unknown guider {name!r} ({hint}available: {', '.join(names)}; or a class "
                                       "path such as 'my_package.guiders:MyGuider')")])


def guider_info(name: str | type[Guider]) -> GuiderInfo:
    """What the registry knows about a guider: its class, resources, hyperparameters, hooks and paper.

    Args:
        name: A short name, a class path (``pkg.module:Class`` or ``pkg.module.Class``) or a Guider class.

    Raises:
        GuiderSpecError: for an unknown name or a path that does not import to a Guider subclass.
    """
    if isinstance(name, type):
        cls = _check_class(name, getattr(name, "__name__", repr(name)))
        return GuiderInfo(cls.__name__, cls, "class")
    if not isinstance(name, str) or not name:
        raise GuiderSpecError([("method", f"expected a guider name (a string), got {name!r}")])
    if name in _infos:
        return _infos[name]
    table = _table()
    if name in table:
        entry = table[name]
        info = GuiderInfo(name, entry.load(), entry.origin)
    elif "." in name or ":" in name:
        info = GuiderInfo(name, _import(name, name), "class path")
    else:
        raise _unknown(name, table)
    _infos[name] = info
    return info
