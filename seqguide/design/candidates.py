"""A round's candidate list as the sampler's draws fill it: new designs only, the learned feasibility filter, and a
quota of designs that pass the objective's free checks, and how many samples a draw needs to fill it (used by
:meth:`seqguide.design.loop.DesignLoop.propose`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from seqguide.design.store import DesignStore

__all__ = ["CandidateList", "draw_size", "fresh_share"]

#: Draws are sized for 10 % more new designs than missing (a short draw costs another ``sample()`` call).
OVERDRAW_MARGIN = 1.1
#: The smallest share of new designs a draw is sized for (at most 11x the missing designs per draw).
MIN_FRESH_SHARE = 0.1


def fresh_share(store: DesignStore, run_id: int, round: int, found: CandidateList | None = None) -> float:
    """The share of new designs (not duplicates) among the samples of this round's draws so far (``found``), or
    before the first draw among those of round ``round - 1`` of the run (1.0 without samples). A function of the
    seed and the store's earlier rounds, so a resumed loop sizes its draws the same."""
    if found is not None and found.sampled:
        return max(MIN_FRESH_SHARE, 1.0 - found.duplicates / found.sampled)
    if round == 0:
        return 1.0
    try:
        prev = store.round(run_id, round - 1)
    except KeyError:
        return 1.0
    if not prev.n_sampled:
        return 1.0
    return max(MIN_FRESH_SHARE, 1.0 - prev.n_duplicates / prev.n_sampled)


def draw_size(missing: int, share: float) -> int:
    """Samples to draw for ``missing`` more designs when a share ``share`` of samples is new: enough to fill the
    round in one draw (with :data:`OVERDRAW_MARGIN`), so redraws are rare."""
    return max(1, math.ceil(round(missing * OVERDRAW_MARGIN / max(share, MIN_FRESH_SHARE), 6)))


class CandidateList:
    """The candidates of one round, in sampling order, filled draw by draw until ``quota`` of them pass.

    A sample whose key is in ``seen`` (earlier rounds) or already taken this round is a duplicate and dropped;
    ``allowed`` (the pair-feasibility filter) drops more before anything is paid for. Designs that fail the free
    checks (``precheck``: validation, hard constraints) stay in the list (they are stored as rejected, uncharged)
    but do not count towards the quota.

    Args:
        quota: Designs that must pass ``precheck``.
        seen: Keys of the designs of earlier rounds.
        key: A design's identity.
        precheck: ``f(sequences) -> reasons`` (None: passes), the objective's free checks.
        allowed: ``f(sequences) -> keep flags`` (None: no filter).

    Attributes:
        sequences, seeds, draws: The list, the sampler seed and the draw index of each entry.
        sampled: Samples offered in all.
        duplicates: Samples dropped as duplicates.
        filtered: Samples dropped by ``allowed``.
        accepted: Entries that passed ``precheck``.
    """

    def __init__(self, quota: int, seen: set[str], key: Callable[[str], str],
                 precheck: Callable[[list[str]], Sequence[str | None]],
                 allowed: Callable[[list[str]], Sequence[bool]] | None = None) -> None:
        self.quota = quota
        self.seen = seen
        self.key = key
        self.precheck = precheck
        self.allowed = allowed
        self.sequences: list[str] = []
        self.seeds: list[int] = []
        self.draws: list[int] = []
        self.taken: set[str] = set()
        self.sampled = self.duplicates = self.filtered = self.accepted = 0

    @property
    def full(self) -> bool:
        """Whether ``quota`` entries passed the free checks."""
        return self.accepted >= self.quota

    def add_draw(self, samples: Sequence[str], seed: int, draw: int) -> None:
        """Offer one draw's samples (drawn with ``seed``, the round's ``draw``-th draw), in order."""
        fresh: list[str] = []
        for s in samples:
            self.sampled += 1
            k = self.key(s)
            if k in self.seen or k in self.taken:
                self.duplicates += 1
                continue
            self.taken.add(k)
            fresh.append(s)
        if self.allowed is not None and fresh:
            keep = self.allowed(fresh)
            self.filtered += len(fresh) - sum(keep)
            fresh = [s for s, ok in zip(fresh, keep) if ok]
        for s, reason in zip(fresh, self.precheck(fresh)):
            if self.full:
                break
            self.sequences.append(s)
            self.seeds.append(seed)
            self.draws.append(draw)
            self.accepted += reason is None
