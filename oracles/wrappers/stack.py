"""Looking inside a wrapper stack: every layer it holds, and the check that keeps stateful layers in this process.

:class:`~oracles.wrappers.parallel.Parallel`, :class:`~oracles.wrappers.timeout.Timeout` and
:class:`~oracles.ray.RayOracle` run their oracle elsewhere and call ``_check_no_state`` on it when they are built.
"""

from __future__ import annotations

from typing import Any

from oracles.base import Oracle
from oracles.wrappers.budget import Budgeted
from oracles.wrappers.cache import Cached
from oracles.wrappers.common import Wrapper
from oracles.wrappers.composite import Composite


def _layers(oracle: Oracle) -> list[Oracle]:
    """Every oracle inside ``oracle`` (itself included): through wrappers and composites."""
    found: list[Oracle] = []
    stack: list[Any] = [oracle]
    while stack:
        o = stack.pop()
        found.append(o)
        if isinstance(o, Wrapper):
            stack.append(o.inner)
        if isinstance(o, Composite):
            stack.extend(o.oracles)
            stack.extend(c.oracle for c in o.constraints)
    return found


def _contains(oracle: Oracle, kind: type) -> bool:
    return any(isinstance(o, kind) for o in _layers(oracle))


def _check_no_state(oracle: Oracle, where: str) -> None:
    """Cached/Budgeted must not run in a child process: their state would never reach this one."""
    layers = [type(o).__name__ for o in _layers(oracle) if isinstance(o, Cached | Budgeted)]
    if layers:
        raise ValueError(
            f"{where} runs its oracle in other processes, so it cannot wrap {', '.join(layers)}: state "
            f"changed in a child never reaches this process. Put {'/'.join(layers)} outside {where}, "
            f"e.g. Cached(Budgeted({where}(oracle), budget=...))"
        )
