"""STGFlow against exact answers: an additive objective on independent positions, where the straight-through tilt
of the exact denoiser is the exact guided denoiser, so the guided flow must sample p(x) exp(scale r(x)) / Z."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from oracles import Surrogate
from seqguide import Alphabet, sample
from seqguide.guidance import STGFlow
from seqguide.models import ConvDenoiser, ExactMaskedModel, ExactSimplexModel, GumbelSoftmaxFlow

ALPHABET = Alphabet("ACG")
# Per-token score of the additive objective r(x) = sum_l W[l, x_l] (columns A, C, G, pad, mask).
W = torch.tensor([[0.0, 0.5, 1.0, 0.0, 0.0], [1.0, 0.0, 0.3, 0.0, 0.0]])


def _table() -> dict[str, float]:
    m1 = {"A": 0.6, "C": 0.3, "G": 0.1}
    m2 = {"A": 0.1, "C": 0.2, "G": 0.7}
    return {a + b: m1[a] * m2[b] for a in m1 for b in m2}


def _reward(seq: str) -> float:
    return float(sum(W[i, ALPHABET.tokens.index(c)] for i, c in enumerate(seq)))


class _Linear(torch.nn.Module):
    """A differentiable clean-sequence objective on one-hots (N, L, V): sum of per-token scores."""

    def __init__(self, w: torch.Tensor, *, maximize: bool = True) -> None:
        super().__init__()
        self.w = w
        self.maximize = maximize
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += x.shape[0]
        return (x * self.w[: x.shape[1], : x.shape[2]]).sum(dim=(1, 2))


def _tv(samples: list[str], target: dict[str, float]) -> float:
    counts = Counter(samples)
    return 0.5 * sum(abs(counts[s] / len(samples) - p) for s, p in target.items())


@pytest.mark.parametrize("source", ["state", "prediction"])
def test_guided_flow_samples_the_exactly_tilted_distribution(source: str) -> None:
    table = _table()
    model = ExactSimplexModel(ALPHABET, table, eta=1.0)
    scale = 2.0
    target = model.tilted(_reward, scale)
    assert 0.5 * sum(abs(target[s] - table[s]) for s in table) > 0.2  # the tilt is large
    guide = STGFlow(_Linear(W), scale=scale, particles=4, source=source)
    out = sample(model, 20000, steps=3, seed=0, progress=False, guidance=[guide])
    assert _tv(out.sequences, target) < 0.015
    assert out.trace["STGFlow.guided_steps"] == 3 and out.trace["stgflow_rows"] == 20000 * 4 * 3


def test_ode_flow_with_many_steps_also_reaches_the_tilted_distribution() -> None:
    table = _table()
    model = ExactSimplexModel(ALPHABET, table, eta=0.0)
    target = model.tilted(_reward, 2.0)
    out = sample(model, 6000, steps=64, seed=1, progress=False, guidance=[STGFlow(_Linear(W), scale=2.0)])
    assert _tv(out.sequences, target) < 0.03


def test_masked_model_with_the_prediction_source_is_tilted_exactly() -> None:
    """The same tilt of masked diffusion's denoiser (drawing from the prediction) samples the tilted target."""
    table = _table()
    model = ExactMaskedModel(ALPHABET, table, exact_joint=False)
    target = model.tilted(_reward, 2.0)
    out = sample(model, 20000, steps=4, seed=2, progress=False,
                 guidance=[STGFlow(_Linear(W), scale=2.0, source="prediction")])
    assert _tv(out.sequences, target) < 0.015
    with pytest.raises(ValueError, match="source='prediction'"):
        sample(model, 2, steps=2, seed=0, progress=False, guidance=[STGFlow(_Linear(W), source="state")])


