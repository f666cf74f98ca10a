"""Proposals anchored on the best designs so far: copy elites, recombine them, mask a few positions, refill.

Each round, instead of sampling afresh from the prior, :class:`EliteInfill` builds partially masked starting states
from the ``elites`` best valid designs of earlier rounds and :func:`seqguide.sample` refills them through the one
loop (``sample(init=...)``, guidance included). This is the guided-infilling proposal of LaMBO-2 (Gruver et al.
2023, "Protein design with guided discrete diffusion", arXiv 2305.20009, section 4: mask a few positions of a seed
sequence and let the guided model fill them), with the operators of an evolutionary search in place of its
saliency-chosen positions:

* a parent drawn uniformly from the elites (ties go to the newest design, so equal-valued children replace their
  parents and the search drifts along a plateau), or with probability
  ``crossover`` a two-point crossover of two distinct elites (segments stay contiguous, so spaced motifs survive);
* ``e`` positions masked, ``e`` uniform in ``edits = (lo, hi)``: with probability ``window`` one contiguous window
  of ``e`` positions (a motif-sized edit), otherwise ``e`` positions at random;
* the model refills the masked positions from its conditional given the rest, so a refill respects what the
  model learned (e.g. the feasible transitions of an Ehrlich function's DMP) where a random mutation would not;
* with probability ``mutation`` one kept position also gets a uniformly random token (a GA's point mutation), so
  tokens the model finds unlikely are still tried; the refill of the masked positions adapts to it.

With ``restart_after`` set, a population that has not improved on its best for that many paid calls is
dropped and the next round samples the prior again (a restart, as in restarted local search): on Ehrlich
functions the plateau at 0.75 is two motifs claiming one position, which no small edit resolves.

A child stays within ``hi`` edits of its parent (a trust region on Hamming distance; the crossover child's
parents are elites too). Until ``min_labels`` valid designs exist, the round samples from the prior.

Example:
    >>> infill = EliteInfill(elites=4, edits=(1, 2))
    >>> infill.steps
    2
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["EliteInfill", "ElitePool"]


@dataclass(frozen=True)
class EliteInfill:
    """Elite-anchored masked infilling (see the module docstring).

    Args:
        elites: How many of the best valid designs so far are parents.
        edits: ``(lo, hi)``: masked positions per child, uniform in ``lo..hi``.
        window: Probability that a child's masked positions are one contiguous window.
        crossover: Probability that a child starts from a two-point crossover of two elites.
        min_labels: Valid designs needed before anchoring starts (earlier rounds sample from the prior).
        mutation: Probability that a child also gets one uniform random point mutation outside the masked positions.
        restart_after: Paid calls without a better design after which the population restarts from the prior
            (None: never).
        ties: Which of equal-valued designs stay elites: ``"newest"`` (children replace their parents: drift
            along a plateau) or ``"oldest"`` (the first found stay).
    """

    elites: int = 32
    edits: tuple[int, int] = (1, 4)
    window: float = 0.5
    crossover: float = 0.2
    min_labels: int = 1
    mutation: float = 0.0
    restart_after: int | None = None
    ties: str = "newest"

    def __post_init__(self) -> None:
        lo, hi = self.edits
        if self.elites < 1:
            raise ValueError(f"EliteInfill: elites must be >= 1, got {self.elites}")
        if not 1 <= lo <= hi:
            raise ValueError(f"EliteInfill: edits must be (lo, hi) with 1 <= lo <= hi, got {self.edits}")
        for name in ("window", "crossover", "mutation"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"EliteInfill: {name} must be in [0, 1], got {getattr(self, name)}")
        if self.ties not in ("newest", "oldest"):
            raise ValueError(f"EliteInfill: ties must be 'newest' or 'oldest', got {self.ties!r}")
        if self.restart_after is not None and self.restart_after < 1:
            raise ValueError(f"EliteInfill: restart_after must be >= 1 or None, got {self.restart_after}")
        if self.min_labels < 1:
            raise ValueError(f"EliteInfill: min_labels must be >= 1, got {self.min_labels}")

    @property
    def steps(self) -> int:
        """Reverse steps that refill a child (one per masked position at most)."""
        return self.edits[1]

    def starts(self, parents: torch.Tensor, n: int, *, mask_id: int, generator: torch.Generator,
               num_tokens: int | None = None) -> torch.Tensor:
        """``n`` partially masked starting states ``(n, L)`` from elite token ids ``parents (E, L)``; point
        mutations draw from token ids ``0..num_tokens-1`` (required when ``mutation > 0``).

        Batched over children (no loop over positions); deterministic given ``generator``.
        """
        if parents.dim() != 2 or parents.shape[0] < 1:
            raise ValueError(f"parents must be a non-empty (E, L) tensor, got shape {tuple(parents.shape)}")
        device = parents.device
        num, length = parents.shape
        hi = min(self.edits[1], length)
        lo = min(self.edits[0], hi)

        def rand(*shape: int) -> torch.Tensor:
            return torch.rand(*shape, generator=generator, device=device)

        def randint(high: int, *shape: int) -> torch.Tensor:
            return torch.randint(high, shape, generator=generator, device=device)

        idx_a = randint(num, n)
        children = parents[idx_a]
        if num > 1 and self.crossover > 0:
            # A second parent distinct from the first (its index offset by 1..E-1), and two cut points.
            idx_b = (idx_a + 1 + randint(num - 1, n)) % num
            a, b = randint(length + 1, n), randint(length + 1, n)
            pos = torch.arange(length, device=device)
            inside = (pos[None] >= torch.minimum(a, b)[:, None]) & (pos[None] < torch.maximum(a, b)[:, None])
            crossed = torch.where(inside, parents[idx_b], children)
            children = torch.where((rand(n) < self.crossover)[:, None], crossed, children)
        # e masked positions per child: a window at a random start, or e random positions.
        e = lo + randint(hi - lo + 1, n)
        pos = torch.arange(length, device=device)
        start = (rand(n) * (length - e + 1).float()).long()
        in_window = (pos[None] >= start[:, None]) & (pos[None] < (start + e)[:, None])
        ranks = rand(n, length).argsort(dim=1).argsort(dim=1)  # a random permutation rank per position
        at_random = ranks < e[:, None]
        masked = torch.where((rand(n) < self.window)[:, None], in_window, at_random)
        if self.mutation > 0:
            if num_tokens is None:
                raise ValueError("EliteInfill.starts: mutation > 0 needs num_tokens")
            spot = torch.where(masked, 2.0, rand(n, length)).argmin(dim=1)  # a random kept position
            token = randint(num_tokens, n)
            mutate = (rand(n) < self.mutation) & ~masked.all(dim=1)
            children = children.clone()
            rows = torch.arange(n, device=device)
            children[rows, spot] = torch.where(mutate, token, children[rows, spot])
        return torch.where(masked, torch.full_like(children, mask_id), children)

    @staticmethod
    def top(values: Sequence[float], k: int, *, maximize: bool) -> list[int]:
        """Indices of the ``k`` best values (stable: an earlier design wins a tie)."""
        order = sorted(range(len(values)), key=lambda i: (-values[i] if maximize else values[i], i))
        return order[:k]


class ElitePool:
    """The population :class:`EliteInfill` draws parents from: the best valid designs of the rounds added so far.

    Rounds are added in order (:meth:`add_round`, each once); the pool keeps the ``anchor.elites`` best in a total
    order (value, then round and index, newest or oldest first as ``anchor.ties`` says), so the same rounds give
    the same elites, and restarts (``anchor.restart_after``) when that many paid calls bring no better design.

    Args:
        anchor: The proposal settings.
        maximize: Direction of the objective.
    """

    def __init__(self, anchor: EliteInfill, *, maximize: bool) -> None:
        self.anchor = anchor
        self.sign = -1.0 if maximize else 1.0
        self.entries: list[tuple[float, int, int, str]] = []  # (sort key, ±round, ±idx, sequence), best first
        self.best = math.inf  # the population's best sort key
        self.stale = 0  # paid calls since it improved
        self.restarts = 0

    def add_round(self, designs: Sequence[Any]) -> None:
        """Merge one round's stored designs (records with ``valid``, ``objective``, ``round``, ``idx``,
        ``sequence``, ``charged``)."""
        a = self.anchor
        # Ties go to the newest design by default: equal-valued children replace their parents (neutral drift, as
        # a GA's generational replacement does), so a plateau is explored instead of frozen.
        order = -1 if a.ties == "newest" else 1
        keys = [(self.sign * float(d.objective), order * d.round, order * d.idx, d.sequence) for d in designs
                if d.valid]
        self.entries = sorted(self.entries + keys)[: max(a.elites, a.min_labels)]
        if keys and min(keys)[0] < self.best:
            self.best, self.stale = min(keys)[0], 0
        else:
            self.stale += sum(d.charged for d in designs)
        if a.restart_after is not None and self.stale >= a.restart_after:
            # No better design in restart_after paid calls: a local optimum (e.g. two motifs that claim one
            # position). Start a new population from the prior; the store keeps everything found so far.
            self.entries, self.best, self.stale = [], math.inf, 0
            self.restarts += 1

    def parents(self) -> list[str] | None:
        """The elite sequences, best first (None: fewer than ``anchor.min_labels`` valid designs yet)."""
        if len(self.entries) < self.anchor.min_labels:
            return None
        return [e[3] for e in self.entries[: self.anchor.elites]]
