"""EliteInfill: masked copies and crossovers of the elites, refilled by the model through DesignLoop."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from oracles import Oracle, OracleResult, from_function
from seqguide.design import DesignLoop, DesignStore, EliteInfill
from seqguide.design.feasibility import PairFeasibility


def _parents(num: int = 6, length: int = 12) -> torch.Tensor:
    return torch.arange(num)[:, None].expand(num, length).clone()  # parent i is all token i


def test_children_are_elites_with_a_few_masked_positions() -> None:
    parents, mask = _parents(), 99
    infill = EliteInfill(edits=(2, 4), window=0.0, crossover=0.0)
    kids = infill.starts(parents, 3000, mask_id=mask, generator=torch.Generator().manual_seed(0))
    masked = kids == mask
    assert masked.sum(1).min() == 2 and masked.sum(1).max() == 4
    kept = [set(row[row != mask].tolist()) for row in kids]
    assert all(len(k) == 1 for k in kept)  # no crossover: every kept token comes from one elite
    assert {next(iter(k)) for k in kept} == set(range(6))  # parents drawn from all the elites
    again = infill.starts(parents, 3000, mask_id=mask, generator=torch.Generator().manual_seed(0))
    assert torch.equal(kids, again)


def test_windows_are_contiguous_and_crossovers_join_two_elites() -> None:
    parents, mask = _parents(), 99
    kids = EliteInfill(edits=(3, 3), window=1.0, crossover=0.0).starts(
        parents, 500, mask_id=mask, generator=torch.Generator().manual_seed(1))
    for row in (kids == mask):
        where = row.nonzero().flatten()
        assert len(where) == 3 and where[-1] - where[0] == 2  # one window of three positions

    crossed = EliteInfill(edits=(1, 1), window=0.0, crossover=1.0).starts(
        parents, 2000, mask_id=mask, generator=torch.Generator().manual_seed(2))
    two = 0
    for row in crossed:
        kept = row[row != mask]
        values = set(kept.tolist())
        assert len(values) <= 2
        two += len(values) == 2
        segments = 1 + int((kept[1:] != kept[:-1]).sum())
        assert segments <= 3  # a two-point crossover: at most three runs
    assert two > 1000  # two distinct elites, most cuts inside the sequence


def test_every_window_start_is_drawn_up_to_the_last_one() -> None:
    """A window of e positions starts uniformly in 0..L-e: with e = 1 every position, the last one included, is
    masked about 1/L of the time; with e = 3 the last window (L-3..L-1) occurs."""
    parents, mask, n, length = _parents(), 99, 6000, 12
    kids = EliteInfill(edits=(1, 1), window=1.0, crossover=0.0).starts(
        parents, n, mask_id=mask, generator=torch.Generator().manual_seed(3))
    freq = (kids == mask).double().mean(0)
    assert torch.all((freq - 1 / length).abs() < 4 * (1 / length * (1 - 1 / length) / n) ** 0.5), freq
    kids = EliteInfill(edits=(3, 3), window=1.0, crossover=0.0).starts(
        parents, 2000, mask_id=mask, generator=torch.Generator().manual_seed(4))
    starts = (kids == mask).double().argmax(1)
    assert set(starts.tolist()) == set(range(length - 2))


def test_a_crossover_partner_is_never_the_first_parent() -> None:
    """With two elites every crossover joins both: the child shows both parents' tokens whenever the cut segment
    holds a kept position and so does the rest (about 90 % of cuts; a partner drawn as the first parent half the
    time would give about 45 %)."""
    parents, mask, n = _parents(num=2), 99, 4000
    kids = EliteInfill(edits=(1, 1), window=0.0, crossover=1.0).starts(
        parents, n, mask_id=mask, generator=torch.Generator().manual_seed(5))
    both = sum(len(set(row[row != mask].tolist())) == 2 for row in kids)
    assert both > 0.7 * n, both / n


def test_bad_settings_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="edits"):
        EliteInfill(edits=(3, 1))
    with pytest.raises(ValueError, match="crossover"):
        EliteInfill(crossover=1.5)


def _g_count(xs: list[str]) -> list[float]:
    return [s.count("G") / len(s) for s in xs]


def test_anchored_rounds_stay_within_the_edits_of_earlier_elites(toy_dna_model) -> None:
    oracle = from_function(_g_count, name="g")
    anchor = EliteInfill(elites=3, edits=(1, 1), window=0.0, crossover=0.0)
    loop = DesignLoop(toy_dna_model, oracle, budget=40, candidates=8, seed=3, anchor=anchor)
    loop.run(rounds=5)
    designs = loop.designs()
    for r in range(1, 5):
        earlier = sorted((d for d in designs if d.round < r and d.valid), key=lambda d: (-d.objective, -d.round,
                                                                                             -d.idx))[:3]
        for d in (d for d in designs if d.round == r):
            distance = min(sum(a != b for a, b in zip(d.sequence, e.sequence)) for e in earlier)
            assert distance == 1, (r, d.sequence)  # one refilled position, a new design
    assert "elite infill" in designs[-1].guidance


def test_a_resumed_anchored_loop_proposes_what_an_uninterrupted_one_does(toy_dna_model, tmp_path) -> None:
    oracle = from_function(_g_count, name="g")
    anchor = EliteInfill(elites=4, edits=(1, 2))
    whole = DesignLoop(toy_dna_model, oracle, budget=40, candidates=8, seed=7, anchor=anchor)
    whole.run(rounds=4)
    store = DesignStore(tmp_path / "run.sqlite")
    first = DesignLoop(toy_dna_model, oracle, store=store, budget=40, candidates=8, seed=7, anchor=anchor)
    first.run(rounds=2)
    first.close()
    resumed = DesignLoop(toy_dna_model, oracle, store=store, budget=40, candidates=8, seed=7, anchor=anchor,
                         run_id=first.run_id)
    resumed.run(rounds=4)
    assert [d.sequence for d in resumed.designs()] == [d.sequence for d in whole.designs()]


def test_a_population_that_stops_improving_restarts_from_the_prior(toy_dna_model) -> None:
    flat = from_function(lambda xs: [1.0] * len(xs), name="flat")  # nothing ever improves on round 0
    anchor = EliteInfill(elites=4, edits=(1, 1), restart_after=16)
    loop = DesignLoop(toy_dna_model, flat, budget=80, candidates=8, seed=1, anchor=anchor)
    loop.run(rounds=6)
    guidance = {d.round: d.guidance for d in loop.designs()}
    assert "elite infill" not in guidance[0]  # the prior
    assert "elite infill" in guidance[1] and "restart" not in guidance[1]
    assert "elite infill" in guidance[2]  # 8 stale calls so far: not yet
    assert "elite infill" not in guidance[3]  # 16 stale calls: back to the prior
    assert "restart 1" in guidance[4]
    never = DesignLoop(toy_dna_model, flat, budget=80, candidates=8, seed=1, anchor=EliteInfill(elites=4,
                                                                                                 edits=(1, 1)))
    never.run(rounds=6)
    assert all("elite infill" in d.guidance for d in never.designs() if d.round > 0)


class _NoGA(Oracle):
    """G-content, but a design with the pair 'GA' is infeasible (charged, permanently invalid)."""

    name = "no_ga"

    def __init__(self) -> None:
        self.seen: list[str] = []

    def _score(self, xs):
        self.seen.extend(xs)
        ok = np.array(["GA" not in s for s in xs])
        values = np.where(ok, [s.count("G") / len(s) for s in xs], np.nan)
        return OracleResult(values, ok, [None if o else "banned pair GA" for o in ok], np.zeros(len(xs), bool))


def test_the_pair_feasibility_filter_stops_paying_for_a_learned_banned_pair(toy_dna_model) -> None:
    oracle = _NoGA()
    loop = DesignLoop(toy_dna_model, oracle, budget=200, candidates=16, seed=0, feasibility=PairFeasibility(2))
    loop.run(rounds=8)
    assert ("G", "A") in loop.feasibility.banned
    feasible = {p for d in loop.designs() if d.valid for p in zip(d.sequence, d.sequence[1:])}
    assert not loop.feasibility.banned & feasible  # a pair a feasible design contains is never banned
    rounds = {d.sequence: d.round for d in loop.designs()}
    late = [s for s in oracle.seen if rounds[s] >= 4]
    assert late and not any("GA" in s for s in late)  # once learned, never paid for again
    assert "pair feasibility:" in loop.designs()[-1].guidance
    plain = _NoGA()
    DesignLoop(toy_dna_model, plain, budget=200, candidates=16, seed=0).run(rounds=8)
    assert sum("GA" in s for s in plain.seen) > 10  # without it the same loop keeps paying for them


def test_nothing_is_banned_before_enough_feasible_designs() -> None:
    f = PairFeasibility(min_count=1, min_feasible=3)
    f.update(infeasible=[list("AABB"), list("ABBA")])  # no feasible design yet: every pair would qualify
    assert f.banned == set() and f.allowed([list("AABB")]) == [True]
    f.update(feasible=[list("ABAB"), list("BABA"), list("ABAB")])
    assert f.banned == {("A", "A"), ("B", "B")}
    with pytest.raises(ValueError, match="min_feasible"):
        PairFeasibility(min_feasible=0)
