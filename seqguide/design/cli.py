"""``seqguide design`` and ``seqguide report``.

    seqguide design run CAMPAIGN.yaml [--quick] [--resume] [--no-progress] [--threads N] [key=value ...]
    seqguide design validate CAMPAIGN.yaml [--quick] [--print-config] [key=value ...]
    seqguide design import RUN_DIR_OR_STORE FILE [--sequence-column C] [--value-column V] [--missing error|drop]
    seqguide report RUN_DIR_OR_STORE [--top-k K] [--out DIR]

Exit codes: 0 success, 1 the run failed, 2 a configuration problem (the message names file, key and
expectation) or a run directory another process is writing, 130 interrupted by Ctrl-C and 143 by SIGTERM
(resume with ``--resume``). Bad input (a campaign file, a checkpoint, a data file, a store) is reported in
one or two lines, never with a traceback; a traceback is printed only for an unexpected internal error.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from collections.abc import Sequence

__all__ = ["design_main", "report_main"]

_EXIT_FAILED, _EXIT_CONFIG, _EXIT_INTERRUPTED = 1, 2, 130


_DESIGN_USAGE = """usage: seqguide design {run,validate} CAMPAIGN.yaml [options] [key=value ...]
       seqguide design import RUN_DIR_OR_STORE FILE [options]

  run        run a campaign (or continue it with --resume)
  validate   check a campaign file and print what it resolves to
  import     store a labelled file (a wet-lab batch) in a stopped run as a new round, never charged

