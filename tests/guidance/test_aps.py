"""APS: the quantized expectation, the tilted table, anchored remasking and posterior accuracy on exact models."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from oracles import from_function
from seqguide import Alphabet, sample
from seqguide.alphabet import DNA, GREY17
from seqguide.data.digit_tokens import grey_values
from seqguide.guidance import (
    APS,
    DifferentiableReward,
    Guider,
    LinearObservation,
    RewardMeasurement,
    TokenObservation,
    quantized_expectation,
)
from seqguide.models import ConvDenoiser, ExactMaskedModel, MaskedDiffusion


def _tv(samples: list[str], target: dict[str, float]) -> float:
    counts = Counter(samples)
    return 0.5 * sum(abs(counts[s] / len(samples) - p) for s, p in target.items())


def _posterior(model: ExactMaskedModel, meas) -> dict[str, float]:
    w = torch.softmax(torch.log(model.p) - meas.token_loss(model.X).double(), dim=0)
    return {s: float(v) for s, v in zip(model.sequences, w)}


def _random_prior_model(alphabet: Alphabet, length: int, seed: int) -> MaskedDiffusion:
    """An untrained network whose output head is randomised: a non-uniform prior with full support."""
    torch.manual_seed(seed)
    model = MaskedDiffusion(alphabet, length=length, backbone=ConvDenoiser(dim=16, depth=2), fixed_length=True)
    torch.nn.init.normal_(model.backbone.head.weight, std=0.5)
    return model.eval()


class _Recorder(Guider):
    """Placed after APS: sees APS's adjusted prediction and the state after its remasking."""

    def __init__(self) -> None:
        super().__init__()
        self.preds: list[torch.Tensor] = []
        self.states: list[torch.Tensor] = []

    def adjust(self, state, pred, t):
        self.preds.append(pred.clone())
        return pred

    def remask(self, state, pred, t):
        self.states.append(state.clone())
        return state


# ------------------------------------------------------------------------------------------ quantized expectation
def test_quantized_expectation_gives_valid_tokens_and_a_gradient_on_the_whole_table() -> None:
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 5, 17, generator=g, requires_grad=True)
    probs = logits.softmax(-1)
    emb = grey_values()
    qe = quantized_expectation(probs, emb)
    expected = (probs * torch.arange(17.0)).sum(-1)
    assert qe.tokens.dtype == torch.long and int(qe.tokens.min()) >= 0 and int(qe.tokens.max()) < 17
    assert torch.equal(qe.tokens, expected.detach().round().long()), "snapped to the nearest grey level"
    assert torch.equal(qe.values[..., 0], qe.tokens.float()), "forward pass: a valid token's value exactly"
    target = torch.full((3, 5), 16.0)
    ((qe.values[..., 0] - target) ** 2).sum().backward()
    grad = logits.grad
    assert grad.abs().sum() > 0 and (grad.abs() > 0).float().mean() > 0.99, "the whole table gets a gradient"
    # straight-through: the gradient is that of the loss at the snapped value, passed through the expectation
    logits2 = logits.detach().clone().requires_grad_(True)
    e2 = (logits2.softmax(-1) * torch.arange(17.0)).sum(-1)
    (2 * (qe.tokens.float() - target) * e2).sum().backward()
    assert torch.allclose(grad, logits2.grad, atol=1e-5)
    onehot = quantized_expectation(probs.detach(), torch.eye(17))
    assert torch.equal(onehot.tokens, probs.argmax(-1)), "with one-hot embeddings the snap is the argmax"


# ------------------------------------------------------------------------------------------ tilted table
@pytest.mark.parametrize("kw", [dict(optimizer="mirror", lr=1.0, inner_steps=1), dict(inner_steps=200, lr=0.1)])
def test_tilted_table_is_the_per_position_posterior(toy_table, kw) -> None:
    """With one-hot tokens and kl_weight = 1 the optimum of APS's bound is p_theta(x_l | x_t) q(y_l | x_l)."""
    model = ExactMaskedModel(Alphabet("AB"), toy_table, exact_joint=False)
    meas = TokenObservation(torch.tensor([0, 1, 1, 0]), torch.tensor([True, True, False, True]), num_tokens=2,
                            flip_prob=0.2)
    rec = _Recorder()
    sample(model, 1, steps=1, seed=0, progress=False, guidance=[APS(meas, **kw), rec])
    prior = model.predict(model.prior(1), 1.0)[0, :, :2].double()
    lik = torch.tensor([[0.8, 0.2], [0.2, 0.8], [0.5, 0.5], [0.8, 0.2]], dtype=torch.float64)
    want = torch.log_softmax(prior + lik.log(), dim=-1)
    got = rec.preds[0][0, :, :2].double()
    assert torch.allclose(got, want, atol=2e-3), (got.exp(), want.exp())
    assert torch.isneginf(rec.preds[0][0, :, 2:]).all(), "pad and mask keep zero probability"


