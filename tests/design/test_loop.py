"""DesignLoop and DesignStore on an exact toy model: determinism, dedupe, budget, crash safety, provenance."""

from __future__ import annotations

import sqlite3
from collections import Counter

import numpy as np
import pytest

from oracles import Constraint, Oracle, OracleResult, from_function, get_oracle
from seqguide import DNA
from seqguide.design import Component, DesignLoop, DesignRecord, DesignStore, GuidancePlan, Objective
from seqguide.guidance import SVDD


def _gc(xs: list[str]) -> list[float]:
    return [(s.count("G") + s.count("C")) / len(s) for s in xs]


class Counting:
    """A GC oracle that remembers every design it was asked to score (the paid evaluations)."""

    def __init__(self) -> None:
        self.seen: list[str] = []

        def fn(xs: list[str]) -> list[float]:
            self.seen.extend(xs)
            return _gc(xs)

        self.oracle = from_function(fn, name="gc_count", alphabet=DNA)


class FailingAfter(Oracle):
    """Scores GC, but raises out of ``__call__`` (like a lost connection) from its ``fail_at``-th call on."""

    name = "flaky"
    alphabet = DNA

    def __init__(self, fail_at: int) -> None:
        self.calls = 0
        self.fail_at = fail_at

    def __call__(self, xs):
        self.calls += 1
        if self.calls >= self.fail_at:
            raise ConnectionError("assay service unreachable")
        return super().__call__(xs)

    def _score(self, xs):
        return _gc(xs)


def _loop(model, oracle, store=None, **kw) -> DesignLoop:
    kw = {"budget": 12, "candidates": 4, "seed": 5, "score_batch": 3, **kw}
    return DesignLoop(model, oracle, None, store, **kw)


def _rows(loop: DesignLoop) -> list[tuple]:
    return [(d.round, d.idx, d.sequence, d.objective, d.valid, d.charged) for d in loop.designs()]


def test_propose_is_deterministic_and_only_new(toy_dna_model):
    a = _loop(toy_dna_model, Counting().oracle).propose()
    b = _loop(toy_dna_model, Counting().oracle).propose()
    assert a.sequences == b.sequences and a.seeds == b.seeds
    assert len(a.sequences) == len(set(a.sequences)) == 4
    other_seed = _loop(toy_dna_model, Counting().oracle, seed=6).propose()
    assert other_seed.sequences != a.sequences


def test_budget_counts_unique_designs_scored_and_is_never_exceeded(toy_dna_model):
    counting = Counting()
    loop = _loop(toy_dna_model, counting.oracle, budget=10, candidates=4)
    history = loop.run(rounds=5)
    designs = loop.designs()
    assert [r.n_charged for r in history] == [4, 4, 2]  # stops when the budget is spent
    assert loop.budget_used == len(designs) == 10 and loop.budget_remaining == 0
    assert sorted(counting.seen) == sorted(d.sequence for d in designs)  # each paid exactly once
    assert len(set(counting.seen)) == len(counting.seen)


def test_duplicates_of_earlier_rounds_are_dropped(random_table):
    from seqguide.models import ExactMaskedModel

    table = {s: p for s, p in random_table("AB", 3, seed=1).items()}  # only 8 possible designs
    model = ExactMaskedModel(["A", "B"], table)
    oracle = from_function(lambda xs: [s.count("A") for s in xs], name="a_count")
    loop = DesignLoop(model, oracle, budget=100, candidates=3, seed=0, max_draws=6)
    loop.run(rounds=6)
    seqs = [d.sequence for d in loop.designs()]
    assert len(seqs) == len(set(seqs)) <= 8
    assert sum(r.n_duplicates for r in loop.history) > 0
    assert loop.history[-1].n_candidates < 3 or len(seqs) == 8


def test_constraint_violations_are_stored_invalid_and_not_charged(toy_dna_model):
    objective = Objective([Component("gc", get_oracle("gc"))],
                          constraints=[Constraint(get_oracle("gc"), upper=0.6, name="gc_cap")])
    loop = _loop(toy_dna_model, objective, budget=8, candidates=8, score_batch=8)
    loop.run(rounds=3)
    designs = loop.designs()
    rejected = [d for d in designs if not d.charged]
    assert rejected, "expected some GC-rich designs to violate the cap"
    assert all(not d.valid and d.reason.startswith("constraint gc_cap violated: value") for d in rejected)
    assert all(d.valid and d.objective <= 0.6 for d in designs if d.charged)
    assert loop.budget_used == sum(d.charged for d in designs) == 8
    first = loop.history[0]  # rejected designs do not use up the round's quota: sampling went on
    assert first.n_charged == 8 and first.n_candidates == 8 + len(rejected) and first.draws > 1


