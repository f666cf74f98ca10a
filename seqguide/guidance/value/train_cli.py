"""``seqguide train-value``: train an SVDD-MC value model for a checkpoint and an oracle.

    seqguide train-value --ckpt runs/crp/checkpoints/best.ckpt --oracle jaspar --oracle-arg motif=NR3C1 \\
        --n 2000 --max-steps 2000 --out value.ckpt

Draws ``--n`` unguided samples from the masked diffusion model, labels them with the oracle (invalid
designs dropped and counted), and regresses the reward on noisy states (Li et al. 2024, arXiv 2408.08252,
§4; see :mod:`seqguide.guidance.value.model`). The result loads with ``ValueModel.load(path)`` and
steers sampling as ``SVDD(LearnedValue(path, oracle), particles=M)``.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "parse_oracle_args"]

_BACKBONES = ("transformer", "conv")


def _literal(text: str) -> Any:
    """``"3" -> 3``, ``"0.5" -> 0.5``, ``"true" -> True``, ``"[1, 2]" -> [1, 2]``, anything else stays a string."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def parse_oracle_args(items: Sequence[str]) -> dict[str, Any]:
    """Turn ``["motif=CTCF", "normalize=false"]`` into ``{"motif": "CTCF", "normalize": False}``.

    Raises:
        ValueError: for an item without ``=`` or with an empty key, naming it.
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"--oracle-arg expects key=value, got {item!r}")
        out[key.strip()] = _literal(value)
    return out


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seqguide train-value",
        description="Train a learned value model (SVDD-MC) on oracle-labelled samples of a MaskedDiffusion checkpoint.",
    )
    p.add_argument("--ckpt", required=True, help="MaskedDiffusion checkpoint (.ckpt)")
    p.add_argument("--oracle", required=True, help="registered oracle name (see 'seqguide oracles list')")
    p.add_argument("--oracle-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="keyword argument for the oracle, repeatable (e.g. --oracle-arg motif=CTCF)")
    p.add_argument("--n", type=int, default=2000, help="samples drawn and labelled (default 2000)")
    p.add_argument("--sample-steps", type=int, default=None, help="reverse steps per sample (default: model length)")
    p.add_argument("--max-steps", type=int, default=2000, help="optimiser steps (default 2000)")
    p.add_argument("--batch-size", type=int, default=128, help="training batch size (default 128)")
    p.add_argument("--backbone", choices=_BACKBONES, default="conv", help="value network (default conv)")
    p.add_argument("--dim", type=int, default=48, help="network width (default 48)")
    p.add_argument("--depth", type=int, default=4, help="network depth (default 4)")
    p.add_argument("--pooling", choices=("mean", "attention"), default="mean", help="pooling over positions")
    p.add_argument("--loss", choices=("mse", "huber"), default="mse", help="regression loss (default mse)")
    p.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    p.add_argument("--val-fraction", type=float, default=0.1, help="held-out fraction (default 0.1)")
    p.add_argument("--weights", type=float, nargs="+", default=None,
                   help="scalarisation weights for a multi-objective oracle")
    p.add_argument("--out", required=True, help="where to write the value model (.ckpt)")
    p.add_argument("--work-dir", default=None, help="keep Lightning checkpoints here (default: a temporary dir)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--device", default="cpu", help="torch device for sampling and training (default cpu)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``seqguide train-value``; returns the exit status (argument errors exit with 2)."""
    parser = _parser()
    args = parser.parse_args(argv)
    for name in ("n", "max_steps", "batch_size", "dim", "depth"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.sample_steps is not None and args.sample_steps < 1:
        parser.error(f"--sample-steps must be >= 1, got {args.sample_steps}")
    try:
        oracle_kwargs = parse_oracle_args(args.oracle_arg)
    except ValueError as err:
        parser.error(str(err))

    import torch

    from oracles import get_oracle
    from seqguide.guidance.value.fit import fit_value_model
    from seqguide.models import ConvDenoiser, MaskedDiffusion, TransformerDenoiser

    try:
        device = torch.device(args.device)
    except RuntimeError as err:
        parser.error(f"--device {args.device!r}: {err}")
    try:
        model = MaskedDiffusion.load(args.ckpt, map_location=device)
    except (FileNotFoundError, ValueError) as err:
        parser.error(str(err))
    try:
        oracle = get_oracle(args.oracle, **oracle_kwargs)
    except (KeyError, TypeError, ValueError, ImportError) as err:
        parser.error(f"--oracle {args.oracle!r}: {err.args[0] if err.args else err}")

    if args.backbone == "conv":
        backbone = ConvDenoiser(dim=args.dim, depth=args.depth, dropout=0.0)
    else:
        heads = 4 if args.dim % 4 == 0 else 1
        backbone = TransformerDenoiser(dim=args.dim, depth=args.depth, heads=heads)
    accelerator = "cpu" if device.type == "cpu" else "gpu" if device.type == "cuda" else "auto"
    vm = fit_value_model(
        model, oracle, n=args.n, sample_steps=args.sample_steps, max_steps=args.max_steps,
        batch_size=args.batch_size, backbone=backbone, seed=args.seed, out_dir=args.work_dir,
        progress=not args.quiet and sys.stderr.isatty(), val_fraction=args.val_fraction, pooling=args.pooling,
        loss=args.loss, lr=args.lr, weights=args.weights, accelerator=accelerator,
    )
    out = vm.save(Path(args.out))
    print(vm.fit_report.summary(), file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