def test_the_warm_start_does_not_carry_from_one_run_into_the_next(toy_table) -> None:
    """The tilt is warm-started from the previous *step*; a new sample() run starts from zero: one APS object
    used twice gives the same first tilted table both times (few inner steps, so the start shows)."""
    model = ExactMaskedModel(Alphabet("AB"), toy_table, exact_joint=False)
    meas = TokenObservation(torch.tensor([0, 1, 1, 0]), torch.tensor([True, True, False, True]), num_tokens=2,
                            flip_prob=0.2)
    aps = APS(meas, inner_steps=2, lr=0.5)
    first, second = _Recorder(), _Recorder()
    sample(model, 8, steps=4, seed=0, progress=False, guidance=[aps, first])
    sample(model, 8, steps=4, seed=0, progress=False, guidance=[aps, second])
    assert torch.equal(first.preds[0], second.preds[0])
    assert not torch.allclose(first.preds[1], first.preds[0])  # the tilt moves across steps: the check can fail


# ------------------------------------------------------------------------------------------ exact recovery
def test_identity_measurement_without_noise_recovers_the_observed_grey_levels() -> None:
    model = _random_prior_model(GREY17, 16, seed=0)
    truth = torch.randint(0, 17, (6, 16), generator=torch.Generator().manual_seed(1))
    meas = LinearObservation(truth.float(), values=grey_values(), noise_std=0.0)
    out = sample(model, 6, steps=16, seed=0, progress=False, guidance=[APS(meas)])
    assert torch.equal(out.tokens, truth)
    plain = sample(model, 6, steps=16, seed=0, progress=False)
    assert (plain.tokens != truth).float().mean() > 0.5


def test_snapped_tokens_come_from_the_best_inner_iterate() -> None:
    """The quantized loss is piecewise constant, so Adam's last iterate often sits just past a rounding boundary;
    committing the snapped token of the best iterate keeps most pixels right even with few inner steps."""
    model = _random_prior_model(GREY17, 16, seed=0)
    truth = torch.randint(0, 17, (24, 16), generator=torch.Generator().manual_seed(2))
    meas = LinearObservation(truth.float(), values=grey_values(), noise_std=0.0)
    out = sample(model, 24, steps=16, seed=0, progress=False, guidance=[APS(meas, inner_steps=10)])
    assert int((out.tokens != truth).sum()) <= 12  # 4 of 384 wrong; ~29 when the last iterate is snapped


def test_variance_term_makes_sampled_commits_recover_the_observation() -> None:
    """The quantized expectation alone pins only the mean grey level, so draws from its tilt miss the observation;
    with the variance term the tilt is p(x) exp(-(v - y)^2 / 2 sigma^2) per pixel and the draws hit it."""
    model = _random_prior_model(GREY17, 8, seed=6)
    truth = torch.randint(0, 17, (6, 8), generator=torch.Generator().manual_seed(7))
    meas = LinearObservation(truth.float(), values=grey_values(), noise_std=0.0)
    # A noise-free constraint needs the tilt to move far from the prior: more inner steps than the default.
    with_var = sample(model, 6, steps=8, seed=0, progress=False,
                      guidance=[APS(meas, variance_term=True, commit="sample", inner_steps=60)])
    without = sample(model, 6, steps=8, seed=0, progress=False,
                     guidance=[APS(meas, commit="sample", inner_steps=60)])
    assert torch.equal(with_var.tokens, truth)
    assert (without.tokens != truth).float().mean() > 0.05


def test_noise_free_token_observation_recovers_the_observed_sequence() -> None:
    model = _random_prior_model(DNA, 12, seed=2)
    truth = torch.randint(0, 4, (8, 12), generator=torch.Generator().manual_seed(3))
    meas = TokenObservation(truth, torch.ones(12, dtype=torch.bool), num_tokens=4, flip_prob=0.0)
    out = sample(model, 8, steps=12, seed=0, progress=False, guidance=[APS(meas)])
    assert torch.equal(out.tokens, truth)


