"""Wrappers: Cached, Budgeted, Parallel, Timeout, Negate/Transform, Composite."""

from __future__ import annotations

import pickle
import sqlite3

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle_helpers import CountingOracle, CrashOn, Sleepy, random_dna

from oracles import (
    Budgeted,
    BudgetExhausted,
    Cached,
    Composite,
    Constraint,
    Negate,
    Oracle,
    OracleResult,
    Parallel,
    Timeout,
    Transform,
    from_function,
)
from oracles.dna import GCContent, Homopolymer, RestrictionSites
from seqguide.alphabet import DNA

# ------------------------------------------------------------------------------------ base


def test_base_isolates_a_crashing_item_and_keeps_the_rest():
    res = CrashOn()(["ACGT", "ATTTTA", "GG", "", "AXG"])
    assert res.valid.tolist() == [True, False, True, False, False]
    assert res.values[[0, 2]].tolist() == [4.0, 2.0]
    assert "boom" in res.errors[1]
    assert res.errors[3] == "empty sequence"
    assert "illegal character 'X'" in res.errors[4]


def test_result_transient_flags_survive_take_and_concat():
    a = OracleResult.invalid(2, "timed out", transient=True)
    b = OracleResult(np.array([1.0]), np.array([True]))
    both = OracleResult.concat([a, b])
    assert both.transient.tolist() == [True, True, False]
    assert both.take([2, 0]).transient.tolist() == [False, True]


def test_keys_fold_case_for_case_insensitive_alphabets():
    assert GCContent().key("acgt") == GCContent().key("ACGT")
    assert from_function(lambda xs: [0.0] * len(xs), name="f").key("acgt") == "acgt"


# ---------------------------------------------------------------------------------- Cached


def test_cached_never_pays_twice_and_dedupes_within_a_batch():
    inner = CountingOracle()
    oracle = Cached(inner)
    first = oracle(["ACGT", "GGCC", "acgt", "ACGT"])
    second = oracle(["GGCC", "ACGT", "TTTT"])
    assert first.values.tolist() == [0.5, 1.0, 0.5, 0.5]
    assert second.values.tolist() == [1.0, 0.5, 0.0]
    assert inner.calls == {"ACGT": 1, "GGCC": 1, "TTTT": 1}
    assert oracle.hits == 4 and oracle.misses == 3


def test_cached_does_not_store_invalid_inputs_or_transient_failures():
    flaky_calls = []

    def flaky(xs):
        flaky_calls.append(list(xs))
        if len(flaky_calls) == 1:
            return OracleResult.invalid(len(xs), "tool down", transient=True)
        return [1.0] * len(xs)

    oracle = Cached(from_function(flaky, name="flaky", alphabet=DNA))
    assert not oracle(["ACGT", "AXGT"]).valid.any()
    assert oracle(["ACGT"]).valid.all()  # retried, not served the stored failure
    assert flaky_calls == [["ACGT"], ["ACGT"]]  # the illegal input never reached the oracle


def test_cached_keeps_deterministic_failures():
    calls = []

    def half(xs):
        calls.extend(xs)
        return [np.nan if x.startswith("T") else 1.0 for x in xs]

    oracle = Cached(from_function(half, name="half", alphabet=DNA))
    r1 = oracle(["TACG", "ACGT"])
    r2 = oracle(["TACG"])
    assert r1.valid.tolist() == [False, True] and not r2.valid[0]
    assert r2.errors[0] == r1.errors[0]
    assert calls == ["TACG", "ACGT"]


def test_cached_sqlite_persists_across_instances(tmp_path):
    db = tmp_path / "cache" / "scores.sqlite"
    inner = CountingOracle()
    Cached(inner, path=db)(["ACGT", "GGGG"])
    again = CountingOracle()
    res = Cached(again, path=db)(["GGGG", "ACGT", "AAAA"])
    assert res.values.tolist() == [1.0, 0.5, 0.0]
    assert again.calls == {"AAAA": 1}
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM oracle_cache").fetchone()[0] == 3


