"""GumbelSoftmaxFlow and its path: the velocity, the step, the exact toy's endpoint, the simplex at every step,
training on real data, checkpoints, and value guidance on the simplex model."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch

from oracles import from_function
from seqguide import Alphabet, sample
from seqguide.data import SequenceDataModule
from seqguide.guidance import SMC, SVDD, BestOfN, Guider
from seqguide.models import (
    ConvDenoiser,
    ExactSimplexModel,
    GumbelSoftmaxFlow,
    GumbelSoftmaxPath,
    MaskedDiffusion,
    TransformerDenoiser,
    load_model,
)


def _tv(samples: list[str], target: dict[str, float]) -> float:
    counts = Counter(samples)
    return 0.5 * sum(abs(counts[s] / len(samples) - p) for s, p in target.items())


def _factorized() -> dict[str, float]:
    m1 = {"A": 0.6, "C": 0.3, "G": 0.1}
    m2 = {"A": 0.1, "C": 0.2, "G": 0.7}
    return {a + b: m1[a] * m2[b] for a in m1 for b in m2}


class _Recorder(Guider):
    """Keeps every state the loop reaches (after each step)."""

    def reset(self, ctx) -> None:
        super().reset(ctx)
        self.states: list[torch.Tensor] = []

    def remask(self, state, pred, t):
        self.states.append(state.clone())
        return state


# ------------------------------------------------------------------------------------------ the path
def test_path_schedule_and_prior_carry_no_data() -> None:
    path = GumbelSoftmaxPath()
    assert float(path.temperature(1.0)) == pytest.approx(10.0)  # loop t = 1 is the paper's tau = 0 (noise)
    assert float(path.temperature(0.0)) == pytest.approx(10.0 * math.exp(-3.0))
    assert float(path.signal(1.0)) == 0.0 and float(path.signal(0.0)) > 0
    x = torch.full((1, 4), 0.25)
    # At the noise end the likelihood is the same for every vertex: the prior is exact.
    ll = path.log_likelihood(x + 0.01 * torch.tensor([[1.0, -1.0, 0.5, -0.5]]), 1.0)
    assert torch.allclose(ll - ll[..., :1], torch.zeros_like(ll))
    for bad in ({"tau_max": 0.0}, {"decay": -1.0}, {"beta": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            GumbelSoftmaxPath(**bad)


def test_velocity_is_tangent_generates_the_path_and_marginalises() -> None:
    """u(x|k) is the time derivative of the conditional path softmax(s(tau) e_k + sigma g) (finite differences);
    v = sum_k p_k u(x|k) sums to zero and vanishes at vertices."""
    path = GumbelSoftmaxPath()
    g = torch.Generator().manual_seed(0)
    K, t, h = 5, 0.6, 1e-4
    gumbel = -torch.log(-torch.log(torch.rand(64, K, generator=g, dtype=torch.float64)))
    k = torch.randint(0, K, (64,), generator=g)
    onehot = torch.nn.functional.one_hot(k, K).double()

    def point(tt: float) -> torch.Tensor:
        return torch.softmax(float(path.signal(tt)) * onehot + path.sigma * gumbel, dim=-1)

    x = point(t)
    dx_dtau = (point(t - h) - point(t + h)) / (2 * h)  # tau = 1 - t
    assert torch.allclose(path.conditional_velocity(x, k, t), dx_dtau, atol=1e-6)
    probs = torch.softmax(torch.randn(64, K, generator=g, dtype=torch.float64), dim=-1)
    v = path.velocity(x, probs, t)
    mix = sum(probs[:, j : j + 1] * path.conditional_velocity(x, torch.full_like(k, j), t) for j in range(K))
    assert torch.allclose(v, mix, atol=1e-12)
    assert torch.allclose(v.sum(-1), torch.zeros(64, dtype=torch.float64), atol=1e-12)
    vertex = torch.nn.functional.one_hot(k, K).double()
    assert torch.allclose(path.velocity(vertex, probs, t), torch.zeros_like(vertex))


def test_step_follows_the_velocity_and_stays_on_the_simplex_for_any_step_size() -> None:
    path = GumbelSoftmaxPath()
    g = torch.Generator().manual_seed(1)
    x = path.prior((32, 6), generator=g, dtype=torch.float64)
    probs = torch.softmax(3 * torch.randn(32, 6, generator=g, dtype=torch.float64), dim=-1)
    t, h = 0.5, 1e-5
    step = path.step(x, probs, t, t - h)
    assert torch.allclose((step - x) / h, path.velocity(x, probs, t), rtol=1e-3, atol=1e-6)
    for s in (0.0, 0.49):  # one huge step and a small one: always on the simplex
        for eta in (0.0, 0.5, 1.0):
            y = path.step(x, probs, t, s, eta=eta, generator=g)
            assert (y >= 0).all() and torch.allclose(y.sum(-1), torch.ones(32, dtype=torch.float64))


# ------------------------------------------------------------------------------------------ the exact toy
def test_ode_flow_of_the_exact_toy_reaches_the_data_distribution(toy_table) -> None:
    """With the exact denoiser, integrating the velocity from the exact prior lands on p(x) (a correlated table),
    and the error shrinks with the number of steps (a wrong velocity sign, rate or posterior fails this)."""
    model = ExactSimplexModel(Alphabet("AB"), toy_table)
    coarse = sample(model, 4000, steps=4, seed=0, progress=False)
    fine = sample(model, 4000, steps=64, seed=0, progress=False)
    assert _tv(fine.sequences, toy_table) < 0.035
    assert _tv(coarse.sequences, toy_table) > _tv(fine.sequences, toy_table) + 0.03


def test_ancestral_step_is_exact_in_two_steps_for_independent_positions() -> None:
    table = _factorized()
    model = ExactSimplexModel(Alphabet("ACG"), table, eta=1.0)
    out = sample(model, 20000, steps=2, seed=1, progress=False)
    assert _tv(out.sequences, table) < 0.015
    ode = ExactSimplexModel(Alphabet("ACG"), table, eta=0.0)
    assert _tv(sample(ode, 20000, steps=2, seed=1, progress=False).sequences, table) > 0.2


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_state_stays_on_the_simplex_at_every_step(toy_table, eta: float) -> None:
    torch.manual_seed(0)
    flow = GumbelSoftmaxFlow("dna", length=10, backbone=ConvDenoiser(dim=16, depth=1), fixed_length=True, eta=eta)
    for p in flow.backbone.head.parameters():  # an untrained but non-trivial denoiser
        torch.nn.init.normal_(p, std=1.0)
    for model, steps in ((flow, 7), (ExactSimplexModel(Alphabet("AB"), toy_table, eta=eta), 5)):
        rec = _Recorder()
        out = sample(model, 16, steps=steps, seed=0, progress=False, guidance=[rec])
        assert len(rec.states) == steps
        for state in rec.states:
            assert state.shape[-1] == model.num_tokens
            assert (state >= 0).all() and torch.allclose(state.sum(-1), torch.ones(state.shape[:-1]), atol=1e-5)
        assert model.is_clean(rec.states[-1]).all() and not model.is_clean(rec.states[0]).any()
        assert all(len(s) == model.length for s in out.sequences)


# ------------------------------------------------------------------------------------------ the network
@pytest.mark.parametrize("cls", [TransformerDenoiser, ConvDenoiser])
def test_backbones_take_soft_tokens(cls) -> None:
    torch.manual_seed(0)
    net = cls(dim=32, depth=2)
    net.build(vocab_size=6, length=9, num_classes=2, time_conditioning=True)
    for p in net.parameters():
        torch.nn.init.normal_(p, std=0.2)
    net.eval()
    ids = torch.randint(0, 6, (3, 9))
    t, y = torch.rand(3), torch.tensor([0, 1, 2])
    onehot = torch.nn.functional.one_hot(ids, 6).float()
    assert torch.allclose(net(onehot, t, y), net(ids, t, y), atol=1e-5)
    soft = torch.softmax(torch.randn(3, 9, 6), dim=-1).requires_grad_(True)
    net(soft, t, y).sum().backward()
    assert soft.grad is not None and soft.grad.abs().sum() > 0
    with pytest.raises(ValueError, match=r"soft tokens must be \(B, L, 6\)"):
        net(torch.rand(3, 9, 5), t, y)


def test_flow_validates_arguments_and_states() -> None:
    with pytest.raises(ValueError, match="tau_max"):
        GumbelSoftmaxFlow("dna", length=4, tau_max=-1.0, backbone=ConvDenoiser(dim=8, depth=1))
    with pytest.raises(ValueError, match="eta"):
        GumbelSoftmaxFlow("dna", length=4, eta=2.0, backbone=ConvDenoiser(dim=8, depth=1))
    model = GumbelSoftmaxFlow("dna", length=4, backbone=ConvDenoiser(dim=8, depth=1))
    assert model.num_tokens == 5  # A C G T + pad: variable length
    with pytest.raises(ValueError, match="state must be"):
        model.predict(torch.zeros(2, 4, dtype=torch.long), 0.5)


@pytest.mark.slow
def test_training_on_real_data_beats_the_noise_only_baseline_and_reloads(tmp_path) -> None:
    """160 steps on the CRP sites (a small network: seconds on a loaded 2-core machine): the denoiser's
    cross-entropy falls well below that of the exact noise-only posterior (what knowing the path but nothing
    about the data gives, the uniform baseline at every time), and the samples carry the CRP half-site far more
    often than random sequences."""
    from seqguide.training.sequences import train_gumbel_softmax_flow

    data = SequenceDataModule(preset="crp", batch_size=32, val_fraction=0.15, seed=0)
    result = train_gumbel_softmax_flow(data, backbone=ConvDenoiser(dim=32, depth=3), out_dir=tmp_path,
                                       max_steps=160, val_check_interval=80, lr=3e-3, warmup_steps=20,
                                       progress=False, accelerator="cpu")
    m = result.metrics
    assert m["val/ce"] < 0.92 * m["val/ce_noise_only"], m
    assert m["val/ce_noise_only"] < math.log(4)
    ckpt = torch.load(result.checkpoint, map_location="cpu", weights_only=True)
    assert ckpt["seqguide_model"] == "GumbelSoftmaxFlow"
    again = load_model(result.checkpoint)
    assert isinstance(again, GumbelSoftmaxFlow) and again.fixed_length and again.num_tokens == 4
    x = again.prior(4, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again.predict(x, 0.5), result.model.predict(x, 0.5))
    with pytest.raises(ValueError, match="GumbelSoftmaxFlow checkpoint, not a MaskedDiffusion"):
        MaskedDiffusion.load(result.checkpoint)
    out = sample(again, 128, steps=26, seed=0, progress=False)
    assert all(len(s) == 26 and set(s) <= set("ACGT") for s in out.sequences)
    frac = sum("TGTGA" in s or "TCACA" in s for s in out.sequences) / len(out.sequences)
    random_frac = 1 - (1 - 2 / 4**5) ** 22
    assert frac > 4 * random_frac, (frac, random_frac)


@pytest.mark.slow
def test_conditional_variable_length_training_and_sampling() -> None:
    import lightning as L

    data = SequenceDataModule(preset="amp", limit=200, length=30, too_long="drop", batch_size=32, seed=0)
    model = GumbelSoftmaxFlow(data.alphabet, length=data.length, num_classes=data.num_classes,
                              fixed_length=data.fixed_length, backbone=ConvDenoiser(dim=32, depth=2), lr=1e-3)
    assert model.num_tokens == 21  # 20 amino acids + pad
    trainer = L.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", limit_val_batches=1)
    trainer.fit(model, datamodule=data)
    out = sample(model, 6, steps=8, cond=1, seed=0, progress=False)
    assert len(out.sequences) == 6 and all(set(s) <= set(data.alphabet.tokens) for s in out.sequences)


# ------------------------------------------------------------------------------------------ value guidance
@pytest.fixture
def simplex_toy(toy_table):
    reward = {s: s.count("B") / len(s) for s in toy_table}
    oracle = from_function(lambda xs: [reward[x] for x in xs], name="frac_b")
    return toy_table, reward, oracle


def _mean(seqs: list[str], reward: dict[str, float]) -> float:
    return float(np.mean([reward[s] for s in seqs]))


def test_svdd_smc_best_of_n_work_on_the_simplex_model_unchanged(simplex_toy) -> None:
    table, reward, oracle = simplex_toy
    model = ExactSimplexModel(Alphabet("AB"), table, eta=1.0)
    base = _mean(sample(model, 1000, steps=8, seed=0, progress=False).sequences, reward)
    svdd = sample(model, 1000, steps=8, seed=0, progress=False, guidance=[SVDD(oracle, particles=8)])
    assert _mean(svdd.sequences, reward) > base + 0.15
    assert np.allclose(svdd.scores, [reward[s] for s in svdd.sequences])
    bon = sample(model, 1000, steps=8, seed=0, progress=False, guidance=[BestOfN(oracle, n=4)])
    assert _mean(bon.sequences, reward) > base + 0.1


def test_smc_on_the_simplex_model_samples_the_tilted_distribution() -> None:
    """Independent positions, where the ancestral step is exact: SMC's particles target p(x) exp(lam r(x)) / Z."""
    table = _factorized()
    reward = {s: s.count("G") / 2 for s in table}
    oracle = from_function(lambda xs: [reward[x] for x in xs], name="frac_g")
    model = ExactSimplexModel(Alphabet("ACG"), table, eta=1.0)
    target = model.tilted(lambda s: reward[s], 3.0)
    assert _tv(list(table), target) > 0  # the tilt matters
    assert 0.5 * sum(abs(table[s] - target[s]) for s in table) > 0.15
    smc = sample(model, 3000, steps=4, seed=0, progress=False,
                 guidance=[SMC(oracle, particles=16, lam=3.0, potential="diff")])
    assert _tv(smc.sequences, target) < 0.04


