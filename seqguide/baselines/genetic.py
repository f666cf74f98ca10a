"""A vectorised genetic algorithm for fixed-length sequences over any alphabet.

The semantics are those of ``holo.optim.DiscreteEvolution`` (pytorch-holo, the GA baseline of Stanton
et al. 2024, "Closed-Form Test Functions for Biophysical Sequence Optimization Algorithms",
arXiv 2407.00236, section 5), written here with NumPy. One generation:

1. score every particle (the whole population, as holo does; a design scored before is a free cache
   hit under :class:`~seqguide.baselines.history.BudgetedObjective`);
2. survivors: the particles whose loss (negated value; invalid = ``+inf``) is at most the
   ``survival_quantile`` quantile of the losses (linear interpolation); all survive when that quantile is
   infinite;
3. every other particle is replaced by a uniform crossover of two survivors drawn with replacement:
   position-wise the first parent's token with probability ``recombine_prob``, else the second's;
4. every particle (survivors included) is mutated: each position independently with probability
   ``mutation_prob`` is replaced by a token drawn uniformly from the vocabulary.

The population starts as copies of one initial sequence (holo's convention: ``Ehrlich.initial_solution``
repeated), a list of sequences drawn to fill it, or uniform random sequences.

Example:
    >>> from oracles import get_oracle
    >>> f = get_oracle("ehrlich", num_states=8, dim=12, num_motifs=2, motif_length=3, seed=0)
    >>> ga = GeneticAlgorithm(f.alphabet.tokens, length=12, num_particles=64, survival_quantile=0.1)
    >>> run = ga.run(f, budget=2000, seed=0, initial=f.initial_solution())
    >>> run.history.best()[1] > 0       # doctest: +SKIP
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from oracles import Oracle
from seqguide.baselines.history import BudgetedObjective, DesignHistory

__all__ = ["GARun", "GeneticAlgorithm", "quantile_threshold"]


def quantile_threshold(losses: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``losses`` with linear interpolation (``torch.quantile``'s default),
    ``+inf`` when an infinite loss is involved in the interpolation (holo then keeps every particle)."""
    s = np.sort(np.asarray(losses, dtype=np.float64))
    pos = q * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    frac = pos - lo
    if not np.isfinite(s[lo]) or (frac > 0 and not np.isfinite(s[hi])):
        return math.inf
    return float(s[lo] + frac * (s[hi] - s[lo]))


@dataclass
class GARun:
    """The result of :meth:`GeneticAlgorithm.run`.

    Attributes:
        history: Every paid call in order (see :class:`DesignHistory`).
        generations: Generations scored.
        best_per_generation: ``(G,)`` best value of each scored population (holo's per-step solution).
        population: The final population as strings.
        stopped: Why the run stopped: ``"budget"``, ``"optimum"``, ``"generations"`` or ``"stalled"``.
    """

    history: DesignHistory
    generations: int
    best_per_generation: np.ndarray
    population: list[str] = field(repr=False)
    stopped: str


