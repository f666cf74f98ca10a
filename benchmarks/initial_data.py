"""Benchmark: a design campaign started from a labelled file (your own assay data as round 0) against the same
campaign from scratch, best-so-far at equal *paid* calls.

Task: the Ehrlich function of the ``ehrlich`` campaign (Stanton et al. 2024, arXiv 2407.00236: 20 states, length 32, 2
motifs of length 4, quantization 4), instance seed 0. Model: a masked-diffusion conv net trained on 2,000 samples of
the function's own DMP (cached under ``runs/benchmarks/initial_data/``). Campaign: :class:`seqguide.design.DesignLoop`
with :class:`~seqguide.design.EliteInfill` proposals (2 masked positions of the 16 best designs refilled), 32 designs
per round, a budget of 128 paid calls (4 rounds). *from data* imports, as round 0 and never charged, a labelled CSV
written by this benchmark: 64 other DMP samples scored by the Ehrlich function (a previous wet-lab round), plus 3
replicate rows and 4 failed measurements (empty values) as real files have them. Both arms use the same loop seeds.
Columns: best so far after each round's paid calls (mean over seeds), the best imported value, and the check that the
import was never charged (``budget_used`` = the ledger's rows = the calls the oracle received, none of them an
imported sequence).

    nice -n 10 env OMP_NUM_THREADS=1 python -m benchmarks run initial_data     # -> benchmarks/results/initial_data.*
    python -m benchmarks run initial_data --quick                              # 1 seed, under runs/benchmarks/
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import environment, markdown_table, write_table
from benchmarks.design_common import cached_model

__all__ = ["main"]

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "runs" / "benchmarks" / "initial_data"
RESULTS = REPO / "benchmarks" / "results"
TASK = {"num_states": 20, "dim": 32, "num_motifs": 2, "motif_length": 4, "quantization": 4, "seed": 0}
MODEL = {"train_samples": 2000, "steps": 600, "backbone": {"dim": 64, "depth": 3, "kernel_size": 5, "dropout": 0.1},
         "lr": 2e-3, "batch_size": 64}
LOOP = {"budget": 128, "candidates": 32, "anchor": {"elites": 16, "edits": (2, 2), "min_labels": 4}}
LAB_ROWS = 64


def _oracle() -> Any:
    from oracles.ehrlich import Ehrlich

    return Ehrlich(**TASK)


def _model() -> tuple[Any, dict[str, Any]]:
    from seqguide.data import SequenceDataModule
    from seqguide.models import ConvDenoiser
    from seqguide.training.sequences import train_masked_diffusion

    f = _oracle()

    def train(work: Path) -> Any:
        work.mkdir(parents=True, exist_ok=True)
        fasta = work / "dmp.fasta"
        fasta.write_text("".join(f">dmp_{i}\n{s}\n" for i, s in enumerate(f.sample_feasible(MODEL["train_samples"],
                                                                                               seed=1))))
        data = SequenceDataModule(path=str(fasta), alphabet=list(f.alphabet.tokens), val_fraction=0.1,
                                  batch_size=MODEL["batch_size"], seed=0)
        return train_masked_diffusion(data, backbone=ConvDenoiser(**MODEL["backbone"]), out_dir=work / "ckpt",
                                      max_steps=MODEL["steps"], val_check_interval=MODEL["steps"], seed=0,
                                      progress=False, accelerator="cpu", lr=MODEL["lr"], warmup_steps=50)

    return cached_model(WORK / "models", "ehrlich_L32_c2", {"task": TASK, **MODEL}, train)


def write_lab_file(path: Path) -> tuple[Path, float]:
    """The labelled CSV of a previous round: DMP samples (not the model's training draws) with their Ehrlich values,
    a few replicate rows and failed measurements. Returns the path and the best value in it."""
    f = _oracle()
    seqs = f.sample_feasible(LAB_ROWS, seed=7)
    values = np.asarray(f(seqs).values, dtype=np.float64)
    rows = [f"{s},{float(v)!r}" for s, v in zip(seqs, values, strict=True)]
    rows += [f"{s},{float(v)!r}" for s, v in zip(seqs[:3], values[:3], strict=True)]  # replicates (same values)
    rows += [f"{s}," for s in f.sample_feasible(4, seed=8)]  # failed measurements
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("sequence,value\n" + "\n".join(rows) + "\n")
    return path, float(np.max(values))


def _paid_oracle() -> tuple[Any, list[Any]]:
    """The Ehrlich oracle, and the list of every item it is sent (what is really paid)."""
    f = _oracle()
    received: list[Any] = []
    score = f._score

    def counted(xs: list[Any]) -> Any:
        received.extend(xs)
        return score(xs)

    f._score = counted
    return f, received


def _run(model: Any, seed: int, lab: Path | None) -> dict[str, Any]:
    from seqguide.design import DesignLoop, EliteInfill
    from seqguide.design.initial import read_labelled

    oracle, received = _paid_oracle()
    start = time.perf_counter()
    with DesignLoop(model, oracle, None, budget=LOOP["budget"], candidates=LOOP["candidates"], steps=16, seed=seed,
                    score_batch=LOOP["candidates"], anchor=EliteInfill(**LOOP["anchor"]),
                    initial=None if lab is None else str(lab), name="from data" if lab else "from scratch") as loop:
        loop.run(LOOP["budget"] // LOOP["candidates"])
        curve = []
        for r in loop.history:
            if r.kind == "design":
                vals = [d.objective for d in loop.store.designs(loop.run_id) if d.valid and d.round <= r.round
                        and d.charged]
                curve.append(max(vals, default=0.0))
        ledger = loop.store.oracle_calls(loop.run_id)
        imported = set(read_labelled(lab).keys) if lab is not None else set()
        check = (loop.budget_used == len(ledger) == len(received)
                 and not imported & {str(x) for x in received} and not imported & {c["sequence"] for c in ledger})
        best_all = loop.best(1)[0].objective if loop.best(1) else math.nan
        return {"curve": curve, "paid": loop.budget_used, "uncharged_check": check, "best_incl_import": best_all,
                "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks run initial_data", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, written under runs/benchmarks/")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="loop seeds (default 0 1 2)")
    args = parser.parse_args(argv)
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    import torch

    torch.manual_seed(0)
    model, info = _model()
    lab, lab_best = write_lab_file(WORK / "lab_round0.csv")
    rows: list[dict[str, Any]] = []
    curves: dict[str, list[list[float]]] = {"from scratch": [], "from data": []}
    for seed in seeds:
        for arm, file in (("from scratch", None), ("from data", lab)):
            out = _run(model, seed, file)
            curves[arm].append(out["curve"])
            rows.append({"arm": arm, "seed": seed, **{f"best@{(i + 1) * LOOP['candidates']}": v
                                                      for i, v in enumerate(out["curve"])},
                         "paid_calls": out["paid"], "import_never_charged": out["uncharged_check"],
                         "seconds": round(out["seconds"], 1)})
            print(rows[-1], flush=True)
    summary = []
    for arm, cs in curves.items():
        n = min(len(c) for c in cs)
        mean = np.mean([c[:n] for c in cs], axis=0)
        summary.append({"arm": arm, "seeds": " ".join(map(str, seeds)),
                        **{f"best@{(i + 1) * LOOP['candidates']}": float(v) for i, v in enumerate(mean)},
                        "best_imported": lab_best if arm == "from data" else None})
    notes = (f"Ehrlich {TASK} ; model: conv masked diffusion, {MODEL['steps']} training steps on "
             f"{MODEL['train_samples']} DMP samples (trained in {info.get('train_seconds')} s, cached). "
             f"Loop: EliteInfill {LOOP['anchor']}, {LOOP['candidates']} designs per round, budget {LOOP['budget']} "
             f"paid calls. `best@N`: best value among the designs the campaign paid for, after N paid calls (the "
             f"imported designs are not counted in it, though they are parents of the infill). The labelled file "
             f"holds {LAB_ROWS} scored DMP samples + 3 replicate rows + 4 failed measurements; `best_imported`: its "
             f"best value. `import_never_charged`: budget_used == ledger rows == calls the oracle received, and no "
             "imported sequence among them.")
    out = WORK / "quick" if args.quick else RESULTS / "initial_data"
    write_table(rows, out, title="Round 0 from a labelled file vs from scratch (Ehrlich, equal paid calls)",
                env=environment("cpu", seeds=seeds), notes=notes, sections=[("Mean over seeds",
                                                                             markdown_table(summary))])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
