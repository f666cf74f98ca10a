"""design_bio's plan: the new tasks by default, the saturated ones by name; the peptide model's data stay apart
from the objective's classifier."""

from __future__ import annotations

from benchmarks.design_bio import BENCHMARK, SATURATED_TASKS, TASKS, _library
from benchmarks.runner import RunOptions


def test_the_default_plan_holds_only_the_new_tasks():
    tasks = {c.task for c in BENCHMARK.cells(RunOptions())}
    assert tasks == set(TASKS) == {"enhancer", "amp_design"}
    named = {c.task for c in BENCHMARK.cells(RunOptions(tasks=["jaspar_nr3c1"]))}
    assert "jaspar_nr3c1" in named and set(SATURATED_TASKS) - named == {"amp"}


def test_every_method_runs_at_three_budgets_and_five_seeds_on_both_tasks():
    cells = BENCHMARK.cells(RunOptions())
    for method in ("ga", "infill", "infill_ft"):
        for task in TASKS:
            mine = {(c.budget, c.seed) for c in cells if c.method == method and c.task == task}
            assert mine == {(b, s) for b in (1_000, 10_000, 100_000) for s in range(5)}


def test_the_peptide_library_never_met_the_classifier():
    from oracles.peptide_design import amp_halves, train_holdout_classifier

    design = amp_halves()["design"][0]
    prefixes = {s[:20] for s in design}
    library = _library("amp_design")
    assert library and set(library) <= prefixes and all(len(s) == 20 for s in library)
    seen = train_holdout_classifier(0).train_set
    assert not seen & set(design)


def test_the_enhancer_library_is_what_the_ga_and_the_model_share():
    lib = _library("enhancer")
    assert len(lib) == 2000 and all(len(s) == 80 for s in lib)
    f = TASKS["enhancer"].objective()
    assert f(list(lib[:200])).values.max() < 0.8  # the library alone is far from the optimum