def test_cached_multi_objective_round_trip_through_sqlite(tmp_path):
    def two(xs):
        return [[len(x), np.nan if x == "AAAA" else 1.0] for x in xs]

    oracle = from_function(two, name="two", alphabet=DNA, n_objectives=2)
    Cached(oracle, path=tmp_path / "c.sqlite")(["ACG", "AAAA"])
    res = Cached(oracle, path=tmp_path / "c.sqlite")(["ACG", "AAAA"])
    assert res.values.shape == (2, 2)
    assert res.values[0].tolist() == [3.0, 1.0]
    assert res.valid.tolist() == [True, False]


def test_cached_namespaces_keep_differently_configured_oracles_apart(tmp_path):
    db = tmp_path / "shared.sqlite"
    a = Cached(GCContent(), path=db)
    b = Cached(GCContent(target=0.5), path=db)
    assert a(["GGGG"]).values[0] == 1.0
    assert b(["GGGG"]).values[0] == -0.5


# -------------------------------------------------------------------------------- Budgeted


def test_budgeted_raises_before_spending():
    inner = CountingOracle()
    oracle = Budgeted(inner, budget=3)
    oracle(["AAAA", "CCCC"])
    with pytest.raises(BudgetExhausted, match="needs 2 new evaluations but only 1"):
        oracle(["GGGG", "TTTT"])
    assert inner.total == 2 and oracle.used == 2 and oracle.remaining == 1


def test_budgeted_counts_duplicates_once_and_invalid_inputs_free():
    inner = CountingOracle()
    oracle = Budgeted(inner, budget=2)
    res = oracle(["ACGT", "acgt", "ACGT", "", "AXA", "GGGG"])
    assert res.valid.tolist() == [True, True, True, False, False, True]
    assert oracle.used == 2 and inner.calls == {"ACGT": 1, "GGGG": 1}


def test_budgeted_partial_fills_the_budget_exactly():
    inner = CountingOracle()
    oracle = Budgeted(inner, budget=3)
    oracle(["AAAA"])
    res = oracle.call_partial(["CCCC", "GGGG", "CCCC", "TTTT", "ACAC"])
    assert res.valid.tolist() == [True, True, True, False, False]
    assert res.errors[3] == "budget exhausted" and res.transient[3]
    assert oracle.used == 3 and oracle.remaining == 0 and inner.total == 3
    with pytest.raises(BudgetExhausted):
        oracle(["TTTT"])
    flagged = Budgeted(CountingOracle(), budget=1, partial=True)
    assert flagged(["AAAA", "CCCC"]).valid.tolist() == [True, False]


def test_budgeted_rejects_bad_budgets():
    for bad in (-1, 2.5, "10", True):
        with pytest.raises(ValueError, match="budget must be a non-negative integer"):
            Budgeted(CountingOracle(), budget=bad)


def test_budget_skips_cache_hits_in_either_order():
    inner = CountingOracle()
    inside = Budgeted(Cached(inner), budget=2)
    inside(["AAAA", "CCCC"])
    res = inside(["CCCC", "AAAA"])  # all cache hits: free even though the budget is spent
    assert res.valid.all() and inside.used == 2 and inner.total == 2


class _BatchCrash(CountingOracle):
    """Records every item it is handed (what a paid service would bill), and raises for any batch of more than
    one item: the base class then retries the batch item by item."""

    name = "batch_crash"

    def _score(self, xs):
        super()._score(xs)
        if len(xs) > 1:
            raise RuntimeError("the service rejects batches")
        return np.array([float(len(xs[0]))])


