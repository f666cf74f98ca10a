"""The benchmark runner: list, run a tiny registered benchmark, resume skips finished cells."""

from __future__ import annotations

import json
import types
from typing import Any

import pytest

from benchmarks.registry import BENCHMARKS
from benchmarks.runner import (
    Cell,
    CellBenchmark,
    CellRecord,
    CellStore,
    Report,
    RunContext,
    RunOptions,
    describe_benchmarks,
    main,
    run_benchmark,
)


class Tiny(CellBenchmark):
    """A benchmark whose cells are cheap arithmetic; counts the cells it computes and can fail on demand."""

    name = "tiny"
    title = "Tiny test benchmark"
    default_seeds = (0, 1, 2)

    def __init__(self, scale: float = 1.0) -> None:
        self.computed: list[str] = []
        self.fail_on: str | None = None
        self.scale = scale

    def cells(self, options: RunOptions) -> list[Cell]:
        budgets = (10,) if options.quick else (10, 100)
        return [Cell(m, "sum", s, b, {"scale": self.scale}) for m in ("a", "b") for b in budgets
                for s in self.seeds(options)]

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict[str, Any]:
        if cell.key == self.fail_on:
            raise RuntimeError("boom")
        self.computed.append(cell.key)
        return {"value": self.scale * (cell.seed + cell.budget), "curve": {"calls": [1, cell.budget],
                                                                          "best": [0.0, 1.0]}}

    def report(self, records: list[CellRecord], ctx: RunContext) -> Report:
        return Report([r.row() for r in records], notes="tiny")


def _run(bench: Tiny, tmp_path, **kw) -> int:
    kw.setdefault("out_dir", tmp_path)
    return run_benchmark("tiny", registry={"tiny": bench}, progress=False, **kw)


def test_run_writes_tables_and_cells(tmp_path):
    bench = Tiny()
    assert _run(bench, tmp_path) == 0
    assert len(bench.computed) == 12
    csv = (tmp_path / "tiny.csv").read_text()
    assert "# Tiny test benchmark" in csv and "# seeds: 0 1 2" in csv and "# device_name:" in csv
    md = (tmp_path / "tiny.md").read_text()
    assert "cells_finished**: 12" in md and "| a | sum | 0 | 10 | 10 |" in md
    lines = (tmp_path / "tiny.cells.jsonl").read_text().splitlines()
    assert len(lines) == 12 and json.loads(lines[0])["meta"]["cpu_seconds"] >= 0


def test_resume_skips_finished_cells_after_a_crash(tmp_path):
    bench = Tiny()
    bench.fail_on = "b/sum/0/10"
    assert _run(bench, tmp_path) == 1  # stops at the failing cell, keeps the 6 before it
    assert len(bench.computed) == 6
    assert len(CellStore(tmp_path / "tiny.cells.jsonl").load()) == 6
    bench.fail_on = None
    bench.computed.clear()
    assert _run(bench, tmp_path) == 0
    assert len(bench.computed) == 6 and bench.computed[0] == "b/sum/0/10"
    bench.computed.clear()
    assert _run(bench, tmp_path) == 0 and bench.computed == []  # everything finished: nothing recomputed


def test_a_torn_last_line_is_recomputed_and_changed_settings_are_stale(tmp_path):
    bench = Tiny()
    _run(bench, tmp_path)
    path = tmp_path / "tiny.cells.jsonl"
    text = path.read_text()
    path.write_text(text[: len(text) - 40])  # a kill in the middle of the last write
    bench.computed.clear()
    _run(bench, tmp_path)
    assert len(bench.computed) == 1
    other = Tiny(scale=2.0)  # same cells, other settings: every cell is stale
    _run(other, tmp_path)
    assert len(other.computed) == 12
    rows = (tmp_path / "tiny.csv").read_text()
    assert ",20.0," in rows or ",20," in rows  # the report shows the recomputed values


def test_filters_compute_only_selected_cells_but_report_all_finished(tmp_path):
    bench = Tiny()
    _run(bench, tmp_path, methods=["a"], budgets=[100])
    assert sorted(bench.computed) == ["a/sum/0/100", "a/sum/1/100", "a/sum/2/100"]
    _run(bench, tmp_path, seeds=[5], quick=True)
    assert bench.computed[-2:] == ["a/sum/5/10", "b/sum/5/10"]
    with pytest.raises(ValueError, match="--methods"):
        _run(bench, tmp_path, methods=["nope"])


def test_dry_run_lists_the_plan_without_computing(tmp_path, capsys):
    bench = Tiny()
    _run(bench, tmp_path, methods=["a"])
    bench.computed.clear()
    _run(bench, tmp_path, dry_run=True)
    out = capsys.readouterr().out
    assert bench.computed == [] and "done" in out and "todo" in out and "b/sum/2/100" in out


def test_script_benchmarks_get_quick_and_seeds_and_extra_arguments():
    seen: list[list[str]] = []
    module = types.ModuleType("fake_bench", "A script benchmark.")
    module.main = lambda argv: seen.append(list(argv)) or 0
    assert main(["run", "fake", "--quick", "--seeds", "3", "4", "--", "--extra", "1"],
                registry={"fake": module}) == 0
    assert seen == [["--quick", "--seeds", "3", "4", "--extra", "1"]]
    assert main(["run", "fake", "--methods", "x"], registry={"fake": module}) == 2  # cell-only flag


def test_list_and_unknown_names(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in BENCHMARKS:
        assert name in out
    kinds = {name: kind for name, kind, _ in describe_benchmarks()}
    assert kinds["value_guidance"] == "script" and kinds["design_ehrlich"] == "cells"
    assert all(k in ("cells", "script") for k in kinds.values())
    assert main(["run", "design_ehrlik"]) == 2
    assert "did you mean design_ehrlich" in capsys.readouterr().err


@pytest.mark.slow
def test_real_benchmark_through_the_cli_resumes(tmp_path, capsys):
    argv = ["run", "design_ehrlich", "--quick", "--methods", "ga", "random", "--budgets", "1000", "--out",
            str(tmp_path), "--no-progress"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    assert "4 to run" not in first and "2 to run" in first
    assert main(argv) == 0
    assert "0 to run" in capsys.readouterr().out
    md = (tmp_path / "design_ehrlich.md").read_text()
    assert "| ehrlich_v32_L32_c4_k4 | ga | 1000 |" in md and (tmp_path / "design_ehrlich_curves.png").is_file()


def test_a_registered_script_benchmark_runs_quick_through_the_runner(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the quick tables go under ./runs/benchmarks/quick
    assert main(["run", "oracle_speed", "--quick"]) == 0
    md = (tmp_path / "runs" / "benchmarks" / "quick" / "oracle_speed.md").read_text()
    assert "100" in md
