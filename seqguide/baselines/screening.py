"""Propose-and-score baselines: random search, library screening and best-of-N from a generative model.

All three draw designs from a fixed proposal, independent of the scores, and keep the best: they differ
only in the proposal.

* :func:`uniform_proposal`: uniform random sequences over an alphabet (random search; Bergstra & Bengio
  2012 is the usual reference for it as a baseline).
* :func:`library_proposal`: random draws without replacement from a library (a "virtual screen", PMO's
  ``screening`` baseline: random ZINC molecules; Gao et al. 2022, arXiv 2206.12411).
* :func:`model_proposal`: unguided samples of a trained generative model through
  :func:`seqguide.sample` (best-of-N, the reference baseline of reward-guided sampling in SVDD, Li et al.
  2024, arXiv 2408.08252, and FK steering, Singhal et al. 2025, arXiv 2501.06848), here with N = the budget.

Example:
    >>> from oracles import get_oracle
    >>> f = get_oracle("ehrlich", num_states=8, dim=12, num_motifs=2, motif_length=3, seed=0)
    >>> run = Screening(uniform_proposal(f.alphabet.tokens, 12)).run(f, budget=500, seed=0)
    >>> len(run.history)
    500
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oracles import Oracle
from seqguide.baselines.history import BudgetedObjective, DesignHistory, budgeted

__all__ = ["Proposal", "Screening", "ScreeningRun", "library_proposal", "model_proposal", "uniform_proposal"]

#: ``propose(n, rng) -> n designs`` (a proposal may return fewer when it runs dry).
Proposal = Callable[[int, np.random.Generator], list[Any]]


def uniform_proposal(tokens: Sequence[str], length: int) -> Proposal:
    """Uniform random sequences of ``length`` tokens from ``tokens`` (vectorised)."""
    chars = np.array(list(tokens))
    if len(chars) < 1 or length < 1:
        raise ValueError(f"uniform_proposal: need tokens and length >= 1, got {len(chars)} tokens, length {length}")

    def propose(n: int, rng: np.random.Generator) -> list[str]:
        return ["".join(row) for row in chars[rng.integers(0, len(chars), size=(n, length))]]

    return propose


def library_proposal(library: Sequence[Any], *, shuffle: bool = True) -> Proposal:
    """Draws without replacement from ``library`` (runs dry after ``len(library)``).

    Args:
        library: The designs to draw from.
        shuffle: Draw in a random order from the run's generator; False keeps the library's order (e.g. a
            pool of model samples that are already random).
    """
    items = list(library)
    if not items:
        raise ValueError("library_proposal: the library is empty")
    state: dict[str, Any] = {}

    def propose(n: int, rng: np.random.Generator) -> list[Any]:
        if "order" not in state:
            state["order"] = rng.permutation(len(items)) if shuffle else np.arange(len(items))
            state["next"] = 0
        start = state["next"]
        state["next"] = min(start + n, len(items))
        return [items[i] for i in state["order"][start:state["next"]]]

    return propose


def model_proposal(model: Any, *, steps: int, cond: Any = None, batch_size: int | None = None,
                   length: int | None = None) -> Proposal:
    """Unguided samples of ``model`` via :func:`seqguide.sample`, seeded from the run's generator.

    Args:
        model: A generative model implementing the model protocol (e.g. ``MaskedDiffusion``).
        steps: Sampling steps.
        cond: Class label for a class-conditional model.
        batch_size: Chunk size inside one ``sample`` call (memory).
        length: Sequence length (default: the model's).
    """
    from seqguide import sample

    def propose(n: int, rng: np.random.Generator) -> list[Any]:
        out = sample(model, n, length=length, steps=steps, cond=cond, seed=int(rng.integers(0, 2**31 - 1)),
                     batch_size=batch_size, progress=False)
        return list(out.sequences)

    return propose


@dataclass
class ScreeningRun:
    """The result of :meth:`Screening.run`: the history, proposals drawn and why it stopped
    (``"budget"``, ``"optimum"``, ``"dry"`` when the proposal ran out, ``"stalled"`` when it kept
    proposing designs already scored)."""

    history: DesignHistory
    proposed: int
    stopped: str


class Screening:
    """Score designs from a fixed proposal in batches until the budget is spent; keep the best.

    Args:
        propose: The proposal (see :data:`Proposal`).
        batch_size: Designs proposed and scored per batch.
        stop_at_optimum: Stop once a paid call reaches the oracle's ``optimal_value``.
        max_stalled: Stop after this many consecutive batches that paid for nothing new.
    """

    def __init__(self, propose: Proposal, *, batch_size: int = 1000, stop_at_optimum: bool = True,
                 max_stalled: int = 20) -> None:
        if batch_size < 1:
            raise ValueError(f"Screening: batch_size must be >= 1, got {batch_size!r}")
        self.propose = propose
        self.batch_size = int(batch_size)
        self.stop_at_optimum = bool(stop_at_optimum)
        self.max_stalled = int(max_stalled)

    def run(self, oracle: Oracle | BudgetedObjective, *, budget: int | None = None, seed: int = 0,
            callback: Callable[[BudgetedObjective], Any] | None = None) -> ScreeningRun:
        """Propose and score until the budget is spent.

        Args:
            oracle: The objective; a bare oracle is wrapped in a :class:`BudgetedObjective` of ``budget``.
            budget: Unique paid calls (required for a bare oracle).
            seed: Seed of the generator the proposal draws from.
            callback: Called with the objective after each batch (progress).
        """
        objective = budgeted(oracle, budget, "Screening.run")
        rng = np.random.default_rng(seed)
        proposed, stalled, stopped = 0, 0, "budget"
        while not objective.exhausted:
            batch = self.propose(min(self.batch_size, max(objective.remaining, 1)), rng)
            if not batch:
                stopped = "dry"
                break
            used = objective.used
            objective(batch)
            proposed += len(batch)
            if callback is not None:
                callback(objective)
            stalled = stalled + 1 if objective.used == used else 0
            if self.stop_at_optimum and objective.solved():
                stopped = "optimum"
                break
            if stalled >= self.max_stalled:
                stopped = "stalled"
                break
        return ScreeningRun(objective.history, proposed, stopped)
