"""Measurements: losses by hand, per-request selection, simulation, reward measurements and the value/clamp helpers."""

from __future__ import annotations

import math

import pytest
import torch

from oracles import from_function
from seqguide import Alphabet, sample
from seqguide.alphabet import GREY17
from seqguide.data.digit_tokens import grey_values, images_to_tokens, load_digit_records, tokens_to_images
from seqguide.guidance import (
    SMC,
    ClampObserved,
    DifferentiableReward,
    Downsample,
    Inpainting,
    LinearObservation,
    MeasurementValue,
    RewardMeasurement,
    TokenObservation,
    as_measurement,
)
from seqguide.models import ExactMaskedModel


def test_gaussian_losses_by_hand() -> None:
    values = grey_values()
    x = torch.tensor([[0, 4, 8, 16]])
    inp = Inpainting(torch.tensor([[1.0, 99.0, 8.0, 10.0]]), torch.tensor([True, False, True, True]), values=values,
                     noise_std=2.0)
    # residuals at observed positions: 0-1, 8-8, 16-10 -> (1 + 0 + 36) / (2 * 4)
    assert torch.allclose(inp.token_loss(x), torch.tensor([37 / 8]))
    down = Downsample(torch.tensor([[2.0, 10.0]]), shape=(4,), factor=2, values=values, noise_std=1.0)
    # window means (0+4)/2 = 2 and (8+16)/2 = 12 -> (0 + 4) / 2
    assert torch.allclose(down.token_loss(x), torch.tensor([2.0]))
    A = torch.tensor([[1.0, -1.0, 0.0, 0.0]])
    lin = LinearObservation(torch.tensor([[-4.0]]), operator=A, values=values, noise_std=1.0)
    assert torch.allclose(lin.token_loss(x), torch.tensor([0.0]))
    img = Downsample(torch.zeros(1, 16), shape=(8, 8), factor=2, values=values, noise_std=1.0)
    blocks = img.operator(img.embed(torch.arange(64)[None] % 17))
    assert blocks.shape == (1, 16) and torch.isclose(blocks[0, 0], torch.tensor((0 + 1 + 8 + 9) / 4))


def test_token_observation_likelihood_and_simulation() -> None:
    meas = TokenObservation(torch.tensor([[0, 1, 2]]), torch.tensor([True, True, False]), num_tokens=4, flip_prob=0.3)
    x = torch.tensor([[0, 3, 1]])  # match, mismatch, hidden
    expected = -(math.log(0.7) + math.log(0.3 / 3))
    assert torch.allclose(meas.token_loss(x), torch.tensor([expected]))
    g = torch.Generator().manual_seed(0)
    truth = torch.randint(0, 4, (2000, 10), generator=g)
    sim = TokenObservation.simulate(truth, torch.ones(10, dtype=torch.bool), num_tokens=4, flip_prob=0.2, generator=g)
    flipped = (sim.y != truth).float().mean()
    assert abs(float(flipped) - 0.2) < 0.02 and int(sim.y.max()) < 4


def test_per_request_observations_follow_the_index() -> None:
    values = grey_values()
    y = torch.tensor([[0.0, 0.0], [16.0, 16.0]])
    meas = LinearObservation(y, values=values, noise_std=1.0)
    x = torch.tensor([[0, 0], [0, 0]])
    assert torch.allclose(meas.token_loss(x, torch.tensor([0, 1])), torch.tensor([0.0, 256.0]))
    assert torch.allclose(meas.token_loss(x, torch.tensor([1, 1])), torch.tensor([256.0, 256.0]))
    with pytest.raises(ValueError, match="holds 2 observations but request 5"):
        meas.token_loss(x, torch.tensor([5, 0]))
    with pytest.raises(ValueError, match="not one of the 17 regular tokens"):
        meas.token_loss(torch.tensor([[0, GREY17.mask_id]]), torch.tensor([0]))


def test_bad_measurement_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="noise_std must be"):
        LinearObservation(torch.zeros(3), values=grey_values(), noise_std=-1.0)
    with pytest.raises(ValueError, match="factor=3 must be >= 1 and divide"):
        Downsample(torch.zeros(4), shape=(8,), factor=3, values=grey_values())
    with pytest.raises(ValueError, match="flip_prob must be in"):
        TokenObservation(torch.zeros(3, dtype=torch.long), torch.ones(3, dtype=torch.bool), num_tokens=4, flip_prob=1.0)
    with pytest.raises(ValueError, match=r"observed token at \(1,\) is 7"):
        TokenObservation(torch.tensor([0, 7]), torch.ones(2, dtype=torch.bool), num_tokens=4)
    with pytest.raises(TypeError, match="must be a Measurement, a differentiable surrogate or an Oracle"):
        as_measurement(object())


def test_digit_tokens_round_trip() -> None:
    records = load_digit_records()
    assert len(records) == 1797 and records.class_names[3] == "3" and len(records.sequences[0]) == 64
    tokens = GREY17.encode(records.sequences[:5])
    images = tokens_to_images(tokens)
    assert images.shape == (5, 8, 8) and float(images.max()) <= 16
    assert torch.equal(images_to_tokens(images), tokens)
    with pytest.raises(ValueError, match=r"image 0, pixel 3: value 17\.0"):
        images_to_tokens(torch.tensor([[0.0, 0, 0, 17] + [0.0] * 60]))
    with pytest.raises(ValueError, match="token id 18 is not a grey level"):
        tokens_to_images(torch.full((1, 64), 18))


