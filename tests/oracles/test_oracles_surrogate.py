"""Learned ensemble surrogate: fit quality, uncertainty, gradients, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from oracle_helpers import random_dna
from safetensors import safe_open

from oracles import Oracle, Surrogate, get_oracle


def _gc(seqs):
    return np.array([(s.count("G") + s.count("C")) / len(s) for s in seqs])


@pytest.fixture(scope="module")
def gc_surrogate():
    rng = np.random.default_rng(0)
    seqs = ["".join("ACGT"[i] for i in rng.integers(0, 4, rng.integers(20, 41))) for _ in range(800)]
    model = Surrogate("dna", members=3, channels=16, layers=2)
    model.fit(seqs[:600], _gc(seqs[:600]), epochs=10, seed=0, num_threads=1)
    return model, seqs[600:]


@pytest.mark.slow
def test_fit_learns_gc_content_on_held_out_sequences(gc_surrogate):
    model, test = gc_surrogate
    mean, std = model.predict(test)
    r = np.corrcoef(mean, _gc(test))[0, 1]
    assert r > 0.9, f"held-out Pearson r = {r:.3f}"
    assert std.shape == mean.shape and (std >= 0).all() and std.mean() > 0
    assert model.history["n_train"] == 600 and model.fitted


def test_surrogate_is_an_oracle_returning_the_ensemble_mean(gc_surrogate):
    model, test = gc_surrogate
    assert isinstance(model, Oracle)
    res = model([test[0], "", "ACGZ", test[1]])
    assert res.valid.tolist() == [True, False, False, True]
    np.testing.assert_allclose(res.values[[0, 3]], model.predict([test[0], test[1]])[0])


def test_forward_is_differentiable_in_the_one_hot_input(gc_surrogate):
    model, test = gc_surrogate
    x = model.one_hot(test[:4]).requires_grad_(True)  # (B, L, V = alphabet.size)
    assert x.shape[-1] == model.alphabet.size
    y = model.forward(x)
    assert y.shape == (4,)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # Raising a C at any position should raise the predicted GC: dY/dC > dY/dA on average.
    grad = x.grad[x.sum(-1) > 0]
    assert grad[:, 1].mean() > grad[:, 0].mean()
    soft = torch.softmax(torch.randn(2, 30, model.alphabet.size), dim=-1).requires_grad_(True)
    model.forward(soft).sum().backward()
    assert soft.grad.abs().sum() > 0
    # vocab_size-wide probabilities (pad and mask columns) are accepted; those columns are ignored.
    wide = torch.cat([x.detach(), torch.zeros(4, x.shape[1], 2)], dim=-1)
    torch.testing.assert_close(model.forward(wide), y.detach())
    with pytest.raises(ValueError, match=r"must be alphabet\.size=4"):
        model.forward(torch.zeros(1, 5, 3))


def test_save_and_load_round_trip(gc_surrogate, tmp_path):
    model, test = gc_surrogate
    path = model.save(tmp_path / "gc_model")
    assert path.suffix == ".safetensors" and path.with_suffix(".json").exists()
    with safe_open(str(path), framework="pt") as f:
        assert "y_mean" in f.keys() and any(k.startswith("net.members.2.") for k in f.keys())
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["alphabet"]["tokens"] == ["A", "C", "G", "T"] and sidecar["config"]["members"] == 3
    loaded = Surrogate.load(path)
    np.testing.assert_allclose(loaded.predict(test)[0], model.predict(test)[0], atol=1e-6)
    via_registry = get_oracle("surrogate", path=str(path))
    np.testing.assert_allclose(via_registry(test[:5]).values, model(test[:5]).values, atol=1e-6)


def test_same_seed_same_model_and_multi_objective():
    seqs = random_dna(60, 12, seed=3)
    y = np.stack([_gc(seqs), np.array([s.count("A") for s in seqs], dtype=float)], axis=1)
    threads = torch.get_num_threads()
    a = Surrogate("dna", n_objectives=2, members=2, channels=8).fit(seqs, y, epochs=2, seed=5, num_threads=1)
    b = Surrogate("dna", n_objectives=2, members=2, channels=8).fit(seqs, y, epochs=2, seed=5, num_threads=1)
    assert torch.get_num_threads() == threads  # num_threads=1 only applied while training
    mean_a, std_a = a.predict(seqs)
    assert mean_a.shape == std_a.shape == (60, 2)
    np.testing.assert_array_equal(mean_a, b.predict(seqs)[0])
    assert a(seqs[:3]).values.shape == (3, 2)
    assert a.forward(a.one_hot(seqs[:3])).shape == (3, 2)


def test_errors_are_clear():
    model = Surrogate("dna", members=2, channels=8)
    with pytest.raises(RuntimeError, match="has not been fitted"):
        model(["ACGT"])
    with pytest.raises(ValueError, match="non-finite scores"):
        model.fit(["ACGT", "GGGG"], [0.5, float("nan")])
    with pytest.raises(ValueError, match="2 sequences but 3 scores"):
        model.fit(["ACGT", "GGGG"], [0.5, 1.0, 0.0])
    with pytest.raises(ValueError, match=r"sequence 1: .*illegal character 'X'"):
        model.fit(["ACGT", "GXGG"], [0.5, 1.0])
    with pytest.raises(FileNotFoundError):
        Surrogate.load("/nonexistent/model.safetensors")


def test_warm_start_continues_from_the_fitted_weights(gc_surrogate, tmp_path):
    model, test = gc_surrogate
    seqs = random_dna(200, 30, seed=5)
    path = model.save(tmp_path / "s.safetensors")
    warm = Surrogate.load(path).fit(seqs, _gc(seqs), epochs=1, seed=1, num_threads=1, warm_start=True)
    cold = Surrogate("dna", members=3, channels=16, layers=2).fit(seqs, _gc(seqs), epochs=1, seed=1, num_threads=1)
    r_warm = np.corrcoef(warm.predict(test)[0], _gc(test))[0, 1]
    r_cold = np.corrcoef(cold.predict(test)[0], _gc(test))[0, 1]
    assert warm.history["warm_start"] and r_warm > 0.9 > r_cold  # one epoch keeps what the first fit learned
    with pytest.raises(RuntimeError, match="warm_start needs a fitted"):
        Surrogate("dna").fit(seqs, _gc(seqs), epochs=1, warm_start=True)
