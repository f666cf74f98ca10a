"""The reward-guidance part of ``benchmarks/posterior_sampling.py`` (Jiao, Chen & Li 2025, arXiv 2512.04985).

A reweighted predictor (the pretrained masked model fine-tuned on its training data drawn in proportion to a
reward weight; no sampling trajectories) steers sampling through ``pred + scale * (pred_r - pred)``:

* ``dna-jaspar``: CRP sites toward the JASPAR 2024 NR3C1 profile (MA0113.4), ``w = exp(lam r)`` with lam set
  so that the weights keep 10% of the data as effective sample size;
* ``digits-class3``: ``w = p_judge(3 | x)``, the class-conditional data (classifier-free guidance as reward
  guidance), with the paper's diagnostic ``E[1 / p(c | X)]``.

Both against unguided sampling and best-of-2 (the same number of network calls).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from benchmarks.common import markdown_table
from benchmarks.posterior_models import SEED, data_module, load_or_fit_reweighted
from oracles import from_function, get_oracle
from seqguide import sample
from seqguide.guidance import BestOfN, RewardGuidance, lam_for_ess, reward_weights
from seqguide.metrics import expected_reciprocal_probability, pairwise_diversity

__all__ = ["ESS_FRACTION", "REWARD_COLUMNS", "reward_notes", "reward_reading", "run_reward_guidance"]

ESS_FRACTION = 0.1  # the DNA reward tilt keeps 10% of the training data as effective sample size
REWARD_COLUMNS = ["task", "method", "params", "reward", "reward_sem", "top10", "inv_prob", "class_acc", "diversity",
                  "novelty", "nfe", "oracle_calls", "label_calls", "seconds"]


def run_reward_guidance(models: dict[str, Any], model_keys: dict[str, str], judge: Any, *, n: int, finetune_steps: int,
                        device: str, retrain: bool, progress: bool) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Both reward-guidance tasks. ``models`` maps ``"crp"``/``"digits"`` to ``(model, meta)``; ``model_keys`` to
    their cache keys (the reweighted predictors are cached under them)."""
    rows: list[dict[str, Any]] = []
    info: dict[str, Any] = {}
    # -- DNA toward the JASPAR NR3C1 profile: weights exp(lam r), lam * std(r) = 3
    model, _ = models["crp"]
    data = data_module("crp")
    oracle = get_oracle("jaspar", motif="MA0113.4")
    r_train = np.asarray(oracle(data.train_sequences).values, dtype=np.float64)
    lam = lam_for_ess(r_train, ESS_FRACTION)
    tilted, fit_meta = load_or_fit_reweighted(model, model_keys["crp"], "crp-jaspar", data.train_dataset,
                                              reward_weights(r_train, lam=lam), steps=finetune_steps, device=device,
                                              retrain=retrain)
    reference = set(data.train_sequences + data.val_sequences)
    info["dna-jaspar"] = {"lam": round(lam, 2), "label_calls": len(r_train), "data_mean": float(np.nanmean(r_train)),
                          **fit_meta}
    methods = [("unguided", "-", []), ("best-of-2", "N=2 (2x NFE, 2 oracle calls)", [BestOfN(oracle, n=2)])]
    methods += [(f"reward x{s:g}", f"scale {s:g}", [RewardGuidance(tilted, scale=s)]) for s in (1.0, 2.0, 4.0, 8.0)]
    for name, params, guidance in methods:
        out = sample(model, n, steps=model.length, guidance=guidance, seed=SEED, progress=progress)
        r = np.asarray(oracle(out.sequences).values, dtype=np.float64)
        rows.append({"task": "dna-jaspar", "method": name, "params": params, "reward": float(r.mean()),
                     "reward_sem": float(r.std(ddof=1) / math.sqrt(len(r))),
                     "top10": float(np.sort(r)[-max(1, n // 10):].mean()),
                     "diversity": pairwise_diversity(out.tokens, 1, metric="hamming"),
                     "novelty": float(np.mean([s not in reference for s in out.sequences])),
                     "nfe": float(out.trace["nfe"]), "oracle_calls": out.trace["oracle_calls"] / n,
                     "label_calls": len(r_train) if name.startswith("reward") else 0, "seconds": out.trace["seconds"]})
        print(f"[dna-jaspar] {name:10s} reward={rows[-1]['reward']:.4f} nfe={rows[-1]['nfe']:.1f}", flush=True)
    # -- digits toward class 3: weights p_judge(3 | x), the class-conditional data
    target = 3
    model, _ = models["digits"]
    data = data_module("digits")
    x_train = data.train_dataset.tokens.long().numpy()
    p_train = judge.predict_proba(x_train)[:, target]
    tilted, fit_meta = load_or_fit_reweighted(model, model_keys["digits"], "digits-class3", data.train_dataset,
                                              reward_weights(p_train, kind="linear"), steps=finetune_steps,
                                              device=device, retrain=retrain)
    info["digits-class3"] = {"target": target, "label_calls": len(p_train), **fit_meta}
    methods = [("unguided", "-", []),
               ("best-of-2", "N=2 (2x NFE)", [BestOfN(_judge_oracle(judge, target, data.alphabet), n=2)])]
    methods += [(f"reward x{s:g}", f"scale {s:g}", [RewardGuidance(tilted, scale=s)]) for s in (1.0, 2.0, 3.0)]
    for name, params, guidance in methods:
        out = sample(model, n, steps=model.length, guidance=guidance, seed=SEED, progress=progress)
        p = judge.predict_proba(out.tokens.numpy())[:, target]
        rows.append({"task": "digits-class3", "method": name, "params": params, "reward": float(p.mean()),
                     "reward_sem": float(p.std(ddof=1) / math.sqrt(len(p))),
                     "inv_prob": expected_reciprocal_probability(np.clip(p, 0.0, 1.0)),
                     "class_acc": float((judge.predict(out.tokens.numpy()) == target).mean()),
                     "diversity": pairwise_diversity(out.tokens, 1, metric="l1"), "nfe": float(out.trace["nfe"]),
                     "oracle_calls": out.trace["oracle_calls"] / n,
                     "label_calls": len(p_train) if name.startswith("reward") else 0, "seconds": out.trace["seconds"]})
        print(f"[digits-class3] {name:10s} p(3|x)={rows[-1]['reward']:.3f} E[1/p]={rows[-1]['inv_prob']:.3g} "
              f"nfe={rows[-1]['nfe']:.1f}", flush=True)
    return rows, info


def _judge_oracle(judge: Any, target: int, alphabet: Any) -> Any:
    def score(xs: list[str]) -> list[float]:
        return judge.predict_proba(alphabet.encode(xs).numpy())[:, target].tolist()

    return from_function(score, name=f"judge_p{target}", alphabet=alphabet)


def reward_notes(info: dict[str, Any], n: int) -> str:
    parts = [f"{n} samples per method (sampling seed {SEED}), steps = sequence length. The reweighted predictor is "
             "the pretrained model fine-tuned on the training data drawn with replacement in proportion to the "
             "weights (no sampling trajectories); `label_calls` = rewards needed for those weights (the training "
             "set, once); `nfe` counts both networks; `oracle_calls` = calls during sampling per sample. `reward` "
             "= mean JASPAR score (dna) or mean judge probability of class 3 (digits) of the samples, re-scored "
             "after sampling; `inv_prob` = E[1 / p(3 | X)] (the CFG diagnostic of Jiao et al.); `class_acc` = "
             "fraction the judge assigns to class 3."]
    for name, m in info.items():
        extra = f", lam {m['lam']}, data mean reward {m['data_mean']:.4f}" if "lam" in m else f", target {m['target']}"
        parts.append(f"**{name}**: {m['data']} training items, ESS of the weights {m['ess']}, fine-tune {m['steps']} "
                     f"steps ({m['train_seconds']:.0f}s{', cached' if m.get('cached') else ''}){extra}.")
    return "\n\n".join(parts)


def reward_reading(rows: list[dict[str, Any]]) -> str:
    lines = []
    for task in dict.fromkeys(r["task"] for r in rows):
        t_rows = {r["method"]: r for r in rows if r["task"] == task}
        base = t_rows["unguided"]
        for name, r in t_rows.items():
            if name == "unguided":
                continue
            z = (r["reward"] - base["reward"]) / (math.hypot(r["reward_sem"], base["reward_sem"]) or float("nan"))
            lines.append(f"- {task} {name}: reward {r['reward']:.4f} vs unguided {base['reward']:.4f} "
                         f"({z:+.1f} s.e.), NFE {r['nfe']:.0f} vs {base['nfe']:.0f}, diversity {r['diversity']:.3f} "
                         f"vs {base['diversity']:.3f}.")
    return "\n".join(lines) + "\n\n" + markdown_table(rows, ["task", "method", "reward", "nfe", "label_calls"])
