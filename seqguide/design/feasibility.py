"""A feasibility model learned from the objective's own refusals: adjacent token pairs that only infeasible designs
contain.

Many black-box objectives refuse designs for local reasons (an Ehrlich function's banned transitions, a restriction
site, a forbidden dipeptide), and each refusal still costs an oracle call. :class:`PairFeasibility` learns such
refusals from the designs already scored: a pair of adjacent tokens seen in at least ``min_count`` designs the
objective found infeasible (permanently, not a transient failure) and in no feasible design is taken as banned, and a
candidate containing a banned pair is dropped before it is paid for. A pair any feasible design contains is never
banned, so the filter can only err by skipping an untried pair; it is modelled apart from the value (the "feasibility
modelled separately" of LaMBO-2-style loops, Gruver et al. 2023, arXiv 2305.20009; Stanton et al. 2024, arXiv
2407.00236, section 3, for the local infeasibility of Ehrlich functions).

Example:
    >>> f = PairFeasibility(min_count=1, min_feasible=1)
    >>> f.update(feasible=[list("ABAB")], infeasible=[list("AABB")])
    >>> f.allowed([list("ABBA"), list("ABAB")])
    [False, True]
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Sequence

__all__ = ["PairFeasibility"]


class PairFeasibility:
    """Adjacent-pair feasibility filter (see the module docstring).

    Args:
        min_count: Infeasible designs a pair must occur in (and no feasible one) to be banned.
        min_feasible: Feasible designs needed before anything is banned: until then "in no feasible design" says
            nothing (with no feasible design at all, every pair would qualify and the filter would lock the loop
            into what it has already tried).
    """

    def __init__(self, min_count: int = 2, min_feasible: int = 10) -> None:
        if min_count < 1:
            raise ValueError(f"PairFeasibility: min_count must be >= 1, got {min_count}")
        if min_feasible < 1:
            raise ValueError(f"PairFeasibility: min_feasible must be >= 1, got {min_feasible}")
        self.min_count = int(min_count)
        self.min_feasible = int(min_feasible)
        self.n_feasible = 0
        self.feasible_pairs: set[tuple[str, str]] = set()
        self.infeasible_counts: Counter[tuple[str, str]] = Counter()

    @staticmethod
    def _pairs(tokens: Sequence[str]) -> set[tuple[str, str]]:
        return set(itertools.pairwise(tokens))

    def update(self, feasible: Iterable[Sequence[str]] = (), infeasible: Iterable[Sequence[str]] = ()) -> None:
        """Add scored designs (as token lists): feasible ones, and ones the objective refused for good."""
        for tokens in feasible:
            self.feasible_pairs |= self._pairs(tokens)
            self.n_feasible += 1
        for tokens in infeasible:
            self.infeasible_counts.update(self._pairs(tokens))

    @property
    def banned(self) -> set[tuple[str, str]]:
        """The pairs currently taken as banned (none before ``min_feasible`` feasible designs)."""
        if self.n_feasible < self.min_feasible:
            return set()
        return {p for p, n in self.infeasible_counts.items() if n >= self.min_count and p not in self.feasible_pairs}

    def allowed(self, designs: Iterable[Sequence[str]]) -> list[bool]:
        """Whether each design (a token list) avoids every banned pair."""
        banned = self.banned
        return [not (self._pairs(tokens) & banned) for tokens in designs]
