"""Combined objectives: :class:`Composite` scores the items that pass every constraint and combines the
objectives (sum, product, geometric mean, or stacked columns).

The multiplicative / geometric-mean composites follow the GuacaMol multi-property objectives
(Brown et al. 2019, J. Chem. Inf. Model. 59:1096).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from oracles.base import Oracle, OracleResult
from oracles.wrappers.constraints import Constraint, check_constraints, first_validation_error

_MODES = ("sum", "product", "geometric", "stack")


class Composite(Oracle):
    """Combine several oracles into one, with hard constraints.

    Constraints are checked first; only items that satisfy all of them are scored by the objectives
    (so expensive objectives are not spent on designs that are rejected anyway). An item that any
    component cannot score is invalid with ``"<component>: <reason>"``.

    Modes, for objective values ``v_i`` and weights ``w_i`` (default all 1):

    * ``"sum"``: ``sum_i w_i v_i``;
    * ``"product"``: ``prod_i v_i ** w_i``;
    * ``"geometric"``: ``prod_i v_i ** (w_i / sum_j w_j)``, the weighted geometric mean used by GuacaMol
      MPO scores (values are expected in [0, 1], e.g. desirabilities);
    * ``"stack"``: no combination; values ``(N, K)`` with one column per objective column.

    Values are combined as they come: wrap an objective in :class:`Negate` (or use a negative weight
    in ``"sum"``) to mix minimised and maximised objectives.

    Args:
        oracles: The objectives (one or more). For sum/product/geometric each must be single-objective.
        weights: One weight per objective.
        mode: One of ``"sum"``, ``"product"``, ``"geometric"``, ``"stack"``.
        constraints: :class:`Constraint` objects, or bare oracles with ``default_bounds``.
        name: Display name.
        maximize: Direction of the combined value.
    """

    def __init__(self, oracles: Sequence[Oracle], *, weights: Sequence[float] | None = None, mode: str = "sum",
                 constraints: Sequence[Constraint | Oracle] = (), name: str = "composite",
                 maximize: bool = True) -> None:
        self.oracles = list(oracles)
        if not self.oracles:
            raise ValueError("Composite needs at least one objective oracle")
        for o in self.oracles:
            if not isinstance(o, Oracle):
                raise TypeError(f"Composite: objectives must be Oracles, got {type(o).__name__}")
        if mode not in _MODES:
            raise ValueError(f"Composite: mode must be one of {_MODES}, got {mode!r}")
        if mode != "stack":
            multi = [o.name for o in self.oracles if o.n_objectives != 1]
            if multi:
                raise ValueError(f"Composite mode {mode!r} needs single-objective oracles; {multi} return "
                                 "several columns (use mode='stack' or pick one column with Transform)")
        if weights is None:
            weights = [1.0] * len(self.oracles)
        self.weights = [float(w) for w in weights]
        if len(self.weights) != len(self.oracles):
            raise ValueError(f"Composite: {len(self.weights)} weights for {len(self.oracles)} oracles")
        if mode == "geometric" and (min(self.weights) < 0 or sum(self.weights) <= 0):
            raise ValueError(f"Composite geometric mean needs non-negative weights with a positive sum, "
                             f"got {self.weights}")
        self.constraints = [c if isinstance(c, Constraint) else Constraint(c) for c in constraints]
        self.mode = mode
        self.name = name
        self.maximize = maximize
        self.n_objectives = sum(o.n_objectives for o in self.oracles) if mode == "stack" else 1
        alphabets = {o.alphabet for o in self.oracles}
        self.alphabet = alphabets.pop() if len(alphabets) == 1 else None

    def validate(self, x: Any) -> str | None:
        return first_validation_error([*self.oracles, *(c.oracle for c in self.constraints)], x)

    def _score(self, xs: list[Any]) -> OracleResult:
        n = len(xs)
        errors = check_constraints(self.constraints, xs)
        transient = np.zeros(n, dtype=bool)
        alive = [i for i in range(n) if errors[i] is None]
        columns: list[np.ndarray] = []
        for o in self.oracles:
            col = np.full((n, o.n_objectives), np.nan)
            if alive:
                res = o([xs[i] for i in alive])
                col[alive] = res.values.reshape(len(alive), -1)
                for j, i in enumerate(alive):
                    if not res.valid[j] and errors[i] is None:
                        errors[i] = f"{o.name}: {res.errors[j]}"
                        transient[i] = res.transient[j]
            columns.append(col)
        stacked = np.concatenate(columns, axis=1)  # (N, total columns)
        w = np.asarray(self.weights)
        with np.errstate(all="ignore"):
            if self.mode == "stack":
                values = stacked if stacked.shape[1] > 1 else stacked[:, 0]
            elif self.mode == "sum":
                values = stacked @ w
            elif self.mode == "product":
                values = np.prod(np.power(stacked, w), axis=1)
            else:  # geometric
                wn = w / w.sum()
                values = np.prod(np.power(np.clip(stacked, 0.0, None), wn), axis=1)
        valid = np.array([e is None for e in errors], dtype=bool)
        finite = np.isfinite(values) if values.ndim == 1 else np.isfinite(values).all(axis=1)
        for i in np.flatnonzero(valid & ~finite):
            valid[i] = False
            errors[i] = f"{self.name}: combined value is not finite ({self.mode} of {stacked[i].tolist()})"
        return OracleResult(values, valid, errors, transient)

    def _repr_params(self) -> dict[str, Any]:
        return {"name": self.name, "oracles": self.oracles, "weights": self.weights, "mode": self.mode,
                "constraints": self.constraints}
