"""A poli black box as a seqguide :class:`~oracles.base.Oracle`: any problem of poli's repository by name.

poli (``pip install "seqguide[poli]"``, the ``poli-core`` package) keeps discrete black-box problems behind one
API: ``objective_factory.create(name=..., **kwargs)`` returns a ``Problem`` whose ``black_box`` maps an array of
tokens, shape ``(b, L)`` for aligned problems and ``(b, 1)`` of whole strings otherwise, to values of shape
``(b, k)``. Inputs it cannot score come back as NaN (an unparsable molecule in ``rdkit_qed``) or as a value the
problem chose for infeasible inputs (``-inf`` in ``ehrlich_holo``). :class:`PoliOracle` turns that into the Oracle
protocol: the problem's alphabet and length are checked before anything is sent (a bad item costs nothing), the
valid items go to the black box in one call, and every non-finite value becomes an invalid item with a reason.

Budgets stay with seqguide: the black box is created without poli's own ``evaluation_budget`` (passing one is an
error), and :class:`~oracles.wrappers.budget.Budgeted` / :class:`~oracles.wrappers.cache.Cached` wrap this
oracle like any other, charging what reached the black box (poli's ``num_evaluations`` equals our
``items_received``).

Registered as ``poli``: ``get_oracle("poli", problem="aloha")``, or in a campaign::

    objective:
      oracles:
        - name: poli
          args: {problem: ehrlich_holo, sequence_length: 32, motif_length: 4, n_motifs: 2, seed: 1}

:func:`ehrlich_from_poli` plants our :class:`~oracles.ehrlich.Ehrlich` with the parameters of a poli
``ehrlich_holo`` black box (holo's transition matrix, motifs and spacings), written in poli's alphabet, so both
score the same strings; the tests check it value for value. One difference by construction: poli 1.3.1's
``ehrlich_holo`` accepts ``epistasis_factor`` but does not hand it to holo's ``Ehrlich`` (its values are those
of ``epistasis_factor=0``), so :func:`ehrlich_from_poli` plants ``epistasis_factor=0`` unless told otherwise.

Every argument other than ``problem``, ``maximize``, ``n_objectives`` and ``label`` is passed to poli's
``create`` (so ``seed``, ``alphabet``, ``wildtype`` ... are poli's). Creating some problems (``ehrlich_holo``)
reseeds Python's, NumPy's and torch's global generators; :class:`PoliOracle` restores them afterwards so a
campaign's random stream does not depend on which oracle it scores with.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from oracles.base import Oracle, OracleOutputError, OracleResult
from seqguide.alphabet import Alphabet

__all__ = ["PoliOracle", "ehrlich_from_poli", "poli_available", "require_poli"]

_INSTALL = 'poli is not installed: pip install "seqguide[poli]" (the poli-core package)'
#: Our own arguments; every other keyword goes to poli's ``objective_factory.create``.
_OWN = ("problem", "maximize", "n_objectives", "label")


def poli_available() -> bool:
    """True if ``poli`` (the ``poli-core`` distribution) can be imported."""
    try:
        import poli  # noqa: F401
    except ImportError:
        return False
    return True


def require_poli() -> Any:
    """Import and return ``poli.objective_factory``, or raise ImportError saying how to install it."""
    try:
        from poli import objective_factory
    except ImportError as err:
        raise ImportError(f"{_INSTALL} ({err})") from None
    return objective_factory


def _create_problem(problem: str, kwargs: dict[str, Any]) -> Any:
    """``objective_factory.create(name=problem, **kwargs)`` with the global random generators left as they were."""
    factory = require_poli()
    # poli reseeds NumPy's legacy global generator (np.random.seed): save and restore exactly that one.
    py_state, np_state, torch_state = random.getstate(), np.random.get_state(), torch.get_rng_state()  # noqa: NPY002
    try:
        return factory.create(name=problem, quiet=True, **kwargs)
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002
        torch.set_rng_state(torch_state)


def _finite_length(value: Any) -> int | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return int(v) if math.isfinite(v) else None


class PoliOracle(Oracle):
    """A problem of poli's repository (``objective_factory.create(name=problem, **kwargs)``) as an Oracle.

    Args:
        problem: poli's problem name (``aloha``, ``ehrlich_holo``, ``rmf_landscape``, ``rdkit_qed``, ...).
        maximize: Direction (poli's problems are maximised; False only for a problem you know is a cost).
        n_objectives: Values per input (``k`` of poli's ``(b, k)`` output); a different ``k`` is an error.
        black_box: A ready poli black box instead of a name (``problem`` is then only the display name).
        **kwargs: Passed to poli's ``create`` (``seed`` and the problem's own arguments).

    Attributes:
        black_box: The poli ``AbstractBlackBox``; its ``num_evaluations`` counts the items it scored.
        x0: poli's initial solutions as strings (what ``Problem.x0`` holds), empty if there were none.
        alphabet: The problem's alphabet when poli names one (None for free-form strings such as SMILES).
        length: The exact length inputs must have (aligned, fixed-length problems), else None.
        max_length: The longest input the problem takes, or None for no limit.

    Raises:
        ImportError: if poli is not installed.
        ValueError: for ``evaluation_budget`` (budgets are seqguide's: ``Budgeted`` / ``loop.budget``), or an
            unknown problem name (poli's message).
    """

    def __init__(self, problem: str | None = None, *, maximize: bool = True, n_objectives: int = 1,
                 black_box: Any = None, **kwargs: Any) -> None:
        if "evaluation_budget" in kwargs:
            raise ValueError("PoliOracle: do not pass evaluation_budget to poli; the budget is seqguide's "
                             "(Budgeted(..., budget=N) or a campaign's loop.budget), so it counts every call once")
        if black_box is None:
            if not problem:
                raise ValueError("PoliOracle: give problem=<poli problem name> (e.g. 'aloha') or black_box=...")
            created = _create_problem(problem, kwargs)
            black_box, x0 = created.black_box, created.x0
        else:
            x0 = None
        self.problem = problem or black_box.info.get_problem_name()
        self.problem_kwargs = dict(kwargs)
        self.black_box = black_box
        self.name = f"poli:{self.problem}"
        self.maximize = bool(maximize)
        if int(n_objectives) < 1:
            raise ValueError(f"PoliOracle: n_objectives must be >= 1, got {n_objectives!r}")
        self.n_objectives = int(n_objectives)
        info = black_box.info
        self.aligned = bool(info.sequences_are_aligned())
        self.max_length = _finite_length(info.get_max_sequence_length())
        self.length = self.max_length if (self.aligned or info.fixed_length) else None
        self.alphabet = self._alphabet(info.get_alphabet())
        self.x0 = self._strings(x0) if x0 is not None else []

    def _alphabet(self, tokens: Sequence[Any] | None) -> Alphabet | None:
        if not tokens:
            return None
        tokens = [str(t) for t in tokens]
        if len(set(tokens)) != len(tokens) or any(not t for t in tokens):
            return None  # not usable as an alphabet (poli lists some token sets loosely): poli validates
        return Alphabet(tokens, name=f"poli:{self.problem}")

    @staticmethod
    def _strings(x: Any) -> list[str]:
        arr = np.asarray(x)
        if arr.ndim == 0:
            return [str(arr)]
        if arr.ndim == 1:
            return [str(s) for s in arr] if arr.dtype.kind in "US" else ["".join(map(str, arr))]
        return ["".join(str(t) for t in row) for row in arr.reshape(arr.shape[0], -1)]

    def initial_solution(self) -> str:
        """poli's first initial solution (``Problem.x0``) as a string."""
        if not self.x0:
            raise ValueError(f"{self.name}: poli gave no initial solution")
        return self.x0[0]

    def validate(self, x: Any) -> str | None:
        if not isinstance(x, str):
            return f"expected a string, got {type(x).__name__}"
        err = super().validate(x)
        if err is not None:
            return err
        n = len(self.alphabet.tokenize(x)) if self.alphabet is not None else len(x)
        if self.length is not None and n != self.length:
            return f"expected length {self.length}, got {n}"
        if self.max_length is not None and n > self.max_length:
            return f"longer than the problem's maximum length {self.max_length} ({n})"
        return None

    def _inputs(self, xs: list[str]) -> np.ndarray:
        """poli's input array: ``(b, L)`` tokens for aligned problems, ``(b, 1)`` whole strings otherwise."""
        if not self.aligned:
            return np.array(xs).reshape(-1, 1)
        return np.array([self.alphabet.tokenize(s) if self.alphabet is not None else list(s) for s in xs])

    def _score(self, xs: list[str]) -> OracleResult:
        if not self.aligned or self.length is not None:
            return self._score_batch(xs)
        # An aligned problem without a declared length takes one length per array: one call per length.
        groups: dict[int, list[int]] = {}
        for i, s in enumerate(xs):
            groups.setdefault(len(self.alphabet.tokenize(s)) if self.alphabet is not None else len(s), []).append(i)
        if len(groups) == 1:
            return self._score_batch(xs)
        order = [i for idx in groups.values() for i in idx]
        parts = OracleResult.concat([self._score_group([xs[i] for i in idx]) for idx in groups.values()])
        return parts.take(np.argsort(np.asarray(order)))

    def _score_group(self, xs: list[str]) -> OracleResult:
        """One length group; if poli refuses it, every item of it is invalid with poli's reason (not retried:
        the refusal is about the length they share)."""
        try:
            return self._score_batch(xs)
        except OracleOutputError:
            raise
        except Exception as err:
            return OracleResult.invalid(len(xs), f"{self.name} failed: {type(err).__name__}: {err}",
                                        self.n_objectives)

    def _score_batch(self, xs: list[str]) -> OracleResult:
        y = np.asarray(self.black_box(self._inputs(xs)), dtype=np.float64)
        n, k = len(xs), self.n_objectives
        if y.ndim == 1:
            y = y.reshape(n, -1) if y.size == n * k else y
        if y.ndim != 2 or y.shape[0] != n or y.shape[1] != k:
            raise OracleOutputError(f"{self.name} returned values of shape {y.shape} for {n} inputs; expected "
                                    f"({n}, {k}) (pass n_objectives= for a multi-objective problem)")
        finite = np.isfinite(y).all(axis=1)
        errors: list[str | None] = []
        for row, ok in zip(y, finite):
            if ok:
                errors.append(None)
                continue
            bad = row[~np.isfinite(row)][0]
            why = "poli's mark for an input it could not score" if np.isnan(bad) else "infeasible for the problem"
            errors.append(f"{self.name} returned {bad} ({why})")
        values = y[:, 0] if k == 1 else y
        return OracleResult(values, finite, errors)

    def _repr_params(self) -> dict[str, Any]:
        return {"problem": self.problem, **self.problem_kwargs, "maximize": self.maximize}


def ehrlich_from_poli(source: Any, *, epistasis_factor: float = 0.0) -> Any:
    """Our :class:`~oracles.ehrlich.Ehrlich` with the parameters of a poli ``ehrlich_holo`` problem, over poli's
    alphabet: it scores poli's strings with poli's values (invalid where poli returns ``-inf``).

    Args:
        source: A :class:`PoliOracle` of ``ehrlich_holo``, or its poli black box (created in this process, not
            isolated: the holo function must be reachable as ``black_box.inner_function.inner_ehrlich``).
        epistasis_factor: Planted as given. poli 1.3.1 does not pass its own ``epistasis_factor`` on to holo,
            so its values are those of 0, the default here (see the module docstring).

    Raises:
        ValueError: if ``source`` is not an in-process ``ehrlich_holo`` black box.
    """
    from oracles.ehrlich import Ehrlich

    bb = source.black_box if isinstance(source, PoliOracle) else source
    holo = getattr(getattr(bb, "inner_function", None), "inner_ehrlich", None)
    if holo is None or bb.info.get_problem_name() != "ehrlich_holo":
        raise ValueError("ehrlich_from_poli needs an ehrlich_holo black box created in this process "
                         f"(got {type(bb).__name__})")
    f = Ehrlich.from_parameters(dim=int(holo.dim), transition_matrix=holo.transition_matrix, motifs=holo.motifs,
                                spacings=holo.spacings, quantization=holo._quantization,
                                epistasis_factor=epistasis_factor, seed=int(bb.seed))
    # State i is holo's state i: write it with poli's i-th letter (poli's AMINO_ACIDS order is not ours).
    f.alphabet = Alphabet([str(t) for t in bb.alphabet], name="poli:ehrlich_holo")
    return f
