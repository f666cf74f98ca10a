"""poli both ways: poli problems as seqguide oracles (aloha, rmf_landscape, rdkit_qed, ehrlich_holo), inside the
Cached/Budgeted stack with exact counts, and seqguide oracles and campaign objectives scored through poli's API by a
poli-style solver."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("poli", reason='poli is not installed (pip install "seqguide[poli]" or poli-core --no-deps)')

import torch

from oracles import Budgeted, BudgetExhausted, Cached, from_function, get_oracle
from oracles.poli import PoliOracle
from oracles.to_poli import as_black_box, campaign_problem, problem, register_with_poli

ROOT = Path(__file__).resolve().parents[2]


def _aloha_value(s: str) -> int:
    return sum(a == b for a, b in zip(s, "ALOHA"))


def _count_calls(oracle: PoliOracle) -> list[int]:
    """Record the batch size of every call that reaches poli's black box."""
    sizes: list[int] = []
    inner = oracle.black_box._black_box

    def counting(x, context=None):
        sizes.append(len(x))
        return inner(x, context)

    oracle.black_box._black_box = counting
    return sizes


def test_aloha_through_the_registry_scores_batched_with_reasons():
    o = get_oracle("poli", problem="aloha")
    sizes = _count_calls(o)
    seqs = ["ALOHA", "ALOOF", "BLOHA", "aloha", "ALO", "ZZZZZ"]
    res = o(seqs)
    assert res.valid.tolist() == [True, True, True, False, False, True]
    assert res.values[res.valid].tolist() == [_aloha_value(s) for s in np.array(seqs)[res.valid]] == [5, 3, 4, 0]
    assert "illegal character 'a'" in res.errors[3] and res.errors[4] == "expected length 5, got 3"
    assert sizes == [4]  # one call, the invalid items never sent
    assert o.black_box.num_evaluations == o.items_received == 4
    assert o.initial_solution() == "ALOOF" and o.name == "poli:aloha"


def test_nan_from_poli_becomes_an_invalid_item_with_a_reason():
    from rdkit import Chem
    from rdkit.Chem import QED

    o = get_oracle("poli", problem="rdkit_qed")
    res = o(["CCO", "C1CC(", "c1ccccc1O"])
    assert res.valid.tolist() == [True, False, True]
    assert "returned nan" in res.errors[1] and "could not score" in res.errors[1]
    np.testing.assert_allclose(res.values[[0, 2]], [QED.qed(Chem.MolFromSmiles(s)) for s in ("CCO", "c1ccccc1O")])


def test_rmf_landscape_with_its_wildtype():
    o = get_oracle("poli", problem="rmf_landscape", wildtype="MKVLAG", seed=0)
    assert o.length is None and o.alphabet is not None  # poli declares no length; its black box checks it
    a = o(["MKVLAG", "MKVLAA", "MKVLXG", "MKV"])
    b = o(["MKVLAG", "MKVLAA"])
    assert a.valid.tolist() == [True, True, False, False] and np.array_equal(a.values[:2], b.values)  # deterministic
    assert "illegal character 'X'" in a.errors[2]
    assert "AssertionError: Inconsistent length" in a.errors[3]  # poli's own refusal, isolated to its item


def test_the_budget_counts_every_item_that_reaches_poli_exactly():
    o = PoliOracle("aloha")
    stack = Cached(Budgeted(o, budget=5))
    budget = stack.inner
    stack(["ALOHA", "ALOHA", "BLOHA", "aloha"])  # a duplicate and an invalid one: 2 paid
    stack(["ALOHA", "CLOHA"])  # a cache hit: 1 paid
    assert budget.used == 3 == o.black_box.num_evaluations == o.items_received
    with pytest.raises(BudgetExhausted):
        stack(["DLOHA", "ELOHA", "FLOHA"])  # 3 new > 2 left: refused before anything is sent
    assert o.black_box.num_evaluations == 3
    stack(["DLOHA", "ELOHA"])
    assert budget.used == 5 == o.black_box.num_evaluations


def test_poli_budgets_are_refused_and_errors_name_the_problem():
    with pytest.raises(ValueError, match="budget is seqguide's"):
        PoliOracle("aloha", evaluation_budget=10)
    with pytest.raises(ValueError, match="not available"):
        PoliOracle("no_such_problem")
    with pytest.raises(ValueError, match="problem=<poli problem name>"):
        PoliOracle()


def test_campaign_objective_from_yaml_uses_a_poli_problem(tmp_path):
    import yaml

    from seqguide.design import load_campaign
    from seqguide.design.objective import build_objective

    campaign = yaml.safe_load((ROOT / "configs" / "campaigns" / "ehrlich.yaml").read_text())
    campaign["objective"] = {"oracles": [{"name": "poli", "args": {"problem": "aloha"}, "label": "aloha"}]}
    campaign["model"]["length"] = 5
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(campaign))
    objective = build_objective(load_campaign(path, check_files=False).config.objective)
    ev = objective.evaluate(["ALOHA", "ALOBB", "ALOHAX"])
    assert ev.objective.tolist()[:2] == [5.0, 3.0] and not ev.valid[2] and ev.charged.tolist() == [True, True, False]


