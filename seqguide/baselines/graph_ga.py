"""Graph-based genetic algorithm for molecules (Jensen 2019, Chem. Sci. 10:3567), as PMO ran it.

The GA of Jensen's section 2.1 with the loop, operators and stopping rule of the graph GA in PMO (Gao et al.
2022, arXiv 2206.12411; mol_opt's ``main/graph_ga``), whose setting is the default here (a population of 120,
70 children per generation, mutation rate 0.067, patience 5):

1. the initial population is drawn at random from a library (e.g. MOSES or ZINC molecules) and scored;
2. each generation draws a mating pool of ``population`` parents with replacement, with probability
   proportional to score (+1e-10); each of ``offspring`` children is the crossover of two parents drawn
   uniformly from the pool (:func:`~seqguide.baselines.mol_edits.crossover`, ring or non-ring, with Jensen's size
   control and ring-sanity filter), mutated with probability ``mutation_rate``
   (:func:`~seqguide.baselines.mol_edits.mutate`; a child whose mutation fails is dropped);
3. the children are scored (every new canonical SMILES costs one call of the budget; a molecule met before is
   free) and the population becomes the best ``population`` distinct molecules of parents and children;
4. **early stop** (PMO's): once more than 100 calls are paid, a generation that raises the mean of the 100 best
   values paid so far by less than ``tolerance`` (1e-3) counts towards ``patience``; after ``patience``
   such generations in a row the run stops (``stopped="converged"``). PMO's AUC then holds the top-k curve flat
   at its last value up to the budget (:func:`~seqguide.baselines.top_k_auc` does).

Example:
    >>> from oracles import get_oracle
    >>> ga = GraphGA(population=20, offspring=10)
    >>> run = ga.run(get_oracle("qed"), library=["CCO", "c1ccccc1O", "CC(=O)Nc1ccc(O)cc1"] * 10,
    ...              budget=200, seed=0)                                           # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from oracles import Oracle
from seqguide.baselines.history import BudgetedObjective, DesignHistory, budgeted
from seqguide.baselines.mol_edits import SIZE_MEAN, SIZE_SD, crossover, mutate

__all__ = ["GraphGA", "GraphGARun"]

_MIN_SCORE = 1e-10  # added to every score in the mating-pool weights (PMO's)
_TOP = 100  # the early stop watches the mean of this many best values


@dataclass
class GraphGARun:
    """The result of :meth:`GraphGA.run`: the history, generations, final population (canonical SMILES,
    best first) and why it stopped (``"budget"``, ``"optimum"``, ``"converged"`` (PMO's early stop),
    ``"stalled"`` (no new molecule for ``max_stalled`` generations))."""

    history: DesignHistory
    generations: int
    population: list[str]
    stopped: str


class GraphGA:
    """Jensen's graph GA on SMILES, with PMO's setting and early stop.

    Args:
        population: Molecules kept between generations (and the size of the mating pool).
        offspring: Children made per generation.
        mutation_rate: Probability that a child is mutated after crossover.
        size_mean: Mean of the normal distribution the size limit is drawn from (heavy atoms).
        size_sd: Its standard deviation.
        patience: Stop after this many generations in a row that raise the mean of the 100 best paid values by
            less than ``tolerance`` (counted once more than 100 calls are paid; PMO: 5); None never stops early.
        tolerance: The smallest rise of that mean that counts as progress (PMO: 1e-3).
        max_stalled: Stop after this many generations without a new paid call (a guard for tiny libraries).
        ring_crossover: Use ring crossover as well as non-ring crossover (False: an ablation).
        stop_at_optimum: Stop once a call reaches the oracle's ``optimal_value`` (off by default: PMO's top-k
            metric keeps improving after the first optimal molecule, e.g. on similarity tasks clipped at 0.75).
    """

    paper = "Jensen 2019, Chem. Sci. 10:3567 (graph GA); PMO settings, Gao et al. 2022, arXiv 2206.12411"

    def __init__(self, *, population: int = 120, offspring: int = 70, mutation_rate: float = 0.067,
                 size_mean: float = SIZE_MEAN, size_sd: float = SIZE_SD, patience: int | None = 5,
                 tolerance: float = 1e-3, max_stalled: int = 20, ring_crossover: bool = True,
                 stop_at_optimum: bool = False) -> None:
        if population < 2 or offspring < 1:
            raise ValueError(f"GraphGA: population must be >= 2 and offspring >= 1, got {population}, {offspring}")
        if not 0.0 <= mutation_rate <= 1.0:
            raise ValueError(f"GraphGA: mutation_rate must be in [0, 1], got {mutation_rate!r}")
        if size_mean <= 5 or size_sd < 0:
            raise ValueError(f"GraphGA: size_mean must be > 5 and size_sd >= 0, got {size_mean}, {size_sd}")
        if patience is not None and patience < 1:
            raise ValueError(f"GraphGA: patience must be >= 1 or None, got {patience!r}")
        self.population = int(population)
        self.offspring = int(offspring)
        self.mutation_rate = float(mutation_rate)
        self.size_mean, self.size_sd = float(size_mean), float(size_sd)
        self.patience = None if patience is None else int(patience)
        self.tolerance = float(tolerance)
        self.max_stalled = int(max_stalled)
        self.ring_crossover = bool(ring_crossover)
        self.stop_at_optimum = bool(stop_at_optimum)

    def _children(self, mols: list[Any], scores: np.ndarray, rng: np.random.Generator) -> list[str]:
        from rdkit import Chem

        w = np.clip(np.nan_to_num(scores, nan=0.0, neginf=0.0), 0.0, None) + _MIN_SCORE
        pool = rng.choice(len(mols), size=self.population, replace=True, p=w / w.sum())
        size = (self.size_mean, self.size_sd)
        out: list[str] = []
        for _ in range(self.offspring):
            a, b = pool[rng.integers(len(pool))], pool[rng.integers(len(pool))]
            child = crossover(mols[a], mols[b], rng, size=size, ring=self.ring_crossover)
            if child is not None and rng.random() < self.mutation_rate:
                child = mutate(child, rng, size=size)
            if child is not None:
                out.append(Chem.MolToSmiles(child))
        return list(dict.fromkeys(out))

    def run(self, oracle: Oracle | BudgetedObjective, *, library: Sequence[str], budget: int | None = None,
            seed: int = 0, callback: Callable[[int, BudgetedObjective], Any] | None = None) -> GraphGARun:
        """Evolve from a random draw of ``library`` until the budget is spent or the early stop.

        Args:
            oracle: The objective on SMILES; a bare oracle is wrapped in a :class:`BudgetedObjective`.
            library: Molecules (SMILES) the initial population is drawn from.
            budget: Unique paid calls (required for a bare oracle).
            seed: Seed of the NumPy generator.
            callback: Called as ``callback(generation, objective)`` after each generation.
        """
        from rdkit import Chem, RDLogger

        objective = budgeted(oracle, budget, "GraphGA.run")
        if len(library) < self.population:
            raise ValueError(f"GraphGA.run: the library has {len(library)} molecules, fewer than the population "
                             f"of {self.population}")
        RDLogger.DisableLog("rdApp.*")
        try:
            rng = np.random.default_rng(seed)
            drawn = [Chem.MolFromSmiles(library[i]) for i in rng.choice(len(library), size=self.population,
                                                                          replace=False)]
            start = [Chem.MolToSmiles(m) for m in drawn if m is not None]  # canonical: one key per molecule
            pool: dict[str, float] = {}
            self._score(objective, start, pool)
            generation, stalled, waiting, stopped = 0, 0, 0, "budget"
            while not objective.exhausted:
                before = _top_mean(objective) if objective.used > _TOP else 0.0
                ranked = sorted(pool, key=pool.__getitem__, reverse=True)[: self.population]
                mols = [Chem.MolFromSmiles(s) for s in ranked]
                keep = [i for i, m in enumerate(mols) if m is not None]
                children = self._children([mols[i] for i in keep], np.array([pool[ranked[i]] for i in keep]), rng)
                used = objective.used
                self._score(objective, children, pool)
                generation += 1
                if callback is not None:
                    callback(generation, objective)
                stalled = stalled + 1 if objective.used == used else 0
                if objective.used > _TOP:
                    waiting = waiting + 1 if _top_mean(objective) - before < self.tolerance else 0
                if self.stop_at_optimum and objective.solved():
                    stopped = "optimum"
                    break
                if objective.exhausted:
                    break
                if self.patience is not None and waiting >= self.patience:
                    stopped = "converged"
                    break
                if stalled >= self.max_stalled:
                    stopped = "stalled"
                    break
        finally:
            RDLogger.EnableLog("rdApp.*")
        final = sorted(pool, key=pool.__getitem__, reverse=True)[: self.population]
        return GraphGARun(objective.history, generation, final, stopped)

    @staticmethod
    def _score(objective: BudgetedObjective, smiles: list[str], pool: dict[str, float]) -> None:
        if not smiles:
            return
        values = objective.fitness(smiles)
        for s, v in zip(smiles, values):
            if np.isfinite(v):
                pool[s] = float(v)


def _top_mean(objective: BudgetedObjective) -> float:
    """The mean of the 100 best valid values paid so far (in the objective's direction)."""
    v = objective.history.values
    v = v[~np.isnan(v)] if objective.maximize else -v[~np.isnan(v)]
    return float(np.sort(v)[-_TOP:].mean()) if len(v) else 0.0