@pytest.mark.parametrize("with_cache", [False, True])
def test_budgeted_counts_what_the_oracle_received_when_a_batch_is_retried_item_by_item(with_cache):
    inner = _BatchCrash()
    budgeted = Budgeted(Cached(inner) if with_cache else inner, budget=100)
    res = budgeted(["AAAA", "CCCC", "GGGG", "TTTT"])
    assert res.valid.all()
    assert inner.total == 8  # the failed batch of 4, then the 4 retries
    assert budgeted.used == inner.total
    budgeted(["AAAA", "ACGT"])  # with a cache: one free hit and one item sent alone; without: batch + retries
    assert budgeted.used == inner.total == (9 if with_cache else 12)


@pytest.mark.slow
def test_budgeted_counts_the_receipts_of_worker_processes():
    inner = _BatchCrash()
    pool = Parallel(inner, workers=2, chunk_size=2)
    budgeted = Budgeted(pool, budget=100)
    with pool:
        res = budgeted(["AAAA", "CCCC", "GGGG", "TTTT"])
    assert res.valid.all() and inner.total == 0  # the parent's copy scored nothing itself ...
    assert budgeted.used == 8  # ... but each worker reported its chunk of 2 plus the 2 retries


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@pytest.mark.slow
@given(
    batches=st.lists(st.lists(st.integers(0, 11), min_size=0, max_size=9), min_size=1, max_size=12),
    budget=st.integers(0, 10),
    partial=st.booleans(),
    cache_outside=st.booleans(),
)
def test_property_cached_budgeted_never_pays_twice_nor_over_budget(batches, budget, partial, cache_outside):
    pool = random_dna(12, 6, seed=1)
    inner = CountingOracle()
    if cache_outside:
        budgeted = Budgeted(inner, budget=budget, partial=partial)
        stack: Oracle = Cached(budgeted)
    else:
        budgeted = Budgeted(Cached(inner), budget=budget, partial=partial)
        stack = budgeted
    scored: set[str] = set()
    for batch in batches:
        xs = [pool[i] for i in batch]
        before = inner.total
        try:
            res = stack(xs)
        except BudgetExhausted:
            assert not partial
            assert inner.total == before  # raised before spending anything
            continue
        for x, ok, err in zip(xs, res.valid, res.errors):
            assert ok == (x in scored or x in inner.calls)
            if ok:
                assert res.values[xs.index(x)] == pytest.approx((x.count("G") + x.count("C")) / len(x))
                scored.add(x)
            else:
                assert err == "budget exhausted"
    assert max(inner.calls.values(), default=0) <= 1  # never paid twice for one sequence
    assert inner.total == budgeted.used <= budget  # exact accounting, never over budget


# -------------------------------------------------------------------------------- Parallel


def test_parallel_preserves_order_and_equals_serial():
    xs = [*random_dna(97, 30, seed=3), "", "ACXT"]
    serial = GCContent()(xs)
    with Parallel(GCContent(), workers=2, chunk_size=7) as par:
        parallel = par(xs)
        again = par(list(reversed(xs)))
    np.testing.assert_array_equal(parallel.values, serial.values)
    assert parallel.errors == serial.errors
    np.testing.assert_array_equal(again.values, serial.values[::-1])


def test_parallel_loses_only_the_crashing_item():
    xs = ["ACGT", "GGTTTTG", "CCCCC", "A"]
    with Parallel(CrashOn(), workers=2, chunk_size=2) as par:
        res = par(xs)
    assert res.valid.tolist() == [True, False, True, True]
    assert res.values[[0, 2, 3]].tolist() == [4.0, 5.0, 1.0]


def test_parallel_and_timeout_refuse_stateful_inner_layers():
    with pytest.raises(ValueError, match="cannot wrap Budgeted"):
        Parallel(Budgeted(GCContent(), budget=3))
    with pytest.raises(ValueError, match="cannot wrap Cached"):
        Timeout(Negate(Cached(GCContent())), seconds=1)


def test_parallel_pickles_without_its_pool():
    par = Parallel(GCContent(), workers=2)
    par(["ACGT", "GG"])
    clone = pickle.loads(pickle.dumps(par))
    assert clone._pool is None and clone(["GG"]).values[0] == 1.0
    par.close()


