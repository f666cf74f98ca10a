"""seqguide oracles and campaign objectives as poli black boxes and problems, so poli's solvers run on them.

The other direction of :mod:`oracles.poli`. :func:`as_black_box` wraps any :class:`~oracles.base.Oracle` (a
campaign's :class:`~seqguide.design.objective.Objective` included) in poli's ``AbstractBlackBox``: poli's
``(b, L)`` token array (or ``(b, 1)`` strings) becomes our list of strings, invalid items come back as NaN
(poli's convention; ``invalid_value=`` to change it), a minimised oracle is negated (poli's solvers maximise),
and our :class:`~oracles.base.BudgetExhausted` becomes poli's ``BudgetExhaustedException``. :func:`problem`
adds an initial solution ``x0`` (a poli ``Problem``), :func:`campaign_problem` builds one from a campaign YAML's
``objective`` section, and :func:`register_with_poli` makes ``objective_factory.create(name="seqguide",
oracle="ehrlich", oracle_kwargs={...})`` work in poli itself.

poli's classes are imported on first use (this module imports without poli; calling it without poli raises
ImportError with the install line).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from oracles.base import BudgetExhausted, Oracle

__all__ = ["as_black_box", "campaign_problem", "problem", "register_with_poli"]

_INSTALL = 'poli is not installed: pip install "seqguide[poli]" (the poli-core package)'


def _poli() -> Any:
    try:
        import poli.core.abstract_black_box as bb
    except ImportError as err:
        raise ImportError(f"{_INSTALL} ({err})") from None
    return bb


@functools.cache
def _classes() -> tuple[type, type]:
    """poli subclasses, built once poli is importable: (black box, problem factory)."""
    _poli()
    from poli.core.abstract_black_box import AbstractBlackBox
    from poli.core.abstract_problem_factory import AbstractProblemFactory
    from poli.core.black_box_information import BlackBoxInformation
    from poli.core.exceptions import BudgetExhaustedException

    class SeqguideBlackBox(AbstractBlackBox):
        """A seqguide Oracle behind poli's black-box interface (see :func:`as_black_box`)."""

        def __init__(self, oracle: Oracle, *, length: int | None, invalid_value: float, negate: bool,
                     batch_size: int | None, parallelize: bool, num_workers: int | None,
                     evaluation_budget: int | None) -> None:
            super().__init__(batch_size=batch_size, parallelize=parallelize, num_workers=num_workers,
                             evaluation_budget=evaluation_budget)
            self.oracle = oracle
            self.length = length
            self.invalid_value = float(invalid_value)
            self.sign = -1.0 if negate else 1.0

        def get_black_box_info(self) -> BlackBoxInformation:
            alphabet = getattr(self.oracle, "alphabet", None)
            fixed = self.length is not None
            return BlackBoxInformation(name=f"seqguide:{self.oracle.name}",
                                       max_sequence_length=self.length if fixed else np.inf, aligned=fixed,
                                       fixed_length=fixed, deterministic=True,
                                       alphabet=list(alphabet.tokens) if alphabet is not None else None,
                                       discrete=True)

        def _black_box(self, x: np.ndarray, context: Any = None) -> np.ndarray:
            strings = _rows_to_strings(x)
            try:
                res = self.oracle(strings)
            except BudgetExhausted as err:
                raise BudgetExhaustedException(str(err)) from err
            values = res.values.reshape(len(strings), -1) * self.sign
            values[~res.valid] = self.invalid_value
            return values

    class SeqguideProblemFactory(AbstractProblemFactory):
        """poli's problem factory for seqguide oracles and campaigns (``objective_factory.create(name="seqguide",
        ...)`` after :func:`register_with_poli`)."""

        def create(self, oracle: str | Oracle | None = None, oracle_kwargs: dict[str, Any] | None = None,
                   campaign: str | None = None, x0: Sequence[str] | None = None, length: int | None = None,
                   invalid_value: float = np.nan, seed: int | None = None, batch_size: int | None = None,
                   parallelize: bool = False, num_workers: int | None = None,
                   evaluation_budget: int | None = None, force_isolation: bool = False) -> Any:
            if force_isolation:
                raise ValueError("seqguide problems run in this process; force_isolation is not supported")
            common = {"x0": x0, "length": length, "invalid_value": invalid_value, "batch_size": batch_size,
                      "parallelize": parallelize, "num_workers": num_workers, "evaluation_budget": evaluation_budget}
            if (campaign is None) == (oracle is None):
                raise ValueError("give exactly one of oracle= (a name or an Oracle) and campaign= (a YAML path)")
            if campaign is not None:
                return campaign_problem(campaign, **common)
            if isinstance(oracle, str):
                from oracles.registry import get_oracle

                oracle = get_oracle(oracle, **(oracle_kwargs or {}))
            elif oracle_kwargs:
                raise ValueError("oracle_kwargs goes with an oracle name, not an Oracle instance")
            return problem(oracle, **common)

    return SeqguideBlackBox, SeqguideProblemFactory


