"""Tests of the learned value model (SVDD-MC): exactness on a solvable toy, guidance gains, checkpoints, CLI.

The toy is :class:`ExactMaskedModel` over all 16 sequences of length 4 on the alphabet "AB" with a random
table and random rewards, so the target of the regression, ``E[r(x_0) | x_t]``, is known exactly from
``model._posterior``.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch

from oracles import from_function
from seqguide import sample
from seqguide.guidance import SMC, SVDD, BeamSearch, CallableValue, LearnedValue, ValueModel, fit_value_model
from seqguide.guidance.value.model import NoisedRewardDataset
from seqguide.guidance.value.train_cli import main as train_value_main
from seqguide.guidance.value.train_cli import parse_oracle_args
from seqguide.models import ConvDenoiser, TransformerDenoiser
from seqguide.models.schedules import get_schedule
from seqguide.models.toy import ExactMaskedModel
from seqguide.sampling.context import Counters, SamplingContext

SEQS = ["".join(p) for p in itertools.product("AB", repeat=4)]


class _Toy:
    """An exact model, its per-sequence rewards and an oracle that counts the designs it scores."""

    def __init__(self, seed: int = 0, maximize: bool = True) -> None:
        g = torch.Generator().manual_seed(seed)
        p = -torch.log(torch.rand(len(SEQS), generator=g, dtype=torch.float64))  # Dirichlet(1) after normalising
        p = p / p.sum()
        self.model = ExactMaskedModel(list("AB"), {s: float(v) for s, v in zip(SEQS, p)})
        self.r = torch.randn(len(SEQS), generator=g, dtype=torch.float64)
        self.reward = {s: float(v) for s, v in zip(SEQS, self.r)}
        self.scored: list[str] = []

        def fn(xs: list[str]) -> list[float]:
            self.scored.extend(xs)
            return [self.reward[x] for x in xs]

        self.oracle = from_function(fn, name="toy", maximize=maximize)

    def exact_value(self, states: torch.Tensor) -> torch.Tensor:
        """``E[r(x_0) | x_t]`` ``(N,)`` from the exact posterior over the table."""
        return self.model._posterior(states) @ self.r

    def mean_reward(self, sequences: list[str]) -> float:
        return float(np.mean([self.reward[s] for s in sequences]))


def _small_backbone() -> ConvDenoiser:
    return ConvDenoiser(dim=32, depth=2, kernel_size=3, dropout=0.0)


@pytest.fixture(scope="module")
def toy() -> _Toy:
    return _Toy(seed=0)


@pytest.fixture(scope="module")
def fitted(toy: _Toy, tmp_path_factory: pytest.TempPathFactory) -> ValueModel:
    out = tmp_path_factory.mktemp("value")
    return fit_value_model(toy.model, toy.oracle, n=2000, sample_steps=4, max_steps=300, batch_size=128,
                           backbone=_small_backbone(), lr=3e-3, seed=0, out_dir=out, progress=False)


def _ctx(model: ExactMaskedModel, rows: int) -> SamplingContext:
    return SamplingContext(model, guiders=[], num_steps=4, n=rows, expansion=1,
                           generator=torch.Generator().manual_seed(0), device=torch.device("cpu"), cond=None,
                           use_cache=False, counters=Counters())


# ------------------------------------------------------------------------------------------ regression
@pytest.mark.slow
def test_value_model_learns_the_exact_posterior_mean(toy: _Toy, fitted: ValueModel) -> None:
    g = torch.Generator().manual_seed(123)
    x0 = toy.model.X[torch.multinomial(toy.model.p.float(), 3000, replacement=True, generator=g)]
    t = torch.rand(3000, generator=g)
    x_t = fitted.noise(x0, t, g)
    assert (x_t == toy.model.mask_id).any() and (x_t != toy.model.mask_id).any()
    exact = toy.exact_value(x_t).numpy()
    pred = fitted.predict(x_t, t).double().numpy()
    assert pred.shape == (3000,)
    assert np.corrcoef(exact, pred)[0, 1] > 0.9
    # Calibrated, not just correlated: the error is well below the spread of the exact values.
    assert np.sqrt(np.mean((exact - pred) ** 2)) < 0.5 * np.std(exact)


def test_fit_report_counts_labels_and_split(toy: _Toy, fitted: ValueModel) -> None:
    rep = fitted.fit_report
    assert (rep.source, rep.n_labelled, rep.n_invalid, rep.oracle_calls) == ("sampled", 2000, 0, 2000)
    assert rep.n_train + rep.n_val == 2000 and rep.n_val == 200
    assert rep.steps == 300
    # Noisy states cannot predict r(x_0) perfectly, but the ranking must carry signal.
    assert rep.val_spearman > 0.4 and 0.0 < rep.val_r2 < 1.0
    assert rep.checkpoint is not None and Path(rep.checkpoint).is_file()


# ------------------------------------------------------------------------------------------ guidance
def test_svdd_with_learned_value_raises_reward(toy: _Toy, fitted: ValueModel) -> None:
    base = toy.mean_reward(sample(toy.model, 512, steps=4, seed=1, progress=False).sequences)
    exact = CallableValue(lambda x, s: toy.exact_value(x))
    ref = toy.mean_reward(sample(toy.model, 512, steps=4, seed=1, progress=False,
                                 guidance=SVDD(exact, particles=4, alpha=0.0)).sequences)
    # Network only (no oracle anywhere): every gain comes from the learned value.
    learned = toy.mean_reward(sample(toy.model, 512, steps=4, seed=1, progress=False,
                                     guidance=SVDD(LearnedValue(fitted), particles=4, alpha=0.0)).sequences)
    assert ref - base > 0.5  # the task leaves room to improve
    assert learned - base > 0.6 * (ref - base)


def test_svdd_scores_are_the_true_rewards_with_an_oracle(toy: _Toy, fitted: ValueModel) -> None:
    value = LearnedValue(fitted, toy.oracle)
    out = sample(toy.model, 64, steps=4, seed=2, progress=False, guidance=SVDD(value, particles=4))
    assert out.scores is not None
    np.testing.assert_allclose(out.scores, [toy.reward[s] for s in out.sequences])
    assert out.trace["oracle_calls"] > 0
    assert value.rows_evaluated > 0 and value.calls > 0


def test_smc_and_beam_search_accept_a_learned_value(toy: _Toy, fitted: ValueModel) -> None:
    base = toy.mean_reward(sample(toy.model, 256, steps=4, seed=3, progress=False).sequences)
    smc = sample(toy.model, 256, steps=4, seed=3, progress=False,
                 guidance=SMC(LearnedValue(fitted, toy.oracle), particles=4, lam=5.0, output="best"))
    beam = sample(toy.model, 256, steps=4, seed=3, progress=False,
                  guidance=BeamSearch(LearnedValue(fitted, toy.oracle), beams=2, expand=2))
    assert len(smc.sequences) == len(beam.sequences) == 256
    assert toy.mean_reward(smc.sequences) > base + 0.3
    assert toy.mean_reward(beam.sequences) > base + 0.3


def test_learned_value_uses_the_oracle_for_clean_rows_only(toy: _Toy, fitted: ValueModel) -> None:
    enc = toy.model.alphabet.encode(["ABBA", "BBBB", "ABBA", "A?BA".replace("?", "A")])
    noisy = enc.clone()
    noisy[:, 1] = toy.model.mask_id
    states = torch.cat([enc, noisy])  # 4 clean rows (2 identical), 4 noisy rows (distinct: 3)
    ctx = _ctx(toy.model, states.shape[0])
    toy.scored.clear()
    v = LearnedValue(fitted, toy.oracle)(states, 0.25, ctx)
    assert v.dtype == torch.float64 and v.shape == (8,)
    np.testing.assert_allclose(v[:4].numpy(), [toy.reward[s] for s in ["ABBA", "BBBB", "ABBA", "AABA"]])
    np.testing.assert_allclose(v[4:].numpy(), fitted.predict(noisy, 0.25).double().numpy(), rtol=1e-6)
    assert sorted(toy.scored) == ["AABA", "ABBA", "BBBB"]  # each distinct clean design once
    assert ctx.counters.oracle_calls == 3
    assert ctx.counters.extra["value_model_rows"] == len({tuple(r) for r in noisy.tolist()})
    # Without an oracle the network scores every row, clean ones included.
    ctx2 = _ctx(toy.model, states.shape[0])
    toy.scored.clear()
    v2 = LearnedValue(fitted)(states, 0.0, ctx2)
    np.testing.assert_allclose(v2[:4].numpy(), fitted.predict(enc, 0.0).double().numpy(), rtol=1e-6)
    assert toy.scored == [] and ctx2.counters.oracle_calls == 0


def test_learned_value_can_keep_the_oracle_for_the_last_step(toy: _Toy, fitted: ValueModel) -> None:
    states = toy.model.alphabet.encode(["ABBA", "BBBB"])
    value = LearnedValue(fitted, toy.oracle, oracle_on="last_step")
    ctx = _ctx(toy.model, 2)  # 4 steps
    ctx.set_step(1, 0.75, 0.5)
    toy.scored.clear()
    v = value(states, 0.5, ctx)
    assert toy.scored == [] and ctx.counters.oracle_calls == 0
    np.testing.assert_allclose(v.numpy(), fitted.predict(states, 0.5).double().numpy(), rtol=1e-6)
    ctx.set_step(3, 0.25, 0.0)
    v = value(states, 0.0, ctx)
    np.testing.assert_allclose(v.numpy(), [toy.reward["ABBA"], toy.reward["BBBB"]])
    assert ctx.counters.oracle_calls == 2
    with pytest.raises(ValueError, match="oracle_on"):
        LearnedValue(fitted, toy.oracle, oracle_on="never")


def test_learned_value_negates_a_minimised_objective() -> None:
    toy = _Toy(seed=1, maximize=False)
    vm = ValueModel(list("AB"), 4, backbone=_small_backbone(), reward_mean=2.0, reward_std=1.0, maximize=False)
    states = toy.model.alphabet.encode(["ABBA"])
    states_noisy = states.clone()
    states_noisy[0, 0] = toy.model.mask_id
    both = torch.cat([states, states_noisy])
    v = LearnedValue(vm, toy.oracle)(both, 0.5, _ctx(toy.model, 2))
    assert v[0].item() == pytest.approx(-toy.reward["ABBA"])
    assert v[1].item() == pytest.approx(-2.0)  # untrained head: the reward mean, negated
    with pytest.raises(ValueError, match="maximize"):
        LearnedValue(vm, _Toy(seed=1, maximize=True).oracle)


def test_learned_value_rejects_another_alphabet(fitted: ValueModel) -> None:
    other = ExactMaskedModel(list("AC"), {"AAAA": 0.5, "CCCC": 0.5})
    with pytest.raises(ValueError, match="alphabet"):
        LearnedValue(fitted)(other.prior(2), 1.0, _ctx(other, 2))


# ------------------------------------------------------------------------------------------ checkpoints
@pytest.mark.parametrize("pooling", ["mean", "attention"])
def test_save_load_roundtrip_with_weights_only(tmp_path: Path, pooling: str) -> None:
    torch.manual_seed(0)
    vm = ValueModel("dna", 12, backbone=TransformerDenoiser(dim=16, depth=1, heads=2), pooling=pooling,
                    reward_mean=0.3, reward_std=2.0, oracle_name="gc", weights=[1.0, 0.5])
    for p in vm.parameters():  # leave the zero-initialised head: make every output depend on the weights
        torch.nn.init.normal_(p, std=0.2)
    path = vm.save(tmp_path / "v.ckpt")
    raw = torch.load(path, weights_only=True)
    assert raw["hyper_parameters"]["alphabet"]["name"] == "dna"
    loaded = ValueModel.load(path)
    x = torch.randint(0, 6, (32, 12), generator=torch.Generator().manual_seed(1))
    t = torch.rand(32, generator=torch.Generator().manual_seed(2))
    assert torch.equal(vm.predict(x, t), loaded.predict(x, t))
    assert loaded.hparams.pooling == pooling and loaded.hparams.weights == [1.0, 0.5]
    assert vm.predict(x, t).std() > 0


def test_lightning_checkpoint_of_the_fit_loads_identically(toy: _Toy, fitted: ValueModel) -> None:
    loaded = ValueModel.load(fitted.fit_report.checkpoint)
    x = toy.model.alphabet.encode(SEQS)
    x[::2, 0] = toy.model.mask_id
    assert torch.equal(fitted.predict(x, 0.5), loaded.predict(x, 0.5))


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ValueModel.load(tmp_path / "missing.ckpt")
    torch.save({"state_dict": {}, "hyper_parameters": {"lr": 1.0}}, tmp_path / "other.ckpt")
    with pytest.raises(ValueError, match="not a seqguide ValueModel"):
        ValueModel.load(tmp_path / "other.ckpt")


# ------------------------------------------------------------------------------------------ fitting
@pytest.mark.slow
def test_fit_is_deterministic_given_the_seed(toy: _Toy) -> None:
    kw = dict(n=200, sample_steps=4, max_steps=15, batch_size=64, progress=False)
    a = fit_value_model(toy.model, toy.oracle, backbone=_small_backbone(), seed=5, **kw)
    b = fit_value_model(toy.model, toy.oracle, backbone=_small_backbone(), seed=5, **kw)
    c = fit_value_model(toy.model, toy.oracle, backbone=_small_backbone(), seed=6, **kw)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


@pytest.mark.slow
def test_fit_from_given_labels_drops_invalid_ones(toy: _Toy) -> None:
    seqs = SEQS * 4
    rewards = np.array([toy.reward[s] for s in seqs])
    rewards[:5] = np.nan
    vm = fit_value_model(toy.model, sequences=seqs, rewards=rewards, max_steps=10, batch_size=32,
                         backbone=_small_backbone(), progress=False)
    rep = vm.fit_report
    assert (rep.source, rep.n_labelled, rep.n_invalid, rep.oracle_calls) == ("given", 64, 5, 0)
    assert rep.n_train + rep.n_val == 59
    assert np.isfinite(vm.hparams.reward_mean) and vm.hparams.reward_std > 0


@pytest.mark.slow
def test_fit_scores_given_sequences_with_the_oracle(toy: _Toy) -> None:
    toy.scored.clear()
    vm = fit_value_model(toy.model, toy.oracle, sequences=SEQS, max_steps=5, batch_size=8,
                         backbone=_small_backbone(), progress=False, val_fraction=0.0)
    assert sorted(toy.scored) == sorted(SEQS)
    assert vm.fit_report.oracle_calls == 16 and vm.fit_report.n_val == 0
    assert np.isnan(vm.fit_report.val_mse)


def test_fit_argument_errors(toy: _Toy) -> None:
    with pytest.raises(ValueError, match="needs an oracle"):
        fit_value_model(toy.model, progress=False)
    with pytest.raises(ValueError, match="without sequences"):
        fit_value_model(toy.model, rewards=[1.0], progress=False)
    with pytest.raises(ValueError, match="without rewards"):
        fit_value_model(toy.model, sequences=SEQS, progress=False)
    with pytest.raises(ValueError, match="one value per sequence"):
        fit_value_model(toy.model, sequences=SEQS, rewards=[1.0, 2.0], progress=False)
    with pytest.raises(ValueError, match="valid reward"):
        fit_value_model(toy.model, sequences=SEQS, rewards=[float("nan")] * 16, progress=False)
    with pytest.raises(ValueError, match="max_steps"):
        fit_value_model(toy.model, toy.oracle, max_steps=0, progress=False)
    with pytest.raises(ValueError, match="pooling"):
        ValueModel(list("AB"), 4, pooling="max")


def test_dataset_renoises_every_read_and_fixes_validation_noise() -> None:
    x0 = torch.zeros(4000, 20, dtype=torch.long)
    r = torch.arange(4000, dtype=torch.float64)
    ds = NoisedRewardDataset(x0, r, get_schedule("loglinear"), mask_id=5, seed=0)
    a, b = ds[list(range(4000))], ds[list(range(4000))]
    assert not torch.equal(a["x_t"], b["x_t"])  # fresh masks and times on every read
    assert torch.equal(a["reward"], r)
    # Masking follows the schedule: the masked fraction of a row is 1 - alpha(t) = t on average.
    frac = (a["x_t"] == 5).double().mean(dim=1)
    assert abs(float((frac - a["t"].double()).mean())) < 0.01
    for index in (3, np.int64(3), torch.tensor(3)):
        one = ds[index]
        assert one["x_t"].shape == (20,) and one["t"].dim() == 0 and one["reward"].item() == 3.0
    val = NoisedRewardDataset(x0[:10], r[:10], get_schedule("loglinear"), mask_id=5, seed=0, fixed=True, repeats=3)
    assert len(val) == 30
    assert torch.equal(val[list(range(30))]["x_t"], val[list(range(30))]["x_t"])


# ------------------------------------------------------------------------------------------ CLI
def test_parse_oracle_args() -> None:
    assert parse_oracle_args(["motif=CTCF", "normalize=false", "target=0.6", "window=10", "w=[1, 2]"]) == {
        "motif": "CTCF", "normalize": False, "target": 0.6, "window": 10, "w": [1, 2]}
    with pytest.raises(ValueError, match="key=value"):
        parse_oracle_args(["motif"])


@pytest.mark.slow
def test_train_value_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqguide.data import SequenceDataModule
    from seqguide.training.sequences import train_masked_diffusion

    dm = SequenceDataModule(preset="crp", batch_size=32)
    trained = train_masked_diffusion(dm, backbone=ConvDenoiser(dim=16, depth=1), out_dir=tmp_path / "md",
                                     max_steps=30, val_check_interval=30, progress=False, accelerator="cpu")
    out = tmp_path / "value.ckpt"
    rc = train_value_main(["--ckpt", str(trained.checkpoint), "--oracle", "gc", "--oracle-arg", "target=0.6",
                           "--n", "64", "--sample-steps", "8", "--max-steps", "20", "--batch-size", "32",
                           "--backbone", "conv", "--dim", "16", "--depth", "1", "--out", str(out), "--quiet"])
    assert rc == 0 and out.is_file()
    err = capsys.readouterr().err
    assert "64 oracle calls" in err and f"wrote {out}" in err
    vm = ValueModel.load(out)
    assert vm.length == 26 and vm.alphabet.name == "dna" and vm.hparams.oracle_name == "gc"
    with pytest.raises(SystemExit) as exc:
        train_value_main(["--ckpt", str(trained.checkpoint), "--oracle", "no_such_oracle", "--out", str(out)])
    assert exc.value.code == 2
    assert "no_such_oracle" in capsys.readouterr().err
