"""Unguided distribution metrics of the MOSES-trained masked-diffusion model (MOSES definitions, RDKit).

The model is the one ``design_pmo``'s best-of-N samples from (:func:`benchmarks.design_pmo.moses_model`:
a masked-diffusion transformer on 50,000 MOSES training molecules as SELFIES), and its samples are the first
10,000 of the same seed-0 pool. Metrics (:func:`seqguide.metrics.distribution_metrics`, Polykovskiy et al.
2020): validity, uniqueness (all, @1k, @10k), novelty against the whole MOSES training split (1,584,663
canonical SMILES) and against the 50,000 molecules the model was trained on, internal diversity IntDiv1/2, and
SNN against 10,000 molecules drawn at random from the MOSES test split. The ``moses_test`` row applies the same
metrics to 10,000 other test-split molecules: the values real data get.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.design_pmo import MODEL, moses_pool, moses_smiles
from benchmarks.runner import Cell, CellBenchmark, CellRecord, Report, RunContext, RunOptions
from seqguide.metrics import distribution_metrics

__all__ = ["BENCHMARK", "MosesMetrics"]

N = 10_000
N_QUICK = 1_000


def _test_split(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Two disjoint random samples of ``n`` test-split molecules: the SNN reference and the data row."""
    test = moses_smiles("test")
    idx = np.random.default_rng(seed).permutation(len(test))
    return [test[i] for i in idx[:n]], [test[i] for i in idx[n:2 * n]]


class MosesMetrics(CellBenchmark):
    """Validity, uniqueness, novelty, IntDiv and SNN of the MOSES model's samples and of MOSES test data."""

    name = "moses_metrics"
    title = "Distribution metrics of the MOSES-trained model (unguided)"
    version = 1
    default_seeds = (0,)

    def cells(self, options: RunOptions) -> list[Cell]:
        n = N_QUICK if options.quick else N
        settings = {"n": n, "model": {k: v for k, v in MODEL.items() if k != "train_steps_quick"},
                    "quick": options.quick}
        return [Cell(m, "moses", s, None, settings) for m in ("moses_model", "moses_test") for s in self.seeds(options)]

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict[str, Any]:
        n = int(cell.settings["n"])
        reference, data = _test_split(n, cell.seed)
        train_all = set(moses_smiles("train"))
        seen = set(moses_smiles("train", MODEL["limit"]))
        if cell.method == "moses_model":
            generated, cpu, _, info = moses_pool(ctx, cell.seed, n)
            extra = {"sampling_cpu_seconds": cpu, "model_val_nll": info["metrics"].get("val/nll"),
                     "model_train_seconds": info["train_seconds"]}
        else:
            generated, extra = data, {}
        out = distribution_metrics(generated, train=train_all, reference=reference)
        out["novelty_vs_model_data"] = _novelty(generated, seen)
        out.update(extra)
        return out

    def report(self, records: list[CellRecord], ctx: RunContext) -> Report:
        rows = [{"source": r.cell.method, "seed": r.cell.seed, **{k: v for k, v in r.result.items()}}
                for r in records]
        cols = ["source", "seed", "n", "validity", "uniqueness", "unique@1000", "unique@10000", "novelty",
                "novelty_vs_model_data", "intdiv1", "intdiv2", "snn", "model_val_nll", "sampling_cpu_seconds"]
        notes = ("`moses_model`: 10,000 unguided samples of the MOSES model (SELFIES decoded by `selfies`, read by "
                 "RDKit); `moses_test`: 10,000 MOSES test-split molecules. `novelty` is against the full MOSES "
                 "training split, `novelty_vs_model_data` against the 50,000 molecules the model was trained on; "
                 "`snn` against another 10,000 test-split molecules; IntDiv over all pairs (Morgan r=2, 1024 bits).")
        return Report(rows, columns=cols, notes=notes)


def _novelty(generated: list[str], seen: set[str]) -> float:
    from seqguide.metrics import canonical_smiles, novelty

    return novelty(canonical_smiles(generated), seen)


BENCHMARK = MosesMetrics()