def _rows_to_strings(x: np.ndarray) -> list[str]:
    arr = np.asarray(x)
    if arr.ndim == 1:
        return [str(s) for s in arr]
    return ["".join(str(t) for t in row) for row in arr.reshape(arr.shape[0], -1)]


def _length(oracle: Oracle, length: int | None) -> int | None:
    if length is not None:
        return int(length)
    for attr in ("length", "dim"):  # PoliOracle / Ehrlich say their fixed length
        value = getattr(oracle, attr, None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def as_black_box(oracle: Oracle, *, length: int | None = None, invalid_value: float = np.nan,
                 negate: bool | None = None, batch_size: int | None = None, parallelize: bool = False,
                 num_workers: int | None = None, evaluation_budget: int | None = None) -> Any:
    """``oracle`` as a poli ``AbstractBlackBox``.

    Args:
        oracle: Any seqguide oracle (wrap it in ``Cached(Budgeted(...))`` to charge a seqguide budget too).
        length: Fixed input length; default the oracle's ``length`` / ``dim`` if it has one, else free length
            (poli then passes whole strings, shape ``(b, 1)``).
        invalid_value: What an invalid item scores (NaN, poli's mark of an input it could not score).
        negate: Negate the values; default: when the oracle minimises (poli's solvers maximise).
        batch_size, parallelize, num_workers, evaluation_budget: poli's own black-box options.

    Raises:
        ImportError: without poli.
    """
    cls, _ = _classes()
    return cls(oracle, length=_length(oracle, length), invalid_value=invalid_value,
               negate=(not oracle.maximize) if negate is None else bool(negate), batch_size=batch_size,
               parallelize=parallelize, num_workers=num_workers, evaluation_budget=evaluation_budget)


def problem(oracle: Oracle, *, x0: Sequence[str] | None = None, **black_box_options: Any) -> Any:
    """A poli ``Problem``: :func:`as_black_box` of ``oracle`` and initial solutions ``x0``.

    Args:
        oracle: The oracle.
        x0: Initial designs (strings); default the oracle's ``initial_solution()`` when it has one.
        **black_box_options: As :func:`as_black_box`.

    Raises:
        ValueError: without ``x0`` for an oracle that has no initial solution, or an ``x0`` the oracle rejects
            (naming the design and the reason).
    """
    from poli.core.problem import Problem

    bb = as_black_box(oracle, **black_box_options)
    if x0 is None:
        if not hasattr(oracle, "initial_solution"):
            raise ValueError(f"{oracle.name}: pass x0= (initial designs); this oracle has no initial_solution()")
        x0 = [oracle.initial_solution()]
    x0 = [str(s) for s in x0]
    if not x0:
        raise ValueError("x0 must hold at least one design")
    for i, s in enumerate(x0):
        reason = oracle.validate(s) if isinstance(oracle, Oracle) else None
        if reason is not None:
            raise ValueError(f"x0[{i}] = {s!r}: {reason}")
    if bb.info.sequences_are_aligned():
        alphabet = getattr(oracle, "alphabet", None)
        arr = np.array([alphabet.tokenize(s) if alphabet is not None else list(s) for s in x0])
    else:
        arr = np.array(x0).reshape(-1, 1)
    return Problem(bb, arr)


def campaign_problem(path: str | Path, overrides: Sequence[str] = (), **problem_options: Any) -> Any:
    """The objective of a campaign YAML (its ``objective`` section: components, weights, constraints) as a poli
    ``Problem`` (:func:`problem`); ``x0`` defaults to the initial solution of the first component that has one.
    Only the objective is built: no model, no store, no budget of the campaign.

    Raises:
        seqguide.design.config_io.ConfigError: for a bad campaign file (naming the key).
    """
    from seqguide.design.config_io import load_campaign
    from seqguide.design.objective import build_objective

    loaded = load_campaign(path, overrides, check_files=False)
    objective = build_objective(loaded.config.objective, file=str(path))
    length = loaded.config.model.length if problem_options.get("length") is None else problem_options["length"]
    problem_options["length"] = length
    if problem_options.get("x0") is None:  # a component that has an initial solution (Ehrlich, a poli problem)
        starts = [c.oracle.initial_solution() for c in objective.components if hasattr(c.oracle, "initial_solution")]
        problem_options["x0"] = starts[:1] or None
    return problem(objective, **problem_options)


def register_with_poli(name: str = "seqguide") -> None:
    """Add seqguide's problem factory to poli's repository, so ``objective_factory.create(name=name, oracle=...,
    oracle_kwargs=...)`` or ``create(name=name, campaign="campaign.yaml")`` builds a seqguide problem in poli."""
    _, factory = _classes()
    from poli.objective_repository import AVAILABLE_PROBLEM_FACTORIES

    AVAILABLE_PROBLEM_FACTORIES[name] = factory
