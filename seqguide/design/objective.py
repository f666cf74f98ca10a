"""The campaign objective: weighted oracle components, hard constraints, and a per-component record.

:class:`Objective` is an :class:`oracles.Oracle` (its value is the combined objective, so guidance can
use it as a look-ahead value) with one more method, :meth:`Objective.evaluate`, which returns every
component's value, the combination, validity with reasons, and which designs were *charged* (reached the
component oracles; constraint violations and unparsable designs are rejected before that and cost nothing).
:meth:`Objective.evaluate_stream` yields the same verdicts part by part, as the first component's oracle
streams them (:meth:`oracles.Oracle.stream`), and announces each design just before it is sent: a design
loop stores every result the moment it exists and charges every design the moment it leaves.

Combination, for components ``v_i`` with weights ``w_i`` (weight-0 components are recorded, not combined):

* ``sum``: ``sum_i w_i v_i``
* ``product``: ``prod_i v_i ** w_i``
* ``geometric``: ``prod_i max(v_i, 0) ** (w_i / sum_j w_j)`` (GuacaMol-style desirability mean)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oracles import Constraint, Oracle, OracleResult, get_oracle
from oracles.base import SendGate
from oracles.wrappers import check_constraints, first_validation_error
from oracles.wrappers.constraints import first_validation_errors
from seqguide.design.schema.objective import ObjectiveConfig

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

    @staticmethod
    def empty_like(seqs: list[str], labels: Sequence[str]) -> Evaluation:
        """N designs with nothing computed yet (invalid, uncharged, no reason)."""
        n = len(seqs)
        return Evaluation(list(seqs), np.full(n, np.nan), {lab: np.full(n, np.nan) for lab in labels},
                          np.zeros(n, dtype=bool), [None] * n, np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))

    def take(self, index: Sequence[int]) -> Evaluation:
        """Rows ``index`` as a new evaluation."""
        idx = list(index)
        return Evaluation([self.sequences[i] for i in idx], self.objective[idx].copy(),
                          {k: v[idx].copy() for k, v in self.components.items()}, self.valid[idx].copy(),
                          [self.errors[i] for i in idx], self.charged[idx].copy(), self.transient[idx].copy())


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
        bad = [c.label for c in self.components
               if isinstance(c.weight, bool) or not isinstance(c.weight, int | float | np.number)
               or not math.isfinite(float(c.weight))]
        if bad:
            raise ValueError(f"Objective: the weight of component(s) {bad} must be a finite number")
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

    def _validate_fresh(self, items: list[Any]) -> list[str | None]:
        if type(self).validate is not Objective.validate:
            return super()._validate_fresh(items)
        out: list[str | None] = [None] * len(items)
        todo = []
        for i, x in enumerate(items):
            if not isinstance(x, str):
                out[i] = f"expected a string, got {type(x).__name__}"
            elif not x:
                out[i] = "empty sequence"
            else:
                todo.append(i)
        oracles = [*(c.oracle for c in self.components), *(c.oracle for c in self.constraints)]
        for i, err in zip(todo, first_validation_errors(oracles, [items[i] for i in todo])):
            out[i] = err
        return out

    def precheck(self, xs: Sequence[str]) -> list[str | None]:
        """The free checks of :meth:`evaluate`: input validation and hard constraints, no component oracle.

        Returns:
            Per design, None if it would be sent to the component oracles (charged), else the reason.
        """
        seqs = list(xs)
        return check_constraints(self.constraints, seqs, self._validate_items(seqs))

    def evaluate(self, xs: Sequence[str]) -> Evaluation:
        """Check constraints, score the components, combine. Never raises for a bad design.

        Args:
            xs: N designs.

        Returns:
            The :class:`Evaluation` (component values, combined objective, validity, charged flags).
        """
        seqs = list(xs)
        out = Evaluation.empty_like(seqs, self.labels)
        for idx, part in self.evaluate_stream(seqs):
            _put(out, idx, part)
        return out

    def evaluate_stream(self, xs: Sequence[str], *, on_send: SendGate | None = None
                        ) -> Iterator[tuple[list[int], Evaluation]]:
        """:meth:`evaluate` part by part: yield ``(indices, evaluation of those designs)`` as soon as known.

        Designs rejected by the free checks (validation, hard constraints) come first, uncharged and never
        announced. The rest are announced with ``on_send(indices)`` right before they reach the first
        component's oracle and come back as that oracle streams them (the other components score each
        part as it arrives); if ``on_send`` returns False nothing more is sent and the stream ends.

        Args:
            xs: N designs.
            on_send: The send gate (see :meth:`oracles.Oracle.stream`).

        Yields:
            ``(indices, Evaluation)`` with positions into ``xs``; every position at most once.
        """
        seqs = list(xs)
        errors = self._validate_items(seqs)
        ok = [i for i, e in enumerate(errors) if e is None]
        errors = _scatter(errors, ok, check_constraints(self.constraints, [seqs[i] for i in ok]))
        rejected = [i for i, e in enumerate(errors) if e is not None]
        if rejected:
            part = Evaluation.empty_like([seqs[i] for i in rejected], self.labels)
            part.errors = [errors[i] for i in rejected]
            yield rejected, part
        alive = [i for i, e in enumerate(errors) if e is None]
        for local, part in self._stream_components([seqs[i] for i in alive], on_send=on_send, where=alive):
            yield [alive[j] for j in local], part

    def _stream_components(self, xs: list[str], *, on_send: SendGate | None = None, recorded: bool = True,
                           where: list[int] | None = None) -> Iterator[tuple[list[int], Evaluation]]:
        """Components and combination on designs that passed the free checks, part by part; ``recorded=False``
        skips weight-0 terms. ``where`` maps local positions to the caller's (for ``on_send``)."""
        if not xs:
            return
        comps = [c for c in self.components if recorded or c.weight != 0]
        gate = None if on_send is None else (lambda local: on_send([where[j] for j in local] if where else local))
        first, rest = comps[0], comps[1:]
        for local, res in first.oracle.stream(xs, on_send=gate):
            part = [xs[j] for j in local]
            n = len(part)
            errors: list[str | None] = [None] * n
            transient = np.zeros(n, dtype=bool)
            columns = {c.label: np.full(n, np.nan) for c in self.components}
            for comp, r in [(first, res), *((c, None) for c in rest)]:
                r = comp.oracle(part) if r is None else r  # every component sees every part: each value is kept
                values = np.asarray(r.values, dtype=np.float64).reshape(n)
                for j in range(n):
                    if r.valid[j]:
                        columns[comp.label][j] = values[j]
                    elif errors[j] is None:
                        errors[j] = f"{comp.label}: {r.errors[j]}"
                        transient[j] = bool(r.transient[j])
            combined = self._combine(columns, n)
            valid = np.array([e is None for e in errors], dtype=bool)
            for j in np.flatnonzero(valid & ~np.isfinite(combined)):
                valid[j] = False
                errors[j] = f"{self.name}: combined value is not finite ({self.combine} of the components)"
            combined[~valid] = np.nan
            yield local, Evaluation(part, combined, columns, valid, errors, np.ones(n, dtype=bool), transient)

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
        errors = check_constraints(self.constraints, xs)
        ev = Evaluation.empty_like(list(xs), self.labels)
        ev.errors = list(errors)
        alive = [i for i, e in enumerate(errors) if e is None]
        for local, part in self._stream_components([xs[i] for i in alive], recorded=False):
            _put(ev, [alive[j] for j in local], part)
        return OracleResult(ev.objective, ev.valid, ev.errors, ev.transient)

    def _repr_params(self) -> dict[str, Any]:
        return {"name": self.name, "components": [(c.label, c.oracle, c.weight) for c in self.components],
                "combine": self.combine, "constraints": self.constraints, "maximize": self.maximize}


def _scatter(errors: list[str | None], at: list[int], values: list[str | None]) -> list[str | None]:
    out = list(errors)
    for i, v in zip(at, values):
        out[i] = v
    return out


def _put(out: Evaluation, index: list[int], part: Evaluation) -> None:
    """Copy ``part``'s rows into rows ``index`` of ``out``."""
    for j, i in enumerate(index):
        out.objective[i] = part.objective[j]
        for label in out.components:
            out.components[label][i] = part.components[label][j]
        out.valid[i] = part.valid[j]
        out.errors[i] = part.errors[j]
        out.charged[i] = part.charged[j]
        out.transient[i] = part.transient[j]


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
