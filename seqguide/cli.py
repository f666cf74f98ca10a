"""The ``seqguide`` command.

    seqguide train [--config configs/train/crp.yaml] [--trainer.max_steps 500] [--print_config]
    seqguide train --config configs/train/digits_diffusion.yaml     (image models: digits_flow.yaml too)
    seqguide sample --ckpt model.ckpt -n 100 --steps 128 --out samples.fasta
    seqguide sample --ckpt model.ckpt -n 32 --guidance svdd:particles=8 --oracle gc --out guided.csv
    seqguide guiders list | seqguide guiders show NAME
    seqguide train-value --ckpt model.ckpt --oracle qed --out value.ckpt
    seqguide design run CAMPAIGN.yaml [--quick] [--resume] [key=value ...]
    seqguide design validate CAMPAIGN.yaml
    seqguide design import RUN_DIR_OR_STORE labelled.csv
    seqguide report RUN_DIR_OR_STORE
    seqguide export RUN_DIR_OR_STORE --format fasta|csv|sdf|parquet [--top K] [--out FILE]
    seqguide oracles list
    seqguide oracles score NAME designs.fasta

Each subcommand lives with the code it drives; this module only dispatches (imports are lazy, so
``seqguide oracles list`` does not import Lightning).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["main"]

_USAGE = """usage: seqguide <command> [options]

commands:
  train         train a model from a LightningCLI config (masked diffusion, or an image model when
                model.class_path is GaussianDiffusion / FlowMatching; --help for all options)
  sample        sample sequences from a trained checkpoint (optionally guided: --guidance NAME:key=value,...)
  guiders       list the guidance methods, or show one's arguments (guiders list | guiders show NAME)
  train-value   train a learned value model (SVDD-MC) for a checkpoint and an oracle
  design        run, validate or import into a YAML design campaign (design run | validate | import)
  report        write tables and plots for a campaign run
  export        write a run's designs as FASTA, CSV, SDF or parquet (scores, round, provenance, digest)
  oracles       list oracles or score a FASTA/CSV file (oracles list | oracles score)

