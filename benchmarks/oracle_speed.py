"""Benchmark: the vectorised PWM scanner against a per-sequence Bio.motifs loop.

Both sides scan the same 10 JASPAR2024 profiles, on both strands, over the same random sequences
(1,000 x 200 nt by default) and keep the best log-odds score per sequence and profile:

* **Bio.motifs loop**: PSSMs and their reverse complements are built once, outside the loop; then, per
  sequence and profile, ``pssm.calculate(seq)`` and ``rc_pssm.calculate(seq)`` (Biopython's C scanner).
* **oracles.jaspar**: :func:`~oracles.jaspar.encode_dna` plus one ``conv1d`` over the whole batch for all
  profiles and both strands (:class:`~oracles.jaspar.PWMScanner`); encoding time is included.

The best scores must agree to 1e-4 (asserted). Timings are the best of ``--repeats`` runs. Results go to
``benchmarks/results/oracle_speed.csv`` and ``.md``. By default torch runs on one thread, like the
Bio loop, so the ratio compares algorithms rather than core counts (and is not skewed by other work on
the machine).

    python -m benchmarks.oracle_speed [--n 1000] [--length 200] [--repeats 5] [--device cpu] [--threads 1]
    python -m benchmarks run oracle_speed --quick      # 100 sequences, 1 repeat, tables under runs/
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import platform
import time
from pathlib import Path

import numpy as np
import torch

from oracles.jaspar import PWMScanner, encode_dna, load_motifs, pssm_from_counts

PROFILES = ["MA0139.1", "MA0079.5", "MA0098.4", "MA0106.3", "MA0112.3",
            "MA0114.4", "MA0007.3", "MA0018.4", "MA0036.3", "MA0052.4"]
RELEASE = "JASPAR2024"
TOLERANCE = 1e-4
TARGET_SPEEDUP = 50.0
RESULTS = Path(__file__).resolve().parent / "results"


def _random_sequences(n: int, length: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    return [letters[row].tobytes().decode() for row in rng.integers(0, 4, size=(n, length))]


def _bio_pssms(motifs: list) -> list[tuple]:
    """Forward and reverse-complement Bio PSSMs, built the same way as oracles.jaspar (JASPAR pseudocounts)."""
    from Bio.motifs import jaspar

    out = []
    for m in motifs:
        pssm = m.counts.normalize(pseudocounts=jaspar.calculate_pseudocounts(m)).log_odds()
        out.append((pssm, pssm.reverse_complement()))
    return out


def scan_bio(pssms: list[tuple], sequences: list[str]) -> np.ndarray:
    """Per-sequence loop: best score over positions and strands, ``(N, K)``."""
    best = np.empty((len(sequences), len(pssms)))
    for i, seq in enumerate(sequences):
        for k, (fwd, rev) in enumerate(pssms):
            best[i, k] = max(float(np.max(fwd.calculate(seq))), float(np.max(rev.calculate(seq))))
    return best


def scan_torch(scanner: PWMScanner, sequences: list[str], device: torch.device) -> np.ndarray:
    """Encode and scan the whole batch in one conv1d, ``(N, K)``."""
    with torch.no_grad():
        ids, lengths = encode_dna(sequences, device=device)
        best = scanner(ids, lengths)
        if device.type == "cuda":
            torch.cuda.synchronize()
        return best.double().cpu().numpy()


def _best_time(fn, repeats: int) -> tuple[float, np.ndarray]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return min(times), out


def run(n: int = 1000, length: int = 200, repeats: int = 5, device: str = "cpu", seed: int = 0,
        threads: int | None = 1, out_dir: Path = RESULTS) -> dict:
    """Run the benchmark, assert equal scores, write the CSV and Markdown tables; returns the row.

    ``threads`` sets torch's intra-op threads for the run (1 = like the single-threaded Bio loop;
    None keeps torch's default) and is restored afterwards.
    """
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run(n, length, repeats, device, seed, out_dir)
    finally:
        torch.set_num_threads(previous_threads)


def _run(n: int, length: int, repeats: int, device: str, seed: int, out_dir: Path) -> dict:
    dev = torch.device(device)
    motifs = load_motifs(PROFILES, RELEASE)
    sequences = _random_sequences(n, length, seed)
    bio_pssms = _bio_pssms(motifs)
    scanner = PWMScanner([pssm_from_counts(m) for m in motifs]).to(dev)
    scan_torch(scanner, sequences[:8], dev)  # warm-up (allocator, kernels)

    t_bio, best_bio = _best_time(lambda: scan_bio(bio_pssms, sequences), repeats)
    t_torch, best_torch = _best_time(lambda: scan_torch(scanner, sequences, dev), repeats)
    max_diff = float(np.max(np.abs(best_bio - best_torch)))
    assert max_diff <= TOLERANCE, f"vectorised scanner disagrees with Bio.motifs: max |diff| = {max_diff:.3g}"
    speedup = t_bio / t_torch

    import Bio

    row = {
        "date": _dt.date.today().isoformat(),
        "device": str(dev) if dev.type != "cpu" else f"cpu ({platform.processor() or platform.machine()})",
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "biopython": Bio.__version__,
        "profiles": len(PROFILES),
        "sequences": n,
        "length": length,
        "repeats": repeats,
        "bio_loop_s": round(t_bio, 4),
        "vectorised_s": round(t_torch, 5),
        "speedup": round(speedup, 1),
        "max_abs_diff": float(f"{max_diff:.3g}"),
        "target_speedup": TARGET_SPEEDUP,
        "target_met": bool(speedup >= TARGET_SPEEDUP),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / "oracle_speed.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(row))
        writer.writeheader()
        writer.writerow(row)
    md = [
        "# PWM scan: vectorised conv1d vs per-sequence Bio.motifs loop",
        "",
        f"{n} random sequences of {length} nt, {len(PROFILES)} {RELEASE} profiles ({', '.join(PROFILES)}),",
        "both strands, best log-odds score per sequence and profile; best of "
        f"{repeats} runs. Generated by `python -m benchmarks.oracle_speed`.",
        "",
        "| " + " | ".join(row) + " |",
        "|" + "|".join("---" for _ in row) + "|",
        "| " + " | ".join(str(v) for v in row.values()) + " |",
        "",
    ]
    (out_dir / "oracle_speed.md").write_text("\n".join(md))
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="PWM scanner benchmark (vectorised vs Bio.motifs loop)")
    parser.add_argument("--n", type=int, default=1000, help="number of sequences")
    parser.add_argument("--length", type=int, default=200, help="sequence length")
    parser.add_argument("--repeats", type=int, default=5, help="timing repeats (best is kept)")
    parser.add_argument("--device", default="cpu", help="torch device for the vectorised scanner")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1, like the Bio loop; 0 = torch's default)")
    parser.add_argument("--out-dir", type=Path, default=None, help="default benchmarks/results (quick: runs/)")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 100 sequences, 1 repeat, tables under runs/benchmarks/quick")
    args = parser.parse_args(argv)
    if args.quick:
        args.n, args.repeats = min(args.n, 100), 1
    if args.out_dir is None:
        args.out_dir = Path("runs/benchmarks/quick") if args.quick else RESULTS
    row = run(args.n, args.length, args.repeats, args.device, args.seed, args.threads or None, args.out_dir)
    for key, value in row.items():
        print(f"{key:>15}: {value}")
    if not row["target_met"]:
        print(f"note: speedup below the {TARGET_SPEEDUP:g}x target on this machine")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
