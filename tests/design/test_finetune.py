"""Online fine-tuning of the generator (seqguide.design.finetune) on models small enough to solve exactly.

The toy: a MaskedDiffusion over 3 tokens at length 3 (fixed length). Its generative distribution in the
continuous-time limit is any-order autoregressive: P(x) = mean over the L! reveal orders of the product of
p(x_i | the tokens revealed before), which the tests compute by enumeration (27 sequences x 6 orders).
"""

from __future__ import annotations

import copy
import itertools
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import seqguide.design.finetune as ft_module
from oracles import Oracle
from seqguide.design import DesignLoop, DesignStore, EliteInfill, FineTune
from seqguide.design.finetune_losses import advantages, anchor_kl, noised
from seqguide.design.loop_types import Purpose, derive_seed
from seqguide.models import GumbelSoftmaxFlow, MaskedDiffusion, TransformerDenoiser

TOKENS = ["A", "B", "C"]
ALL = ["".join(p) for p in itertools.product(TOKENS, repeat=3)]


def _toy(seed: int = 0) -> MaskedDiffusion:
    torch.manual_seed(seed)
    return MaskedDiffusion(TOKENS, length=3, backbone=TransformerDenoiser(dim=16, depth=1, heads=2),
                           fixed_length=True).eval()


def exact_probs(model: MaskedDiffusion) -> dict[str, float]:
    """P(x) of every sequence by enumerating the reveal orders (one batched forward)."""
    L = model.length
    orders = list(itertools.permutations(range(L)))
    states, targets, pos = [], [], []
    for s in ALL:
        ids = [TOKENS.index(c) for c in s]
        for o in orders:
            for k in range(L):
                st = [model.mask_id] * L
                for q in o[:k]:
                    st[q] = ids[q]
                states.append(st)
                targets.append(ids[o[k]])
                pos.append(o[k])
    x = torch.tensor(states)
    with torch.no_grad():
        logp = model(x, torch.ones(len(x)), None)
    lp = logp[torch.arange(len(x)), torch.tensor(pos), torch.tensor(targets)].view(len(ALL), len(orders), L).sum(-1)
    p = (torch.logsumexp(lp.double(), -1) - np.log(len(orders))).exp()
    return dict(zip(ALL, p.tolist()))


def _designs(reward):
    return [SimpleNamespace(round=0, sequence=s, valid=True, objective=float(reward(s))) for s in ALL]


def _tuner(model, settings: FineTune, check=None):
    loop = SimpleNamespace(model=model, seed=0, steps=3, cond=None, key=lambda s: s,
                           objective=SimpleNamespace(precheck=check or (lambda xs: [None] * len(xs))))
    return settings.attach(loop)


def _same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_exact_toy_probabilities_sum_to_one():
    assert sum(exact_probs(_toy()).values()) == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("objective", ["rank", "reward", "augmented"])
def test_high_rewards_raise_the_exact_probability_of_the_best_sequence(objective):
    model = _toy()
    before = exact_probs(model)
    tuner = _tuner(model, FineTune(objective=objective, steps=20, lr=1e-2, min_labels=4, replay=32, probe=0))
    rec = tuner.before_round(1, _designs(lambda s: s.count("A") + 0.1 * s.count("B")))
    after = exact_probs(model)
    assert rec["optimizer_steps"] == 20 and rec["rows_trained"] == 20 * 64
    assert after["AAA"] > 2 * before["AAA"]
    # and the worst falls
    assert after["CCC"] < before["CCC"]


def test_equal_rewards_leave_the_model_unchanged_bit_for_bit():
    model = _toy()
    reference = copy.deepcopy(model)
    for objective in ("rank", "reward", "augmented"):
        tuner = _tuner(model, FineTune(objective=objective, steps=5, lr=1e-2, min_labels=4, probe=0))
        rec = tuner.before_round(1, _designs(lambda s: 0.7))
        assert rec["optimizer_steps"] == 0 and rec["skipped"] == "every reward is equal"
        assert _same_weights(model, reference)