# --------------------------------------------------------------------------------- Timeout


def test_timeout_batch_mode_marks_the_whole_slow_batch_invalid():
    oracle = Timeout(Sleepy(seconds=10), seconds=0.5)
    res = oracle(["ACGT", "GGGGA", ""])
    assert res.valid.tolist() == [False, False, False]
    assert res.errors[0].startswith("sleepy: timed out after 0.5 s") and res.transient[:2].all()
    assert res.errors[2] == "empty sequence"
    assert oracle(["ACGT", "AC"]).values.tolist() == [4.0, 2.0]


def test_timeout_per_item_loses_only_the_slow_item():
    oracle = Timeout(Sleepy(seconds=10), seconds=0.5, per_item=True)
    res = oracle(["ACGT", "GGGGA", "CCA", "GGGGT", "T"])
    assert res.valid.tolist() == [True, False, True, False, True]
    assert res.values[[0, 2, 4]].tolist() == [4.0, 3.0, 1.0]
    assert "timed out" in res.errors[1] and "timed out" in res.errors[3]


def test_parallel_of_timeout_times_out_per_worker_and_the_reverse_is_refused():
    with Parallel(Timeout(Sleepy(seconds=10), seconds=0.5, per_item=True), workers=2, chunk_size=2) as par:
        res = par(["ACGT", "GGGGA", "CCA", "GGGGT", "T"])
    assert res.valid.tolist() == [True, False, True, False, True]
    with pytest.raises(ValueError, match=r"Parallel\(Timeout\(oracle"):
        Timeout(Parallel(Sleepy()), seconds=1)


def test_timeout_result_is_not_cached():
    inner = Timeout(Sleepy(seconds=10), seconds=0.3)
    oracle = Cached(inner)
    assert not oracle(["GGGGA"]).valid[0]
    inner.inner.seconds = 0.0  # the tool got faster: a retry must reach it
    assert oracle(["GGGGA"]).values[0] == 5.0


# --------------------------------------------------------------------- Transform / Negate


def test_negate_flips_values_direction_and_optimum():
    neg = Negate(GCContent())
    res = neg(["GGCC", "ATAT", "AXA"])
    assert res.values[:2].tolist() == [-1.0, -0.0]
    assert not res.valid[2]
    assert neg.maximize is False and neg.optimal_value == -1.0 and neg.name == "gc"
    assert isinstance(neg, Oracle) and pickle.loads(pickle.dumps(neg))(["GG"]).values[0] == -1.0


def test_transform_applies_to_valid_rows_and_rejects_non_finite():
    logged = Transform(GCContent(), np.log, name="log_gc")
    res = logged(["GGAA", "ATAT"])
    assert res.values[0] == pytest.approx(np.log(0.5))
    assert not res.valid[1] and "non-finite" in res.errors[1]
    assert logged.name == "log_gc" and logged.optimal_value == 0.0


def test_wrappers_forward_metadata_and_extras():
    from oracles.ehrlich import Ehrlich

    e = Ehrlich(num_states=4, dim=8, num_motifs=2, motif_length=2)
    stack = Cached(Budgeted(e, budget=5))
    assert (stack.name, stack.alphabet, stack.maximize, stack.optimal_value, stack.n_objectives) == (
        "ehrlich", e.alphabet, True, 1.0, 1)
    assert stack.initial_solution() == e.initial_solution()
    assert stack(e.alphabet.encode([e.optimal_solution()])).values[0] == 1.0  # token ids decode too


# ------------------------------------------------------------------------------- Composite


def _length(xs):
    return [float(len(x)) for x in xs]


