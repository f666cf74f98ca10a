"""Throughput of training and guided sampling vs batch size and sequence length, with host syncs per step.

Four tables, one run, one device (recorded in the header):

* **train**: ``MaskedDiffusion`` (transformer, width 64, 2 blocks) trained through a Lightning ``Trainer`` on random
  DNA: tokens per second, milliseconds per optimiser step and peak memory, for each batch size and length.
* **sample**: ``sample()`` unguided, with SVDD (M = 8 particles, the oracle's look-ahead value) and with SMC
  (k = 8 particles), steps = length, on the same (untrained) network and the GC oracle (cheap, so the sampler is
  what is timed): samples per second, network evaluations per sample, peak memory and host syncs per step.
* **host syncs**: syncs per step (``seqguide.sampling.host_syncs.HostSyncCounter``) of the same runs before the
  hot-path rework (the commit given by ``--baseline``, run from a ``git archive`` of it in a subprocess) and now.
* **decode**: ``Alphabet.decode`` (one lookup table over the batch) against a token-by-token Python loop.

The growth of time and memory with length is fitted as a power law (log-log slope) over the lengths measured.

    python -m benchmarks.throughput            # full run (~15 min on 2 shared CPU cores), to benchmarks/results/
    python -m benchmarks.throughput --quick    # a few minutes, written to runs/benchmarks/
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import io
import json
import math
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import timeit
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmarks.common import Timer, environment, markdown_table, output_stem, write_table

_REPO = Path(__file__).resolve().parent.parent
_BASELINE = "f8d3b12"  # the last commit before the sync-free hot path (its HostSyncCounter is the same)
_MIB = 2**20


# ------------------------------------------------------------------------------------------- memory
def _read_status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(key)


@contextlib.contextmanager
def _peak_memory(device: torch.device, out: dict[str, float]) -> Iterator[None]:
    """Peak memory of the block above what was in use before it: CUDA allocations on a GPU, the process's peak
    resident set (Linux ``VmHWM``, reset through ``/proc/self/clear_refs``) on the CPU."""
    gc.collect()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        yield
        torch.cuda.synchronize(device)
        out["peak_mb"] = (torch.cuda.max_memory_allocated(device) - base) / _MIB
        return
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand freed heap back, so the next peak is measured from here
        Path("/proc/self/clear_refs").write_text("5")
        base = _read_status("VmRSS")
    except (OSError, KeyError, AttributeError):
        yield
        out["peak_mb"] = float("nan")
        return
    yield
    out["peak_mb"] = (_read_status("VmHWM") - base) / _MIB


# ------------------------------------------------------------------------------------------- models
def _model(length: int, device: torch.device, dim: int, depth: int) -> Any:
    from seqguide.models import MaskedDiffusion, TransformerDenoiser

    torch.manual_seed(0)
    model = MaskedDiffusion("dna", length=length, backbone=TransformerDenoiser(dim=dim, depth=depth, heads=4),
                            fixed_length=True)
    with torch.no_grad():  # the untrained head is zero (uniform predictions): give sampling some structure
        torch.nn.init.normal_(model.backbone.head.weight, std=0.5)
    return model.to(device)


# ------------------------------------------------------------------------------------------- training
def _train_row(batch: int, length: int, steps: int, device: torch.device, precision: str, dim: int,
               depth: int) -> dict[str, Any]:
    import lightning as L
    from lightning.pytorch.callbacks import Callback
    from torch.utils.data import DataLoader

    warmup = 3
    model = _model(length, torch.device("cpu"), dim, depth)
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, 4, (batch * (steps + warmup), length), generator=g)
    loader = DataLoader([{"tokens": t} for t in tokens], batch_size=batch, shuffle=False)
    marks: list[float] = []

    class _StepClock(Callback):
        def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            marks.append(time.perf_counter())

    trainer = L.Trainer(max_steps=steps + warmup, accelerator="gpu" if device.type == "cuda" else "cpu", devices=1,
                        precision=precision, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, limit_val_batches=0, callbacks=[_StepClock()])
    mem: dict[str, float] = {}
    with _peak_memory(device, mem), contextlib.redirect_stderr(io.StringIO()):
        trainer.fit(model, train_dataloaders=loader)
    seconds = marks[-1] - marks[warmup - 1]
    return {"part": "train", "method": f"train ({precision})", "batch": batch, "length": length,
            "tokens_per_s": batch * length * steps / seconds, "ms_per_step": 1000 * seconds / steps,
            "peak_mb": mem["peak_mb"]}


# ------------------------------------------------------------------------------------------- sampling
def _guidance(method: str) -> list[Any]:
    from oracles import get_oracle
    from seqguide.guidance import SMC, SVDD

    gc_oracle = get_oracle("gc")
    return {"unguided": [], "svdd_m8": [SVDD(gc_oracle, particles=8)],
            "smc_k8": [SMC(gc_oracle, particles=8, lam=10.0)]}[method]


def _sample_row(method: str, batch: int, length: int, device: torch.device, dim: int, depth: int) -> dict[str, Any]:
    from seqguide import sample
    from seqguide.sampling.host_syncs import HostSyncCounter

    model = _model(length, device, dim, depth).eval()
    sample(model, batch, steps=2, guidance=_guidance(method), seed=1, progress=False)  # warm-up
    mem: dict[str, float] = {}
    with _peak_memory(device, mem), Timer(device) as timer:
        out = sample(model, batch, steps=length, guidance=_guidance(method), seed=0, progress=False)
    sync_steps = min(length, 16)  # counting is slow; the count per step does not depend on speed
    with HostSyncCounter(model) as syncs:
        sample(model, batch, steps=sync_steps, guidance=_guidance(method), seed=0, progress=False)
    return {"part": "sample", "method": method, "batch": batch, "length": length, "steps": length,
            "samples_per_s": batch / timer.seconds, "ms_per_step": 1000 * timer.seconds / length,
            "nfe": out.trace["nfe"], "oracle_calls_per_sample": out.trace["oracle_calls"] / batch,
            "peak_mb": mem["peak_mb"], "host_syncs_per_step": syncs.total / sync_steps}


# ------------------------------------------------------------------------------------------- host syncs
_SYNC_RUNS = (("unguided", True), ("unguided", False), ("svdd_m8", True), ("smc_k8", True))


def sync_counts(batch: int = 8, length: int = 32) -> dict[str, Any]:
    """Host syncs per step of the runs in ``_SYNC_RUNS`` (only APIs that also exist at the baseline commit)."""
    import seqguide
    from seqguide import sample
    from seqguide.sampling.host_syncs import HostSyncCounter

    model = _model(length, torch.device("cpu"), 32, 1).eval()
    counts = {}
    for method, cache in _SYNC_RUNS:
        with HostSyncCounter(model) as syncs:
            sample(model, batch, steps=length, guidance=_guidance(method), seed=0, progress=False, cache=cache)
        counts[f"{method}{'' if cache else ' (no cache)'}"] = {
            "per_step": syncs.total / length, "top": syncs.by_site().most_common(4)}
    return {"seqguide": str(Path(seqguide.__file__).resolve().parent), "counts": counts}


def _baseline_sync_counts(commit: str) -> dict[str, Any] | None:
    """:func:`sync_counts` on the code of ``commit``: its ``seqguide`` and ``oracles`` from ``git archive``, first on
    ``PYTHONPATH`` of a subprocess that imports this benchmark module."""
    with tempfile.TemporaryDirectory(prefix="seqguide-baseline-") as tmp:
        try:
            archive = subprocess.run(["git", "archive", "--format=tar", commit, "seqguide", "oracles"], cwd=_REPO,
                                     capture_output=True, check=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError) as err:
            print(f"baseline {commit}: git archive failed ({err}); skipping the before column", file=sys.stderr)
            return None
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tmp, filter="data")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([tmp, str(_REPO)]))
        # cwd = the archive: ``python -m`` puts the working directory first on sys.path.
        proc = subprocess.run([sys.executable, "-m", "benchmarks.throughput", "--sync-counts-json"], env=env,
                              cwd=tmp, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            print(f"baseline {commit} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
            return None
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if not result["seqguide"].startswith(str(Path(tmp).resolve())):
            raise RuntimeError(f"the baseline run imported {result['seqguide']}, not the archive of {commit}")
        return result


# ------------------------------------------------------------------------------------------- decode
def _decode_rows(n: int) -> list[dict[str, Any]]:
    from seqguide import DNA, Alphabet

    selfies_like = Alphabet([f"[T{i}]" for i in range(40)] + ["[Branch1]", "[=C]"], kind="selfies")
    rows = []
    for alphabet, length in ((DNA, 200), (selfies_like, 60)):
        ids = torch.randint(0, alphabet.vocab_size, (n, length), generator=torch.Generator().manual_seed(0))
        table = [*alphabet.tokens, "", "?"]

        def loop(ids: torch.Tensor = ids, table: list[str] = table) -> list[str]:
            return ["".join(table[v] for v in row) for row in ids.tolist()]

        assert alphabet.decode(ids) == loop()
        vec = min(timeit.repeat(lambda a=alphabet, i=ids: a.decode(i), number=1, repeat=5))
        ref = min(timeit.repeat(loop, number=1, repeat=5))
        rows.append({"part": "decode", "method": f"{alphabet.name} ({alphabet.kind})", "batch": n, "length": length,
                     "vectorised_seqs_per_s": n / vec, "loop_seqs_per_s": n / ref, "speedup": ref / vec})
    return rows


# ------------------------------------------------------------------------------------------- compile
def _compile_rows(batch: int, length: int, device: torch.device, dim: int, depth: int) -> list[dict[str, Any]]:
    """Unguided sampling with the backbone compiled (inductor, dynamic shapes) against eager, same samples."""
    from seqguide import sample
    from seqguide.models.compile import compile_backbone

    rows = []
    model = _model(length, device, dim, depth).eval()
    eager = None
    for label in ("eager", "compiled"):
        if label == "compiled":
            compile_backbone(model)
        with Timer(device) as first:
            out = sample(model, batch, steps=length, seed=0, progress=False)
        with Timer(device) as again:
            sample(model, batch, steps=length, seed=0, progress=False)
        eager = out if eager is None else eager
        rows.append({"backbone": label, "batch": batch, "length": length, "first_run_s": first.seconds,
                     "samples_per_s": batch / again.seconds, "same_samples": out.sequences == eager.sequences})
    return rows


# ------------------------------------------------------------------------------------------- report
def _slope(xs: list[float], ys: list[float]) -> float:
    ok = [(x, y) for x, y in zip(xs, ys) if x > 0 and y > 0 and math.isfinite(y)]
    if len(ok) < 2:
        return float("nan")
    lx, ly = np.log([x for x, _ in ok]), np.log([y for _, y in ok])
    return float(np.polyfit(lx, ly, 1)[0])


def _growth(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Log-log slope of time and memory against length, at each (part, method, batch)."""
    out = []
    keys = sorted({(r["part"], r["method"], r["batch"]) for r in rows if r["part"] in ("train", "sample")})
    for part, method, batch in keys:
        sel = sorted((r for r in rows if (r["part"], r["method"], r["batch"]) == (part, method, batch)),
                     key=lambda r: r["length"])
        if len(sel) < 2:
            continue
        lengths = [r["length"] for r in sel]
        per_run = [r["ms_per_step"] * (r["steps"] if part == "sample" else 1) for r in sel]
        out.append({"part": part, "method": method, "batch": batch, "lengths": f"{lengths[0]}-{lengths[-1]}",
                    "time_exponent": _slope(lengths, per_run),
                    "time_per_step_exponent": _slope(lengths, [r["ms_per_step"] for r in sel]),
                    "memory_exponent": _slope(lengths, [r["peak_mb"] for r in sel])})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid (a few minutes)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="32-true", help="training precision (e.g. bf16-mixed on a GPU)")
    parser.add_argument("--baseline", default=_BASELINE, help="commit whose host syncs are the 'before' column "
                                                              "('' skips it)")
    parser.add_argument("--sync-counts-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.sync_counts_json:  # the baseline subprocess
        print(json.dumps(sync_counts()))
        return 0
    device = torch.device(args.device)
    dim, depth = 64, 2
    if args.quick:
        train_grid, train_steps = [(16, 32), (16, 128)], 5
        sample_grid = [(8, 16), (8, 32)]
    else:
        train_grid, train_steps = [(b, L) for b in (16, 64) for L in (32, 128, 512)], 8
        sample_grid = [(b, L) for b in (8, 32) for L in (16, 32, 64, 128)]
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for batch, length in train_grid:
        rows.append(_train_row(batch, length, train_steps, device, args.precision, dim, depth))
        print({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()}, flush=True)
    for method in ("unguided", "svdd_m8", "smc_k8"):
        for batch, length in sample_grid:
            rows.append(_sample_row(method, batch, length, device, dim, depth))
            print({k: round(v, 3) if isinstance(v, float) else v for k, v in rows[-1].items()}, flush=True)
    decode = _decode_rows(2000 if args.quick else 10_000)
    compiled = [] if args.quick else _compile_rows(32, 64, device, dim, depth)
    growth = _growth(rows)
    after = sync_counts()
    before = _baseline_sync_counts(args.baseline) if args.baseline else None
    sync_rows = []
    for name, entry in after["counts"].items():
        old = before["counts"].get(name) if before else None
        sync_rows.append({"run": name, "before": None if old is None else old["per_step"], "after": entry["per_step"],
                          "where (after)": "; ".join(f"{n} x {site}" for site, n in entry["top"])})
    seconds = time.perf_counter() - started
    env = environment(device, benchmark_seconds=round(seconds, 1), model=f"TransformerDenoiser(dim={dim}, "
                      f"depth={depth}, heads=4)", train_precision=args.precision,
                      sync_baseline=args.baseline or None)
    notes = (
        "train: Lightning Trainer, AdamW, random DNA, fixed length; tokens/s and ms/step over the steps after 3 "
        "warm-up steps. sample: steps = length, one chunk of `batch` requests, oracle `gc` (cheap: the sampler is "
        "timed, not the oracle), the prediction cache on (the default); nfe = network rows per sample. peak_mb: "
        "peak memory of the run above what was in use before it (CPU: peak resident set, so allocator caching "
        "blurs small values; GPU: CUDA allocations). host_syncs_per_step: device-to-host synchronisations "
        "counted by HostSyncCounter over the first min(length, 16) steps (on a GPU each one stalls the queue)."
    )
    sections = [
        ("Growth with length", "Log-log slope of the measurement against length over the lengths measured "
         "(1 = linear, 2 = quadratic). For training, time_exponent is per optimiser step at a fixed batch; for "
         "sampling it is per sample, with steps = length, so it is one more than the per-step exponent.\n\n"
         + markdown_table(growth)),
        ("Host syncs per step, before and after", f"Same runs (batch 8, length 32, steps 32, width 32); before = "
         f"commit {args.baseline or '(skipped)'}, after = this commit. The sync left in every step is "
         "`MaskedDiffusion.step`'s check whether any token is revealed (it decides whether the categorical draw "
         "consumes the generator, so removing it would change the samples); the cache and the value look-ahead "
         "read one small tensor each; an oracle value needs the candidates on the host (one transfer).\n\n"
         + markdown_table(sync_rows)),
        ("Decoding", "`Alphabet.decode` (one lookup table over the whole batch: code points for single-character "
         "tokens, strings joined per row for multi-character ones) against a Python loop over tokens, on random "
         "ids (pads and masks included); identical strings, best of 5.\n\n"
         + markdown_table(decode)),
    ]
    if compiled:
        sections.append(("torch.compile", "`seqguide sample --compile` / `compile_backbone`: unguided sampling, "
                         "inductor with dynamic shapes; first_run_s includes compilation, samples_per_s is the "
                         "run after it.\n\n" + markdown_table(compiled)))
    out = output_stem("throughput", args.quick)
    write_table(rows, out, title="Training and guided-sampling throughput", env=env, notes=notes,
                sections=sections)
    print(f"wrote {out}.md ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
