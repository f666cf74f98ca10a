"""PMO-style molecule design: area under the top-10 curve at 10,000 oracle calls, GuacaMol tasks.

The protocol of PMO (Gao et al. 2022, "Sample Efficiency Matters: A Benchmark for Practical Molecular
Optimization", arXiv 2206.12411): each method gets 10,000 calls of one task's oracle (every new canonical
SMILES is one call; a molecule met again is free), and is scored by the area under the curve of its top-10
average against calls, normalised to [0, 1] (:func:`seqguide.baselines.top_k_auc`); the headline is the
sum over tasks. The tasks are PMO's RDKit-only ones (its 23 oracles minus the DRD2, GSK3B and JNK3
classifiers, whose model files are downloads): 19 GuacaMol tasks from :mod:`oracles.guacamol` plus QED.

Methods:

* ``graph_ga``: :class:`seqguide.baselines.GraphGA` (Jensen 2019) with PMO's setting (population 120,
  70 children per generation, mutation rate 0.067), the initial population drawn from the MOSES training split;
* ``best_of_n``: unguided samples of a masked-diffusion model trained on MOSES molecules as SELFIES (the
  ``moses`` preset), decoded to canonical SMILES; one pool of 10,000 distinct samples per seed, scored by
  every task.

PMO's ``screening`` baseline (random library molecules) is ``Screening(library_proposal(moses_smiles()))``;
it is not in the default plan to keep the run short. Seeds 0 and 1 for the GA and seed 0 for best-of-N (PMO
uses 5): a GA run of 10,000 calls takes ~30 CPU-seconds per task, and the shared 2-core machine gave a run
about an eighth of a core.

Adding a method: write ``run(task, budget, seed, ctx) -> MethodResult`` (score SMILES through
``BudgetedObjective(get_oracle(task, input_format="smiles"), budget=budget)``) and add it to :data:`METHODS`.
"""

from __future__ import annotations

import functools
from typing import Any

from benchmarks.design_common import (
    INFILL_LOOP,
    MethodResult,
    MethodSpec,
    SamplePool,
    Stopwatch,
    cached_model,
    history_metrics,
    method_grid,
    run_infill,
    settings_hash,
)
from benchmarks.reporting import group_records, mean_sem, plot_curves
from benchmarks.runner import Cell, CellBenchmark, CellRecord, Report, RunContext, RunOptions
from oracles import get_oracle
from oracles.guacamol import PMO_TASKS
from seqguide.baselines import BudgetedObjective, GraphGA, Screening, library_proposal

__all__ = ["BENCHMARK", "BUDGET", "METHODS", "RNN_PRIOR", "DesignPMO", "moses_model", "moses_pool", "moses_rnn_prior",
           "moses_smiles"]

BUDGET = 10_000
QUICK_BUDGET = 1_000
QUICK_TASKS = ("guacamol_celecoxib_rediscovery", "qed", "guacamol_osimertinib_mpo")
SEEDS = (0, 1)
TOP_K = 10

#: the MOSES-trained model of best_of_n (and moses_metrics)
MODEL: dict[str, Any] = {"preset": "moses", "limit": 50_000, "length": 48, "val_fraction": 0.02, "batch_size": 64,
                         "backbone": {"type": "transformer", "dim": 64, "depth": 3, "heads": 4, "dropout": 0.1},
                         "train_steps": 3000, "train_steps_quick": 300, "lr": 2e-3, "sampling_steps": 24}

#: the SMILES GRU prior of ``reinvent``: the same first 50,000 MOSES training molecules as MODEL, the same steps and
#: batch size; 3 GRU layers as REINVENT's prior, narrower (128 wide, ~0.27 M parameters; the MDLM has ~0.16 M)
RNN_PRIOR: dict[str, Any] = {"limit": MODEL["limit"], "val_fraction": 0.02, "embedding": 64, "hidden": 128,
                             "layers": 3, "max_length": 100, "batch_size": 64, "lr": 1e-3, "steps": 3000,
                             "steps_quick": 300}


@functools.lru_cache(maxsize=2)
def moses_smiles(split: str = "train", limit: int | None = None) -> list[str]:
    """SMILES of a MOSES split (``train`` / ``test``) from the molsets wheel (canonical for current RDKit)."""
    import pandas as pd

    from seqguide.data.presets import package_file

    frame = pd.read_csv(package_file("moses", "dataset", "data", f"{split}.csv.gz"), nrows=limit)
    return frame["SMILES"].astype(str).tolist()


