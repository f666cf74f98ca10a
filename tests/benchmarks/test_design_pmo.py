"""design_pmo's fidelity to PMO: invalid molecules free, 5 seeds, the 16/4 task split with PMO's published AUCs,
cells that go stale when their code changes; and design_ehrlich's GA starting from the model's training data."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

from benchmarks import design_pmo as pmo
from benchmarks.cells import Cell, CellRecord, _module_digest, code_digest
from benchmarks.runner import RunOptions
from oracles.guacamol import PMO_TASKS
from seqguide.baselines import BudgetedObjective


def test_unreadable_molecules_are_free_and_unrecorded():
    objective = pmo.pmo_objective("qed", budget=3)
    values = objective.values(["CCO", "C1CC", "not a smiles", "CCO", "c1ccccc1", "CCN", "CCC"])
    assert objective.used == 3 and objective.free_rejected == 2
    assert np.isnan(values[[1, 2, 6]]).all() and not np.isnan(values[[0, 3, 4, 5]]).any()  # CCC: over budget
    assert objective.history.designs == ["CCO", "c1ccccc1", "CCN"] and objective.history.valid.all()
    # without free_invalid an unreadable molecule costs a call, as before
    charged = BudgetedObjective(pmo.get_oracle("qed", input_format="smiles"), budget=3)
    charged.values(["CCO", "C1CC"])
    assert charged.used == 2 and charged.free_rejected == 0
    selfies = pmo.pmo_objective("qed", budget=2, input_format="selfies")
    selfies.values(["[C][C][O]", "[C][Branch1]"])  # the second decodes to a valid molecule in SELFIES
    assert selfies.used == 2 and selfies.free_rejected == 0


def test_default_plan_runs_every_method_on_every_task_with_5_seeds():
    cells = pmo.BENCHMARK.cells(RunOptions())
    seeds: dict[tuple[str, str], set[int]] = {}
    for c in cells:
        seeds.setdefault((c.method, c.task), set()).add(c.seed)
        assert c.code and "oracles.guacamol" in c.code and c.budget == pmo.BUDGET
    assert {m for m, _ in seeds} == set(pmo.METHODS) and {t for _, t in seeds} == set(PMO_TASKS)
    assert all(len(s) >= 5 for s in seeds.values())
    assert pmo.METHODS["graph_ga"].settings["patience"] == 5


def test_every_method_names_its_code(monkeypatch):
    for name, spec in pmo.METHODS.items():
        assert spec.code, name
        code_digest(spec.code)  # importable names
    bare = pmo.MethodSpec(lambda *a: None, {}, label="no code")
    monkeypatch.setitem(pmo.METHODS, "bare", bare)
    with pytest.raises(ValueError, match="method 'bare' names no code modules"):
        pmo.BENCHMARK.cells(RunOptions(quick=True))


def test_published_numbers_sum_to_pmos_16_task_sums():
    pub = pmo.published()
    assert set(pub) == set(PMO_TASKS) and len(pmo.COMPARABLE) == 16 and len(pmo.TDC_SCORED) == 4
    assert set(pmo.COMPARABLE) | set(pmo.TDC_SCORED) == set(PMO_TASKS)
    reinvent = sum(pub[t]["reinvent"] for t in pmo.COMPARABLE)
    graph_ga = sum(pub[t]["graph_ga"] for t in pmo.COMPARABLE)
    assert reinvent == pytest.approx(9.726, abs=2e-3) and graph_ga == pytest.approx(9.083, abs=2e-3)
    assert pub["qed"]["reinvent"] == pytest.approx(0.941, abs=1e-3)


def test_published_file_errors_name_the_task(tmp_path):
    bad = tmp_path / "p.csv"
    bad.write_text("# source\ntask,comparable,reinvent,reinvent_std,graph_ga,graph_ga_std\nnope,1,0.1,0,0.1,0\n")
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        pmo.published(bad)
    bad.write_text("task,comparable,reinvent,reinvent_std,graph_ga,graph_ga_std\nzaleplon_mpo,1,0.1,0,0.1,0\n")
    with pytest.raises(ValueError, match="'zaleplon_mpo' has the wrong 'comparable' flag"):
        pmo.published(bad)


def _record(method: str, task: str, seed: int, auc: float) -> CellRecord:
    result = {"top10_auc": auc, "top10_mean": auc, "best": auc, "calls": 10_000, "feasible": 1.0,
              "cpu_us_per_call": 1.0}
    return CellRecord(Cell(method, task, seed, 10_000), result, {"seconds": 1.0})


def test_summary_sums_the_16_and_the_4_separately_beside_the_published_sums():
    pub = pmo.published()
    records = [_record("ga", t, s, 0.5 + 0.1 * s) for t in PMO_TASKS for s in (0, 1)]
    records += [_record("other", t, 0, 0.25) for t in pmo.COMPARABLE]  # no TDC-scored task
    rows = {(r["tasks"], r["method"]): r for r in pmo._sum_rows(records, pub)}
    assert rows[("16 comparable", "ga")]["sum_top10_auc"] == pytest.approx(16 * 0.55)
    assert rows[("4 TDC-scored", "ga")]["sum_top10_auc"] == pytest.approx(4 * 0.55)
    assert rows[("16 comparable", "other")]["sum_top10_auc"] == pytest.approx(4.0)
    assert np.isnan(rows[("4 TDC-scored", "other")]["sum_top10_auc"])  # no seed has those tasks
    assert rows[("16 comparable", "ga")]["pmo_reinvent"] == pytest.approx(sum(pub[t]["reinvent"]
                                                                                for t in pmo.COMPARABLE))
    assert rows[("4 TDC-scored", "ga")]["pmo_graph_ga"] == pytest.approx(sum(pub[t]["graph_ga"]
                                                                               for t in pmo.TDC_SCORED))
    task_rows = pmo._task_rows(records, pub)
    z = next(r for r in task_rows if r["task"] == "guacamol_zaleplon_mpo")
    assert z["comparable"] is False and z["pmo_reinvent"] == pub["guacamol_zaleplon_mpo"]["reinvent"]
    for name in ("isomers_c7h8n2o2", "isomers_c9h10n2o2pf2cl", "zaleplon_mpo", "sitagliptin_mpo", "valsartan_smarts"):
        assert name in pmo._NOTES


def test_cell_digest_follows_the_code_it_names(tmp_path, monkeypatch):
    mod = tmp_path / "pmo_probe_mod.py"
    mod.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    cell = Cell("m", "t", 0, 10, {"a": 1}, code=("pmo_probe_mod",))
    before = cell.digest()
    _module_digest.cache_clear()
    assert Cell("m", "t", 0, 10, {"a": 1}, code=("pmo_probe_mod",)).digest() == before  # same source, same digest
    mod.write_text("X = 2\n")
    _module_digest.cache_clear()
    assert cell.digest() != before
    assert Cell("m", "t", 0, 10, {"a": 1}).digest() != cell.digest()
    with pytest.raises(ModuleNotFoundError, match="no module named 'no_such_mod_xyz'"):
        code_digest(("no_such_mod_xyz",))
    sys.modules.pop("pmo_probe_mod", None)


def test_a_stale_code_cell_is_recomputed(tmp_path, monkeypatch):
    from benchmarks.runner import CellBenchmark, Report, RunContext, _run_cells

    mod = tmp_path / "pmo_probe_two.py"
    mod.write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()

    class Probe(CellBenchmark):
        name = "probe"
        computed = 0

        def cells(self, options):
            return [Cell("m", "t", 0, 1, {}, code=("pmo_probe_two",))]

        def run_cell(self, cell, ctx):
            Probe.computed += 1
            return {"v": 1}

        def report(self, records, ctx):
            return Report([r.row() for r in records])

    def ctx():
        return RunContext("probe", tmp_path / "out", tmp_path / "work", RunOptions(progress=False), {})

    _run_cells(Probe(), ctx())
    _run_cells(Probe(), ctx())
    assert Probe.computed == 1
    mod.write_text("X = 2\n")
    _module_digest.cache_clear()
    _run_cells(Probe(), ctx())
    assert Probe.computed == 2


def test_ehrlich_ga_starts_from_the_models_training_samples():
    from benchmarks import design_ehrlich as de

    task = de.TASKS["ehrlich_v32_L32_c4_k4"]
    start = de.dmp_samples(task, 0)
    assert len(start) == 2000 and len(set(start)) > 1000
    result = de.METHODS["ga"].run(task, 300, 0, None)
    first = result.history.designs[:100]
    assert set(first) <= set(start) and len(set(first)) == len(first)
    assert task.oracle(0).initial_solution() not in set(first) or len(set(first)) > 1
    assert de.METHODS["ga"].settings["start"].startswith("the 2,000 DMP samples")