# ------------------------------------------------------------------------------------------ anchored remasking
def test_anchors_are_never_remasked_and_confident_positions_go_first() -> None:
    """Noise-free observations make the tilted table near-certain at the observed positions, so anchored
    remasking commits all of them before any hidden one; the step's random order does not."""
    model = _random_prior_model(DNA, 16, seed=4)
    truth = torch.randint(0, 4, (4, 16), generator=torch.Generator().manual_seed(5))
    observed = torch.zeros(16, dtype=torch.bool)
    observed[::2] = True
    meas = TokenObservation(truth, observed, num_tokens=4, flip_prob=0.0)
    for anchored in (True, False):
        rec = _Recorder()
        sample(model, 4, steps=16, seed=0, progress=False, guidance=[APS(meas, anchored=anchored), rec])
        states = torch.stack(rec.states)  # (steps, B, L) after APS's remask
        unmasked = states != model.mask_id
        assert (unmasked[1:] >= unmasked[:-1]).all(), "an unmasked position is never masked again"
        kept = unmasked[:-1]
        assert torch.equal(states[1:][kept], states[:-1][kept]), "an anchor's token never changes"
        hidden_early = (unmasked[:, :, ~observed].any(-1) & ~unmasked[:, :, observed].all(-1)).any()
        assert bool(hidden_early) == (not anchored)
        assert torch.equal(states[-1][:, observed], truth[:, observed])


# ------------------------------------------------------------------------------------------ posterior accuracy
@pytest.mark.parametrize(("alphabet", "length", "seed", "y", "observed", "flip"), [
    ("AB", 4, 3, "ABBA", [1, 1, 0, 1], 0.1),
    ("AB", 4, 3, "BBBB", [1, 1, 1, 1], 0.2),
    ("ABC", 3, 0, "CAB", [1, 1, 1], 0.2),
])
def test_aps_is_closer_to_the_exact_posterior_than_unguided(random_table, alphabet, length, seed, y, observed,
                                                            flip) -> None:
    """APS tilts each position by its own likelihood (a mean-field posterior), so it is not exact; it must still
    land much closer to p(x | y) than the pretrained samples do."""
    ab = Alphabet(alphabet)
    model = ExactMaskedModel(ab, random_table(alphabet, length, seed), exact_joint=False)
    meas = TokenObservation(ab.encode([y])[0], torch.tensor(observed).bool(), num_tokens=len(alphabet), flip_prob=flip)
    post = _posterior(model, meas)
    plain = _tv(sample(model, 2000, steps=length, seed=0, progress=False).sequences, post)
    aps = _tv(sample(model, 2000, steps=length, seed=0, progress=False, guidance=[APS(meas)]).sequences, post)
    assert aps < plain - 0.15 and aps < 0.3, (aps, plain)


# ------------------------------------------------------------------------------------------ rewards
def test_aps_with_a_black_box_reward_raises_it_and_counts_oracle_calls(toy_table) -> None:
    model = ExactMaskedModel(Alphabet("AB"), toy_table, exact_joint=False)
    oracle = from_function(lambda xs: [x.count("B") / 4 for x in xs], name="frac_b")
    plain = sample(model, 400, steps=4, seed=0, progress=False)
    guided = sample(model, 400, steps=4, seed=0, progress=False,
                    guidance=[APS(RewardMeasurement(oracle, weight=8.0), inner_steps=3, reward_samples=4)])
    frac = [sum(s.count("B") for s in o.sequences) / (4 * 400) for o in (plain, guided)]
    assert frac[1] > frac[0] + 0.15, frac
    assert guided.trace["oracle_calls"] == guided.trace["APS.measurement_rows"] > 0


def test_aps_with_a_differentiable_reward_raises_it(toy_table) -> None:
    model = ExactMaskedModel(Alphabet("AB"), toy_table, exact_joint=False)
    reward = DifferentiableReward(lambda v: v[..., 1].sum(-1), num_tokens=2, weight=3.0)
    plain = sample(model, 400, steps=4, seed=0, progress=False)
    guided = sample(model, 400, steps=4, seed=0, progress=False, guidance=[APS(reward)])
    frac = [sum(s.count("B") for s in o.sequences) / (4 * 400) for o in (plain, guided)]
    assert frac[1] > frac[0] + 0.15, frac
    assert guided.trace["nfe"] <= plain.trace["nfe"] + 1e-9, "APS adds no network call"


def test_bad_arguments_are_rejected() -> None:
    meas = TokenObservation(torch.zeros(4, dtype=torch.long), torch.ones(4, dtype=torch.bool), num_tokens=2)
    with pytest.raises(ValueError, match="inner_steps must be >= 0"):
        APS(meas, inner_steps=-1)
    with pytest.raises(ValueError, match="optimizer must be"):
        APS(meas, optimizer="lbfgs")
    with pytest.raises(ValueError, match="commit must be"):
        APS(meas, commit="argmax")
    model = _random_prior_model(DNA, 4, seed=0)
    with pytest.raises(ValueError, match="the measurement knows 2 tokens but the model's alphabet has 4"):
        sample(model, 1, steps=2, progress=False, guidance=[APS(meas)])