def moses_model(ctx: RunContext, model: dict[str, Any] = MODEL) -> tuple[Any, dict[str, Any]]:
    """The masked-diffusion model trained on MOSES SELFIES (cached under ``runs/benchmarks/``)."""
    from seqguide.data import SequenceDataModule
    from seqguide.models import TransformerDenoiser
    from seqguide.training.sequences import train_masked_diffusion

    steps = model["train_steps_quick"] if ctx.quick else model["train_steps"]
    settings = {k: v for k, v in model.items() if k not in ("train_steps_quick", "sampling_steps")}
    settings["train_steps"] = steps

    def train(work: Any) -> Any:
        data = SequenceDataModule(preset=model["preset"], limit=model["limit"], length=model["length"],
                                  too_long="drop", val_fraction=model["val_fraction"],
                                  batch_size=model["batch_size"], seed=0)
        b = model["backbone"]
        return train_masked_diffusion(data, backbone=TransformerDenoiser(dim=b["dim"], depth=b["depth"],
                                                                         heads=b["heads"], dropout=b["dropout"]),
                                      out_dir=work, max_steps=steps, val_check_interval=steps, seed=0,
                                      progress=False, accelerator="cpu", lr=model["lr"], warmup_steps=100)

    return cached_model(ctx.work_dir.parent / "moses_model", "moses", settings, train)


def moses_pool(ctx: RunContext, seed: int, n: int, model: dict[str, Any] = MODEL, *,
               unique: bool = False) -> tuple[list[str], float, float, dict[str, Any]]:
    """The first ``n`` unguided samples of the MOSES model for ``seed`` (``unique``: the shortest prefix with ``n``
    distinct ones), as canonical SMILES (the raw SELFIES where RDKit cannot read the decoded molecule); also their
    sampling CPU and wall seconds and the model info."""
    from seqguide import sample
    from seqguide.metrics import canonical_smiles

    net, info = moses_model(ctx, model)

    def draw(k: int, chunk_seed: int) -> list[str]:
        raw = list(sample(net, k, steps=model["sampling_steps"], seed=chunk_seed, progress=False).sequences)
        return [c if c is not None else r for c, r in zip(canonical_smiles(raw), raw)]

    key = settings_hash({"model": info["settings"], "steps": model["sampling_steps"]})
    pool = SamplePool(ctx.work_dir.parent / "moses_model" / f"pool_s{seed}_{key}.jsonl", draw, seed=seed, chunk=500)
    samples, cpu, wall = pool.take_unique(n) if unique else pool.take(n)
    return samples, cpu, wall, info


def moses_rnn_prior(ctx: RunContext, prior: dict[str, Any] = RNN_PRIOR, *, retrain: bool = False
                    ) -> tuple[Any, dict[str, Any]]:
    """REINVENT's prior: a :class:`~seqguide.baselines.smiles_rnn.SmilesRNN` trained on the MOSES SMILES the MDLM
    prior is trained on, cached as safetensors under ``runs/benchmarks/moses_rnn/`` by the hash of its settings."""
    from benchmarks.model_cache import cached_fit
    from seqguide.baselines.smiles_rnn import SmilesRNN, fit_info, train_smiles_rnn

    settings = {k: v for k, v in prior.items() if k not in ("steps", "steps_quick")}
    settings["steps"] = prior["steps_quick"] if ctx.quick else prior["steps"]

    def fit(path: Any) -> tuple[Any, dict[str, Any]]:
        done = train_smiles_rnn(moses_smiles("train", settings["limit"]), steps=settings["steps"],
                                batch_size=settings["batch_size"], lr=settings["lr"],
                                val_fraction=settings["val_fraction"], embedding=settings["embedding"],
                                hidden=settings["hidden"], layers=settings["layers"],
                                max_length=settings["max_length"], seed=0)
        done.model.save(path)
        return done.model, {**fit_info(done), "settings": settings, "cached": False}

    folder = ctx.work_dir.parent / "moses_rnn" / f"prior_{settings_hash(settings)}"
    return cached_fit(folder, load=SmilesRNN.load, fit=fit, retrain=retrain, checkpoint="prior.safetensors",
                      meta="prior.json")


# ------------------------------------------------------------------------------------------- methods
def _graph_ga(task: str, budget: int, seed: int, ctx: RunContext, **ga: Any) -> MethodResult:
    library = moses_smiles("train")
    with Stopwatch() as sw:
        run = GraphGA(**ga).run(BudgetedObjective(get_oracle(task, input_format="smiles"), budget=budget),
                                library=library, seed=seed)
    return MethodResult(run.history, sw.cpu, sw.wall, {"generations": run.generations, "stopped": run.stopped})