def test_the_anchor_has_zero_gradient_at_the_reference_and_pulls_towards_it():
    model = _toy()
    ref = copy.deepcopy(model)
    x0 = torch.tensor([[TOKENS.index(c) for c in s] for s in ALL])
    xt, t, w = noised(model, x0, torch.Generator().manual_seed(0))
    kl = anchor_kl(model(xt, t, None), ref(xt, t, None).detach(), w).mean()
    kl.backward()
    assert float(kl.detach()) == 0.0
    at_ref = max(float(p.grad.abs().max()) for p in model.parameters() if p.grad is not None)
    assert at_ref < 1e-6  # zero up to float rounding of the softmax
    with torch.no_grad():  # away from the reference the gradient is real
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    model.zero_grad()
    anchor_kl(model(xt, t, None), ref(xt, t, None).detach(), w).mean().backward()
    assert max(float(p.grad.abs().max()) for p in model.parameters() if p.grad is not None) > 1e3 * at_ref

    def kl_after(anchor: float) -> float:
        m = _toy()
        p0 = exact_probs(m)
        _tuner(m, FineTune(steps=25, lr=1e-2, min_labels=4, replay=64, probe=0, anchor=anchor)).before_round(
            1, _designs(lambda s: s.count("A")))
        p1 = exact_probs(m)
        return sum(p0[s] * np.log(p0[s] / p1[s]) for s in ALL)

    assert kl_after(20.0) < 0.5 * kl_after(0.0)


def test_rank_advantages_follow_the_rewards_and_vanish_when_equal():
    r = np.array([0.1, 0.9, 0.5, 0.5, 0.0])
    for objective in ("rank", "reward", "augmented"):
        a = advantages(r, objective)
        assert a[1] > a[2] == a[3] > a[0] > a[4] or objective != "rank"
        assert np.argmax(a) == 1 and np.argmin(a) == 4
        assert not advantages(np.full(7, 0.3), objective).any()
    for objective in ("rank", "reward", "augmented"):  # centred: a shared baseline in the rewards changes nothing
        a = advantages(r, objective)
        assert a.sum() == pytest.approx(0.0, abs=1e-12) and (a < 0).any()
        np.testing.assert_allclose(advantages(r + 5.0, objective), a, atol=1e-12)
    with pytest.raises(ValueError, match="unknown fine-tuning objective 'x'"):
        advantages(r, "x")


def test_the_simplex_flow_is_fine_tuned_too():
    torch.manual_seed(0)
    model = GumbelSoftmaxFlow(TOKENS, length=3, backbone=TransformerDenoiser(dim=16, depth=1, heads=2),
                              fixed_length=True).eval()
    best = torch.tensor([[0, 0, 0]] * 64)

    def mean_logp() -> float:  # the denoiser's log-probability of the best sequence at fixed noisy states
        xt, t, _w = noised(model, best, torch.Generator().manual_seed(3))
        with torch.no_grad():
            return float(model(xt, t, None).gather(-1, best.unsqueeze(-1)).mean())

    before = mean_logp()
    reference = copy.deepcopy(model)
    _tuner(model, FineTune(steps=5, lr=1e-2, min_labels=4, replay=16, probe=0)).before_round(1, _designs(lambda s: 1))
    assert _same_weights(model, reference)
    rec = _tuner(model, FineTune(steps=20, lr=1e-2, min_labels=4, replay=16, probe=8)).before_round(
        1, _designs(lambda s: s.count("A")))
    assert mean_logp() > before + 0.5 and 0 < rec["probe_unique"] <= 1


# ------------------------------------------------------------------------------------------------- in the loop
class _CountA(Oracle):
    name = "count_a"

    def _score(self, xs):
        return np.array([x.count("A") / len(x) for x in xs], dtype=np.float64)


def _ehr_model() -> MaskedDiffusion:
    torch.manual_seed(1)
    return MaskedDiffusion(TOKENS, length=8, backbone=TransformerDenoiser(dim=16, depth=1, heads=2),
                           fixed_length=True).eval()


def _loop(model, store, directory, run_id=None, anchor=None, every=1):
    settings = FineTune(steps=3, lr=5e-3, batch_size=16, min_labels=4, replay=16, probe=8, directory=directory,
                        every=every)
    return DesignLoop(model, _CountA(), None, store, budget=40, candidates=8, steps=4, seed=7, score_batch=8,
                      run_id=run_id, finetune=settings, anchor=anchor)