def test_a_crash_keeps_committed_batches_and_a_resume_pays_nothing_twice(toy_dna_model, tmp_path):
    reference = _loop(toy_dna_model, Counting().oracle)
    reference.run(rounds=3)

    path = tmp_path / "store.sqlite"
    # Round 0 is scored in two calls (3 + 1 designs); round 1's first batch (3) is committed, its second fails.
    flaky = FailingAfter(fail_at=4)
    loop = _loop(toy_dna_model, flaky, DesignStore(path))
    with pytest.raises(ConnectionError):
        loop.run(rounds=3)
    kept = _rows(loop)
    assert len(kept) == 7
    run_id = loop.run_id
    loop.store.close()

    counting = Counting()
    # The failed call was sent (it is in the ledger, with no result): it counts as a real call, so the same
    # 12 designs take a budget of 13.
    resumed = _loop(toy_dna_model, counting.oracle, DesignStore(path), run_id=run_id, budget=13)
    assert resumed.store.lost_calls(run_id) == 1 and resumed.budget_used == 8
    assert resumed.round == 1  # round 0 done, round 1 open with 3 of its 4 designs scored
    resumed.run(rounds=3)
    assert resumed.budget_used == 13 and len(resumed.designs()) == 12
    assert _rows(resumed)[:7] == kept
    assert [r[:4] for r in _rows(resumed)] == [r[:4] for r in _rows(reference)]
    assert not set(counting.seen) & {r[2] for r in kept}  # nothing stored was paid again
    sessions = resumed.store.sessions(run_id)
    assert [s["resumed"] for s in sessions] == [0, 1]
    assert Counter(d.session for d in resumed.designs()) == {sessions[0]["id"]: 7, sessions[1]["id"]: 5}


def test_best_history_and_guidance_factory_see_earlier_rounds_only(toy_dna_model):
    oracle = from_function(_gc, name="gc", alphabet=DNA)
    seen_labels: list[tuple[int, int]] = []

    def factory(state):
        seen_labels.append((state.round, len(state.labels)))
        return GuidancePlan([SVDD(oracle, particles=2)], "oracle", f"round {state.round}")

    loop = DesignLoop(toy_dna_model, oracle, factory, budget=12, candidates=4, seed=1)
    loop.run(rounds=3)
    assert seen_labels == [(0, 0), (1, 4), (2, 8)]
    best = loop.best(3)
    assert [d.objective for d in best] == sorted((d.objective for d in loop.designs()), reverse=True)[:3]
    assert all(isinstance(d, DesignRecord) for d in best)
    hist = loop.history
    assert [r.status for r in hist] == ["done"] * 3
    assert all(r.guidance_oracle_calls > 0 and r.nfe > 0 for r in hist)
    assert hist[-1].best == best[0].objective
    assert loop.designs()[0].guidance.startswith("SVDD(PosteriorMeanValue('gc'), particles=2")
    assert loop.designs()[0].guidance.endswith("[oracle: round 0]")


def test_designs_with_one_key_are_one_design(toy_dna_model):
    counting = Counting()
    loop = _loop(toy_dna_model, counting.oracle, budget=40, candidates=8, key=lambda s: s[:2])
    loop.run(rounds=5)
    keys = [d.key for d in loop.designs()]
    assert len(keys) == len(set(keys)) and all(d.key == d.sequence[:2] for d in loop.designs())
    assert len(counting.seen) == len(keys) <= 16  # 16 two-letter prefixes: each paid once


def test_selfies_spellings_of_one_molecule_share_a_key():
    from seqguide.alphabet import Alphabet
    from seqguide.design.keys import design_key, selfies_key

    assert selfies_key("[C][O]") == selfies_key("[O][C]") == "CO"
    assert selfies_key("[C][C][=O]") == selfies_key("[O][=C][C]") == "CC=O"
    key = design_key(Alphabet.selfies_from_data(["[C][O]", "[C][C][=O]"]))
    assert key is selfies_key and design_key(DNA) is None