def _screen(task: str, budget: int, seed: int, pool: list[str], shuffle: bool) -> tuple[Any, Stopwatch]:
    with Stopwatch() as sw:
        run = Screening(library_proposal(pool, shuffle=shuffle), batch_size=500, stop_at_optimum=False).run(
            BudgetedObjective(get_oracle(task, input_format="smiles"), budget=budget), seed=seed)
    return run, sw


def _best_of_n(task: str, budget: int, seed: int, ctx: RunContext) -> MethodResult:
    samples, cpu, wall, info = moses_pool(ctx, seed, budget, unique=True)
    run, sw = _screen(task, budget, seed, samples, shuffle=False)
    return MethodResult(run.history, cpu + sw.cpu, wall + sw.wall,
                        {"stopped": run.stopped, "model_train_seconds": info["train_seconds"],
                         "model_val_nll": info["metrics"].get("val/nll"), "proposed": run.proposed})


def _infill(task: str, budget: int, seed: int, ctx: RunContext, *, loop: dict[str, Any]) -> MethodResult:
    """The elite-infilling DesignLoop (design_ehrlich's settings) on the MOSES model: SELFIES tokens masked and
    refilled, designs deduplicated by canonical SMILES before they are paid."""
    from seqguide.design.keys import design_key

    net, info = moses_model(ctx)
    return run_infill(net, BudgetedObjective(get_oracle(task, input_format="selfies"), budget=budget), budget, seed,
                      loop=loop, steps=MODEL["sampling_steps"], model_info=info, name=f"infill-{task}",
                      key=design_key(net.alphabet))


def _reinvent(task: str, budget: int, seed: int, ctx: RunContext, **settings: Any) -> MethodResult:
    """REINVENT from the MOSES SMILES prior (its one-off training is not charged, as for the MDLM's)."""
    import torch

    from seqguide.baselines.reinvent import Reinvent

    prior, info = moses_rnn_prior(ctx)
    torch.manual_seed(seed)
    with Stopwatch() as sw:
        run = Reinvent(**settings).run(prior, BudgetedObjective(get_oracle(task, input_format="smiles"),
                                                                budget=budget), seed=seed)
    return MethodResult(run.history, sw.cpu, sw.wall,
                        {"stopped": run.stopped, "steps": run.steps, "sampled": run.sampled,
                         "sampled_invalid": run.invalid, "model_train_seconds": info["train_seconds"],
                         "model_val_nll": info["val_nll"]})


_INFILL = INFILL_LOOP
#: mol_opt's reinvent/hparams_default.yaml (sigma, batch, lr, replay) and its Experience memory and penalty
_REINVENT = {"sigma": 500.0, "batch_size": 64, "lr": 5e-4, "replay": 24, "memory": 100, "likelihood_penalty": 5e3,
             "charge_invalid": False}
_GA = {"population": 120, "offspring": 70, "mutation_rate": 0.067, "stop_at_optimum": False}  # PMO runs to the budget

#: name -> method. Part-2 design loops are added here (see the module docstring).
METHODS: dict[str, MethodSpec] = {
    "graph_ga": MethodSpec(lambda t, b, s, c: _graph_ga(t, b, s, c, **_GA), dict(_GA),
                           label="Jensen's graph GA, PMO setting (population 120, 70 children, mutation 0.067), "
                                 "initial population from MOSES train"),
    "infill": MethodSpec(lambda t, b, s, c: _infill(t, b, s, c, loop=_INFILL), {"loop": _INFILL},
                         include=lambda task, budget, seed_index: seed_index == 0,
                         label="DesignLoop with EliteInfill proposals on the MOSES model (design_ehrlich's settings: "
                               "32 elites, 1-4 SELFIES tokens refilled, 20 % crossovers), seed 0 only"),
    "reinvent": MethodSpec(lambda t, b, s, c: _reinvent(t, b, s, c, **_REINVENT),
                           {**_REINVENT, "prior": RNN_PRIOR},
                           label="REINVENT (Olivecrona 2017), mol_opt's PMO setting (sigma 500, batch 64, lr 5e-4, "
                                 "24 of the best 100 replayed), from a 3-layer GRU trained on the MDLM's 50,000 MOSES "
                                 "molecules (SMILES); unreadable samples score 0 and cost no call"),
    "best_of_n": MethodSpec(_best_of_n, {"model": {k: v for k, v in MODEL.items() if k != "train_steps_quick"}},
                            include=lambda task, budget, seed_index: seed_index == 0,
                            label="unguided samples of a masked-diffusion transformer trained on 50,000 MOSES "
                                  "molecules (SELFIES), one pool of 10,000 distinct molecules, seed 0 only"),
}