def test_the_round_record_holds_the_cost_and_the_loop_samples_the_fine_tuned_model(tmp_path):
    model = _ehr_model()
    pretrained = copy.deepcopy(model)
    with _loop(model, DesignStore(tmp_path / "s.sqlite"), tmp_path / "ft", anchor=EliteInfill(elites=4)) as loop:
        history = loop.run(4)
    assert history[0].finetune is None  # no labels before round 0
    for rec in history[1:]:
        f = rec.finetune
        assert f["optimizer_steps"] == 3 and f["rows_trained"] == 48 and f["seconds"] >= 0
        assert f["designs"] == sum(r.n_scored for r in history if r.round < rec.round)
        assert f["probe_valid"] == 1.0 and 0 < f["probe_unique"] <= 1
    assert not _same_weights(model, pretrained)
    files = sorted(p.name for p in (tmp_path / "ft").iterdir())
    assert files == ["reference.safetensors", "round_0002.optim.pt", "round_0002.safetensors",
                     "round_0003.optim.pt", "round_0003.safetensors"]


def _run_to_the_end(tmp_path, name, fail=None):
    """Four rounds; ``fail(where)`` may raise to simulate a kill, then a fresh process-like loop resumes."""
    store_path, directory = tmp_path / f"{name}.sqlite", tmp_path / name
    model = _ehr_model()
    try:
        with _loop(model, DesignStore(store_path), directory) as loop:
            loop.run(4)
    except RuntimeError as err:
        assert str(err) == "killed"
        model = _ehr_model()  # a new process: the pretrained weights again
        store = DesignStore(store_path)
        with _loop(model, store, directory, run_id=store.latest_run()["id"]) as loop:
            loop.run(4)
    return model, DesignStore(store_path)


def test_a_kill_during_fine_tuning_resumes_to_the_same_weights(tmp_path, monkeypatch):
    straight, store_a = _run_to_the_end(tmp_path, "straight")
    steps = {"n": 0}
    real = torch.optim.AdamW.step

    def step_then_die(self, *args, **kwargs):
        steps["n"] += 1
        if steps["n"] == 5:  # the second step of round 2's update
            raise RuntimeError("killed")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step_then_die)
    resumed, store_b = _run_to_the_end(tmp_path, "killed")
    assert steps["n"] > 5  # it did die and then went on
    assert _same_weights(straight, resumed)
    assert [d.sequence for d in store_a.designs(1)] == [d.sequence for d in store_b.designs(1)]


def test_a_kill_while_writing_a_checkpoint_leaves_the_previous_one_whole(tmp_path, monkeypatch):
    straight, _ = _run_to_the_end(tmp_path, "straight")
    real = ft_module._write_weights
    calls = {"n": 0}

    def half_written(model, path):
        calls["n"] += 1
        if calls["n"] == 3:  # reference, round 1, then die half-way through round 2's weights
            path.write_bytes(b"\x00" * 100)
            raise RuntimeError("killed")
        real(model, path)

    monkeypatch.setattr(ft_module, "_write_weights", half_written)
    resumed, _ = _run_to_the_end(tmp_path, "killed")
    assert calls["n"] > 3
    assert _same_weights(straight, resumed)


def test_updating_every_second_round_trains_only_then_and_a_kill_resumes_to_the_same_weights(tmp_path, monkeypatch):
    model = _ehr_model()
    with _loop(model, DesignStore(tmp_path / "s.sqlite"), tmp_path / "ft", every=2) as loop:
        history = loop.run(5)
    assert [r.finetune is not None for r in history] == [False, False, True, False, True]
    for rec in (history[2], history[4]):
        assert rec.finetune["optimizer_steps"] == 3
        assert rec.finetune["designs"] == sum(r.n_scored for r in history if r.round < rec.round)
    assert sorted(p.name for p in (tmp_path / "ft").glob("round_*.safetensors")) == ["round_0002.safetensors",
                                                                                      "round_0004.safetensors"]
    steps = {"n": 0}
    real = torch.optim.AdamW.step

    def step_then_die(self, *args, **kwargs):
        steps["n"] += 1
        if steps["n"] == 5:  # the second step of round 4's update
            raise RuntimeError("killed")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", step_then_die)
    store_path = tmp_path / "k.sqlite"
    killed = _ehr_model()
    with pytest.raises(RuntimeError, match="killed"), _loop(killed, DesignStore(store_path), tmp_path / "k",
                                                             every=2) as loop:
        loop.run(5)
    resumed = _ehr_model()
    store = DesignStore(store_path)
    with _loop(resumed, store, tmp_path / "k", run_id=store.latest_run()["id"], every=2) as loop:
        loop.run(5)
    assert steps["n"] > 5 and _same_weights(model, resumed)


