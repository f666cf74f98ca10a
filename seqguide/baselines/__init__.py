"""Baselines that design methods are compared with, each charging every objective call through a budget.

* :class:`GeneticAlgorithm`: holo's ``DiscreteEvolution`` semantics for fixed-length sequences.
* :class:`Screening` with :func:`uniform_proposal` (random search), :func:`library_proposal` (a virtual
  screen of a library) or :func:`model_proposal` (best-of-N from a generative model).
* :class:`GraphGA`: Jensen's graph-based genetic algorithm for molecules (needs RDKit).
* :class:`BudgetedObjective` / :class:`DesignHistory`: the budgeted objective and the record of paid calls
  (best-so-far curves, PMO's top-k AUC).
"""

from seqguide.baselines.genetic import GARun, GeneticAlgorithm, quantile_threshold
from seqguide.baselines.history import BudgetedObjective, DesignHistory, log_checkpoints, top_k_auc
from seqguide.baselines.screening import (
    Proposal,
    Screening,
    ScreeningRun,
    library_proposal,
    model_proposal,
    uniform_proposal,
)

__all__ = [
    "BudgetedObjective",
    "DesignHistory",
    "GARun",
    "GeneticAlgorithm",
    "GraphGA",
    "Proposal",
    "Screening",
    "ScreeningRun",
    "library_proposal",
    "log_checkpoints",
    "model_proposal",
    "quantile_threshold",
    "top_k_auc",
    "uniform_proposal",
]


def __getattr__(name: str):  # RDKit is imported only when the molecule GA is asked for
    if name == "GraphGA":
        from seqguide.baselines.graph_ga import GraphGA

        return GraphGA
    raise AttributeError(f"module 'seqguide.baselines' has no attribute {name!r}")