class GeneticAlgorithm:
    """Holo-style discrete evolution: survival by quantile, uniform recombination, per-position mutation.

    Args:
        tokens: The vocabulary, one string per state (``""`` for a gap token that is dropped when a particle
            is written out, which lets fixed-length particles encode shorter sequences).
        length: Sequence length ``L`` (positions per particle).
        num_particles: Population size.
        survival_quantile: Quantile of the losses at or below which particles survive, in (0, 1); holo
            requires at least two survivors (``survival_quantile * num_particles >= 2``).
        mutation_prob: Per-position mutation probability in (0, 1); default ``1 / L``.
        recombine_prob: Per-position probability of taking the first parent's token, in [0, 1);
            default ``1 / L``.
        stop_at_optimum: Stop once a paid call reaches the oracle's ``optimal_value``.
    """

    paper = "Stanton et al. 2024, arXiv 2407.00236 (holo DiscreteEvolution)"

    def __init__(self, tokens: Sequence[str], *, length: int, num_particles: int = 128,
                 survival_quantile: float = 0.1, mutation_prob: float | None = None,
                 recombine_prob: float | None = None, stop_at_optimum: bool = True) -> None:
        tokens = list(tokens)
        if len(tokens) < 2:
            raise ValueError(f"GeneticAlgorithm: tokens needs at least 2 states, got {tokens!r}")
        if len(set(tokens)) != len(tokens):
            raise ValueError(f"GeneticAlgorithm: tokens must be distinct, got {tokens!r}")
        if tokens.count("") > 1:
            raise ValueError("GeneticAlgorithm: at most one gap token ('')")
        if length < 1:
            raise ValueError(f"GeneticAlgorithm: length must be >= 1, got {length!r}")
        if num_particles < 2:
            raise ValueError(f"GeneticAlgorithm: num_particles must be >= 2, got {num_particles!r}")
        if not 0.0 < survival_quantile < 1.0:
            raise ValueError(f"GeneticAlgorithm: survival_quantile must be in (0, 1), got {survival_quantile!r}")
        if survival_quantile * num_particles < 2:
            raise ValueError(f"GeneticAlgorithm: survival_quantile * num_particles = "
                             f"{survival_quantile * num_particles:g} keeps fewer than 2 survivors")
        mutation_prob = 1.0 / length if mutation_prob is None else float(mutation_prob)
        recombine_prob = 1.0 / length if recombine_prob is None else float(recombine_prob)
        if not 0.0 < mutation_prob < 1.0:
            raise ValueError(f"GeneticAlgorithm: mutation_prob must be in (0, 1), got {mutation_prob!r}")
        if not 0.0 <= recombine_prob < 1.0:
            raise ValueError(f"GeneticAlgorithm: recombine_prob must be in [0, 1), got {recombine_prob!r}")
        self.tokens = tokens
        self.length = int(length)
        self.num_particles = int(num_particles)
        self.survival_quantile = float(survival_quantile)
        self.mutation_prob = mutation_prob
        self.recombine_prob = recombine_prob
        self.stop_at_optimum = bool(stop_at_optimum)
        self._index = {t: i for i, t in enumerate(tokens) if t}
        self._gap = tokens.index("") if "" in tokens else None
        self._single_char = all(len(t) <= 1 for t in tokens)

    # -- encoding -----------------------------------------------------------------------------
    def encode(self, sequences: Sequence[str]) -> np.ndarray:
        """Strings to ``(N, L)`` int64 states (single-character tokens; shorter strings are filled with the gap
        token when there is one).

        Raises:
            ValueError: naming the sequence, position and character that cannot be encoded.
        """
        out = np.empty((len(sequences), self.length), dtype=np.int64)
        for i, s in enumerate(sequences):
            if len(s) > self.length or (len(s) < self.length and self._gap is None):
                raise ValueError(f"GeneticAlgorithm: sequence {i} has length {len(s)}, expected {self.length}")
            for j, ch in enumerate(s):
                if ch not in self._index:
                    raise ValueError(f"GeneticAlgorithm: sequence {i}, position {j}: {ch!r} is not a token")
                out[i, j] = self._index[ch]
            out[i, len(s):] = self._gap if self._gap is not None else 0
        return out

    def decode(self, states: np.ndarray) -> list[str]:
        """``(N, L)`` states to strings (gap tokens dropped)."""
        if self._single_char:
            chars = np.array([t if t else "\0" for t in self.tokens])
            rows = ["".join(r) for r in chars[states]]
            return [r.replace("\0", "") for r in rows] if self._gap is not None else rows
        return ["".join(self.tokens[i] for i in row) for row in states]

    def _initial(self, initial: str | Sequence[str] | np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        n, L = self.num_particles, self.length
        if initial is None:
            return rng.integers(0, len(self.tokens), size=(n, L))
        if isinstance(initial, np.ndarray):
            states = np.atleast_2d(initial).astype(np.int64)
            if states.shape[1] != L or states.min() < 0 or states.max() >= len(self.tokens):
                raise ValueError(f"GeneticAlgorithm: initial states must be (N, {L}) in [0, {len(self.tokens)})")
        else:
            states = self.encode([initial] if isinstance(initial, str) else list(initial))
        if len(states) == 0:
            raise ValueError("GeneticAlgorithm: initial is empty")
        if len(states) >= n:
            return states[rng.choice(len(states), size=n, replace=False)]
        return states[np.arange(n) % len(states)]

    # -- one generation -------------------------------------------------------------------------
    def evolve(self, population: np.ndarray, fitness: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The next population from a scored one (steps 2-4 of the module docstring).

        Args:
            population: ``(P, L)`` int64 states.
            fitness: ``(P,)`` values, higher is better, ``-inf`` for invalid particles.
            rng: The run's generator.

        Returns:
            ``(P, L)`` int64 states.
        """
        loss = -np.asarray(fitness, dtype=np.float64)
        threshold = quantile_threshold(loss, self.survival_quantile)
        surviving = loss <= threshold if threshold < math.inf else np.ones(len(loss), dtype=bool)
        pop = population.copy()
        parents = pop[surviving]
        missing = int((~surviving).sum())
        if missing:
            p1 = parents[rng.integers(0, len(parents), size=missing)]
            p2 = parents[rng.integers(0, len(parents), size=missing)]
            take_first = rng.random(p1.shape) < self.recombine_prob
            pop[~surviving] = np.where(take_first, p1, p2)
        mutate = rng.random(pop.shape) < self.mutation_prob
        return np.where(mutate, rng.integers(0, len(self.tokens), size=pop.shape), pop)

    # -- the run --------------------------------------------------------------------------------
    def run(self, oracle: Oracle | BudgetedObjective, *, budget: int | None = None, seed: int = 0,
            initial: str | Sequence[str] | np.ndarray | None = None, max_generations: int | None = None,
            callback: Callable[[int, np.ndarray, BudgetedObjective], Any] | None = None,
            max_stalled: int = 100) -> GARun:
        """Evolve until the budget is spent (or the optimum, ``max_generations``, a stall).

        Args:
            oracle: The objective; a bare oracle is wrapped in a :class:`BudgetedObjective` of ``budget``.
            budget: Unique paid calls (required unless ``oracle`` is already a ``BudgetedObjective``).
            seed: Seed of the NumPy generator (same seed, same run).
            initial: One sequence (repeated, as holo does), several (drawn to fill the population), an
                ``(N, L)`` state array, or None for uniform random particles.
            max_generations: Stop after this many scored generations.
            callback: Called as ``callback(generation, fitness, objective)`` after each generation.
            max_stalled: Stop after this many consecutive generations that paid for nothing new (the
                population collapsed onto designs already scored).

        Returns:
            A :class:`GARun`.
        """
        objective = self._objective(oracle, budget)
        rng = np.random.default_rng(seed)
        pop = self._initial(initial, rng)
        best: list[float] = []
        generation, stalled, stopped = 0, 0, "budget"
        while not objective.exhausted:
            used = objective.used
            fitness = objective.fitness(self.decode(pop))
            generation += 1
            top = float(fitness.max())
            best.append(top if objective.maximize else -top)
            if callback is not None:
                callback(generation, fitness, objective)
            stalled = stalled + 1 if objective.used == used else 0
            if self.stop_at_optimum and objective.solved():
                stopped = "optimum"
                break
            if max_generations is not None and generation >= max_generations:
                stopped = "generations"
                break
            if stalled >= max_stalled:
                stopped = "stalled"
                break
            if objective.exhausted:
                break
            pop = self.evolve(pop, fitness, rng)
        vals = np.asarray(best, dtype=np.float64)
        return GARun(objective.history, generation, np.where(np.isinf(vals), np.nan, vals), self.decode(pop), stopped)

    @staticmethod
    def _objective(oracle: Oracle | BudgetedObjective, budget: int | None) -> BudgetedObjective:
        if isinstance(oracle, BudgetedObjective):
            if budget is not None and budget != oracle.budget:
                raise ValueError(f"budget={budget} disagrees with the objective's budget {oracle.budget}")
            return oracle
        if budget is None:
            raise ValueError("GeneticAlgorithm.run: give budget= (unique paid calls) for a bare oracle")
        return BudgetedObjective(oracle, budget=budget)

    def __repr__(self) -> str:
        return (f"GeneticAlgorithm(tokens={len(self.tokens)}, length={self.length}, "
                f"num_particles={self.num_particles}, survival_quantile={self.survival_quantile:g}, "
                f"mutation_prob={self.mutation_prob:.4g}, recombine_prob={self.recombine_prob:.4g})")
