"""Unified reward guidance: exact on a solvable model, on any tensor prediction, and with a trained reweighted model."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from seqguide import DNA, Alphabet, sample
from seqguide.data import TokenDataset
from seqguide.guidance import (
    RewardGuidance,
    effective_sample_size,
    fit_reweighted,
    guided_prediction,
    lam_for_ess,
    reward_weights,
)
from seqguide.models import ConvDenoiser, ExactMaskedModel, MaskedDiffusion

LAM = 4.0


def _tv(samples: list[str], target: dict[str, float]) -> float:
    counts = Counter(samples)
    return 0.5 * sum(abs(counts[s] / len(samples) - p) for s, p in target.items())


def _frac_b(samples: list[str]) -> float:
    return float(np.mean([s.count("B") / len(s) for s in samples]))


@pytest.fixture
def exact_pair(toy_table):
    """The pretrained model and the exact reweighted predictor: the table tilted by exp(LAM * r)."""
    base = ExactMaskedModel(Alphabet("AB"), toy_table, exact_joint=False)
    tilted = base.tilted(lambda s: s.count("B") / len(s), LAM)
    return base, ExactMaskedModel(Alphabet("AB"), tilted, exact_joint=False), tilted


def test_scale_one_samples_the_reweighted_target_at_twice_the_network_cost(exact_pair, toy_table) -> None:
    base, reweighted, tilted = exact_pair
    assert 0.5 * sum(abs(toy_table[s] - tilted[s]) for s in tilted) > 0.2
    plain = sample(base, 3000, steps=64, seed=0, progress=False)
    guided = sample(base, 3000, steps=64, seed=0, progress=False, guidance=[RewardGuidance(reweighted, scale=1.0)])
    assert _tv(guided.sequences, tilted) < 0.04
    assert _tv(plain.sequences, tilted) > 0.2
    rows = guided.trace["RewardGuidance.reweighted_rows"]
    assert rows > 0 and guided.trace["nfe"] == pytest.approx(plain.trace["nfe"] + rows / 3000, rel=0.05)
    assert guided.trace["RewardGuidance.reweighted_reused_rows"] > 0, "unchanged rows reuse the second prediction"


@pytest.mark.slow
def test_scale_zero_is_the_prior_and_larger_scales_push_the_reward_further(exact_pair, toy_table) -> None:
    base, reweighted, _ = exact_pair
    zero = sample(base, 2000, steps=64, seed=1, progress=False, guidance=[RewardGuidance(reweighted, scale=0.0)])
    assert _tv(zero.sequences, toy_table) < 0.05
    means = [_frac_b(sample(base, 2000, steps=64, seed=1, progress=False,
                            guidance=[RewardGuidance(reweighted, scale=s)]).sequences) for s in (1.0, 2.0)]
    assert means[1] > means[0] + 0.05 > _frac_b(zero.sequences) + 0.05


def test_guided_prediction_on_continuous_and_log_probability_tensors() -> None:
    eps, eps_r = torch.randn(3, 2, 4, 4), torch.randn(3, 2, 4, 4)
    assert torch.allclose(guided_prediction(eps, eps_r, 2.5, log_probs=False), eps + 2.5 * (eps_r - eps))
    logp = torch.log_softmax(torch.randn(2, 3, 5), -1)
    logp[0, 0, 1] = float("-inf")
    logr = torch.log_softmax(torch.randn(2, 3, 5), -1)
    out = guided_prediction(logp, logr, 1.5, log_probs=True)
    assert torch.isneginf(out[0, 0, 1]) and torch.allclose(out.exp().sum(-1), torch.ones(2, 3))
    want = torch.log_softmax(logp[1] + 1.5 * (logr[1] - logp[1]), -1)
    assert torch.allclose(out[1], want, atol=1e-6)
    with pytest.raises(ValueError, match="reweighted prediction has shape"):
        guided_prediction(eps, eps_r[:1], 1.0, log_probs=False)


def test_a_simplex_flows_log_probabilities_are_renormalised() -> None:
    """A simplex flow's state is a float point on the simplex but its prediction is clean-token log-probabilities:
    the combination is renormalised over tokens for every scale (a linear mix of logs at scale 2 is not a
    distribution), and scale 1 with the exactly tilted model samples the tilted table."""
    from seqguide.models import ExactSimplexModel
    from seqguide.sampling.context import Counters, SamplingContext

    ab = Alphabet("AB")
    m1, m2 = {"A": 0.7, "B": 0.3}, {"A": 0.6, "B": 0.4}  # independent positions: the flow samples them exactly
    table = {a + b: m1[a] * m2[b] for a in m1 for b in m2}
    model = ExactSimplexModel(ab, table, eta=1.0)
    target = model.tilted(lambda s: s.count("B"), 1.5)
    tilted = ExactSimplexModel(ab, target, eta=1.0)
    guide = RewardGuidance(tilted, scale=2.0)
    guide.reset(SamplingContext(model, guiders=[guide], num_steps=4, n=5, expansion=1,
                                generator=torch.Generator().manual_seed(0), device=torch.device("cpu"), cond=None,
                                use_cache=False, counters=Counters()))
    x = model.prior(5, generator=torch.Generator().manual_seed(1))
    assert x.is_floating_point()
    pred = model.predict(x, 0.5)
    out = guide.adjust(x, pred, 0.5)
    assert torch.allclose(out.exp().sum(-1), torch.ones(5, 2), atol=1e-5)
    want = torch.log_softmax(pred + 2.0 * (tilted.predict(x, 0.5) - pred), -1)
    assert torch.allclose(out, want, atol=1e-5)
    got = sample(model, 6000, steps=4, seed=0, progress=False, guidance=[RewardGuidance(tilted)]).sequences
    counts = Counter(got)
    assert 0.5 * sum(abs(counts[k] / len(got) - v) for k, v in target.items()) < 0.03
    assert 0.5 * sum(abs(target[k] - v) for k, v in table.items()) > 0.15  # the tilt is large


def test_a_continuous_models_prediction_is_combined_linearly() -> None:
    """eps of a Gaussian diffusion: pred + scale (pred_r - pred), no renormalisation."""
    from seqguide.models import ExactGaussianDenoiser, GaussianDiffusion, Prediction
    from seqguide.sampling.context import Counters, SamplingContext

    def gaussian(mu: float) -> GaussianDiffusion:
        means = torch.stack([torch.full((1, 2, 2), m) for m in (mu, -mu, 0.0)])
        return GaussianDiffusion(ExactGaussianDenoiser(means, 0.2), image_shape=(1, 2, 2), num_classes=2)

    model, other = gaussian(0.5), gaussian(0.2)
    guide = RewardGuidance(other, scale=2.5)
    guide.reset(SamplingContext(model, guiders=[guide], num_steps=4, n=3, expansion=1,
                                generator=torch.Generator().manual_seed(0), device=torch.device("cpu"), cond=None,
                                use_cache=False, counters=Counters()))
    x = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(2))
    pred, pred_r = model.predict(x, 0.5), other.predict(x, 0.5)
    assert isinstance(pred, Prediction)
    out = guide.adjust(x, pred, 0.5)
    assert torch.allclose(out.value, pred.value + 2.5 * (pred_r.value - pred.value), atol=1e-6)


def test_reward_weights() -> None:
    w = reward_weights([0.0, 1.0, float("nan")], lam=2.0)
    assert w[2] == 0 and np.isclose(w.mean(), 1.0) and np.isclose(w[1] / w[0], np.exp(2.0))
    assert np.allclose(reward_weights([0.2, 0.6], kind="linear"), [0.5, 1.5])
    with pytest.raises(ValueError, match="needs rewards >= 0"):
        reward_weights([-1.0, 1.0], kind="linear")
    with pytest.raises(ValueError, match="kind must be"):
        reward_weights([1.0], kind="square")
    with pytest.raises(TypeError, match="model with predict"):
        RewardGuidance(object())


def test_lam_for_ess_hits_the_requested_effective_sample_size() -> None:
    r = np.random.default_rng(0).normal(size=500)
    for fraction in (0.5, 0.1):
        lam = lam_for_ess(r, fraction)
        assert lam > 0 and effective_sample_size(reward_weights(r, lam=lam)) == pytest.approx(fraction * 500, rel=0.01)
    assert lam_for_ess(r, 1.0) == 0.0
    with pytest.raises(ValueError, match="two distinct"):
        lam_for_ess(np.ones(5), 0.5)


@pytest.mark.slow
def test_trained_reweighted_model_raises_the_true_reward(tmp_path) -> None:
    """A masked model fine-tuned on data drawn in proportion to exp(lam * r) (no sampling trajectories)
    steers sampling to a higher mean reward than the pretrained model."""
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 4, (512, 8), generator=g)
    reward = (tokens == DNA.tokens.index("G")).float().mean(1).numpy()
    torch.manual_seed(0)
    # Untrained, the network predicts uniform tokens (zero-initialised head): the data's own distribution.
    base = MaskedDiffusion(DNA, length=8, backbone=ConvDenoiser(dim=32, depth=2, dropout=0.0), fixed_length=True,
                           lr=3e-3, warmup_steps=10).eval()
    data = TokenDataset(tokens)
    fit = fit_reweighted(base, data, reward_weights(reward, lam=8.0), max_steps=100, out_dir=tmp_path / "tilted",
                         accelerator="cpu")
    assert 1 < fit.ess < len(data) and fit.steps == 100
    g_frac = [float(np.mean([s.count("G") / 8 for s in out.sequences])) for out in (
        sample(base, 256, steps=8, seed=0, progress=False),
        sample(base, 256, steps=8, seed=0, progress=False, guidance=[RewardGuidance(fit.model, scale=1.0)]),
        sample(base, 256, steps=8, seed=0, progress=False, guidance=[RewardGuidance(fit.model, scale=2.0)]))]
    assert g_frac[1] > g_frac[0] + 0.1 and g_frac[2] > g_frac[1], g_frac
