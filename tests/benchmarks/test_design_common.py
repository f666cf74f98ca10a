"""Shared pieces of the design benchmarks: sample pools survive kills, metrics refuse over-budget runs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.design_common import MethodResult, SamplePool, history_metrics
from seqguide.baselines import DesignHistory


def _draw(calls):
    def draw(n, seed):
        calls.append(seed)
        rng = np.random.default_rng(seed)
        return [f"s{int(x)}" for x in rng.integers(0, 50, size=n)]  # duplicates on purpose
    return draw


def test_pool_is_the_same_after_a_kill_and_take_unique_reaches_n_distinct(tmp_path):
    calls: list[int] = []
    path = tmp_path / "pool.jsonl"
    full, _, _ = SamplePool(path, _draw(calls), seed=3, chunk=10).take(40)
    assert len(full) == 40 and len(calls) == 4
    text = path.read_text()
    path.write_text(text[: len(text) - 25])  # the last chunk cut short
    again, _, _ = SamplePool(path, _draw(calls), seed=3, chunk=10).take(40)
    assert again == full and len(calls) == 5  # only the torn chunk was redrawn, with the same seed
    assert all(json.loads(line)["chunk"] == i for i, line in enumerate(path.read_text().splitlines()))
    uniq, cpu, wall = SamplePool(path, _draw(calls), seed=3, chunk=10).take_unique(30)
    assert len(set(uniq)) == 30 and len(set(uniq[:-1])) == 29 and cpu >= 0 and wall >= 0
    other, _, _ = SamplePool(tmp_path / "other.jsonl", _draw([]), seed=4, chunk=10).take(40)
    assert other != full


def test_history_metrics_columns_and_budget_check():
    h = DesignHistory(["a", "b", "c"], np.array([0.1, np.nan, 1.0]))
    m = history_metrics(MethodResult(h, 0.3, 0.5), 3, optimum=1.0, pmo_k=2)
    assert m["best"] == 1.0 and m["solved"] and m["calls_to_solve"] == 3 and m["feasible"] == pytest.approx(2 / 3)
    assert m["cpu_us_per_call"] == pytest.approx(1e5) and m["best_design"] == "c"
    assert m["curve"]["calls"][-1] == 3 and m["curve"]["best"][-1] == 1.0
    assert "top2_auc" in m and m["top2_mean"] == pytest.approx(0.55)
    with pytest.raises(RuntimeError, match="paid 3 calls with a budget of 2"):
        history_metrics(MethodResult(h, 0.0, 0.0), 2)