def test_gradient_is_the_average_over_draws_of_the_straight_through_gradient() -> None:
    """For f(h) = (sum_l h[l, A])^2 the straight-through gradient at a draw h is 2 n_A(h) on column A; averaged over
    h ~ x it converges to 2 sum_l x[l, A] (the expectation), not to the gradient at x or at one draw."""
    model = ExactSimplexModel(ALPHABET, _table())

    def quad(x: torch.Tensor) -> torch.Tensor:
        return x[..., 0].sum(dim=1) ** 2

    guide = STGFlow(quad, particles=20000)
    x = torch.tensor([[[0.7, 0.2, 0.1], [0.4, 0.3, 0.3]]])
    sample(model, 1, steps=1, seed=0, progress=False, guidance=[guide])  # binds a context
    g = guide.gradient(x, torch.log(x))
    expected = 2 * x[0, :, 0].sum()
    assert torch.allclose(g[0, :, 0], expected.expand(2), atol=0.03)
    assert torch.allclose(g[0, :, 1:], torch.zeros(2, 2))

    # An interaction f(h) = h[0, A] h[1, C]: each draw is a whole sequence with independent positions, so the
    # averaged gradient on (0, A) is E[h[1, C]] = x[1, C] and on (1, C) it is x[0, A].
    def pair(x: torch.Tensor) -> torch.Tensor:
        return x[:, 0, 0] * x[:, 1, 1]

    guide = STGFlow(pair, particles=40000)
    sample(model, 1, steps=1, seed=0, progress=False, guidance=[guide])
    g = guide.gradient(x, torch.log(x))
    assert abs(float(g[0, 0, 0]) - 0.3) < 0.015 and abs(float(g[0, 1, 1]) - 0.7) < 0.015


def test_several_objectives_combine_with_weights_and_direction() -> None:
    model = ExactSimplexModel(ALPHABET, _table())
    a, b = _Linear(W), _Linear(torch.flip(W, dims=[1]), maximize=False)
    combo = STGFlow([a, b], weights=(1.0, 0.5), particles=2)
    sample(model, 1, steps=1, seed=0, progress=False, guidance=[combo])
    x = model.prior(3, generator=torch.Generator().manual_seed(0))
    g = combo.gradient(x, torch.log(x))
    expected = W[:, :3] - 0.5 * torch.flip(W, dims=[1])[:, :3]
    assert torch.allclose(g, expected.expand(3, -1, -1), atol=1e-6)
    with pytest.raises(ValueError, match="one weight per model"):
        STGFlow([a, b], weights=(1.0,))
    for kwargs, match in (({"scale": -1.0}, "scale"), ({"particles": 0}, "particles"), ({"source": "x"}, "source")):
        with pytest.raises(ValueError, match=match):
            STGFlow(a, **kwargs)
    with pytest.raises(TypeError, match="differentiable model"):
        STGFlow(3)


@pytest.mark.slow
def test_stgflow_with_a_surrogate_steers_a_trained_flow_toward_its_objective() -> None:
    """A Surrogate (ensemble CNN) trained on GC content of random DNA guides an untrained simplex flow: the
    surrogate's and the true GC of the samples rise with the scale; the window limits the guided steps."""
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 12)) for _ in range(400)]
    gc = [(s.count("G") + s.count("C")) / 12 for s in seqs]
    sur = Surrogate("dna", members=2, channels=16).fit(seqs, gc, epochs=30, seed=0)
    torch.manual_seed(0)
    flow = GumbelSoftmaxFlow("dna", length=12, backbone=ConvDenoiser(dim=16, depth=1), fixed_length=True)
    plain = sample(flow, 128, steps=12, seed=0, progress=False)
    late = STGFlow(sur, scale=20.0, particles=4, start=0.5)
    guided = sample(flow, 128, steps=12, seed=0, progress=False, guidance=[late])
    true = [np.mean([(s.count("G") + s.count("C")) / 12 for s in o.sequences]) for o in (plain, guided)]
    assert true[1] > true[0] + 0.2, true
    assert guided.trace["STGFlow.guided_steps"] == 6
    assert np.mean(sur(guided.sequences).values) > np.mean(sur(plain.sequences).values) + 0.2


def test_hard_samples_come_from_the_chosen_source() -> None:
    """f(h) = (sum_l h[l, A])^2 has the averaged straight-through gradient 2 E[n_A(h)] on column A: drawn from the
    simplex state (the paper) it is 2 sum_l x[l, A], from the denoiser's prediction 2 sum_l p[l, A]."""
    model = ExactSimplexModel(ALPHABET, _table())

    def quad(x: torch.Tensor) -> torch.Tensor:
        return x[..., 0].sum(dim=1) ** 2

    x = torch.tensor([[[0.9, 0.05, 0.05], [0.8, 0.1, 0.1]]])  # the state: mostly A
    p = torch.tensor([[[0.1, 0.6, 0.3], [0.2, 0.4, 0.4]]])  # the prediction: mostly not A
    for source, probs in (("state", x), ("prediction", p)):
        guide = STGFlow(quad, particles=20000, source=source)
        sample(model, 1, steps=1, seed=0, progress=False, guidance=[guide])  # binds a context
        g = guide.gradient(x, torch.log(p))
        expected = 2 * probs[0, :, 0].sum()
        assert torch.allclose(g[0, :, 0], expected.expand(2), atol=0.04), (source, g[0, :, 0], expected)