def test_fine_tuned_molecule_samples_have_their_validity_in_the_round_record(tmp_path):
    pytest.importorskip("rdkit")
    pytest.importorskip("selfies")
    from oracles.molecule import QED

    torch.manual_seed(0)
    toks = ["[C]", "[O]", "[N]", "[=C]", "[Ring1]", "[Branch1]", "[=O]"]
    model = MaskedDiffusion(toks, length=6, backbone=TransformerDenoiser(dim=16, depth=1, heads=2)).eval()
    from oracles import Constraint
    from oracles.molecule import LogP
    from seqguide.design import Component, Objective

    # validity: the molecule parses and its logP is in a window (a hard constraint: a free check, never paid)
    objective = Objective([Component("qed", QED(input_format="selfies"))],
                          constraints=[Constraint(LogP(input_format="selfies"), lower=-0.5, upper=1.0)])
    settings = FineTune(steps=2, lr=5e-3, batch_size=16, min_labels=4, replay=8, probe=32)
    with DesignLoop(model, objective, None, None, budget=64, candidates=16, steps=6, seed=3, finetune=settings) as loop:
        history = loop.run(2)
    rec = history[1].finetune
    assert rec["optimizer_steps"] == 2
    from seqguide import sample

    again = sample(model, 32, steps=6, seed=derive_seed(3, 1, Purpose.FINETUNE, 2), progress=False).sequences
    valid = sum(r is None for r in objective.precheck(again)) / 32
    assert rec["probe_valid"] == valid and rec["probe_unique"] == len(set(again)) / 32
    assert 0.0 < valid < 1.0  # some samples pass and some fail (so the check is not vacuous)


def test_bad_settings_are_refused_with_the_name_of_the_setting():
    with pytest.raises(ValueError, match="FineTune: objective must be one of rank, reward, augmented"):
        FineTune(objective="ppo")
    with pytest.raises(ValueError, match="FineTune: lr must be a positive finite number"):
        FineTune(lr=float("nan"))
    with pytest.raises(ValueError, match="FineTune: steps must be a positive integer"):
        FineTune(steps=0)
    with pytest.raises(ValueError, match="FineTune: every must be a positive integer"):
        FineTune(every=0)


# ------------------------------------------------------------------------------------------------- campaigns
def test_a_campaign_fine_tunes_under_guidance_and_resume_keeps_the_settings(tiny_checkpoint, tmp_path, write_yaml):
    from seqguide.design import Campaign, CampaignError, ConfigError

    text = f"""
    name: ft
    seed: 2
    run_dir: {tmp_path / "run"}
    model:
      checkpoint: {tiny_checkpoint}
      finetune: {{objective: reward, steps: 2, batch_size: 8, lr: 0.001, min_labels: 4, replay: 8, probe: 8}}
    objective:
      oracles:
        - name: gc
    guidance:
      - method: svdd
        value: oracle
        particles: 2
    sampling:
      steps: 8
      anchor: {{elites: 4}}
    loop:
      rounds: 2
      candidates: 6
      budget: 400
    """
    path = write_yaml(text)
    result = Campaign.from_yaml(path).run(progress=False)
    assert result.rounds[0].finetune is None
    rec = result.rounds[1].finetune
    assert rec["objective"] == "reward" and rec["optimizer_steps"] == 2 and rec["rows_trained"] == 16
    assert rec["probe_valid"] == 1.0 and result.rounds[1].guidance_oracle_calls > 0  # SVDD ran on the tuned model
    store = DesignStore(result.store)
    assert all("elite infill" in d.guidance for d in store.designs(result.run_id, round=1))
    store.close()
    assert (tmp_path / "run" / "finetune" / "round_0001.safetensors").is_file()
    with pytest.raises(CampaignError, match=r"model.finetune.steps: 2 -> 3"):
        Campaign.from_yaml(path, ["model.finetune.steps=3"]).run(resume=True, progress=False)
    with pytest.raises(ConfigError, match=r"model.finetune.objective"):
        Campaign.from_yaml(write_yaml(text.replace("objective: reward", "objective: ppo"), "bad.yaml"))
