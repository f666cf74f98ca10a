"""Issue 23: draws sized to fill a round, validation remembered per string (and keyed by the whole string)."""

from __future__ import annotations

from oracles import from_function
from seqguide.design.candidates import draw_size


def test_draw_size_fills_the_missing_quota_after_duplicates() -> None:
    assert draw_size(250, 1.0) == 275  # 10 % margin
    assert draw_size(100, 0.5) == 220  # half the samples are duplicates: twice as many, plus the margin
    assert draw_size(10, 0.0) == 110  # share floored at 0.1
    assert draw_size(0, 0.7) == 1


def test_validation_is_remembered_per_whole_string() -> None:
    calls = []
    oracle = from_function(lambda xs: [len(x) for x in xs], name="len")
    inner = oracle.validate

    def counting(x):
        calls.append(x)
        return None if set(x) <= set("ACGT") else "bad letter"

    oracle.validate = counting
    assert oracle._validate_items(["ACGT", "ACGX", "ACGT"]) == [None, "bad letter", None]
    assert oracle._validate_items(["ACGX", "ACGT"]) == ["bad letter", None]
    assert calls == ["ACGT", "ACGX"]  # each string validated once
    oracle.validation_cache = False
    assert oracle._validate_item("ACGA") is None and calls[-1] == "ACGA"
    del inner
