"""The shipped campaigns end to end with ``--quick``: wall time (model training included), best objective, calls.

Each ``configs/campaigns/*.yaml`` runs as ``seqguide design run FILE --quick`` would, in a fresh run directory
under ``runs/benchmarks/campaigns/``, and the table records the wall time of the whole run (training the model
when the campaign trains one), the best valid objective, the designs scored and the real oracle calls (designs
plus the guidance's look-ahead calls with ``value: oracle``). This is the README's campaign table.

    python -m benchmarks run campaigns            # ~6 minutes on 2 CPU cores
    python -m benchmarks run campaigns -- --only dna_motif ehrlich
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from benchmarks.common import environment, read_table, write_table

__all__ = ["main"]

RESULTS = Path(__file__).parent / "results"
CONFIGS = Path(__file__).resolve().parent.parent / "configs" / "campaigns"
WORK = Path("runs/benchmarks/campaigns")


def run_one(path: Path, run_dir: Path) -> dict:
    """One quick campaign in a fresh ``run_dir``: its table row."""
    from seqguide.design import Campaign

    if run_dir.exists():
        shutil.rmtree(run_dir)
    start = time.perf_counter()
    campaign = Campaign.from_yaml(path, [f"run_dir={run_dir}"], quick=True)
    result = campaign.run(progress=False)
    seconds = time.perf_counter() - start
    cfg = campaign.config
    guidance = ", ".join(g.method for g in cfg.guidance) or "unguided"
    if cfg.sampling.anchor is not None:
        guidance = f"{guidance} + elite infill" if cfg.guidance else "elite infill"
    values = sorted({src for g in cfg.guidance for src in g.sources().values()})
    best = result.best[0].objective if result.best else None
    return {"campaign": path.stem, "guidance": guidance, "value": "+".join(values) or "-",
            "rounds": len(result.rounds), "designs_charged": sum(r.n_charged for r in result.rounds),
            "rejected_by_constraints": sum(r.n_scored - r.n_charged for r in result.rounds),
            "oracle_calls": result.budget_used, "budget": result.budget, "best": best, "seconds": seconds,
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def _previous_rows(path: Path) -> dict[str, dict]:
    """The rows of an earlier run's CSV (by campaign), to keep those not run again."""
    return {r["campaign"]: r for r in read_table(path)} if path.is_file() else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks run campaigns", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the same runs (they are --quick already), written "
                                                            "under runs/benchmarks/ instead of the results")
    parser.add_argument("--only", nargs="+", default=None, help="campaign names (default: every shipped one)")
    args = parser.parse_args(argv)
    paths = sorted(CONFIGS.glob("*.yaml"))
    if args.only:
        unknown = set(args.only) - {p.stem for p in paths}
        if unknown:
            parser.error(f"unknown campaign(s) {sorted(unknown)}; shipped: {[p.stem for p in paths]}")
        paths = [p for p in paths if p.stem in args.only]
    out = WORK / "quick" if args.quick else RESULTS / "campaigns"
    rows = _previous_rows(out.with_suffix(".csv")) if args.only else {}  # --only replaces those rows
    for path in paths:
        rows[path.stem] = run_one(path, WORK / path.stem)
        print(rows[path.stem], flush=True)
    rows = [rows[name] for name in sorted(rows)]
    notes = ("Each shipped campaign with `--quick` (smaller model training, fewer rounds and candidates), from "
             "scratch: `seconds` is the wall time of the whole run, model training included; `oracle_calls` counts "
             "every real call to the objective (designs scored, calls re-paid after a crash, and the look-ahead "
             "of guidance with `value: oracle`), against `budget`; `designs_charged` are the designs sent to the "
             "objective, `rejected_by_constraints` those a hard constraint refused before scoring (stored, free); "
             "`best` is the best valid combined objective.")
    write_table(rows, out, title="Shipped campaigns with --quick", env=environment("cpu"), notes=notes)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