def test_composite_weighted_sum_product_geometric_and_stack():
    gc = GCContent()
    ln = from_function(_length, name="length", alphabet=DNA)
    xs = ["GGAA", "GGGGCC"]
    assert Composite([gc, ln], weights=[2.0, 0.5])(xs).values.tolist() == [3.0, 5.0]
    assert Composite([gc, ln], mode="product")(xs).values.tolist() == [2.0, 6.0]
    geo = Composite([gc, ln], weights=[1.0, 3.0], mode="geometric")(xs).values
    np.testing.assert_allclose(geo, [0.5**0.25 * 4**0.75, 6**0.75])
    stacked = Composite([gc, ln], mode="stack")
    assert stacked.n_objectives == 2 and stacked(xs).values.tolist() == [[0.5, 4.0], [1.0, 6.0]]


def test_composite_constraints_invalidate_with_reason_and_skip_objectives():
    inner = CountingOracle()
    comp = Composite([inner], constraints=[RestrictionSites(enzymes=["EcoRI", "BamHI"]),
                                           Constraint(Homopolymer(), upper=4)])
    xs = ["ACGAATTCAC", "ACGGATCCAC", "ACAAAAAGTC", "ACGTACGTAC", "ACGTAXGTAC"]
    res = comp(xs)
    assert res.valid.tolist() == [False, False, False, True, False]
    assert "restriction_sites violated" in res.errors[0] and "EcoRI" in res.errors[0]
    assert "BamHI" in res.errors[1]
    assert "homopolymer violated: value 5 > upper bound 4" in res.errors[2] and "5 x A" in res.errors[2]
    assert "illegal character" in res.errors[4]
    assert set(inner.calls) == {"ACGTACGTAC"}  # objectives never paid for rejected designs


def test_composite_reports_which_component_failed():
    comp = Composite([GCContent(), CrashOn()])
    res = comp(["ACGT", "ATTTTA"])
    assert res.valid.tolist() == [True, False]
    assert res.errors[1].startswith("crash_on: crash_on failed: RuntimeError: boom")


def test_composite_argument_errors():
    with pytest.raises(ValueError, match="at least one"):
        Composite([])
    with pytest.raises(ValueError, match="mode must be one of"):
        Composite([GCContent()], mode="max")
    with pytest.raises(ValueError, match="2 weights for 1 oracles"):
        Composite([GCContent()], weights=[1, 2])
    with pytest.raises(ValueError, match="give lower and/or upper"):
        Constraint(GCContent())
    assert Constraint(Cached(RestrictionSites())).upper == 0.0  # bounds pass through plain wrappers
    with pytest.raises(ValueError, match="give lower and/or upper"):
        Constraint(Negate(RestrictionSites()))  # ... but not through a value transform


def test_design_md_stack_cached_budgeted_parallel():
    stack = Cached(Budgeted(Parallel(GCContent(), workers=2), budget=5))
    first = stack(["GGCC", "ATAT", "GCAT", "GGGA", "GGCC"])
    assert first.values.tolist() == [1.0, 0.0, 0.5, 0.75, 1.0]
    assert stack.inner.used == 4
    second = stack(["ATAT", "CCCC", "GGCC"])
    assert second.values.tolist() == [0.0, 1.0, 1.0] and stack.inner.used == 5 and stack.inner.remaining == 0
    with pytest.raises(BudgetExhausted):
        stack(["TTTT"])
    assert stack(["GCAT"]).values[0] == 0.5  # cached: still free
    stack.inner.inner.close()


def test_cached_keys_image_tensors_by_content():
    import torch

    calls = []

    def brightness(xs):
        calls.append(len(xs))
        return [float(x.mean()) for x in xs]

    oracle = Cached(from_function(brightness, name="brightness"))
    a, b = torch.zeros(3, 4, 4), torch.ones(3, 4, 4)
    first = oracle(torch.stack([a, b, a.clone()]))
    second = oracle([b.clone(), torch.full((3, 4, 4), 0.5)])
    assert first.values.tolist() == [0.0, 1.0, 0.0] and second.values.tolist() == [1.0, 0.5]
    assert calls == [2, 1]  # equal tensors are one key
