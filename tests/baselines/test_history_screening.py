"""Budgeted objective, design histories, PMO's top-k AUC and the screening baselines."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from oracles import from_function, get_oracle
from seqguide.baselines import (
    BudgetedObjective,
    DesignHistory,
    Screening,
    library_proposal,
    log_checkpoints,
    top_k_auc,
    uniform_proposal,
)


def _pmo_auc_reference(values, budget, k=10, freq=100):
    """PMO's definition written out literally: the top-k mean of the first m calls at every m = freq, 2 freq,
    ..., the trapezoid rule from (0, 0), the last (partial) segment, then flat to the budget."""
    v = [0.0 if np.isnan(x) else x for x in values[:budget]]
    points = [(0, 0.0)]
    for m in [*range(freq, len(v), freq), len(v)]:
        points.append((m, float(np.mean(sorted(v[:m], reverse=True)[:k]))))
    area = sum((b[0] - a[0]) * (a[1] + b[1]) / 2 for a, b in itertools.pairwise(points))
    area += (budget - len(v)) * points[-1][1]
    return area / budget


@pytest.mark.parametrize("n,budget", [(1000, 1000), (950, 1000), (37, 1000), (2500, 1000)])
def test_top_k_auc_matches_the_pmo_definition(n, budget):
    rng = np.random.default_rng(n)
    values = rng.random(n) ** 3
    values[rng.random(n) < 0.1] = np.nan  # invalid molecules count 0
    assert top_k_auc(values, budget=budget) == pytest.approx(_pmo_auc_reference(values, budget), rel=1e-12)


def test_top_k_auc_bounds_and_direction():
    assert top_k_auc(np.ones(10_000), budget=10_000) == pytest.approx(1 - 50 / 10_000)  # the first ramp from 0
    assert top_k_auc(np.zeros(500), budget=10_000) == 0.0
    # a run that finds its best early has a larger area than one that finds it late
    early = np.r_[np.ones(100), np.zeros(9900)]
    late = np.r_[np.zeros(9900), np.ones(100)]
    assert top_k_auc(early, budget=10_000) > 0.9 > 0.01 > top_k_auc(late, budget=10_000)
    # minimisation: the area is of the negated values
    flipped = top_k_auc(-np.ones(1000), budget=1000, maximize=False)
    assert flipped == pytest.approx(top_k_auc(np.ones(1000), budget=1000))


def test_design_history_curves():
    h = DesignHistory(["a", "b", "c", "d"], np.array([np.nan, 0.2, 0.1, 0.5]))
    np.testing.assert_array_equal(h.best_so_far(), [np.nan, 0.2, 0.2, 0.5])
    np.testing.assert_array_equal(h.best_at([1, 2, 3, 10]), [np.nan, 0.2, 0.2, 0.5])
    assert h.best() == ("d", 0.5)
    assert h.feasible_fraction() == 0.75
    assert h.calls_to_reach(0.2) == 2 and h.calls_to_reach(0.9) is None
    low = DesignHistory(["a", "b"], np.array([3.0, 1.0]), maximize=False)
    np.testing.assert_array_equal(low.best_so_far(), [3.0, 1.0])
    with pytest.raises(ValueError, match="2 designs but 3 values"):
        DesignHistory(["a", "b"], np.zeros(3))


def test_budgeted_objective_charges_new_designs_once_and_stops_at_the_budget():
    calls: list[str] = []
    oracle = from_function(lambda xs: (calls.extend(xs), [len(s) for s in xs])[1], name="len")
    obj = BudgetedObjective(oracle, budget=3)
    np.testing.assert_array_equal(obj.values(["a", "bb", "a"]), [1, 2, 1])
    assert obj.used == 2
    out = obj.values(["a", "ccc", "dddd", "eeeee"])  # one call left: "ccc" is paid, the rest is over budget
    np.testing.assert_array_equal(out, [1, 3, np.nan, np.nan])
    assert obj.used == 3 and obj.exhausted and calls == ["a", "bb", "ccc"]
    assert obj.history.designs == ["a", "bb", "ccc"]
    with pytest.raises(ValueError, match="objectives"):
        BudgetedObjective(from_function(lambda xs: [[1, 2]] * len(xs), name="two", n_objectives=2), budget=1)


def test_random_search_and_library_screening():
    f = get_oracle("ehrlich", num_states=4, dim=6, num_motifs=1, motif_length=2, seed=0)
    run = Screening(uniform_proposal(f.alphabet.tokens, 6), batch_size=64).run(f, budget=200, seed=0)
    assert len(run.history) <= 200 and run.stopped in ("budget", "optimum")
    assert run.history.best()[1] == 1.0  # 4^6 = 4096 sequences: the optimum is found within 200 calls

    library = ["AAAA", "CCCC", "AAAA", "GGGG"]  # a duplicate is scored once
    gc = get_oracle("gc")
    run = Screening(library_proposal(library), batch_size=3, stop_at_optimum=False).run(gc, budget=100, seed=1)
    assert run.stopped == "dry" and sorted(run.history.designs) == ["AAAA", "CCCC", "GGGG"]
    assert run.history.best()[1] == 1.0
    # same seed, same order; another seed, another order
    again = Screening(library_proposal(library), batch_size=3, stop_at_optimum=False).run(gc, budget=100, seed=1)
    assert again.history.designs == run.history.designs


def test_log_checkpoints():
    pts = log_checkpoints(100_000)
    assert pts[0] == 10 and pts[-1] == 100_000 and pts == sorted(set(pts))
    assert {1000, 10_000} <= set(pts)
    assert log_checkpoints(5) == [5]


def test_best_of_n_from_a_model_draws_the_model_distribution():
    from seqguide.baselines import model_proposal
    from seqguide.models.toy import ExactMaskedModel

    table = {"AAB": 0.5, "BBA": 0.3, "ABA": 0.2}
    model = ExactMaskedModel(["A", "B"], table)
    propose = model_proposal(model, steps=3)
    draws = propose(400, np.random.default_rng(0))
    assert set(draws) <= set(table)
    assert abs(draws.count("AAB") / 400 - 0.5) < 0.08
    score = from_function(lambda xs: [float(s == "ABA") for s in xs], name="is_aba")
    run = Screening(propose, batch_size=50, stop_at_optimum=False).run(score, budget=3, seed=0)
    assert run.history.best()[1] == 1.0 and len(run.history) == 3  # best of N: the rare design is found
