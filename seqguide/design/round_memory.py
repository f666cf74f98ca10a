"""What a design loop remembers of a run's finished rounds: their design keys, the elite pool of an anchored
proposal and the pair-feasibility filter, each round read from the store once.

One process writes a run, so a finished round does not change under the loop; everything here is a function of
the store's earlier rounds, so a resumed loop rebuilds the same memory (see :mod:`seqguide.design.loop`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from seqguide.design.anchoring import EliteInfill, ElitePool
from seqguide.design.feasibility import PairFeasibility
from seqguide.design.store import DesignStore

__all__ = ["RoundMemory"]


class RoundMemory:
    """The designs of rounds ``< upto`` of one run, folded into what proposing a new round needs.

    Args:
        store: The run's store.
        run_id: The run.
        anchor: The anchored proposal whose elite pool is kept (None: no pool).
        maximize: Direction of the objective (orders the elites).
        feasibility: A pair-feasibility filter to keep fitting (None: none); one passed in keeps what it knows.

    Attributes:
        upto: Rounds ``< upto`` are folded in.
        keys: The keys of their designs.
        pool: The elite pool (None without an anchor).
        feasibility: The filter fitted on their designs (feasible ones and those refused for good).
    """

    def __init__(self, store: DesignStore, run_id: int, *, anchor: EliteInfill | None, maximize: bool,
                 feasibility: PairFeasibility | None = None) -> None:
        self.store = store
        self.run_id = run_id
        self.anchor = anchor
        self.maximize = maximize
        self.feasibility = feasibility
        self.reset(refit=False)

    def reset(self, *, refit: bool = True) -> None:
        """Forget every round (``refit``: the feasibility filter starts afresh too, with its settings)."""
        self.upto = 0
        self.keys: set[str] = set()
        self.pool = None if self.anchor is None else ElitePool(self.anchor, maximize=self.maximize)
        if refit and self.feasibility is not None:
            self.feasibility = PairFeasibility(self.feasibility.min_count, self.feasibility.min_feasible)

    def catch_up(self, round: int, tokenize: Callable[[str], Sequence[str]] | None) -> None:
        """Fold in the rounds ``upto .. round - 1`` (an earlier ``round`` than before: start over).

        Args:
            round: The round about to be proposed or scored.
            tokenize: The model alphabet's ``tokenize``, for the feasibility filter (None: no filter to fit).
        """
        if round < self.upto:  # an earlier round again: start over
            self.reset()
        for k in range(self.upto, round):
            designs = self.store.designs(self.run_id, round=k, components=False)  # keys, values, flags only
            self.keys.update(d.key for d in designs)
            if self.pool is not None:
                self.pool.add_round(designs)
            if tokenize is not None:
                self.feasibility.update(feasible=[tokenize(d.sequence) for d in designs if d.valid],
                                        infeasible=[tokenize(d.sequence) for d in designs
                                                    if d.charged and not d.valid and not d.transient])
        self.upto = max(self.upto, round)
