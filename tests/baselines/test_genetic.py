"""The genetic algorithm: holo DiscreteEvolution semantics, honest budgets, and that it optimises."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oracles import from_function, get_oracle
from seqguide.baselines import GeneticAlgorithm, Screening, quantile_threshold, uniform_proposal


def test_quantile_threshold_matches_torch_quantile_and_keeps_everyone_at_inf():
    rng = np.random.default_rng(0)
    for n, q in [(128, 12 / 128), (7, 0.5), (1024, 0.0977), (10, 0.31)]:
        x = rng.normal(size=n)
        assert quantile_threshold(x, q) == pytest.approx(float(torch.quantile(torch.tensor(x), q)), abs=1e-12)
    x = np.array([0.5, np.inf, np.inf, np.inf])
    assert quantile_threshold(x, 0.5) == np.inf  # the interpolation touches an infinite loss: all survive
    assert quantile_threshold(np.array([0.1, 0.2, 0.3, np.inf]), 0.5) == pytest.approx(0.25)


def _ga(**kw):
    return GeneticAlgorithm(list("ABCDEFGH"), length=kw.pop("length", 16), **kw)


def test_survivors_are_kept_and_the_rest_are_copies_of_survivors_without_recombination():
    ga = _ga(num_particles=20, survival_quantile=0.2, mutation_prob=1e-12, recombine_prob=0.0)
    rng = np.random.default_rng(1)
    pop = rng.integers(0, 8, size=(20, 16))
    fitness = np.arange(20, dtype=float)  # particles 16..19 are the best 4 (quantile 0.2 of 20 -> 4 kept)
    new = ga.evolve(pop, fitness, rng)
    survivors = pop[fitness >= 15.8]  # loss <= quantile(-fitness, 0.2) = -15.2 -> fitness 16..19
    np.testing.assert_array_equal(new[16:], pop[16:])
    for row in new[:16]:  # recombine_prob 0: every child is its second parent, a survivor
        assert any((row == s).all() for s in survivors)
    assert len(survivors) == 4


def test_recombination_takes_the_first_parent_with_recombine_prob():
    ga = _ga(num_particles=4000, survival_quantile=0.0005, mutation_prob=1e-12, recombine_prob=0.25, length=64)
    pop = np.zeros((4000, 64), dtype=np.int64)
    pop[-2] = 1  # the two survivors differ everywhere
    pop[-1] = 2
    fitness = np.r_[-np.arange(1.0, 3999.0), 1.0, 1.0]  # quantile 0.0005 of the losses keeps exactly two
    new = ga.evolve(pop, fitness, np.random.default_rng(2))[:-2]
    # child = where(rand < p, parent1, parent2): mixed children have p1's tokens at ~25% of positions
    mixed = [r for r in new if len(set(r.tolist())) == 2]
    minority = np.array([min((r == 1).mean(), (r == 2).mean()) for r in mixed])
    assert 0.23 < minority.mean() < 0.27
    assert 0.45 < len(mixed) / len(new) < 0.55  # half of the parent pairs are (1, 2) or (2, 1)


def test_every_particle_is_mutated_per_position_with_mutation_prob():
    ga = _ga(num_particles=200, survival_quantile=0.5, mutation_prob=0.3, recombine_prob=0.0, length=100)
    pop = np.zeros((200, 100), dtype=np.int64)
    new = ga.evolve(pop, np.ones(200), np.random.default_rng(3))  # all tied: all survive, only mutation acts
    changed = (new != 0).mean()
    assert changed == pytest.approx(0.3 * 7 / 8, abs=0.01)  # a mutation draws a uniform token, 1/8 unchanged


def test_all_invalid_population_survives_whole():
    ga = _ga(num_particles=10, survival_quantile=0.3, mutation_prob=1e-12, recombine_prob=0.5)
    pop = np.random.default_rng(4).integers(0, 8, size=(10, 16))
    np.testing.assert_array_equal(ga.evolve(pop, np.full(10, -np.inf), np.random.default_rng(0)), pop)


def test_constructor_rejects_bad_settings():
    with pytest.raises(ValueError, match="fewer than 2 survivors"):
        _ga(num_particles=10, survival_quantile=0.1)
    with pytest.raises(ValueError, match="mutation_prob"):
        _ga(mutation_prob=1.0)
    with pytest.raises(ValueError, match="distinct"):
        GeneticAlgorithm(["A", "A"], length=4)
    with pytest.raises(ValueError, match="position 2: 'Z'"):
        _ga(length=4).encode(["ABZD"])


def test_budget_is_honest_every_paid_call_is_one_new_design():
    seen: list[str] = []

    def score(xs):
        seen.extend(xs)
        return [s.count("A") for s in xs]

    oracle = from_function(score, name="count_a")
    run = _ga(num_particles=32, survival_quantile=0.25).run(oracle, budget=500, seed=0, initial="B" * 16)
    h = run.history
    assert len(h) == 500 == len(seen) == len(set(seen))  # the inner oracle never saw a design twice
    assert h.designs == seen
    assert run.stopped == "budget"


def test_ga_solves_onemax_and_beats_random_search_on_ehrlich():
    onemax = from_function(lambda xs: [s.count("H") / len(s) for s in xs], name="onemax")
    onemax.optimal_value = 1.0
    run = _ga(num_particles=64, survival_quantile=0.1).run(onemax, budget=20000, seed=0, initial="A" * 16)
    assert run.stopped == "optimum" and run.history.best()[1] == 1.0

    f = get_oracle("ehrlich", num_states=8, dim=16, num_motifs=2, motif_length=4, seed=1)
    ga_best, rs_best = [], []
    for seed in range(3):
        ga = GeneticAlgorithm(f.alphabet.tokens, length=16, num_particles=64, survival_quantile=0.1)
        ga_best.append(ga.run(f, budget=3000, seed=seed, initial=f.initial_solution()).history.best_at([3000])[0])
        rs = Screening(uniform_proposal(f.alphabet.tokens, 16), batch_size=500).run(f, budget=3000, seed=seed)
        rs_best.append(np.nan_to_num(rs.history.best_at([3000])[0]))
    assert np.mean(ga_best) > np.mean(rs_best) + 0.2


def test_gap_token_encodes_shorter_sequences():
    ga = GeneticAlgorithm(["", "A", "C"], length=5)
    states = ga.encode(["AC", "CCCAA"])
    assert ga.decode(states) == ["AC", "CCCAA"]
    assert states[0].tolist() == [1, 2, 0, 0, 0]
