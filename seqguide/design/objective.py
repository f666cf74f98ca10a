"""The campaign objective: weighted oracle components, hard constraints, and a per-component record.

:class:`Objective` is an :class:`oracles.Oracle` (its value is the combined objective, so guidance can
use it as a look-ahead value) with one more method, :meth:`Objective.evaluate`, which returns every
component's value, the combination, validity with reasons, and which designs were *charged* (reached the
component oracles; constraint violations and unparsable designs are rejected before that and cost nothing).

Combination, for components ``v_i`` with weights ``w_i`` (weight-0 components are recorded, not combined):

* ``sum``: ``sum_i w_i v_i``
* ``product``: ``prod_i v_i ** w_i``
* ``geometric``: ``prod_i max(v_i, 0) ** (w_i / sum_j w_j)`` (GuacaMol-style desirability mean)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oracles import Constraint, Oracle, OracleResult, get_oracle
from oracles.wrappers import check_constraints, first_validation_error
from seqguide.design.schema import ObjectiveConfig

__all__ = ["Component", "Evaluation", "Objective", "build_objective"]

_MODES = ("sum", "product", "geometric")


@dataclass(frozen=True)
class Component:
    """One objective term: a single-objective oracle, its column label and weight."""

    label: str
    oracle: Oracle
    weight: float = 1.0


@dataclass
class Evaluation:
    """The objective's verdict on a batch of N designs.

    Attributes:
        sequences: The N designs, in input order.
        objective: ``(N,)`` float64 combined objective; NaN where invalid.
        components: ``label -> (N,)`` float64 value of each component; NaN where not computed or invalid.
        valid: ``(N,)`` bool.
        errors: Per design, None if valid, else the reason.
        charged: ``(N,)`` bool, True where the design reached the component oracles (a paid evaluation).
        transient: ``(N,)`` bool, True where the failure may not repeat (timeout, crashed tool).
    """

    sequences: list[str]
    objective: np.ndarray
    components: dict[str, np.ndarray]
    valid: np.ndarray
    errors: list[str | None]
    charged: np.ndarray
    transient: np.ndarray

    def __len__(self) -> int:
        return len(self.sequences)


class Objective(Oracle):
    """Weighted components with hard constraints; the oracle value is the combined objective.

    Args:
        components: The terms (each a single-objective oracle). Labels must be unique.
        combine: ``"sum"``, ``"product"`` or ``"geometric"``.
        constraints: :class:`oracles.Constraint` objects (or oracles with ``default_bounds``), checked
            before the components; a violating design is invalid and not charged.
        maximize: Direction of the combined objective.
        name: Display name.

    Raises:
        ValueError: for duplicate labels, a multi-objective component, an unknown mode, or all weights 0.

    Example:
        >>> from oracles import get_oracle
        >>> obj = Objective([Component("gc", get_oracle("gc"))])
        >>> obj.evaluate(["GGCC", "ACGT"]).objective       # doctest: +SKIP
        array([1. , 0.5])
    """

    def __init__(self, components: Sequence[Component], *, combine: str = "sum",
                 constraints: Sequence[Constraint | Oracle] = (), maximize: bool = True,
                 name: str = "objective") -> None:
        self.components = list(components)
        if not self.components:
            raise ValueError("Objective needs at least one component")
        labels = [c.label for c in self.components]
        if len(set(labels)) != len(labels):
            raise ValueError(f"Objective: component labels must be unique, got {labels}")
        multi = [c.label for c in self.components if c.oracle.n_objectives != 1]
        if multi:
            raise ValueError(f"Objective: components {multi} return several values; configure each to return one "
                             "(e.g. one protparam property per component)")
        if combine not in _MODES:
            raise ValueError(f"Objective: combine must be one of {_MODES}, got {combine!r}")
        if all(c.weight == 0 for c in self.components):
            raise ValueError("Objective: every component has weight 0")
        self.combine = combine
        self.constraints = [c if isinstance(c, Constraint) else Constraint(c) for c in constraints]
        self.maximize = bool(maximize)
        self.name = name
        alphabets = {c.oracle.alphabet for c in self.components} - {None}
        self.alphabet = alphabets.pop() if len(alphabets) == 1 else None

    @classmethod
    def of(cls, oracle: Oracle | Objective) -> Objective:
        """An Objective as is; a plain single-objective oracle as a one-component Objective."""
        if isinstance(oracle, Objective):
            return oracle
        if not isinstance(oracle, Oracle):
            raise TypeError(f"expected an oracles.Oracle, got {type(oracle).__name__}; wrap a function with "
                            "oracles.from_function(fn, name=...)")
        return cls([Component(oracle.name, oracle)], maximize=oracle.maximize, name=oracle.name)

    @property
    def labels(self) -> list[str]:
        """Component labels, in order."""
        return [c.label for c in self.components]

    def describe(self) -> dict[str, Any]:
        """Plain-data description (stored with the run, read by reports)."""
        return {
            "name": self.name, "combine": self.combine, "maximize": self.maximize,
            "components": [{"label": c.label, "oracle": repr(c.oracle), "weight": c.weight,
                            "maximize": bool(c.oracle.maximize)} for c in self.components],
            "constraints": [{"label": c.name, "oracle": repr(c.oracle), "lower": c.lower, "upper": c.upper}
                            for c in self.constraints],
        }

    # -------------------------------------------------------------------------------- evaluation
    def validate(self, x: Any) -> str | None:
        if not isinstance(x, str):
            return f"expected a string, got {type(x).__name__}"
        if not x:
            return "empty sequence"
        return first_validation_error([*(c.oracle for c in self.components), *(c.oracle for c in self.constraints)], x)

    def precheck(self, xs: Sequence[str]) -> list[str | None]:
        """The free checks of :meth:`evaluate`: input validation and hard constraints, no component oracle.

        Returns:
            Per design, None if it would be sent to the component oracles (charged), else the reason.
        """
        seqs = list(xs)
        return check_constraints(self.constraints, seqs, [self._validate_item(x) for x in seqs])

    def evaluate(self, xs: Sequence[str]) -> Evaluation:
        """Check constraints, score the components, combine. Never raises for a bad design.

        Args:
            xs: N designs.

        Returns:
            The :class:`Evaluation` (component values, combined objective, validity, charged flags).
        """
        seqs = list(xs)
        errors = [self._validate_item(x) for x in seqs]
        ok = [i for i, e in enumerate(errors) if e is None]
        ev = self._evaluate_valid([seqs[i] for i in ok])
        n = len(seqs)
        out = Evaluation(seqs, np.full(n, np.nan), {c.label: np.full(n, np.nan) for c in self.components},
                         np.zeros(n, dtype=bool), errors, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
        for j, i in enumerate(ok):
            out.objective[i] = ev.objective[j]
            for label in out.components:
                out.components[label][i] = ev.components[label][j]
            out.valid[i] = ev.valid[j]
            out.errors[i] = ev.errors[j]
            out.charged[i] = ev.charged[j]
            out.transient[i] = ev.transient[j]
        return out

    def _evaluate_valid(self, xs: list[str], *, recorded: bool = True) -> Evaluation:
        """Constraints, components, combination on validated items; ``recorded=False`` skips weight-0 terms."""
        n = len(xs)
        errors = check_constraints(self.constraints, xs)
        alive = [i for i in range(n) if errors[i] is None]
        charged = np.zeros(n, dtype=bool)
        charged[alive] = True
        transient = np.zeros(n, dtype=bool)
        columns = {c.label: np.full(n, np.nan) for c in self.components}
        for comp in self.components:
            if not alive:
                break
            if comp.weight == 0 and not recorded:
                continue
            res = comp.oracle([xs[i] for i in alive])
            values = np.asarray(res.values, dtype=np.float64).reshape(len(alive))
            for j, i in enumerate(alive):
                if res.valid[j]:
                    columns[comp.label][i] = values[j]
                elif errors[i] is None:
                    errors[i] = f"{comp.label}: {res.errors[j]}"
                    transient[i] = bool(res.transient[j])
        combined = self._combine(columns, n)
        valid = np.array([e is None for e in errors], dtype=bool) & charged
        for i in np.flatnonzero(valid & ~np.isfinite(combined)):
            valid[i] = False
            errors[i] = f"{self.name}: combined value is not finite ({self.combine} of the components)"
        combined[~valid] = np.nan
        return Evaluation(list(xs), combined, columns, valid, errors, charged, transient)

    def _combine(self, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        used = [c for c in self.components if c.weight != 0]
        stacked = np.stack([columns[c.label] for c in used], axis=1) if n else np.zeros((0, len(used)))
        w = np.array([c.weight for c in used], dtype=np.float64)
        with np.errstate(all="ignore"):
            if self.combine == "sum":
                return stacked @ w
            if self.combine == "product":
                return np.prod(np.power(stacked, w), axis=1)
            return np.prod(np.power(np.clip(stacked, 0.0, None), w / w.sum()), axis=1)

    def _score(self, xs: list[str]) -> OracleResult:
        # As an oracle (e.g. a guidance look-ahead) only the combined value matters: skip recorded-only terms.
        ev = self._evaluate_valid(xs, recorded=False)
        return OracleResult(ev.objective, ev.valid, ev.errors, ev.transient)

    def _repr_params(self) -> dict[str, Any]:
        return {"name": self.name, "components": [(c.label, c.oracle, c.weight) for c in self.components],
                "combine": self.combine, "constraints": self.constraints, "maximize": self.maximize}


def _unique_label(label: str, taken: set[str]) -> str:
    if label not in taken:
        return label
    k = 2
    while f"{label}_{k}" in taken:
        k += 1
    return f"{label}_{k}"


def build_objective(config: ObjectiveConfig, *, file: str = "campaign") -> Objective:
    """Build the :class:`Objective` of a campaign, mapping every construction error to its key path.

    Args:
        config: The validated ``objective`` section.
        file: The campaign file name, for error messages.

    Raises:
        seqguide.design.config_io.ConfigError: naming e.g. ``objective.oracles[1].args`` and the problem.
    """
    from seqguide.design.config_io import ConfigError

    problems: list[tuple[str, str]] = []

    def make(name: str, args: dict[str, Any], where: str) -> Oracle | None:
        try:
            return get_oracle(name, **args)
        except Exception as err:  # a bad argument, a missing file or package: say which key
            text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
            problems.append((f"{where}.args" if args else f"{where}.name", f"{type(err).__name__}: {text}"))
            return None

    components: list[Component] = []
    taken: set[str] = set()
    for i, spec in enumerate(config.oracles):
        oracle = make(spec.name, spec.args, f"objective.oracles[{i}]")
        if oracle is None:
            continue
        if oracle.n_objectives != 1:
            problems.append((f"objective.oracles[{i}].args", f"oracle {spec.name!r} returns {oracle.n_objectives} "
                             "values here; configure it to return one (one component per value)"))
            continue
        label = _unique_label(spec.label or spec.name, taken)
        if spec.label is not None and label != spec.label:
            problems.append((f"objective.oracles[{i}].label", f"label {spec.label!r} is used twice"))
        taken.add(label)
        components.append(Component(label, oracle, spec.weight))
    constraints: list[Constraint] = []
    for i, spec in enumerate(config.constraints):
        oracle = make(spec.name, spec.args, f"objective.constraints[{i}]")
        if oracle is None:
            continue
        try:
            constraints.append(Constraint(oracle, lower=spec.lower, upper=spec.upper, name=spec.label))
        except (TypeError, ValueError) as err:
            problems.append((f"objective.constraints[{i}]", str(err)))
    if problems:
        raise ConfigError(file, problems)
    return Objective(components, combine=config.combine, constraints=constraints, maximize=config.maximize)