def test_user_sequences_can_be_evaluated_directly(toy_dna_model):
    counting = Counting()
    loop = _loop(toy_dna_model, counting.oracle, budget=3)
    written = loop.evaluate(["ACGTA", "GGGGG", "ACGTA", "CCCCC", "TTTTT"])
    assert [d.sequence for d in written] == ["ACGTA", "GGGGG", "CCCCC"]  # deduped, cut at the budget
    assert loop.evaluate(["GGGGG"]) == []  # already scored: free, nothing new
    assert counting.seen == ["ACGTA", "GGGGG", "CCCCC"]


# --------------------------------------------------------------------------------------------- store
def _record(seq: str, idx: int, value: float = 0.5) -> DesignRecord:
    return DesignRecord(sequence=seq, round=0, idx=idx, objective=value, valid=True, components={"gc": value})


def test_store_batches_are_atomic_with_their_round_counters(tmp_path):
    store = DesignStore(tmp_path / "s.sqlite")
    run = store.create_run(name="t", config={}, seed=0, budget=10)
    store.begin_round(run, 0, seed=1)
    assert store.add_designs(run, [_record("AAAA", 0), _record("CCCC", 1)]) == 2
    with pytest.raises(sqlite3.IntegrityError):
        store.add_designs(run, [_record("GGGG", 2), _record("AAAA", 3)])  # AAAA again: the whole batch fails
    assert store.sequences(run) == {"AAAA", "CCCC"}
    assert store.round(run, 0).n_scored == 2 and store.budget_used(run) == 2
    mode = sqlite3.connect(tmp_path / "s.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_store_round_trips_records_and_nan(tmp_path):
    with DesignStore(tmp_path / "s.sqlite") as store:
        run = store.create_run(name="t", config={"a": 1}, seed=0, budget=10, alphabet=DNA.to_dict())
        store.begin_round(run, 0, seed=1)
        bad = DesignRecord(sequence="ACGX", round=0, idx=1, objective=float("nan"), valid=False,
                           reason="illegal character", charged=False, components={"gc": float("nan")})
        store.add_designs(run, [_record("ACGT", 0, 0.5), bad])
    with DesignStore(tmp_path / "s.sqlite", readonly=True) as store:
        got = store.designs(run)
        assert store.get_run(run)["config"] == {"a": 1}
    assert [(d.sequence, d.valid, d.charged, d.objective, d.components) for d in got] == [
        ("ACGT", True, True, 0.5, {"gc": 0.5}), ("ACGX", False, False, None, {"gc": None})]
    assert got[1].reason == "illegal character" and got[0].scored_at


def test_objective_combines_components_and_keeps_each_value():
    gc = get_oracle("gc")
    at = from_function(lambda xs: [1 - v for v in _gc(xs)], name="at", alphabet=DNA)
    obj = Objective([Component("gc", gc, 2.0), Component("at", at, 1.0), Component("gc_seen", gc, 0.0)])
    ev = obj.evaluate(["GGCC", "ACGT", "AXGT", ""])
    np.testing.assert_allclose(ev.objective[:2], [2.0, 1.5])
    np.testing.assert_allclose(ev.components["gc_seen"][:2], [1.0, 0.5])
    assert ev.valid.tolist() == [True, True, False, False]
    assert ev.charged.tolist() == [True, True, False, False]  # unscorable input is never sent to the oracles
    assert ev.errors[3] == "empty sequence" and "illegal character 'X'" in ev.errors[2]
    result = obj(["GGCC"])  # as an Oracle: the combined value
    assert isinstance(result, OracleResult) and result.values.tolist() == [2.0]


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_value_sources_held_out_spearman_is_stored_per_round(toy_dna_model, sign):
    def factory(state):
        return GuidancePlan([], "custom", predict=lambda seqs: [sign * v for v in _gc(list(seqs))])

    loop = DesignLoop(toy_dna_model, from_function(_gc, name="gc"), factory, budget=40, candidates=10, seed=2)
    loop.run(rounds=2)
    assert [r.value_spearman for r in loop.history] == [pytest.approx(sign), pytest.approx(sign)]
    plain = DesignLoop(toy_dna_model, from_function(_gc, name="gc"), None, budget=10, candidates=10, seed=2)
    plain.run(rounds=1)
    assert plain.history[0].value_spearman is None
