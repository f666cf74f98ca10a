"""Graph-based genetic algorithm for molecules (Jensen 2019, Chem. Sci. 10:3567).

The GA of Jensen's section 2.1, with the loop used by GuacaMol's and PMO's graph-GA baselines (Brown et al.
2019; Gao et al. 2022, arXiv 2206.12411, whose setting is the default here: a population of 120, 70 children
per generation, mutation rate 0.067):

1. the initial population is drawn at random from a library (e.g. MOSES or ZINC molecules) and scored;
2. each generation draws a mating pool of parents with probability proportional to their score, makes
   ``offspring`` children by crossover of two parents (:func:`~seqguide.baselines.mol_edits.crossover`),
   mutates each child with probability ``mutation_rate`` (:func:`~seqguide.baselines.mol_edits.mutate`) and
   keeps children of acceptable size (more than 5 heavy atoms and fewer than a size drawn from a normal
   distribution, Jensen's size control, default mean 39.15, s.d. 3.50);
3. the new children are scored (every new canonical SMILES costs one call of the budget; a molecule met
   before is free) and the population becomes the best ``population`` distinct molecules of parents and
   children.

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
from seqguide.baselines.history import BudgetedObjective, DesignHistory
from seqguide.baselines.mol_edits import crossover, mutate

__all__ = ["GraphGA", "GraphGARun"]

_MIN_ATOMS = 5


@dataclass
class GraphGARun:
    """The result of :meth:`GraphGA.run`: the history, generations, final population (canonical SMILES,
    best first) and why it stopped (``"budget"``, ``"optimum"``, ``"stalled"``)."""

    history: DesignHistory
    generations: int
    population: list[str]
    stopped: str


class GraphGA:
    """Jensen's graph GA on SMILES.

    Args:
        population: Molecules kept between generations.
        offspring: Children made per generation.
        mutation_rate: Probability that a child is mutated after crossover.
        size_mean: Mean of the normal distribution the size limit is drawn from (heavy atoms).
        size_sd: Its standard deviation.
        max_stalled: Stop after this many generations without a new paid call.
        stop_at_optimum: Stop once a call reaches the oracle's ``optimal_value`` (off by default: PMO's top-k
            metric keeps improving after the first optimal molecule, e.g. on similarity tasks clipped at 0.75).
    """

    paper = "Jensen 2019, Chem. Sci. 10:3567 (graph GA); PMO settings, Gao et al. 2022, arXiv 2206.12411"

    def __init__(self, *, population: int = 120, offspring: int = 70, mutation_rate: float = 0.067,
                 size_mean: float = 39.15, size_sd: float = 3.50, max_stalled: int = 20,
                 stop_at_optimum: bool = False) -> None:
        if population < 2 or offspring < 1:
            raise ValueError(f"GraphGA: population must be >= 2 and offspring >= 1, got {population}, {offspring}")
        if not 0.0 <= mutation_rate <= 1.0:
            raise ValueError(f"GraphGA: mutation_rate must be in [0, 1], got {mutation_rate!r}")
        if size_mean <= _MIN_ATOMS or size_sd < 0:
            raise ValueError(f"GraphGA: size_mean must be > {_MIN_ATOMS} and size_sd >= 0, got {size_mean}, {size_sd}")
        self.population = int(population)
        self.offspring = int(offspring)
        self.mutation_rate = float(mutation_rate)
        self.size_mean, self.size_sd = float(size_mean), float(size_sd)
        self.max_stalled = int(max_stalled)
        self.stop_at_optimum = bool(stop_at_optimum)

    def _size_ok(self, mol: Any, rng: np.random.Generator) -> bool:
        n = mol.GetNumAtoms()
        return _MIN_ATOMS < n < self.size_mean + self.size_sd * rng.standard_normal()

    def _children(self, mols: list[Any], scores: np.ndarray, rng: np.random.Generator) -> list[str]:
        from rdkit import Chem

        p = np.clip(np.nan_to_num(scores, nan=0.0), 0.0, None)
        p = p / p.sum() if p.sum() > 0 else np.full(len(mols), 1.0 / len(mols))
        out: list[str] = []
        for _ in range(self.offspring):
            a, b = rng.choice(len(mols), size=2, p=p)
            child = crossover(mols[a], mols[b], rng)
            if child is not None and rng.random() < self.mutation_rate:
                child = mutate(child, rng)
            if child is not None and self._size_ok(child, rng):
                out.append(Chem.MolToSmiles(child))
        return out

    def run(self, oracle: Oracle | BudgetedObjective, *, library: Sequence[str], budget: int | None = None,
            seed: int = 0, callback: Callable[[int, BudgetedObjective], Any] | None = None) -> GraphGARun:
        """Evolve from a random draw of ``library`` until the budget is spent.

        Args:
            oracle: The objective on SMILES; a bare oracle is wrapped in a :class:`BudgetedObjective`.
            library: Molecules (SMILES) the initial population is drawn from.
            budget: Unique paid calls (required for a bare oracle).
            seed: Seed of the NumPy generator.
            callback: Called as ``callback(generation, objective)`` after each generation.
        """
        from rdkit import Chem, RDLogger

        if isinstance(oracle, BudgetedObjective):
            objective = oracle
        elif budget is None:
            raise ValueError("GraphGA.run: give budget= (unique paid calls) for a bare oracle")
        else:
            objective = BudgetedObjective(oracle, budget=budget)
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
            generation, stalled, stopped = 0, 0, "budget"
            while not objective.exhausted:
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
                if self.stop_at_optimum and objective.solved():
                    stopped = "optimum"
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