# ------------------------------------------------------------------------------ seqguide -> poli
def hill_climb(prob, steps: int, seed: int = 0) -> tuple[np.ndarray, float, int]:
    """A poli-style solver: only ``problem.x0``, ``problem.black_box`` and its info; one-site mutations."""
    rng = np.random.default_rng(seed)
    f, alphabet = prob.black_box, prob.black_box.info.alphabet
    x = prob.x0.copy()
    y = float(f(x)[0, 0])
    for _ in range(steps):
        cand = x.copy()
        cand[0, rng.integers(cand.shape[1])] = alphabet[rng.integers(len(alphabet))]
        yc = float(f(cand)[0, 0])
        if np.isfinite(yc) and yc >= y:
            x, y = cand, yc
    return x, y, f.num_evaluations


def test_a_poli_solver_improves_our_ehrlich_and_counts_its_calls():
    e = get_oracle("ehrlich", num_states=8, dim=12, num_motifs=2, motif_length=3, seed=1)
    prob = problem(Budgeted(e, budget=10_000))
    assert prob.black_box.info.max_sequence_length == 12 and prob.black_box.info.alphabet == e.alphabet.tokens
    y0 = float(prob.black_box(prob.x0)[0, 0])
    x, y, calls = hill_climb(prob, 300)
    assert y > y0 and calls == 302
    assert prob.black_box.oracle.used == e.items_received == calls  # what poli sent is what our budget charged
    assert e(["".join(x[0])]).values[0] == y


def test_invalid_items_are_nan_minimised_oracles_negated_and_budgets_become_polis():
    from poli.core.exceptions import BudgetExhaustedException

    gc = get_oracle("gc")
    bb = as_black_box(gc)
    out = bb(np.array(["GGCC", "AXA", "ATGC"]).reshape(-1, 1))
    assert out.shape == (3, 1) and np.isnan(out[1, 0]) and out[[0, 2], 0].tolist() == [1.0, 0.5]
    cost = from_function(lambda xs: [len(s) for s in xs], name="length", maximize=False)
    assert as_black_box(cost)(np.array([["AAA"]]))[0, 0] == -3.0
    assert as_black_box(cost, invalid_value=-1.0, negate=False)(np.array([["AAA"]]))[0, 0] == 3.0
    tight = as_black_box(Budgeted(gc, budget=1))
    tight(np.array([["GC"]]))
    with pytest.raises(BudgetExhaustedException):
        tight(np.array([["AT"]]))


def test_poli_objective_factory_creates_seqguide_problems():
    from poli import objective_factory

    register_with_poli()
    prob = objective_factory.create(name="seqguide", oracle="ehrlich", quiet=True,
                                    oracle_kwargs={"num_states": 20, "dim": 32, "num_motifs": 2, "motif_length": 4})
    e = get_oracle("ehrlich", num_states=20, dim=32, num_motifs=2, motif_length=4)
    assert "".join(prob.x0[0]) == e.initial_solution()
    assert prob.black_box(np.array([list(e.optimal_solution())]))[0, 0] == 1.0
    with pytest.raises(ValueError, match="exactly one of oracle"):
        objective_factory.create(name="seqguide", quiet=True)
    with pytest.raises(ValueError, match=r"x0\[0\]"):
        objective_factory.create(name="seqguide", oracle="gc", x0=["AXA"], quiet=True)


def test_a_shipped_campaign_objective_as_a_poli_problem():
    prob = campaign_problem(ROOT / "configs" / "campaigns" / "ehrlich.yaml")
    e = get_oracle("ehrlich", num_states=20, dim=32, num_motifs=2, motif_length=4, quantization=4, seed=0)
    assert "".join(prob.x0[0]) == e.initial_solution()
    seqs = [e.initial_solution(), e.optimal_solution(), *e.sample_feasible(20, seed=3)]
    got = prob.black_box(np.array([list(s) for s in seqs]))[:, 0]
    np.testing.assert_array_equal(got, e(seqs).values)


# ------------------------------------------------------------------------------ ehrlich_holo (needs holo)
def test_creating_ehrlich_holo_leaves_the_global_generators_alone():
    pytest.importorskip("holo", reason="poli's ehrlich_holo needs pytorch-holo (and botorch)")
    # poli reseeds the legacy global generators; they must come back as they were
    def draws():
        return random.random(), np.random.rand(), torch.rand(1).item()  # noqa: NPY002

    def seed_all():
        random.seed(5)
        np.random.seed(5)  # noqa: NPY002
        torch.manual_seed(5)

    seed_all()
    before = draws()
    seed_all()
    PoliOracle("ehrlich_holo", sequence_length=16, motif_length=2, n_motifs=2, seed=11)
    assert draws() == before
