"""SVDD, SMC, best-of-N and beam search against exact answers on an exactly solvable model.

``ExactMaskedModel`` knows p(x) for all 16 sequences of length 4 over {A, B}; the reward is the
fraction of B's. The tilted target p(x) exp(r(x)/alpha) / Z is computed exactly, so these tests
measure only the error of the guidance method (and Monte Carlo noise).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from oracles import Budgeted, Cached, from_function
from seqguide import Alphabet, sample
from seqguide.guidance import SMC, SVDD, BeamSearch, BestOfN, CallableValue, PosteriorMeanValue
from seqguide.models import ExactMaskedModel

ALPHA = 0.25  # target p(x) exp(r(x) / alpha), i.e. lambda = 4
N = 2000


def _tv(samples: list[str], target: dict[str, float]) -> float:
    counts = Counter(samples)
    return 0.5 * sum(abs(counts[s] / len(samples) - p) for s, p in target.items())


@pytest.fixture
def setup(toy_table):
    model = ExactMaskedModel(Alphabet("AB"), toy_table)
    reward = {s: s.count("B") / len(s) for s in toy_table}
    oracle = from_function(lambda xs: [reward[x] for x in xs], name="frac_b")
    r = torch.tensor([reward[s] for s in model.sequences], dtype=torch.float64)
    target = model.tilted(r, 1 / ALPHA)
    return model, oracle, r, target


def _mean_reward(samples: list[str]) -> float:
    return float(np.mean([s.count("B") / len(s) for s in samples]))


def test_target_differs_from_prior(setup, toy_table) -> None:
    _, _, _, target = setup
    assert _tv(list(toy_table), target) > 0 and 0.5 * sum(abs(target[s] - toy_table[s]) for s in target) > 0.2


# ``sum`` and ``rt`` tilt the intermediate targets far more than the terminal one (the product of their
# potentials grows with the number of potential steps), so the final correction needs the low-reward paths
# the resampling has thinned out: they converge to the target only with more particles or fewer potential
# steps. Those two cases still resample most groups before the final correction (diff and max, whose
# potentials track the reward itself, rarely drop below the ESS threshold here).
@pytest.mark.slow
@pytest.mark.parametrize(("potential", "particles", "every", "min_resampled"),
                         [("diff", 32, 1, 0), ("max", 32, 1, 0), ("rt", 32, 3, N // 2), ("sum", 512, 3, N // 2)])
def test_smc_samples_the_tilted_distribution(setup, potential: str, particles: int, every: int,
                                             min_resampled: int) -> None:
    model, oracle, _, target = setup
    out = sample(model, N, steps=8, seed=0, progress=False,
                 guidance=[SMC(oracle, particles=particles, lam=1 / ALPHA, potential=potential, resample_every=every)])
    assert _tv(out.sequences, target) < 0.05
    assert out.trace["oracle_calls"] > 0 and out.scores is not None
    assert out.trace["SMC.resampled_groups"] >= min_resampled


@pytest.mark.slow
def test_smc_systematic_resampling_every_step_also_targets_the_tilt(setup) -> None:
    model, oracle, _, target = setup
    smc = SMC(oracle, particles=32, lam=1 / ALPHA, resampling="systematic", ess_threshold=1.0)
    out = sample(model, N, steps=8, seed=1, progress=False, guidance=[smc])
    assert _tv(out.sequences, target) < 0.05
    assert out.trace["SMC.resampled_groups"] >= N * 7  # every group at every non-final step


def test_smc_with_lambda_zero_recovers_the_prior(setup, toy_table) -> None:
    model, oracle, _, _ = setup
    out = sample(model, N, steps=8, seed=2, progress=False, guidance=[SMC(oracle, particles=8, lam=0.0)])
    assert _tv(out.sequences, toy_table) < 0.05


def test_smc_output_modes(setup) -> None:
    model, oracle, _, _ = setup
    every = sample(model, 10, steps=4, seed=0, progress=False, guidance=[SMC(oracle, particles=4, output="all")])
    assert len(every.sequences) == 40 and every.weights is not None
    w = every.weights.reshape(10, 4)
    assert np.allclose(w.sum(axis=1), 1.0) and list(every.group[:4]) == [0, 0, 0, 0]
    best = sample(model, 200, steps=4, seed=0, progress=False, guidance=[SMC(oracle, particles=8, output="best")])
    drawn = sample(model, 200, steps=4, seed=0, progress=False, guidance=[SMC(oracle, particles=8)])
    assert np.mean(best.scores) > np.mean(drawn.scores)


@pytest.mark.slow
def test_svdd_with_exact_soft_value_samples_the_tilted_distribution(setup) -> None:
    """SVDD's importance-sampled kernel p_pre(x_s|x_t) exp(v(x_s)/alpha) with the exact soft value v
    (SVDD eq. 3-4) composes to the tilted target as the number of candidates grows."""
    model, oracle, r, target = setup
    value = CallableValue(lambda states, s: model.soft_value(states, r, ALPHA), oracle=oracle)
    out = sample(model, N, steps=8, seed=0, progress=False, guidance=[SVDD(value, particles=64, alpha=ALPHA)])
    assert _tv(out.sequences, target) < 0.05


def test_svdd_with_huge_alpha_recovers_the_prior(setup, toy_table) -> None:
    model, oracle, _, _ = setup
    out = sample(model, N, steps=8, seed=3, progress=False, guidance=[SVDD(oracle, particles=8, alpha=1e9)])
    assert _tv(out.sequences, toy_table) < 0.05


def test_svdd_argmax_raises_mean_reward_over_unguided(setup) -> None:
    model, oracle, _, _ = setup
    plain = sample(model, N, steps=8, seed=4, progress=False)
    guided = sample(model, N, steps=8, seed=4, progress=False, guidance=[SVDD(oracle, particles=8, alpha=0.0)])
    assert _mean_reward(guided.sequences) > _mean_reward(plain.sequences) + 0.15
    assert np.allclose(guided.scores, [s.count("B") / 4 for s in guided.sequences])


def test_svdd_acts_only_inside_its_window(setup, toy_table) -> None:
    model, oracle, _, _ = setup
    late = SVDD(oracle, particles=8, start=0.5)
    out = sample(model, 50, steps=8, seed=0, progress=False, guidance=[late])
    assert out.trace["SVDD.guided_steps"] == 4


def test_best_of_n_and_beam_search_raise_reward(setup) -> None:
    model, oracle, _, _ = setup
    plain = _mean_reward(sample(model, 500, steps=4, seed=5, progress=False).sequences)
    bon = sample(model, 500, steps=4, seed=5, progress=False, guidance=[BestOfN(oracle, n=8)])
    beam = sample(model, 500, steps=4, seed=5, progress=False, guidance=[BeamSearch(oracle, beams=2, expand=4)])
    assert _mean_reward(bon.sequences) > plain + 0.15
    assert _mean_reward(beam.sequences) > plain + 0.15
    assert np.allclose(bon.scores, [s.count("B") / 4 for s in bon.sequences])


def test_minimising_oracle_is_negated(setup) -> None:
    model, _, _, _ = setup
    count_a = from_function(lambda xs: [x.count("B") / 4 for x in xs], name="frac_b_min", maximize=False)
    out = sample(model, 500, steps=8, seed=6, progress=False, guidance=[SVDD(count_a, particles=8)])
    plain = sample(model, 500, steps=8, seed=6, progress=False)
    assert _mean_reward(out.sequences) < _mean_reward(plain.sequences) - 0.15
    assert np.allclose(out.scores, [s.count("B") / 4 for s in out.sequences]), "scores stay in oracle units"


def test_invalid_designs_are_never_selected_when_a_valid_one_exists(toy_table) -> None:
    model = ExactMaskedModel(Alphabet("AB"), toy_table)
    # Designs with a B at position 0 are invalid (NaN): SVDD must avoid them.
    oracle = from_function(lambda xs: [float("nan") if x[0] == "B" else x.count("B") for x in xs], name="nan_b0")
    out = sample(model, 300, steps=4, seed=0, progress=False, guidance=[SMC(oracle, particles=16, lam=2.0)])
    assert sum(s[0] == "B" for s in out.sequences) == 0


def test_sampled_completions_value_and_oracle_accounting(setup) -> None:
    model, _, _, _ = setup
    calls: list[int] = []

    def counting(xs):
        calls.append(len(xs))
        return [x.count("B") / 4 for x in xs]

    budgeted = Budgeted(from_function(counting, name="counted"), budget=10_000)
    value = PosteriorMeanValue(Cached(budgeted), samples=4, temperature=0.5)
    out = sample(model, 200, steps=8, seed=0, progress=False, guidance=[SMC(value, particles=8, lam=4.0)])
    assert out.trace["oracle_calls"] >= sum(calls)
    # Only 16 distinct designs exist: the cache means the oracle is paid at most once for each.
    assert sum(calls) <= 16 and budgeted.used == sum(calls)


def test_bad_arguments_are_rejected(setup) -> None:
    _, oracle, _, _ = setup
    with pytest.raises(ValueError, match="potential must be one of"):
        SMC(oracle, potential="bogus")
    with pytest.raises(ValueError, match="particles must be >= 1"):
        SVDD(oracle, particles=0)
    with pytest.raises(TypeError, match="value must be an Oracle or a ValueFunction"):
        SVDD(lambda xs: xs)
