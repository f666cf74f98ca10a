"""Does the campaign's surrogate rank? Held-out Spearman per round, refit from scratch against warm-started.

The shipped ``ehrlich`` campaign (SVDD guided by a surrogate refitted before each round) runs with ``--quick`` for a
few seeds, once with the surrogate fitted from scratch every round and once warm-started from the previous round's
weights (``surrogate.warm_start``). After each guided round the loop compares the surrogate's predictions for that
round's designs, which it had not seen, with their true values (``rounds.value_spearman``); this table collects
them with the round's best value and feasible fraction.

    python -m benchmarks run surrogate_ranking          # ~5 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from benchmarks.common import environment, write_table

__all__ = ["main"]

RESULTS = Path(__file__).parent / "results"
CONFIG = Path(__file__).resolve().parent.parent / "configs" / "campaigns" / "ehrlich.yaml"
WORK = Path("runs/benchmarks/surrogate_ranking")
VARIANTS = {"scratch": [], "warm_start": ["surrogate.warm_start=true", "surrogate.warm_epochs=10"]}


def main(argv: list[str] | None = None) -> int:
    from seqguide.design import Campaign

    parser = argparse.ArgumentParser(prog="python -m benchmarks run surrogate_ranking",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, written under runs/benchmarks/")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, help="campaign seeds (default 0 1 2)")
    args = parser.parse_args(argv)
    seeds = args.seeds or ([0] if args.quick else [0, 1, 2])
    rows, summary = [], []
    for variant, overrides in VARIANTS.items():
        rhos = []
        for seed in seeds:
            run_dir = WORK / f"{variant}_s{seed}"
            if run_dir.exists():
                shutil.rmtree(run_dir)
            result = Campaign.from_yaml(CONFIG, [f"run_dir={run_dir}", f"seed={seed}", "loop.rounds=6",
                                                 "loop.budget=192", *overrides], quick=True).run(progress=False)
            for r in result.rounds:
                rows.append({"variant": variant, "seed": seed, "round": r.round, "value_spearman": r.value_spearman,
                             "n_valid": r.n_valid, "n_charged": r.n_charged, "best": r.best,
                             "fit_seconds": r.fit_seconds})
                if r.value_spearman is not None:
                    rhos.append(r.value_spearman)
            print(rows[-1], flush=True)
        summary.append({"variant": variant, "seeds": " ".join(map(str, seeds)), "guided_rounds": len(rhos),
                        "mean_spearman": float(np.mean(rhos)) if rhos else None,
                        "min_spearman": min(rhos, default=None), "max_spearman": max(rhos, default=None)})
    notes = ("The `ehrlich` campaign with --quick (2 motifs of length 4, 20 states, length 32; 32 designs per round), "
             "6 rounds, per seed and variant. `value_spearman`: Spearman correlation of the round's surrogate "
             "(fitted on the labels of earlier rounds) with the true value on the round's valid designs; empty "
             "for unguided rounds (too few labels) or a constant side. `warm_start`: each refit starts from the "
             "previous round's weights (10 epochs) instead of from scratch (15 epochs).")
    out = WORK / "quick" if args.quick else RESULTS / "surrogate_ranking"
    from benchmarks.common import markdown_table

    write_table(rows, out, title="Surrogate ranking per round: from scratch vs warm-started",
                env=environment("cpu"), notes=notes, sections=[("Summary", markdown_table(summary))])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