Run 'seqguide design run --help' for the options of an action.
"""


def _action_parser(action: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"seqguide design {action}",
                                description="Run a YAML design campaign." if action == "run"
                                else "Check a YAML design campaign and print what it resolves to.")
    p.add_argument("file", help="campaign YAML file")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="override a key, e.g. loop.rounds=2 guidance.0.particles=4 (applied after quick:)")
    p.add_argument("--quick", action="store_true", help="apply the file's quick: section (a fast CPU run)")
    if action == "run":
        p.add_argument("--resume", action="store_true",
                       help="continue the run in the run directory (no scored design is lost or scored twice)")
        p.add_argument("--no-progress", action="store_true", help="no animated progress bars")
        p.add_argument("--threads", type=int, default=1,
                       help="torch CPU threads (default 1: the small models of a campaign run fastest on one "
                            "thread, and a busy machine makes more threads much slower; 0 keeps torch's default)")
    else:
        p.add_argument("--print-config", action="store_true", help="print the resolved configuration as JSON")
    return p


def _import_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seqguide design import",
                                description="Store a labelled file (CSV/TSV/parquet, or FASTA with 'value=' in its "
                                            "headers) in a stopped run as a new import round, never charged to the "
                                            "budget; continue with 'seqguide design run ... --resume'.")
    p.add_argument("run", help="a run directory (runs/campaigns/<name>) or its campaign.sqlite")
    p.add_argument("file", help="the labelled file")
    p.add_argument("--sequence-column", default="sequence", help="the sequence column (default: sequence)")
    p.add_argument("--value-column", default="value", help="the value column, or the FASTA header key (default: "
                   "value)")
    p.add_argument("--missing", choices=("error", "drop"), default="error",
                   help="a row with a missing sequence cell: error (default) or drop")
    return p


def _import(argv: Sequence[str]) -> int:
    from seqguide.design.batch_import import import_batch
    from seqguide.design.initial import InitialData
    from seqguide.design.lock import LockError
    from seqguide.design.store import StoreError

    args = _import_parser().parse_args(list(argv))
    spec = InitialData(args.file, sequence_column=args.sequence_column, value_column=args.value_column,
                       missing=args.missing)
    try:
        out = import_batch(args.run, spec, argv=["seqguide", "design", "import", *argv])
    except (ValueError, FileNotFoundError, LockError) as err:
        print(f"error: {err}", file=sys.stderr)
        return _EXIT_CONFIG
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return _EXIT_FAILED
    if not out["imported"]:
        print(f"{args.file}: already imported as round {out['round'] + 1} (sha256 {out['sha256'][:12]}); nothing to do")
        return 0
    print(f"{args.file}: imported {out['designs']} designs as round {out['round'] + 1} ({out['rows']} rows, "
          f"{out['duplicates']} replicate rows merged, {out['missing_values']} without a value, "
          f"{out['already_stored']} already in the run), not charged to the budget")
    return 0


def _validate(args: argparse.Namespace) -> int:
    from seqguide.design.campaign import Campaign

    campaign = Campaign.from_yaml(args.file, args.overrides, quick=args.quick)
    objective = campaign.build_objective()
    if "value_model" in campaign.config.value_sources():
        from seqguide.design.guidance_stack import value_model_available

        if not value_model_available():
            from seqguide.design.config_io import ConfigError

            raise ConfigError(args.file, [("guidance", "value: value_model needs seqguide.guidance.value.fit "
                                           "(fit_value_model), which this installation does not have")])
    cfg = campaign.config
    if args.print_config:
        print(json.dumps(campaign.resolved(), indent=2))
    model = cfg.model.checkpoint or f"trained: {cfg.model.train.steps} steps on " + (  # type: ignore[union-attr]
        cfg.model.train.data.preset or cfg.model.train.data.path  # type: ignore[union-attr]
        or f"{cfg.model.train.data.ehrlich_samples} Ehrlich DMP draws")  # type: ignore[union-attr]
    guidance = ", ".join(g.describe() for g in cfg.guidance) or "unguided"
    print(f"{args.file}: OK{' (quick)' if args.quick else ''}")
    print(f"  name {cfg.name!r}, seed {cfg.seed}, run dir {campaign.run_dir}, store {campaign.store_path}")
    print(f"  model: {model}")
    print(f"  objective: {cfg.objective.combine} of " + ", ".join(
        f"{c.label} (w={c.weight:g})" for c in objective.components)
        + (f"; {len(objective.constraints)} constraint(s)" if objective.constraints else ""))
    print(f"  guidance: {guidance}")
    print(f"  loop: {cfg.loop.rounds} rounds x {cfg.loop.candidates} candidates, budget {cfg.budget} oracle calls")
    return 0


def _run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from seqguide.design.campaign import Campaign
    from seqguide.design.config_io import ConfigError

    campaign = Campaign.from_yaml(args.file, args.overrides, quick=args.quick)
    args.store_path = campaign.store_path  # a failure advises --resume only where there is a store to resume
    if args.threads < 0:
        raise ConfigError("command line", [("--threads", f"must be >= 0, got {args.threads}")])
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    campaign.run(resume=args.resume, progress=False if args.no_progress else None,
                 argv=["seqguide", "design", *argv])
    return 0


def design_main(argv: Sequence[str]) -> int:
    """Entry point of ``seqguide design`` (``argv`` without the word ``design``)."""
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_DESIGN_USAGE)
        return 0 if argv else _EXIT_CONFIG
    if argv[0] == "import":
        return _import(argv[1:])
    if argv[0] not in ("run", "validate"):
        print(f"seqguide design: unknown action {argv[0]!r}\n\n{_DESIGN_USAGE}", file=sys.stderr)
        return _EXIT_CONFIG
    args = _action_parser(argv[0]).parse_intermixed_args(argv[1:])
    args.action = argv[0]
    from oracles.base import OracleOutputError
    from seqguide.design.campaign import CampaignError
    from seqguide.design.config_io import ConfigError
    from seqguide.design.interrupts import Interrupted
    from seqguide.design.lock import LockError
    from seqguide.design.store import StoreError

    resume = f"seqguide design run {args.file} --resume"
    try:
        return _validate(args) if args.action == "validate" else _run(args, argv)
    except (ConfigError, CampaignError, LockError) as err:
        print(f"error: {err}", file=sys.stderr)
        return _EXIT_CONFIG
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return _EXIT_FAILED
    except OracleOutputError as err:
        print(f"error: the run stopped: {err}; every result stored so far is kept. After fixing the oracle, "
              f"continue with: {resume}", file=sys.stderr)
        return _EXIT_FAILED
    except KeyboardInterrupt as err:
        how = str(err) if isinstance(err, Interrupted) else "interrupted"
        print(f"\n{how}: every design scored so far is in the store; continue with: {resume}", file=sys.stderr)
        return err.exit_code if isinstance(err, Interrupted) else _EXIT_INTERRUPTED
    except Exception:
        traceback.print_exc()
        store = getattr(args, "store_path", None)
        if args.action == "run" and store is not None and store.is_file():
            print(f"error: the run failed; every design scored so far is in the store. After fixing the cause, "
                  f"continue with: {resume}", file=sys.stderr)
        elif args.action == "run":
            print(f"error: the run failed before it stored anything (no store at {store}); after fixing the cause, "
                  f"run it again", file=sys.stderr)
        return _EXIT_FAILED


def report_main(argv: Sequence[str]) -> int:
    """Entry point of ``seqguide report`` (``argv`` without the word ``report``)."""
    parser = argparse.ArgumentParser(prog="seqguide report", description="Write tables and plots for a campaign run.")
    parser.add_argument("run", help="a run directory (runs/campaigns/<name>) or its campaign.sqlite")
    parser.add_argument("--top-k", type=int, default=None, help="designs in the top table and logo (default: "
                        "the campaign's report.top_k)")
    parser.add_argument("--out", default=None, help="output directory (default: <run dir>/report)")
    args = parser.parse_args(list(argv))
    if args.top_k is not None and args.top_k < 1:
        parser.error(f"--top-k must be positive, got {args.top_k}")
    from seqguide.design.report import write_report
    from seqguide.design.store import StoreError

    try:
        rep = write_report(args.run, args.out, top_k=args.top_k)
    except (FileNotFoundError, ValueError, StoreError) as err:
        print(f"error: {err}", file=sys.stderr)
        return _EXIT_FAILED
    for path in rep.files.values():
        print(path)
    for key, why in rep.skipped.items():
        print(f"(no {key}: {why})")
    print(f"report: {rep.files['summary']}")
    return 0
