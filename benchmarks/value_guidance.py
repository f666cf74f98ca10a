"""Value-guided sampling at equal oracle budgets: unguided, best-of-N, SVDD-PM, SVDD-MC and SMC.

Two tasks, each with a masked diffusion model trained inside the run on a shipped data set:

* **dna**: CRP binding sites (``crp`` preset, 26 nt) steered toward the JASPAR 2024 glucocorticoid receptor
  profile NR3C1 (MA0113.4, 15 nt inverted repeat; normalised best match on either strand, in [0, 1]).
* **molecules**: NCI compounds as SELFIES (``nci`` preset, molecules of at most 40 tokens) steered toward
  RDKit QED.

For each oracle budget B (oracle calls per sample during sampling) every method's parameters are chosen so
that its nominal cost is B; the table reports the *measured* calls (identical designs within a batch are
scored once, so some methods spend less than nominal). SVDD-MC also needs labels to train its value
network (Li et al. 2024, arXiv 2408.08252, §4); they are reported separately, amortised over all the
SVDD-MC samples of the run. Outputs: ``benchmarks/results/value_guidance.{csv,md,png}``.

    python -m benchmarks.value_guidance            # full run (~20-25 min on 2 CPU cores)
    python -m benchmarks.value_guidance --quick    # smoke run, a few minutes (writes under runs/benchmarks/)

Trained models are cached under ``runs/benchmarks/value_guidance/`` (git-ignored), keyed by their
settings; ``--retrain`` ignores the cache.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import Timer, markdown_table
from benchmarks.model_cache import cached_fit, settings_hash
from benchmarks.script_common import OracleTask, ScriptRun, by_name, parse_args
from seqguide import sample
from seqguide.data import SequenceDataModule
from seqguide.guidance import SMC, SVDD, BestOfN, LearnedValue, ValueModel, fit_value_model
from seqguide.models import ConvDenoiser, MaskedDiffusion, TransformerDenoiser
from seqguide.training.sequences import train_masked_diffusion

CACHE = Path("runs/benchmarks/value_guidance")
METHODS = ("unguided", "best-of-N", "SVDD-PM", "SVDD-MC", "SMC")
SEED = 0
_VALUE_NET = {"dim": 48, "depth": 4, "dropout": 0.0}  # ConvDenoiser of the SVDD-MC value network


@dataclass
class Task(OracleTask):
    """One benchmark task: data, oracle, model size and sampling settings."""

    model_dim: int = 64
    model_depth: int = 3
    value_labels: int = 2000
    value_steps: int = 1500
    smc_tilt: float = 3.0

    def model_key(self, train_steps: int) -> str:
        """Cache key of the generative model: only the settings that change it."""
        return settings_hash({"preset": self.preset, "length": self.length, "data": self.data_kwargs,
                              "dim": self.model_dim, "depth": self.model_depth, "train_steps": train_steps,
                              "seed": SEED})


TASKS = by_name(
    Task("dna", "crp", "jaspar", {"motif": "MA0113.4"}, "JASPAR NR3C1 (MA0113.4) best match, normalised",
         train_steps=1000),
    Task("molecules", "nci", "qed", {}, "RDKit QED", length=40, train_steps=2000, data_kwargs={"too_long": "drop"}),
)


# ------------------------------------------------------------------------------------------ models
def _train_model(task: Task, data: SequenceDataModule, *, train_steps: int, retrain: bool, device: str,
                 progress: bool) -> tuple[MaskedDiffusion, dict[str, Any]]:
    """Train the task's masked diffusion model once (cached by settings)."""

    def fit(ckpt: Path) -> tuple[MaskedDiffusion, dict[str, Any]]:
        with Timer(device) as timer:
            result = train_masked_diffusion(
                data, backbone=TransformerDenoiser(dim=task.model_dim, depth=task.model_depth, heads=4),
                out_dir=ckpt.parent / "lightning", max_steps=train_steps, val_check_interval=max(1, train_steps // 6),
                seed=SEED, lr=1e-3, warmup_steps=100, progress=progress,
                accelerator="gpu" if device.startswith("cuda") else "cpu")
        shutil.copyfile(result.checkpoint, ckpt)
        meta = {"train_seconds": timer.seconds, "train_steps": train_steps, "val_nll": result.metrics.get("val/nll"),
                "train_sequences": len(data.train_dataset), "val_sequences": len(data.val_dataset), "cached": False}
        return result.model.to(device).eval(), meta

    return cached_fit(CACHE / f"{task.name}-{task.model_key(train_steps)}", retrain=retrain, fit=fit,
                      load=lambda ckpt: MaskedDiffusion.load(ckpt, map_location=device).eval())


def _train_value(task: Task, model: MaskedDiffusion, oracle: Any, model_key: str, *, labels: int, steps: int,
                 retrain: bool, progress: bool) -> tuple[ValueModel, dict[str, Any]]:
    """SVDD-MC value network on ``labels`` oracle-labelled samples of the model (cached by settings)."""

    def fit(ckpt: Path) -> tuple[ValueModel, dict[str, Any]]:
        vm = fit_value_model(model, oracle, n=labels, sample_steps=model.length, max_steps=steps, batch_size=128,
                             backbone=ConvDenoiser(**_VALUE_NET), seed=SEED, progress=progress,
                             accelerator="gpu" if model.device.type == "cuda" else "cpu")
        vm.save(ckpt)
        return vm, {**vm.fit_report.to_dict(), "cached": False}

    key = settings_hash({"model": model_key, "labels": labels, "steps": steps, **_VALUE_NET})
    return cached_fit(CACHE / f"{task.name}-value-{key}", retrain=retrain, fit=fit, checkpoint="value.ckpt",
                      meta="value.json", load=lambda ckpt: ValueModel.load(ckpt, map_location=model.device))


# ------------------------------------------------------------------------------------------ budgets
def _start_fraction(first_step: int, steps: int) -> float:
    """A Guider ``start`` whose first active step index is ``first_step`` (robust to float rounding)."""
    return 0.0 if first_step <= 0 else (first_step + 0.5) / steps


def _smc_schedule(potential_steps: int, steps: int) -> tuple[int, int]:
    """``(resample_every, first_step)`` giving exactly ``potential_steps`` evenly spaced potential steps that
    end at the last step (SMC always evaluates the last step)."""
    p = max(1, min(potential_steps, steps))
    every = max(1, steps // p)
    return every, steps - 1 - (p - 1) * every


@dataclass
class Plan:
    """A method configured for one budget."""

    method: str
    budget: int
    params: str
    particles: int
    guidance: list[Any]


def plan_methods(budget: int, steps: int, oracle: Any, value_model: ValueModel | None, lam: float) -> list[Plan]:
    """Each guided method's parameters for a nominal ``budget`` of oracle calls per sample.

    * best-of-N: N = B unguided samples, the best kept (B calls).
    * SVDD-PM: M = 4 candidates per step, look-ahead oracle on each, acting on the last K = B / 4 steps.
    * SVDD-MC: M = B candidates at every step scored by the value network; the oracle scores the M
      candidates of the last step only (``oracle_on="last_step"``): B calls.
    * SMC (FK steering, potential "diff", lambda = lam, output = best particle): k = 4 particles with
      P = B / 4 potential steps spread evenly over the run and ending at the last; ``lam`` is set by
      :func:`run_task` to ``smc_tilt / std(r)`` under the pretrained model, so the tilt has the same strength
      (in standard deviations of the reward) on every task.
    """
    plans = [Plan("best-of-N", budget, f"N={budget}", budget, [BestOfN(oracle, n=budget)])]
    m_pm = 4
    k_pm = max(1, min(steps, budget // m_pm))
    plans.append(Plan("SVDD-PM", budget, f"M={m_pm}, last {k_pm}/{steps} steps", m_pm,
                      [SVDD(oracle, particles=m_pm, alpha=0.0, start=_start_fraction(steps - k_pm, steps))]))
    if value_model is not None:
        value = LearnedValue(value_model, oracle, oracle_on="last_step")
        plans.append(Plan("SVDD-MC", budget, f"M={budget}, all {steps} steps, oracle at the last", budget,
                          [SVDD(value, particles=budget, alpha=0.0)]))
    k_smc = 4
    p_smc = max(1, budget // k_smc)
    every, first = _smc_schedule(p_smc, steps)
    plans.append(Plan("SMC", budget, f"k={k_smc}, {p_smc} potential steps (every {every}), lam={lam:g}", k_smc,
                      [SMC(oracle, particles=k_smc, lam=lam, potential="diff", resample_every=every,
                           output="best", start=_start_fraction(first, steps))]))
    return plans


# ------------------------------------------------------------------------------------------ metrics
def _canonical_smiles(text: str) -> str | None:
    from rdkit import Chem

    from oracles.molecule import parse_molecule

    mol, err = parse_molecule(text)
    return None if err is not None else Chem.MolToSmiles(mol)


def _hamming_diversity(tokens: torch.Tensor) -> float:
    """Mean pairwise Hamming distance as a fraction of positions, over all pairs ``(n, L)``."""
    n = tokens.shape[0]
    if n < 2:
        return float("nan")
    diff = (tokens[:, None, :] != tokens[None, :, :]).float().mean(dim=-1)
    return float(diff.sum() / (n * (n - 1)))


def _tanimoto_diversity(smiles: Sequence[str]) -> float:
    """Mean pairwise Tanimoto distance of Morgan fingerprints (radius 2, 2048 bits) over all pairs."""
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [gen.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    n = len(fps)
    if n < 2:
        return float("nan")
    total = sum(sum(DataStructs.BulkTanimotoSimilarity(fps[i], fps[i + 1:])) for i in range(n - 1))
    return 1.0 - total / (n * (n - 1) / 2)


def evaluate(task: Task, out: Any, oracle: Any, reference: set[str]) -> dict[str, float]:
    """Quality of a sample set: reward statistics over valid designs, validity, diversity, novelty."""
    result = oracle(list(out.sequences))
    valid = np.asarray(result.valid, dtype=bool)
    r = np.asarray(result.values, dtype=np.float64)[valid]
    n = len(out.sequences)
    top = np.sort(r)[::-1][: max(1, math.ceil(0.1 * r.size))] if r.size else np.array([np.nan])
    stats = {
        "mean": float(r.mean()) if r.size else float("nan"),
        "sem": float(r.std(ddof=1) / math.sqrt(r.size)) if r.size > 1 else float("nan"),
        "median": float(np.median(r)) if r.size else float("nan"),
        "top10": float(top.mean()),
        "validity": float(valid.mean()),
    }
    seqs = [s for s, ok in zip(out.sequences, valid) if ok]
    if task.name == "molecules":
        canon = [c for c in (_canonical_smiles(s) for s in seqs) if c is not None]
        stats["diversity"] = _tanimoto_diversity(canon)
        stats["novelty"] = float(np.mean([c not in reference for c in canon])) if canon else float("nan")
        stats["uniqueness"] = len(set(canon)) / n
    else:
        stats["diversity"] = _hamming_diversity(out.tokens[torch.as_tensor(valid)])
        stats["novelty"] = float(np.mean([s not in reference for s in seqs])) if seqs else float("nan")
        stats["uniqueness"] = len(set(seqs)) / n
    return stats


def _reference(task: Task, data: SequenceDataModule) -> set[str]:
    """The data the model was fit on (train + validation splits), canonicalised for molecules."""
    seqs = data.train_sequences + data.val_sequences
    if task.name == "molecules":
        return {c for c in (_canonical_smiles(s) for s in seqs) if c is not None}
    return set(seqs)


# ------------------------------------------------------------------------------------------ run
def run_task(task: Task, *, budgets: Sequence[int], n: int, train_steps: int, value_labels: int, value_steps: int,
             device: str, retrain: bool, progress: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    data = task.data_module(SEED)
    oracle = task.make_oracle()
    model, model_meta = _train_model(task, data, train_steps=train_steps, retrain=retrain, device=device,
                                     progress=progress)
    model_key = task.model_key(train_steps)
    vm, value_meta = _train_value(task, model, oracle, model_key, labels=value_labels, steps=value_steps,
                                  retrain=retrain, progress=progress)
    reference = _reference(task, data)
    steps = model.length
    # SMC's tilt in units of the reward spread under the pretrained model (estimated from the SVDD-MC labels,
    # which are unguided samples): lam * std(r) = smc_tilt.
    lam = round(task.smc_tilt / max(value_meta["reward_std"], 1e-6), 1)
    rows: list[dict[str, Any]] = []

    def record(method: str, budget: int, params: str, particles: int, out: Any, value: Any = None) -> None:
        stats = evaluate(task, out, oracle, reference)
        row = {"task": task.name, "method": method, "budget": budget, "params": params, "particles": particles,
               **{k: stats[k] for k in ("mean", "sem", "median", "top10", "validity", "diversity", "novelty",
                                        "uniqueness")},
               "nfe": out.trace["nfe"], "oracle_calls": out.trace["oracle_calls"] / n,
               "value_net_rows": (value.rows_evaluated / n) if value is not None else 0.0,
               "label_calls": 0.0, "seconds": out.trace["seconds"]}
        rows.append(row)
        print(f"[{task.name}] {method:10s} B={budget:3d} {params:45s} mean={row['mean']:.4f} "
              f"top10={row['top10']:.4f} calls={row['oracle_calls']:.1f} nfe={row['nfe']:.1f} "
              f"{row['seconds']:.1f}s", flush=True)

    base = sample(model, n, steps=steps, seed=SEED, progress=progress)
    record("unguided", 0, "-", 1, base)
    for budget in budgets:
        for plan in plan_methods(budget, steps, oracle, vm, lam):
            value = plan.guidance[0].value if plan.method == "SVDD-MC" else None
            if value is not None:
                value.reset_counts()
            out = sample(model, n, steps=steps, guidance=plan.guidance, seed=SEED, progress=progress)
            record(plan.method, budget, plan.params, plan.particles, out, value)
    mc_rows = [r for r in rows if r["method"] == "SVDD-MC"]
    amortised = value_meta["oracle_calls"] / (n * len(mc_rows)) if mc_rows else 0.0
    for r in rows:
        r["nfe_ratio"] = r["nfe"] / rows[0]["nfe"]
        r["cost_ok"] = bool(r["nfe_ratio"] <= 1.1 * r["particles"] + 1e-9)
        if r["method"] == "SVDD-MC":
            r["label_calls"] = amortised
        r["total_calls"] = r["oracle_calls"] + r["label_calls"]
    info = {"task": asdict(task), "smc_lam": lam, "model": model_meta, "value_model": value_meta, "steps": steps,
            "n": n,
            "data": {"train": len(data.train_dataset), "val": len(data.val_dataset), "length": data.length,
                     "vocab": data.alphabet.size}}
    return rows, info


COLUMNS = ["task", "method", "budget", "params", "mean", "sem", "median", "top10", "validity", "diversity", "novelty",
           "uniqueness", "oracle_calls", "label_calls", "total_calls", "nfe", "particles", "nfe_ratio", "cost_ok",
           "value_net_rows", "seconds"]


def plot(rows: list[dict[str, Any]], path: Path, tasks: Sequence[str], objectives: dict[str, str]) -> Path:
    """Reward (mean and top-10%) against measured oracle calls per sample, one column per task."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = {"best-of-N": "tab:blue", "SVDD-PM": "tab:orange", "SVDD-MC": "tab:green", "SMC": "tab:red"}
    fig, axes = plt.subplots(2, len(tasks), figsize=(5.2 * len(tasks), 7.5), squeeze=False)
    for col, task in enumerate(tasks):
        task_rows = [r for r in rows if r["task"] == task]
        base = next(r for r in task_rows if r["method"] == "unguided")
        for row_i, (stat, label) in enumerate((("mean", "mean reward"), ("top10", "top-10% reward"))):
            ax = axes[row_i, col]
            ax.axhline(base[stat], color="gray", ls="--", lw=1, label="unguided")
            for method, color in colors.items():
                pts = sorted((r["oracle_calls"], r[stat], r["sem"]) for r in task_rows if r["method"] == method)
                if not pts:
                    continue
                x, y, e = (np.array(v) for v in zip(*pts))
                if stat == "mean":
                    ax.errorbar(x, y, yerr=e, color=color, marker="o", ms=4, capsize=2, label=method)
                else:
                    ax.plot(x, y, color=color, marker="o", ms=4, label=method)
                if method == "SVDD-MC":  # the same points with the value network's labels amortised in
                    total = sorted((r["total_calls"], r[stat]) for r in task_rows if r["method"] == method)
                    ax.plot(*zip(*total), color=color, ls=":", marker="o", mfc="none", ms=4,
                            label="SVDD-MC incl. label calls")
            ax.set_xscale("log", base=2)
            ax.set_xlabel("oracle calls per sample (measured)")
            ax.set_ylabel(label)
            ax.set_title(f"{task}: {objectives[task]}", fontsize=9)
            ax.grid(alpha=0.3)
            if row_i == 0 and col == 0:
                ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def _interpretation(rows: list[dict[str, Any]], infos: dict[str, dict[str, Any]], budgets: Sequence[int]) -> str:
    """A reading of the results generated from the rows: rankings, where a method did not help, the costs.

    A difference counts only when it exceeds twice the combined standard error of the two means.
    """

    def differs(a: dict[str, Any], b: dict[str, Any]) -> float:
        """``(a - b) / combined s.e.m.`` of the mean rewards."""
        se = math.hypot(a["sem"], b["sem"]) or float("nan")
        return (a["mean"] - b["mean"]) / se

    out = []
    for task in infos:
        t_rows = [r for r in rows if r["task"] == task]
        base = next(r for r in t_rows if r["method"] == "unguided")
        lines = [f"**{task}** — unguided: mean {base['mean']:.3f} ± {base['sem']:.3f}, top-10% {base['top10']:.3f}, "
                 f"diversity {base['diversity']:.3f}, novelty {base['novelty']:.2f}."]
        for b in budgets:
            at = sorted((r for r in t_rows if r["budget"] == b), key=lambda r: -r["mean"])
            ranking = ", ".join(f"{r['method']} {r['mean']:.3f}" for r in at)
            lines.append(f"- B = {b}: {ranking}.")
        notes = []
        bon = {r["budget"]: r for r in t_rows if r["method"] == "best-of-N"}
        for method in ("SVDD-PM", "SVDD-MC", "SMC"):
            m_rows = [r for r in t_rows if r["method"] == method]
            if not m_rows:
                continue
            no_gain = [r["budget"] for r in m_rows if differs(r, base) < 2]
            if no_gain:
                notes.append(f"{method} did not improve the mean reward significantly over unguided sampling at "
                             f"B = {', '.join(map(str, no_gain))}")
            worse = [r["budget"] for r in m_rows if r["budget"] in bon and differs(bon[r["budget"]], r) >= 2]
            better = [r["budget"] for r in m_rows if r["budget"] in bon and differs(r, bon[r["budget"]]) >= 2]
            if worse:
                notes.append(f"{method} was below best-of-N at equal nominal budget at B = "
                             f"{', '.join(map(str, worse))}")
            if better:
                notes.append(f"{method} beat best-of-N at B = {', '.join(map(str, better))}")
            top = max(m_rows, key=lambda r: r["budget"])
            if top["diversity"] < 0.8 * base["diversity"]:
                notes.append(f"{method} at B = {top['budget']} lost diversity ({top['diversity']:.3f} vs "
                             f"{base['diversity']:.3f} unguided)")
            spend = np.mean([r["oracle_calls"] / r["budget"] for r in m_rows])
            if spend < 0.8:
                notes.append(f"{method} spent on average {spend:.0%} of its nominal oracle budget (identical designs "
                             "in a batch are scored once)")
        main_b = 16 if 16 in budgets else budgets[-1]
        at_main = [r for r in t_rows if r["budget"] == main_b]
        if at_main:
            leader = max(at_main, key=lambda r: r["mean"])
            cheapest = min((r for r in at_main if r is not leader), key=lambda r: r["nfe"])
            notes.append(f"at B = {main_b} the leader ({leader['method']}, {leader['mean']:.3f}) used "
                         f"{leader['nfe']:.0f} network evaluations per sample vs {cheapest['nfe']:.0f} for "
                         f"{cheapest['method']} ({cheapest['mean']:.3f})")
        mc = [r for r in t_rows if r["method"] == "SVDD-MC"]
        if mc:
            notes.append(f"SVDD-MC's {infos[task]['value_model']['oracle_calls']} training labels add "
                         f"{mc[0]['label_calls']:.1f} calls per SVDD-MC sample of this run")
        bad_cost = [f"{r['method']} B={r['budget']}" for r in t_rows if r["method"] != "unguided" and not r["cost_ok"]]
        notes.append("every guided run stayed within 1.1 x particles of the unguided NFE" if not bad_cost else
                     f"NFE above 1.1 x particles of unguided: {', '.join(bad_cost)}")
        lines.append("Observations: " + "; ".join(notes) + ".")
        out.append("\n".join(lines))
    return "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, description=__doc__.splitlines()[0], tasks=TASKS, seed=SEED)
    budgets = (4, 16) if args.quick else (4, 8, 16, 32)
    n = 32 if args.quick else 128
    run = ScriptRun.start("value_guidance", args.quick, args.device, seed=SEED, samples_per_method=n,
                          budgets=list(budgets))
    rows: list[dict[str, Any]] = []
    infos: dict[str, dict[str, Any]] = {}
    for name in args.tasks:
        task = TASKS[name]
        task_rows, info = run_task(
            task, budgets=budgets, n=n, train_steps=150 if args.quick else task.train_steps,
            value_labels=256 if args.quick else task.value_labels, value_steps=100 if args.quick else task.value_steps,
            device=args.device, retrain=args.retrain, progress=args.progress)
        rows += task_rows
        infos[name] = info
    total = run.finish()
    png = plot(rows, run.figure_path(), list(infos), {k: TASKS[k].objective for k in infos})
    run.write(rows, title="Value-guided sampling at equal oracle budgets", columns=COLUMNS, notes=_notes(infos, n),
              sections=_sections(rows, infos, budgets, png))
    print(f"wrote {run.stem}.csv, {run.stem}.md, {png} in {total:.0f}s")
    return 0


def _notes(infos: dict[str, dict[str, Any]], n: int) -> str:
    parts = [
        f"{n} samples per method and budget, all with sampling seed {SEED}, steps = sequence length. "
        "Rewards are re-scored with the oracle after sampling (not counted). `budget` = nominal oracle calls per "
        "sample; `oracle_calls` = measured calls per sample during sampling (distinct designs per batch); "
        "`label_calls` = SVDD-MC's value-network training labels per sample, amortised over all SVDD-MC samples of "
        "the run; `nfe` = denoiser evaluations per sample (rows through the network / samples, with the "
        "sampler's cache); `nfe_ratio` = nfe / unguided nfe, `cost_ok` = nfe_ratio <= 1.1 x particles; "
        "`value_net_rows` = value-network rows per sample (SVDD-MC). `mean` ± `sem` and `median` are over valid "
        "designs, `top10` = mean of the best 10%; `diversity` = mean pairwise Hamming distance / length (DNA) or "
        "mean pairwise Tanimoto distance of Morgan fingerprints (r=2, 2048 bits; molecules); `novelty` = fraction "
        "of valid samples not in the training + validation data (canonical SMILES for molecules); `seconds` = "
        "wall time of the sampling call including oracle calls."]
    for name, info in infos.items():
        t, m, v, d = info["task"], info["model"], info["value_model"], info["data"]
        parts.append(
            f"**{name}**: preset `{t['preset']}` ({d['train']} train / {d['val']} val sequences, length {d['length']}, "
            f"{d['vocab']} tokens), oracle `{t['oracle']}` {t['oracle_kwargs'] or ''} ({t['objective']}). "
            f"MaskedDiffusion: transformer dim {t['model_dim']}, depth {t['model_depth']}, {m['train_steps']} steps "
            f"({m['train_seconds']:.0f}s{', cached' if m.get('cached') else ''}; "
            f"val NLL {m['val_nll']:.3f} nats/token). "
            f"Value network (SVDD-MC): dilated CNN dim 48, depth 4, mean pooling, {v['oracle_calls']} labels from "
            f"unguided samples ({v['n_invalid']} invalid dropped), {v['steps']} steps, {v['seconds']:.0f}s; "
            f"held-out noisy-state MSE {v['val_mse']:.4g} (R2 {v['val_r2']:.3f}, Spearman {v['val_spearman']:.3f}).")
    return "\n\n".join(parts)


def _sections(rows: list[dict[str, Any]], infos: dict[str, dict[str, Any]], budgets: Sequence[int],
              png: Path) -> list[tuple[str, str]]:
    main_budget = 16 if 16 in budgets else budgets[-1]
    main_rows = [r for r in rows if r["budget"] in (0, main_budget)]
    cols = ["task", "method", "params", "mean", "sem", "median", "top10", "validity", "diversity", "novelty",
            "oracle_calls", "label_calls", "nfe", "nfe_ratio", "seconds"]
    cost_cols = ["task", "method", "budget", "particles", "nfe", "nfe_ratio", "cost_ok", "value_net_rows"]
    return [
        (f"Main comparison at B = {main_budget} oracle calls per sample", markdown_table(main_rows, cols)),
        ("Reward vs oracle calls",
         f"![reward vs oracle calls]({png.name})\n\n" + _interpretation(rows, infos, budgets)),
        ("Cost check: network evaluations relative to unguided sampling",
         markdown_table([r for r in rows if r["method"] != "unguided"], cost_cols)),
        ("Caveats", _CAVEATS),
    ]


_CAVEATS = """\
- One seed per setting (sampling seed 0; models trained once); the ± is the standard error over the samples of
  one run, not over training runs. Small models trained for minutes on a CPU: absolute rewards say little about
  what larger models reach; the comparison between methods on the same model is the point.
- Budgets are matched on *nominal* oracle calls per sample; methods that score identical designs only once spend
  less (the plot's x-axis is the measured spend). With a cheap oracle the binding cost is often network
  evaluations instead: best-of-N pays N times the unguided NFE, SVDD-MC about 1x plus a small value network.
- SVDD-MC's value network needs labelled samples up front (SVDD §4); they are counted separately
  (`label_calls`) and shown as the dotted curve. They are reusable across any number of later runs.
- SMC's tilt lambda is set from the reward spread of unguided samples (lambda * std = 3), the same rule on both
  tasks; SVDD runs use alpha = 0 (argmax selection, as in the released SVDD code).
- Novelty is exact-match novelty against the training + validation data; it does not measure distance to it.
"""


if __name__ == "__main__":
    raise SystemExit(main())