@pytest.fixture
def ab_model(toy_table):
    return ExactMaskedModel(Alphabet("AB"), toy_table, exact_joint=False)


def test_measurement_value_with_smc_targets_the_posterior(toy_table) -> None:
    """SMC with the measurement log-likelihood as value and lam = 1 targets p(x) q(y|x), the posterior."""
    model = ExactMaskedModel(Alphabet("AB"), toy_table)  # exact joint steps: the prior itself is exact
    meas = TokenObservation(torch.tensor([0, 1, 1, 0]), torch.tensor([True, True, False, True]), num_tokens=2,
                            flip_prob=0.1)
    post = _posterior(model, meas)
    prior_tv = 0.5 * sum(abs(toy_table[s] - p) for s, p in post.items())
    out = sample(model, 1000, steps=4, seed=0, progress=False,
                 guidance=[SMC(MeasurementValue(meas), particles=16, lam=1.0)])
    assert prior_tv > 0.4 and _tv(out.sequences, post) < 0.07
    assert out.trace["measurement_rows"] > 0


def test_measurement_value_follows_each_requests_particles(toy_table) -> None:
    """With k particles per request, particle rows must be scored against their own request's observation."""
    model = ExactMaskedModel(Alphabet("AB"), toy_table)
    obs = torch.tensor([[1, 1, 1, 0], [0, 0, 1, 0], [1, 0, 0, 1]])  # BBBA, AABA, BAAB: likely under the prior
    meas = TokenObservation(obs, torch.ones(4, dtype=torch.bool), num_tokens=2, flip_prob=0.0)
    for batch_size in (None, 2):
        out = sample(model, 3, steps=4, seed=0, progress=False, batch_size=batch_size,
                     guidance=[SMC(MeasurementValue(meas), particles=16, lam=1.0, output="best")])
        assert torch.equal(out.tokens, obs)


def test_clamp_copies_observed_tokens_per_request(ab_model) -> None:
    obs = torch.tensor([[0, 1, 1, 0], [1, 1, 1, 1]])
    meas = TokenObservation(obs, torch.tensor([[True, False, False, True], [False, True, True, False]]), num_tokens=2)
    out = sample(ab_model, 2, steps=4, seed=0, progress=False, guidance=[ClampObserved(meas)])
    assert out.tokens[0, 0] == 0 and out.tokens[0, 3] == 0 and out.tokens[1, 1] == 1 and out.tokens[1, 2] == 1
    chunked = sample(ab_model, 2, steps=4, seed=0, progress=False, batch_size=1, guidance=[ClampObserved(meas)])
    assert chunked.tokens[1, 1] == 1 and chunked.tokens[1, 2] == 1, "chunks see their own requests' observations"
    with pytest.raises(ValueError, match="observes no position directly"):
        ClampObserved(Downsample(torch.zeros(2), shape=(4,), values=[0.0, 1.0]))


def test_reward_measurements(ab_model) -> None:
    oracle = from_function(lambda xs: [x.count("B") for x in xs], name="count_b", alphabet=Alphabet("AB"))
    meas = RewardMeasurement(oracle, weight=2.0)
    assert torch.allclose(meas.token_loss(torch.tensor([[1, 1, 0, 0]])), torch.tensor([-4.0]))
    lower = RewardMeasurement(from_function(lambda xs: [x.count("B") for x in xs], name="few_b", maximize=False,
                                            alphabet=Alphabet("AB")))
    assert torch.allclose(lower.token_loss(torch.tensor([[1, 1, 0, 0]])), torch.tensor([2.0])), "minimised: negated"
    with pytest.raises(TypeError, match="scores token sequences"):
        meas.loss(torch.zeros(1, 4, 2))
    smooth = DifferentiableReward(lambda v: v[..., 1].sum(-1), num_tokens=2)
    v = torch.full((1, 4, 2), 0.5, requires_grad=True)
    smooth.loss(v).sum().backward()
    assert torch.allclose(v.grad[..., 1], torch.full((1, 4), -1.0))
    assert isinstance(as_measurement(oracle), RewardMeasurement)

    class _Surrogate:  # an oracle (strings -> scores) with a differentiable forward on probabilities
        alphabet, maximize = Alphabet("AB"), True

        def __call__(self, xs):
            raise AssertionError("the differentiable path must not call the oracle on strings")

        def forward(self, v):
            return v[..., 0].sum(-1)

    surrogate = as_measurement(_Surrogate())
    assert isinstance(surrogate, DifferentiableReward)
    assert torch.allclose(surrogate.loss(torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])), torch.tensor([-1.0]))


def _posterior(model: ExactMaskedModel, meas) -> dict[str, float]:
    ll = -meas.token_loss(model.X).double()
    w = torch.softmax(torch.log(model.p) + ll, dim=0)
    return {s: float(v) for s, v in zip(model.sequences, w)}


def _tv(samples: list[str], target: dict[str, float]) -> float:
    from collections import Counter

    counts = Counter(samples)
    return 0.5 * sum(abs(counts[s] / len(samples) - p) for s, p in target.items())