class DesignPMO(CellBenchmark):
    """Graph GA and best-of-N on PMO's RDKit tasks at 10,000 calls: top-10 AUC."""

    name = "design_pmo"
    title = "PMO-style molecule design: top-10 AUC at 10,000 oracle calls"
    version = 1
    default_seeds = SEEDS

    def cells(self, options: RunOptions) -> list[Cell]:
        tasks = QUICK_TASKS if options.quick else PMO_TASKS
        budget = QUICK_BUDGET if options.quick else BUDGET
        # seed-major: a run cut short still has both methods
        return [Cell(name, task, seed, budget, {"method": spec.settings, "quick": options.quick})
                for name, spec, task, budget, seed in method_grid(METHODS, tasks, [budget], self.seeds(options),
                                                                  seed_major=True)]

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict[str, Any]:
        result = METHODS[cell.method].run(cell.task, int(cell.budget), cell.seed, ctx)
        return history_metrics(result, int(cell.budget), optimum=None, pmo_k=TOP_K)

    def report(self, records: list[CellRecord], ctx: RunContext) -> Report:
        rows = _task_rows(records)
        summary = _sum_rows(records)
        from benchmarks.common import markdown_table

        fig = plot_curves(records, ctx.figure_path("curves"), ctx.env, logx=False,
                          title="PMO tasks: best value so far (mean over seeds)")
        sections = [("Sum of top-10 AUC over tasks", markdown_table(summary)),
                    ("Best-so-far curves", f"![curves]({fig.name})"),
                    ("Methods", "\n".join(f"- `{n}`: {s.label}" for n, s in METHODS.items()))]
        return Report(rows, notes=_NOTES, sections=sections, figures=[fig])


_NOTES = """\
One row per task and method: `top10_auc` = PMO's area under the top-10-average curve over the budget (mean +- s.e.
over seeds, each seed its own run), `top10` = the mean of the 10 best values at the end, `top1` = the best value,
`calls` = paid calls (unique canonical SMILES), `valid` = fraction of paid calls RDKit could read,
`cpu_us_per_call` = the method's CPU time per call (best-of-N includes its share of sampling, not the one-off model
training). The table after it sums the AUC over the tasks per seed (PMO's headline number), then averages over seeds.
PMO's own sums cover 23 tasks (DRD2, GSK3B and JNK3 included) and 5 seeds, so they are not comparable one to one.
"""


def _task_rows(records: list[CellRecord]) -> list[dict[str, Any]]:
    rows = []
    order = {t: i for i, t in enumerate(PMO_TASKS)}
    groups = group_records(records, "task", "method")
    for (task, method), recs in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])):
        auc, sem, n = mean_sem(r.result[f"top{TOP_K}_auc"] for r in recs)
        rows.append({"task": task, "method": method, "seeds": n, "top10_auc": auc, "top10_auc_sem": sem,
                     "top10": mean_sem(r.result[f"top{TOP_K}_mean"] for r in recs)[0],
                     "top1": mean_sem(r.result["best"] for r in recs)[0],
                     "calls": mean_sem(r.result["calls"] for r in recs)[0],
                     "valid": mean_sem(r.result["feasible"] for r in recs)[0],
                     "cpu_us_per_call": mean_sem(r.result["cpu_us_per_call"] for r in recs)[0]})
    return rows


def _sum_rows(records: list[CellRecord]) -> list[dict[str, Any]]:
    """Per method: the AUC summed over tasks for each seed (only seeds with every task), mean +- s.e."""
    rows = []
    tasks = sorted({r.cell.task for r in records})
    for method in dict.fromkeys(r.cell.method for r in records):
        per_seed = {}
        for seed in sorted({r.cell.seed for r in records if r.cell.method == method}):
            cells = {r.cell.task: r for r in records if r.cell.method == method and r.cell.seed == seed}
            if set(cells) == set(tasks):
                per_seed[seed] = sum(cells[t].result[f"top{TOP_K}_auc"] for t in tasks)
        mean, sem, _ = mean_sem(per_seed.values())
        rows.append({"method": method, "tasks": len(tasks), "seeds": " ".join(map(str, per_seed)) or "-",
                     "sum_top10_auc": mean, "sem": sem,
                     "per_seed": ", ".join(f"{v:.3f}" for v in per_seed.values()),
                     "wall_hours": sum(r.meta.get("seconds", 0.0) for r in records if r.cell.method == method) / 3600})
    return rows


BENCHMARK = DesignPMO()
