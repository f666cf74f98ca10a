"""Hard constraints: :class:`Constraint` (``lower <= oracle(x) <= upper``), ``check_constraints`` (several, in
order) and ``first_validation_error`` (the first of several oracles' input checks that fails)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from oracles.base import Oracle


class Constraint:
    """A hard constraint for :class:`Composite`: ``lower <= oracle(x) <= upper`` or the item is invalid.

    An item the constraint oracle cannot score violates the constraint too (with that oracle's reason).
    When neither bound is given, the oracle's ``default_bounds`` attribute is used (the constraint
    oracles in :mod:`oracles.dna` and :mod:`oracles.molecule` declare e.g. ``(None, 0)``: no forbidden
    site, no structural alert). If the oracle has a ``describe(x)`` method, its text is added to the
    reason (which site, which alert).

    Args:
        oracle: A single-objective oracle.
        lower: Smallest allowed value (inclusive), or None.
        upper: Largest allowed value (inclusive), or None.
        name: Shown in reasons; defaults to the oracle's name.
    """

    def __init__(self, oracle: Oracle, *, lower: float | None = None, upper: float | None = None,
                 name: str | None = None) -> None:
        if not isinstance(oracle, Oracle):
            raise TypeError(f"Constraint needs an Oracle, got {type(oracle).__name__}")
        if oracle.n_objectives != 1:
            raise ValueError(f"Constraint {oracle.name!r}: needs a single-objective oracle")
        if lower is None and upper is None:
            lower, upper = getattr(oracle, "default_bounds", (None, None))
        if lower is None and upper is None:
            raise ValueError(f"Constraint {oracle.name!r}: give lower and/or upper (the oracle has no "
                             "default_bounds)")
        for what, bound in (("lower", lower), ("upper", upper)):
            if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int | float | np.number)
                                      or not math.isfinite(float(bound))):
                raise ValueError(f"Constraint {oracle.name!r}: {what} must be a finite number or None (no bound), "
                                 f"got {bound!r}")
        if lower is not None and upper is not None and lower > upper:
            raise ValueError(f"Constraint {oracle.name!r}: lower={lower} > upper={upper}")
        self.oracle = oracle
        self.lower = lower
        self.upper = upper
        self.name = name or oracle.name

    def check(self, xs: list[Any]) -> list[str | None]:
        """Per item, None if the constraint holds, else the reason it does not."""
        res = self.oracle(xs)
        out: list[str | None] = []
        for x, v, ok, err in zip(xs, res.values, res.valid, res.errors):
            if not ok:
                out.append(f"constraint {self.name}: could not be evaluated ({err})")
                continue
            bad = None
            if self.lower is not None and v < self.lower:
                bad = f"value {v:g} < lower bound {self.lower:g}"
            elif self.upper is not None and v > self.upper:
                bad = f"value {v:g} > upper bound {self.upper:g}"
            if bad is not None:
                detail = ""
                describe = getattr(self.oracle, "describe", None)
                if callable(describe):
                    try:
                        detail = f" ({describe(x)})"
                    except Exception:  # a description must never sink the check
                        detail = ""
                bad = f"constraint {self.name} violated: {bad}{detail}"
            out.append(bad)
        return out

    def __repr__(self) -> str:
        return f"Constraint({self.oracle!r}, lower={self.lower!r}, upper={self.upper!r})"


def check_constraints(constraints: Sequence[Constraint], xs: Sequence[Any],
                      errors: list[str | None] | None = None) -> list[str | None]:
    """Apply ``constraints`` in order; each sees only the items every earlier check let through.

    Args:
        constraints: The hard constraints.
        xs: The items.
        errors: Reasons already known per item (None = still alive); items with a reason are not checked.

    Returns:
        Per item, None if every constraint holds, else the first reason it was rejected.
    """
    errors = [None] * len(xs) if errors is None else list(errors)
    for con in constraints:
        alive = [i for i, e in enumerate(errors) if e is None]
        if not alive:
            break
        for i, reason in zip(alive, con.check([xs[i] for i in alive])):
            errors[i] = reason
    return errors


def first_validation_errors(oracles: Iterable[Oracle], xs: Sequence[Any]) -> list[str | None]:
    """:func:`first_validation_error` of each of ``xs``, each oracle asked once for the items still passing."""
    out: list[str | None] = [None] * len(xs)
    alive = list(range(len(xs)))
    for o in oracles:
        if not alive:
            break
        still = []
        for i, err in zip(alive, o._validate_items([xs[i] for i in alive])):
            if err is None:
                still.append(i)
            else:
                out[i] = f"{o.name}: {err}"
        alive = still
    return out


def first_validation_error(oracles: Iterable[Oracle], x: Any) -> str | None:
    """The first oracle's own input check that fails for ``x``, as ``"<oracle>: <reason>"``; None if all pass."""
    for o in oracles:
        err = o._validate_item(x)
        if err is not None:
            return f"{o.name}: {err}"
    return None
