"""PMO-style molecule design: area under the top-10 curve at 10,000 oracle calls, GuacaMol tasks.

The protocol of PMO (Gao et al. 2022, "Sample Efficiency Matters: A Benchmark for Practical Molecular
Optimization", arXiv 2206.12411) and its code (mol_opt): each method gets 10,000 calls of one task's oracle
(every new canonical SMILES is one call; a molecule met again is free; a molecule RDKit cannot read is free too,
as in mol_opt, for every method: :func:`pmo_objective`), and is scored by the area under the curve of its top-10
average against calls, normalised to [0, 1] and held flat to the budget after an early stop
(:func:`seqguide.baselines.top_k_auc`); the headline is the sum over tasks, 5 seeds. The tasks are PMO's RDKit-only
ones (its 23 oracles minus the DRD2, GSK3B and JNK3 classifiers, whose model files are downloads): 19 GuacaMol tasks
from :mod:`oracles.guacamol` plus QED. Of these, :data:`COMPARABLE` (16) can be compared with PMO's published
numbers; PMO scored the other 4 (:data:`TDC_SCORED`) with an older TDC scorer, so they are summed separately. The
report puts PMO's published per-task AUCs for REINVENT and Graph GA (``benchmarks/data/pmo_published.csv``, with
its source) beside ours.

Methods:

* ``graph_ga``: :class:`seqguide.baselines.GraphGA` (Jensen 2019) as PMO ran it (mol_opt's operators and
  ring-sanity filter, population 120, 70 children per generation, mutation rate 0.067, early stop after 5
  generations without progress of the top-100 mean), the initial population drawn from the MOSES training split;
* ``infill``: the elite-infilling design loop on the MOSES masked-diffusion model;
* ``best_of_n``: unguided samples of a masked-diffusion model trained on MOSES molecules as SELFIES (the
  ``moses`` preset), decoded to canonical SMILES; one pool of 10,000 distinct samples per seed, scored by
  every task.

PMO's ``screening`` baseline (random library molecules) is ``Screening(library_proposal(moses_smiles()))``;
it is not in the default plan to keep the run short. A GA run of 10,000 calls takes ~85 CPU-seconds per task
(8.5 ms per call, measured on qed with the mol_opt operators, 2026-12-07).

Adding a method: write ``run(task, budget, seed, ctx) -> MethodResult`` that scores through
:func:`pmo_objective` (SMILES, or SELFIES with ``input_format="selfies"``), and add it to :data:`METHODS` with
the modules that compute it in ``code`` (hashed into its cells, so a code change recomputes them).
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
from benchmarks.pmo_tasks import COMPARABLE, TDC_SCORED, published
from benchmarks.reporting import group_records, mean_sem, plot_curves
from benchmarks.runner import Cell, CellBenchmark, CellRecord, Report, RunContext, RunOptions
from oracles import get_oracle
from oracles.guacamol import PMO_TASKS
from seqguide.baselines import BudgetedObjective, GraphGA, Screening, library_proposal

__all__ = ["BENCHMARK", "BUDGET", "COMPARABLE", "METHODS", "RNN_PRIOR", "TDC_SCORED", "DesignPMO", "moses_model",
           "moses_pool", "moses_rnn_prior", "moses_smiles", "pmo_objective", "published"]

BUDGET = 10_000
QUICK_BUDGET = 1_000
QUICK_TASKS = ("guacamol_celecoxib_rediscovery", "qed", "guacamol_osimertinib_mpo")
SEEDS = (0, 1, 2, 3, 4)  # PMO's 5 seeds
TOP_K = 10
#: source modules of every cell: the task oracles, the accounting and the cell metrics
_TASK_CODE = ("oracles.guacamol", "oracles.guacamol_scoring", "oracles.molecule", "seqguide.baselines.history",
              "benchmarks.design_common")
# (this file's own method wrappers and pmo_objective are covered by DesignPMO.version: bump it when they change)

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
    """SMILES of a MOSES split (``train`` / ``test``) from the molsets wheel's data (canonical for current RDKit;
    :func:`seqguide.data.moses_data.moses_file` finds or fetches the file)."""
    import pandas as pd

    from seqguide.data.moses_data import moses_file

    frame = pd.read_csv(moses_file(f"{split}.csv.gz"), nrows=limit)
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


def pmo_objective(task: str, budget: int, input_format: str = "smiles") -> BudgetedObjective:
    """The task's oracle under PMO's accounting: ``budget`` unique paid calls, repeats free, and a molecule RDKit
    cannot read (SMILES, or SELFIES with ``input_format="selfies"``) free and unrecorded, as in mol_opt (which
    scores it 0 without adding it to its buffer). Every method of this benchmark scores through it."""
    from oracles.molecule import parse_molecule

    def unreadable(x: Any) -> str | None:
        return parse_molecule(x, input_format)[1] if isinstance(x, str) else f"not a string: {type(x).__name__}"

    return BudgetedObjective(get_oracle(task, input_format=input_format), budget=budget, free_invalid=unreadable)


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
    objective = pmo_objective(task, budget)
    with Stopwatch() as sw:
        run = GraphGA(**ga).run(objective, library=library, seed=seed)
    return MethodResult(run.history, sw.cpu, sw.wall, {"generations": run.generations, "stopped": run.stopped,
                                                       "free_invalid": objective.free_rejected})


def _screen(task: str, budget: int, seed: int, pool: list[str], shuffle: bool) -> tuple[Any, Stopwatch, int]:
    objective = pmo_objective(task, budget)
    with Stopwatch() as sw:
        run = Screening(library_proposal(pool, shuffle=shuffle), batch_size=500, stop_at_optimum=False).run(
            objective, seed=seed)
    return run, sw, objective.free_rejected


def _best_of_n(task: str, budget: int, seed: int, ctx: RunContext) -> MethodResult:
    samples, cpu, wall, info = moses_pool(ctx, seed, budget, unique=True)
    run, sw, free = _screen(task, budget, seed, samples, shuffle=False)
    return MethodResult(run.history, cpu + sw.cpu, wall + sw.wall,
                        {"stopped": run.stopped, "model_train_seconds": info["train_seconds"],
                         "model_val_nll": info["metrics"].get("val/nll"), "proposed": run.proposed,
                         "free_invalid": free})


def _infill(task: str, budget: int, seed: int, ctx: RunContext, *, loop: dict[str, Any]) -> MethodResult:
    """The elite-infilling DesignLoop (design_ehrlich's settings) on the MOSES model: SELFIES tokens masked and
    refilled, designs deduplicated by canonical SMILES before they are paid."""
    from seqguide.design.keys import design_key

    net, info = moses_model(ctx)
    objective = pmo_objective(task, budget, input_format="selfies")
    result = run_infill(net, objective, budget, seed, loop=loop, steps=MODEL["sampling_steps"], model_info=info,
                        name=f"infill-{task}", key=design_key(net.alphabet))
    result.info["free_invalid"] = objective.free_rejected
    return result


def _reinvent(task: str, budget: int, seed: int, ctx: RunContext, **settings: Any) -> MethodResult:
    """REINVENT from the MOSES SMILES prior (its one-off training is not charged, as for the MDLM's)."""
    import torch

    from seqguide.baselines.reinvent import Reinvent

    prior, info = moses_rnn_prior(ctx)
    torch.manual_seed(seed)
    with Stopwatch() as sw:
        run = Reinvent(**settings).run(prior, pmo_objective(task, budget), seed=seed)
    return MethodResult(run.history, sw.cpu, sw.wall,
                        {"stopped": run.stopped, "steps": run.steps, "sampled": run.sampled,
                         "sampled_invalid": run.invalid, "model_train_seconds": info["train_seconds"],
                         "model_val_nll": info["val_nll"]})


_INFILL = INFILL_LOOP
#: mol_opt's reinvent/hparams_default.yaml (sigma, batch, lr, replay) and its Experience memory and penalty
_REINVENT = {"sigma": 500.0, "batch_size": 64, "lr": 5e-4, "replay": 24, "memory": 100, "likelihood_penalty": 5e3,
             "charge_invalid": False}
# PMO's setting; it runs to the budget or its early stop (patience 5, tolerance 1e-3 on the top-100 mean)
_GA = {"population": 120, "offspring": 70, "mutation_rate": 0.067, "patience": 5, "stop_at_optimum": False}
_MODEL_CODE = ("seqguide.models", "seqguide.sampling", "seqguide.training", "seqguide.data", "seqguide.alphabet",
               "benchmarks.model_cache")

#: name -> method. Part-2 design loops are added here (see the module docstring).
METHODS: dict[str, MethodSpec] = {
    "graph_ga": MethodSpec(lambda t, b, s, c: _graph_ga(t, b, s, c, **_GA), dict(_GA),
                           label="Jensen's graph GA as PMO ran it (mol_opt's operators and ring filter, population "
                                 "120, 70 children, mutation 0.067, early stop after 5 generations without progress), "
                                 "initial population from MOSES train",
                           code=("seqguide.baselines.graph_ga", "seqguide.baselines.mol_edits")),
    "infill": MethodSpec(lambda t, b, s, c: _infill(t, b, s, c, loop=_INFILL), {"loop": _INFILL},
                         label="DesignLoop with EliteInfill proposals on the MOSES model (design_ehrlich's settings: "
                               "32 elites, 1-4 SELFIES tokens refilled, 20 % crossovers)",
                         code=("seqguide.design", *_MODEL_CODE)),
    "reinvent": MethodSpec(lambda t, b, s, c: _reinvent(t, b, s, c, **_REINVENT),
                           {**_REINVENT, "prior": RNN_PRIOR},
                           label="REINVENT (Olivecrona 2017), mol_opt's PMO setting (sigma 500, batch 64, lr 5e-4, "
                                 "24 of the best 100 replayed), from a 3-layer GRU trained on the MDLM's 50,000 MOSES "
                                 "molecules (SMILES); unreadable samples score 0 and cost no call",
                           code=("seqguide.baselines.reinvent", "seqguide.baselines.smiles_rnn")),
    "best_of_n": MethodSpec(_best_of_n, {"model": {k: v for k, v in MODEL.items() if k != "train_steps_quick"}},
                            label="unguided samples of a masked-diffusion transformer trained on 50,000 MOSES "
                                  "molecules (SELFIES), one pool of 10,000 distinct molecules per seed",
                            code=("seqguide.baselines.screening", *_MODEL_CODE)),
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
        for name, spec in METHODS.items():
            if not spec.code:
                raise ValueError(f"design_pmo: method {name!r} names no code modules (MethodSpec.code); its cells "
                                 "could not tell when the code that computed them changed")
        return [Cell(name, task, seed, budget, {"method": spec.settings, "quick": options.quick},
                     code=(*_TASK_CODE, *spec.code))
                for name, spec, task, budget, seed in method_grid(METHODS, tasks, [budget], self.seeds(options),
                                                                  seed_major=True)]

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict[str, Any]:
        result = METHODS[cell.method].run(cell.task, int(cell.budget), cell.seed, ctx)
        return history_metrics(result, int(cell.budget), optimum=None, pmo_k=TOP_K)

    def report(self, records: list[CellRecord], ctx: RunContext) -> Report:
        pub = published()
        rows = _task_rows(records, pub)
        summary = _sum_rows(records, pub)
        from benchmarks.common import markdown_table

        fig = plot_curves(records, ctx.figure_path("curves"), ctx.env, logx=False,
                          title="PMO tasks: best value so far (mean over seeds)")
        sections = [("Sum of top-10 AUC over tasks", markdown_table(summary)),
                    ("Best-so-far curves", f"![curves]({fig.name})"),
                    ("Methods", "\n".join(f"- `{n}`: {s.label}" for n, s in METHODS.items()))]
        return Report(rows, notes=_NOTES, sections=sections, figures=[fig])


_NOTES = """\
One row per task and method: `top10_auc` = PMO's area under the top-10-average curve over the budget (mean +- s.e.
over seeds, each seed its own run; a run that stopped early, e.g. the GA's convergence stop, is held flat at its last
value up to the budget, as in mol_opt), `top10` = the mean of the 10 best values at the end, `top1` = the best value,
`calls` = paid calls (unique canonical SMILES), `free_invalid` = proposals RDKit could not read, turned away unpaid
(mol_opt's accounting, the same for every method), `valid` = fraction of paid calls that could be scored,
`cpu_us_per_call` = the method's CPU time per call (best-of-N includes its share of sampling, not the one-off model
training), `pmo_reinvent` / `pmo_graph_ga` = PMO's published top-10 AUC of REINVENT and Graph GA on the task (mean
over 5 seeds; `benchmarks/data/pmo_published.csv`, from the spreadsheet behind pmo-benchmark.github.io).

**Comparable with PMO: 16 tasks** (albuterol_similarity, amlodipine_mpo, celecoxib_rediscovery, deco_hop,
fexofenadine_mpo, median1, median2, mestranol_similarity, osimertinib_mpo, perindopril_mpo, qed, ranolazine_mpo,
scaffold_hop, thiothixene_rediscovery, troglitazone_rediscovery, valsartan_smarts). **Scored differently: 4 tasks**
(isomers_c7h8n2o2, isomers_c9h10n2o2pf2cl, zaleplon_mpo, sitagliptin_mpo): PMO's tables scored them with an older TDC
scorer that counted atoms from the SMILES text (fixed upstream in 2022); ours equal the GuacaMol package, so these
four are summed separately and their published values are shown for reference only. PMO's other 3 tasks (DRD2,
GSK3B, JNK3) need downloaded classifier files and are not run. The sums table gives, per method, the AUC summed over
the 16 and over the 4 for each seed that has every task of the group (mean +- s.e. over seeds), and the published
sums of REINVENT and Graph GA over the same tasks (16 tasks: 9.726 and 9.083 at full precision; 9.72 and 9.08 when
summed from the leaderboard's 3-decimal values).
"""


def _task_rows(records: list[CellRecord], pub: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    rows = []
    order = {t: i for i, t in enumerate(PMO_TASKS)}
    groups = group_records(records, "task", "method")
    for (task, method), recs in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1])):
        auc, sem, n = mean_sem(r.result[f"top{TOP_K}_auc"] for r in recs)
        rows.append({"task": task, "comparable": task in COMPARABLE, "method": method, "seeds": n,
                     "top10_auc": auc, "top10_auc_sem": sem,
                     "pmo_reinvent": pub.get(task, {}).get("reinvent"),
                     "pmo_graph_ga": pub.get(task, {}).get("graph_ga"),
                     "top10": mean_sem(r.result[f"top{TOP_K}_mean"] for r in recs)[0],
                     "top1": mean_sem(r.result["best"] for r in recs)[0],
                     "calls": mean_sem(r.result["calls"] for r in recs)[0],
                     "free_invalid": mean_sem(r.result.get("free_invalid", 0) for r in recs)[0],
                     "valid": mean_sem(r.result["feasible"] for r in recs)[0],
                     "cpu_us_per_call": mean_sem(r.result["cpu_us_per_call"] for r in recs)[0]})
    return rows


def _group_sum(records: list[CellRecord], method: str, tasks: tuple[str, ...]) -> dict[int, float]:
    """Per seed of ``method`` that has every task of ``tasks``: the AUC summed over them."""
    per_seed = {}
    for seed in sorted({r.cell.seed for r in records if r.cell.method == method}):
        cells = {r.cell.task: r for r in records if r.cell.method == method and r.cell.seed == seed}
        if all(t in cells for t in tasks):
            per_seed[seed] = sum(cells[t].result[f"top{TOP_K}_auc"] for t in tasks)
    return per_seed


def _sum_rows(records: list[CellRecord], pub: dict[str, dict[str, float]]) -> list[dict[str, Any]]:
    """Per method and task group (the 16 comparable, the 4 TDC-scored, as far as the run has them): the AUC summed
    over the group's tasks for each seed, mean +- s.e., beside PMO's published sums for the same tasks."""
    rows = []
    present = {r.cell.task for r in records}
    for label, group in (("16 comparable", COMPARABLE), ("4 TDC-scored", TDC_SCORED)):
        tasks = tuple(t for t in group if t in present)
        if not tasks:
            continue
        name = label if len(tasks) == len(group) else f"{len(tasks)} of {label}"
        for method in dict.fromkeys(r.cell.method for r in records):
            per_seed = _group_sum(records, method, tasks)
            mean, sem, _ = mean_sem(per_seed.values())
            rows.append({"tasks": name, "method": method, "seeds": " ".join(map(str, per_seed)) or "-",
                         "sum_top10_auc": mean, "sem": sem,
                         "pmo_reinvent": sum(pub[t]["reinvent"] for t in tasks),
                         "pmo_graph_ga": sum(pub[t]["graph_ga"] for t in tasks),
                         "per_seed": ", ".join(f"{v:.3f}" for v in per_seed.values()),
                         "wall_hours": sum(r.meta.get("seconds", 0.0) for r in records
                                           if r.cell.method == method and r.cell.task in tasks) / 3600})
    return rows


BENCHMARK = DesignPMO()
