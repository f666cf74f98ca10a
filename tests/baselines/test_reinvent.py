"""REINVENT and its SMILES RNN prior: the tokenizer, likelihoods, files, the loss on hand-computed numbers, replay,
the budget, and an agent that learns a trivial score its prior does not have."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem

from oracles import from_function
from seqguide.baselines import BudgetedObjective
from seqguide.baselines.reinvent import ExperienceReplay, Reinvent, augmented_likelihood_loss
from seqguide.baselines.smiles_rnn import EOS, PAD, SmilesRNN, tokenize_smiles, train_smiles_rnn


def _chains(n: int = 300, seed: int = 0) -> list[str]:
    """Linear chains of C, N and O (3-9 atoms, every one a valid SMILES), each element equally likely."""
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list("CNO"), size=int(rng.integers(3, 10)))) for _ in range(n)]


@pytest.fixture(scope="module")
def tiny_prior() -> SmilesRNN:
    torch.manual_seed(0)
    return train_smiles_rnn(_chains(), steps=250, batch_size=32, lr=1e-2, embedding=16, hidden=32, layers=1,
                            max_length=20, val_fraction=0.1, seed=0).model


def _n_fraction(smiles: list[str]) -> list[float]:
    out = []
    for s in smiles:
        m = Chem.MolFromSmiles(s)
        out.append(float("nan") if m is None else sum(a.GetSymbol() == "N" for a in m.GetAtoms()) / m.GetNumAtoms())
    return out


def _counting_oracle(fn=_n_fraction):
    seen: list[str] = []

    def score(xs: list[str]) -> list[float]:
        seen.extend(xs)
        return fn(xs)

    return from_function(score, name="n_fraction"), seen


# ------------------------------------------------------------------ tokenizer and model
def test_tokenizer_keeps_bracket_atoms_halogens_and_ring_labels_whole():
    toks = tokenize_smiles("Clc1ccc(Br)c%12[nH]c[C@@H](F)[O-]%12")
    assert toks == ["Cl", "c", "1", "c", "c", "c", "(", "Br", ")", "c", "%12", "[nH]", "c", "[C@@H]", "(", "F", ")",
                    "[O-]", "%12"]
    for bad in ("CC[NH", "C C", ""):
        with pytest.raises(ValueError):
            tokenize_smiles(bad)


def test_log_likelihood_is_the_product_of_next_token_probabilities_and_ignores_padding():
    torch.manual_seed(1)
    model = SmilesRNN(list("CNO()="), embedding=8, hidden=12, layers=2, max_length=10).eval()
    ids = model.encode(["CC(=O)N", "NO"])
    assert ids[1].tolist()[3:] == [PAD] * (ids.shape[1] - 3) and ids[1, 2] == EOS
    with torch.no_grad():
        ll = model.log_likelihood(ids)
        for i, row in enumerate(ids.tolist()):
            row = row[: row.index(EOS) + 1]
            h, x, total = None, torch.tensor([1]), 0.0  # begin token
            for t in row:
                out, h = model.gru(model.embed(x).unsqueeze(1), h)
                total += float(torch.log_softmax(model.head(out[:, 0]), -1)[0, t])
                x = torch.tensor([t])
            assert float(ll[i]) == pytest.approx(total, abs=1e-5)
        wider = torch.cat([ids, torch.full((2, 5), PAD)], dim=1)
        assert torch.allclose(model.log_likelihood(wider), ll, atol=1e-6)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.encode(["CS"])


def test_samples_are_seeded_and_decode_up_to_the_end_token(tiny_prior):
    a = tiny_prior.sample(16, generator=torch.Generator().manual_seed(3))
    b = tiny_prior.sample(16, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)
    smiles = tiny_prior.decode(a)
    assert sum(Chem.MolFromSmiles(s) is not None for s in smiles if s) >= 14
    for row, s in zip(a.tolist(), smiles):
        if EOS in row:
            assert row[row.index(EOS) + 1:] == [PAD] * (len(row) - row.index(EOS) - 1)
            assert tiny_prior.encode([s])[0, : row.index(EOS) + 1].tolist() == row[: row.index(EOS) + 1]


def test_save_and_load_round_trip_through_safetensors(tiny_prior, tmp_path):
    path = tmp_path / "prior.safetensors"
    tiny_prior.save(path)
    back = SmilesRNN.load(path)
    ids = tiny_prior.encode(["CCN", "NNOC"])
    assert back.vocab == tiny_prior.vocab and back.config == tiny_prior.config
    with torch.no_grad():
        assert torch.allclose(back.log_likelihood(ids), tiny_prior.log_likelihood(ids))
    from safetensors.torch import save_file

    save_file({"x": torch.zeros(1)}, str(tmp_path / "other.safetensors"), metadata={"format": "something"})
    with pytest.raises(ValueError, match="not a SmilesRNN file"):
        SmilesRNN.load(tmp_path / "other.safetensors")


# ------------------------------------------------------------------ the loss and replay
def test_augmented_likelihood_loss_on_hand_computed_numbers():
    agent = torch.tensor([-10.0, -5.0])
    prior = torch.tensor([-12.0, -4.0])
    score = torch.tensor([0.01, 0.0])
    # (prior + 500 * score - agent)^2: (-12 + 5 + 10)^2 = 9, (-4 + 0 + 5)^2 = 1
    assert augmented_likelihood_loss(agent, prior, score, 500.0).tolist() == [9.0, 1.0]


def test_one_update_raises_the_likelihood_of_a_high_scoring_sequence(tiny_prior):
    ids = tiny_prior.encode(["NNNN", "OOOO"])
    with torch.no_grad():
        before = tiny_prior.log_likelihood(ids)
    agent = __import__("copy").deepcopy(tiny_prior).train()
    rv = Reinvent(replay=0, likelihood_penalty=0.0)
    opt = torch.optim.SGD(agent.parameters(), lr=1e-4)
    rv._update(agent, tiny_prior, opt, ExperienceReplay(), ids, ["NNNN", "OOOO"], np.array([1.0, 0.0]),
               np.random.default_rng(0))
    with torch.no_grad():
        after = agent.log_likelihood(ids)
    assert after[0] > before[0] + 0.05  # pulled up towards prior + 500 (a flipped sigma or swapped roles: down)


def test_replay_keeps_the_best_distinct_sequences_and_draws_by_score():
    mem = ExperienceReplay(size=3)
    ids = torch.tensor([[3, 2, 0], [4, 2, 0], [5, 2, 0], [6, 2, 0], [3, 2, 0]])
    mem.add(list("abcda"), ids, np.array([0.1, 0.9, 0.0, 0.5, 0.7]), np.array([-1.0, -2.0, -3.0, -4.0, -5.0]))
    assert [(s, v) for s, _, v, _ in mem.items] == [("b", 0.9), ("d", 0.5), ("a", 0.1)]  # the first "a" is kept
    counts = {4: 0, 6: 0, 3: 0}
    rng = np.random.default_rng(0)
    for _ in range(300):
        rows, _, prior = mem.sample(1, rng)
        counts[rows[0][0]] += 1
        assert rows[0][-1] == EOS and prior[0] in (-1.0, -2.0, -4.0)
    assert counts[4] > counts[6] > counts[3] > 0
    with pytest.raises(ValueError, match="finite score"):
        mem.add(["x"], torch.tensor([[7, 2]]), np.array([np.nan]), np.array([0.0]))
    with pytest.raises(ValueError, match="requested"):
        mem.sample(4, rng)


# ------------------------------------------------------------------ runs
def test_invalid_smiles_are_free_unless_charged():
    for charge, paid in ((False, 1), (True, 2)):
        oracle, seen = _counting_oracle()
        objective = BudgetedObjective(oracle, budget=10)
        scores, bad = Reinvent(charge_invalid=charge)._score(objective, ["CCO", "C1CC", None, "OCC"])
        assert bad == 2 and objective.used == paid
        assert scores.tolist() == [0.0, 0.0, 0.0, 0.0]  # no N: 0; unreadable: 0
        assert seen[0] == "CCO"


def test_the_budget_is_never_exceeded_every_call_is_counted_and_replay_never_pays(tiny_prior):
    oracle, seen = _counting_oracle()
    objective = BudgetedObjective(oracle, budget=150)
    run = Reinvent(batch_size=32, replay=8, memory=10_000).run(tiny_prior, objective, seed=0)
    h = run.history
    assert len(h) == objective.used == len(seen) == 150 and run.stopped == "budget"
    canon = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in h.designs]
    assert canon == h.designs and len(set(canon)) == 150  # unique canonical SMILES, each paid once
    assert run.steps >= 4 and run.sampled > 150  # more samples than calls: repeats were free
    paid = dict(zip(h.designs, h.values))
    for s, v in run.memory:  # replay holds only what was paid for (or was unreadable, scored 0)
        m = Chem.MolFromSmiles(s) if s else None
        if m is not None:
            assert paid[Chem.MolToSmiles(m)] == pytest.approx(v)
        else:
            assert v == 0.0
    assert len(run.memory) < run.sampled  # the batch that spent the budget was not added


def test_the_agent_learns_a_trivial_score_that_the_prior_does_not_have(tiny_prior):
    prior_samples = [s for s in tiny_prior.decode(tiny_prior.sample(512, generator=torch.Generator().manual_seed(9)))
                     if s]
    prior_mean = float(np.nanmean(_n_fraction(prior_samples)))
    oracle, _ = _counting_oracle()
    run = Reinvent(batch_size=32, lr=2e-3).run(tiny_prior, oracle, budget=400, seed=0)
    late = float(np.mean(run.step_scores[-3:]))
    assert 0.2 < prior_mean < 0.5  # the prior's chains are about a third nitrogen
    assert late > prior_mean + 0.2
    assert np.nanmean(run.history.values[-50:]) > np.nanmean(run.history.values[:50]) + 0.15


def test_bad_settings_are_refused(tiny_prior):
    with pytest.raises(ValueError, match="batch_size"):
        Reinvent(batch_size=0)
    with pytest.raises(ValueError, match="budget="):
        Reinvent().run(tiny_prior, _counting_oracle()[0])
    minimised = from_function(_n_fraction, name="n", maximize=False)
    with pytest.raises(ValueError, match="maximised"):
        Reinvent().run(tiny_prior, minimised, budget=10)
