"""Train the antimicrobial-peptide classifier shipped as ``oracles/data/amp_classifier.safetensors``.

Uses modlAMP's AMPvsUniProt data (see :mod:`oracles.amp` for features, model and split), prints the
held-out accuracy and AUROC, and writes the weights (safetensors) and ``amp_classifier.json`` (metrics).

    python scripts/train_amp_classifier.py [--out PATH] [--seed 0] [--verbose]
"""

from __future__ import annotations

import argparse
import json
import time

from oracles.amp import DEFAULT_WEIGHTS, train_amp_classifier


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(DEFAULT_WEIGHTS), help="weights file (.safetensors)")
    parser.add_argument("--seed", type=int, default=0, help="split and initialisation seed")
    parser.add_argument("--verbose", action="store_true", help="print the loss curve")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    model = train_amp_classifier(seed=args.seed, verbose=args.verbose)
    model.save(args.out)
    m = model.metrics
    print(f"trained in {time.perf_counter() - start:.1f} s on {m['n_train']} peptides "
          f"({m['n_validation']} for early stopping, best epoch {m['training']['best_epoch']})")
    print(f"held-out test ({m['n_test']} peptides): accuracy {m['test_accuracy']:.4f}, "
          f"AUROC {m['test_auroc']:.4f}")
    print(f"wrote {args.out} and its .json sidecar")
    print(json.dumps({k: m[k] for k in ("test_accuracy", "test_auroc")}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
