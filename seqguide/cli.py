"""The ``seqguide`` command.

    seqguide train [--config configs/train/crp.yaml] [--trainer.max_steps 500] [--print_config]
    seqguide sample --ckpt model.ckpt -n 100 --steps 128 --out samples.fasta
    seqguide train-value --ckpt model.ckpt --oracle qed --out value.ckpt
    seqguide design run CAMPAIGN.yaml [--quick] [--resume] [key=value ...]
    seqguide design validate CAMPAIGN.yaml
    seqguide report RUN_DIR_OR_STORE
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

__all__ = ["main"]

_USAGE = """usage: seqguide <command> [options]

commands:
  train         train a masked diffusion model or a simplex flow (LightningCLI; --help for all options)
  sample        sample sequences from a trained checkpoint
  train-value   train a learned value model (SVDD-MC) for a checkpoint and an oracle
  design        run or validate a YAML design campaign (design run | design validate)
  report        write tables and plots for a campaign run
  oracles       list oracles or score a FASTA/CSV file (oracles list | oracles score)

Run 'seqguide <command> --help' for a command's options.
"""


def _train(argv: Sequence[str]) -> int:
    from seqguide.training import train_cli

    return train_cli(argv)


def _sample(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="seqguide sample", description="Sample sequences from a checkpoint.")
    parser.add_argument("--ckpt", required=True, help="MaskedDiffusion or GumbelSoftmaxFlow checkpoint (.ckpt)")
    parser.add_argument("-n", "--num", type=int, default=16, help="number of sequences (default 16)")
    parser.add_argument("--steps", type=int, default=None, help="reverse steps (default: the model length)")
    parser.add_argument("--out", default=None, help="output .fasta/.fa or .csv (default: print to stdout)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--cond", type=int, default=None, help="class label for a conditional model")
    parser.add_argument("--batch-size", type=int, default=None, help="samples per batch")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--no-cache", action="store_true", help="disable reuse of unchanged predictions")
    args = parser.parse_args(argv)

    import torch

    from seqguide.models import load_model
    from seqguide.sampling import sample

    try:
        model = load_model(args.ckpt, map_location=torch.device(args.device))
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    out = sample(model, args.num, steps=args.steps or model.length, cond=args.cond, seed=args.seed,
                 batch_size=args.batch_size, progress=sys.stderr.isatty(), cache=not args.no_cache)
    _write_sequences(out.sequences, args.out)
    print(f"{len(out.sequences)} sequences, nfe={out.trace['nfe']:.1f}, {out.trace['seconds']:.1f}s",
          file=sys.stderr)
    return 0


def _write_sequences(seqs: Sequence[str], out: str | None) -> None:
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

        pd.DataFrame({"id": [f"sample_{i}" for i in range(len(seqs))], "sequence": list(seqs)}).to_csv(
            path, index=False)
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
    "train-value": _lazy("seqguide.guidance.train_value", "main"),
    "design": _lazy("seqguide.design.cli", "design_main"),
    "report": _lazy("seqguide.design.cli", "report_main"),
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