Run 'seqguide <command> --help' for a command's options.
"""


def _train(argv: Sequence[str]) -> int:
    from seqguide.io.safe_yaml import ConfigError
    from seqguide.training.images import is_image_config

    try:
        image = is_image_config(argv)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if image:  # model.class_path GaussianDiffusion / FlowMatching: the image LightningCLI
        from seqguide.training.images import train_images_cli

        return train_images_cli(argv)
    from seqguide.training.sequences import train_cli

    return train_cli(argv)


def _sample_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="seqguide sample", description="Sample sequences from a checkpoint, "
                                     "optionally steered by guiders from the registry ('seqguide guiders list').")
    parser.add_argument("--ckpt", required=True, help="MaskedDiffusion or GumbelSoftmaxFlow checkpoint (.ckpt)")
    parser.add_argument("-n", "--num", type=int, default=16, help="number of sequences (default 16)")
    parser.add_argument("--steps", type=int, default=None, help="reverse steps (default: the model length)")
    parser.add_argument("--out", default=None, help="output .fasta/.fa or .csv (default: print to stdout)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--cond", type=int, default=None, help="class label for a conditional model")
    parser.add_argument("--batch-size", type=int, default=None, help="samples per batch")
    parser.add_argument("--no-cache", action="store_true", help="disable reuse of unchanged predictions")
    g = parser.add_argument_group("guidance (validated against each guider's constructor)")
    g.add_argument("--guidance", action="append", default=[], metavar="SPEC",
                   help="a guider: NAME, NAME:key=value,key=value (YAML values) or '{method: NAME, ...}'; repeat to "
                        "stack guiders (see 'seqguide guiders show NAME'). NAME may be a class path, pkg.mod.Class "
                        "or pkg.mod:Class; after a dotted NAME the ':'-part without '=' is the class, so "
                        "pkg.mod:Class:key=value")
    g.add_argument("--oracle", default=None, help="registered oracle for guiders with value: oracle (the look-ahead "
                   "reward; see 'seqguide oracles list')")
    g.add_argument("--oracle-arg", action="append", default=[], metavar="KEY=VALUE", help="an --oracle argument")
    g.add_argument("--surrogate", default=None, help="a saved oracles.Surrogate (.safetensors) for value: surrogate")
    g.add_argument("--value-model", default=None, help="a ValueModel checkpoint for value: value_model")
    parser.add_argument("--compile", action="store_true", help="torch.compile the network before sampling")
    from seqguide.models.devices import add_device_arguments

    add_device_arguments(parser)  # the samples depend on --seed and --batch-size, not on the number of devices
    return parser


def _guiders_from_args(args: argparse.Namespace, device: Any) -> list[Any]:
    """Build the ``--guidance`` stack with the resources the options give; raises GuiderSpecError / ValueError."""
    from seqguide.guidance.registry import GuiderSpecError, guider_spec, validate_stack
    from seqguide.guidance.registry.cli import parse_guidance_option

    specs = []
    for i, text in enumerate(args.guidance):
        try:
            specs.append(guider_spec(parse_guidance_option(text)))
        except GuiderSpecError as err:
            raise GuiderSpecError([(f"--guidance[{i}]" + (f".{p}" if p else ""), m) for p, m in err.problems]) from None
    problems = validate_stack(specs)
    if problems:
        raise GuiderSpecError([("--guidance", m.replace("guidance[", "--guidance[")) for _, m in problems])
    needed = {src for spec in specs for src in spec.sources().values()}
    resources: dict[str, Any] = {}
    if "oracle" in needed:
        if args.oracle is None:
            raise GuiderSpecError([("--oracle", "a guider takes value: oracle: name the oracle with --oracle NAME")])
        from oracles import Cached, get_oracle
        from seqguide.guidance.value.train_cli import parse_oracle_args

        try:
            resources["oracle"] = Cached(get_oracle(args.oracle, **parse_oracle_args(args.oracle_arg)))
        except (KeyError, TypeError, ValueError) as err:
            raise GuiderSpecError([("--oracle", str(err).strip("'\""))]) from None
    if "surrogate" in needed:
        if args.surrogate is None:
            raise GuiderSpecError([("--surrogate", "a guider takes value: surrogate: give --surrogate FILE")])
        from oracles import Surrogate

        resources["surrogate"] = Surrogate.load(args.surrogate, device=device)
    if "value_model" in needed:
        if args.value_model is None:
            raise GuiderSpecError([("--value-model", "a guider takes value: value_model: give --value-model FILE")])
        from seqguide.guidance.value.learned import LearnedValue
        from seqguide.guidance.value.model import ValueModel

        resources["value_model"] = LearnedValue(ValueModel.load(args.value_model, map_location=device),
                                                resources.get("oracle"))
    unknown = needed - set(resources)
    if unknown:
        raise GuiderSpecError([("--guidance", f"seqguide sample cannot provide the source(s) {sorted(unknown)}")])
    return [spec.build({param: resources[src] for param, src in spec.sources().items()}) for spec in specs]


def _sample(argv: Sequence[str]) -> int:
    parser = _sample_parser()
    args = parser.parse_args(argv)

    from seqguide.guidance.registry import GuiderSpecError
    from seqguide.models import load_model
    from seqguide.models.devices import LaunchSpec, resolve_device
    from seqguide.sampling.distributed import launch_sampling

    try:
        spec = LaunchSpec.from_args(args)
        device = resolve_device(spec.device)
        model = load_model(args.ckpt, map_location=device)
        classes = model.num_classes
        if args.cond is not None and not 0 <= args.cond <= classes - (classes == 0):
            raise ValueError(f"--cond {args.cond}: " + (f"labels are 0..{classes - 1} ({classes} = unconditional)"
                                                         if classes else "the model is unconditional"))
    except (FileNotFoundError, ValueError, RuntimeError) as err:  # a bad file or argument: one line, no traceback
        parser.exit(2, f"seqguide sample: error: {_first_line(err)}\n")
    try:
        guiders = _guiders_from_args(args, device)
    except (GuiderSpecError, FileNotFoundError) as err:
        problems = getattr(err, "problems", [("", str(err))])
        for where, msg in problems:
            print(f"seqguide sample: error: {where + ': ' if where else ''}{msg}", file=sys.stderr)
        return 2
    except (ValueError, RuntimeError, OSError) as err:  # e.g. a damaged --surrogate / --value-model file
        parser.exit(2, f"seqguide sample: error: {_first_line(err)}\n")
    from seqguide.sampling.memory import check_forward_memory, guider_rows, is_out_of_memory

    try:
        most, where = 1, "--batch-size" if args.batch_size else "-n"
        for i, g in enumerate(guiders):  # a batch whose logits alone cannot fit: refused before it is tried
            factor, arg = guider_rows(vars(g))
            most, where = (factor, f"--guidance[{i}].{arg}") if factor > most else (most, where)
        check_forward_memory(min(args.num, args.batch_size or args.num) * most, model.length,
                             model.alphabet.vocab_size, device, where=where)
        out = launch_sampling(model, spec, args.num, steps=args.steps or model.length, cond=args.cond,
                              seed=args.seed, batch_size=args.batch_size, progress=sys.stderr.isatty(),
                              cache=not args.no_cache, compile=args.compile, guidance=guiders)
    except (ValueError, RuntimeError, MemoryError) as err:
        if is_out_of_memory(err):
            parser.exit(2, f"seqguide sample: error: out of memory on {device} while sampling; lower -n, "
                           f"--batch-size or a guider's particles ({_first_line(err)[:160]})\n")
        parser.exit(2, f"seqguide sample: error: {_first_line(err)}\n")
    if out is None:  # not global rank 0 of a distributed run: rank 0 writes the output
        return 0
    scores = None if out.scores is None else [float(v) for v in out.scores]
    _write_sequences(out.sequences, args.out, scores)
    calls = f", oracle calls={out.trace['oracle_calls']}" if guiders else ""
    print(f"{len(out.sequences)} sequences, nfe={out.trace['nfe']:.1f}{calls}, {out.trace['seconds']:.1f}s",
          file=sys.stderr)
    return 0


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def _write_sequences(seqs: Sequence[str], out: str | None, scores: Sequence[float] | None = None) -> None:
    if out is None:
        for s in seqs:
            print(s)
        return
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix in (".fa", ".fasta", ".fna", ".faa"):
        path.write_text("".join(f">sample_{i}\n{s}\n" for i, s in enumerate(seqs)))
    elif suffix == ".csv":
        import pandas as pd

        table = {"id": [f"sample_{i}" for i in range(len(seqs))], "sequence": list(seqs)}
        if scores is not None:
            table["score"] = list(scores)
        pd.DataFrame(table).to_csv(path, index=False)
    else:
        raise SystemExit(f"seqguide sample: --out must end in .fasta/.fa or .csv, got {out!r}")
    print(f"wrote {path}", file=sys.stderr)


def _lazy(module: str, func: str) -> Callable[[Sequence[str]], int]:
    def run(argv: Sequence[str]) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), func)(list(argv)) or 0)

    return run


_COMMANDS: dict[str, Callable[[Sequence[str]], int]] = {
    "train": _train,
    "sample": _sample,
    "train-value": _lazy("seqguide.guidance.value.train_cli", "main"),
    "guiders": _lazy("seqguide.guidance.registry.cli", "guiders_main"),
    "design": _lazy("seqguide.design.cli", "design_main"),
    "report": _lazy("seqguide.design.cli", "report_main"),
    "export": _lazy("seqguide.design.export", "export_main"),
    "oracles": _lazy("oracles.cli", "main"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``seqguide`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_USAGE)
        return 0
    if argv[0] in ("-V", "--version"):
        from seqguide import __version__

        print(f"seqguide {__version__}")
        return 0
    command = _COMMANDS.get(argv[0])
    if command is None:
        print(f"seqguide: unknown command {argv[0]!r}\n\n{_USAGE}", file=sys.stderr)
        return 2
    return command(argv[1:])


if __name__ == "__main__":
    raise SystemExit(main())