def test_svdd_on_the_deterministic_step_is_unguided(simplex_toy) -> None:
    """With eta = 0 the M candidates of a state coincide (documented): SVDD then samples the unguided flow."""
    table, _, oracle = simplex_toy
    model = ExactSimplexModel(Alphabet("AB"), table, eta=0.0)
    plain = sample(model, 200, steps=6, seed=0, progress=False)
    svdd = sample(model, 200, steps=6, seed=0, progress=False, guidance=[SVDD(oracle, particles=4)])
    assert plain.sequences == svdd.sequences


@pytest.mark.slow
def test_conditional_training_learns_the_class() -> None:
    """The labels reach the network: after training, peptides are explained best under their own class label, then
    under the null label, worst under the other label (with the labels dropped in training, the null label would be
    best: the class rows would never be trained)."""
    import lightning as L

    L.seed_everything(0, verbose=False)
    data = SequenceDataModule(preset="amp", limit=600, length=30, too_long="drop", batch_size=64, seed=0)
    model = GumbelSoftmaxFlow(data.alphabet, length=data.length, num_classes=2, fixed_length=False,
                              backbone=ConvDenoiser(dim=32, depth=2), lr=3e-3, warmup_steps=10)
    trainer = L.Trainer(max_steps=100, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", limit_val_batches=0)
    trainer.fit(model, datamodule=data)
    model.eval()
    x0, y = data.train_dataset.tokens.long()[:256], data.train_dataset.labels[:256]
    with torch.no_grad():  # the same times and noise for the three labelings
        right, null, wrong = (float(model.loss(x0, labels, torch.Generator().manual_seed(1))[0].mean())
                              for labels in (y, torch.full_like(y, 2), 1 - y))
    assert right < null < wrong and wrong - right > 0.01, (right, null, wrong)
