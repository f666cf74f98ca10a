"""Issue 23's speed-ups before and after, in one run: the transformer forward, sampling and the design loop's CPU.

Three parts, each comparing the code before issue 23 with the code now inside one process (interleaved repeats,
best of them, so the ratio is fair on a loaded machine):

* **forward**: ``TransformerDenoiser`` logits (tokens/s) at B in {64, 256}, L in {64, 256}. *Before* is a faithful
  reference of the old block (rotary embedding on strided q/k views with ``stack``/``flatten``, and adaLN
  modulation by freshly built zeros and ones on an unconditioned block), patched in by :func:`legacy_transformer`
  on the same weights; the two outputs must agree within ``FORWARD_TOL``.
* **sampling**: ``sample()`` unguided and with SVDD (M = 8, the GC oracle as value) on the same transformer,
  samples/s, before (the legacy forward) and after; the samples must be the same.
* **design loop**: ``infill`` (the design benchmarks' elite-infilling loop, :func:`benchmarks.design_common.run_infill`)
  on Ehrlich(32, 32, 4, 4) at 1e4 calls with the model ``design_ehrlich`` trains (cached under
  ``runs/benchmarks/design_ehrlich/models``; trained here if missing), process CPU per paid call. *Before issue 23*
  turns off what the issue added (draws sized for duplicates, the validation memo, clean-row skipping, Gumbel noise
  transformed only where revealed); *main* is the loop as merged before this benchmark's branch; *now* the defaults.

    python -m benchmarks run speed            # ~4 min on one loaded core (plus ~4 min once to train the model)
    python -m benchmarks run speed --quick    # a smoke test (tiny shapes, an untrained model), runs/benchmarks/
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from benchmarks.common import environment, markdown_table, output_stem, write_table

#: Largest |logit| difference allowed between the legacy and the current forward (float32).
FORWARD_TOL = 1e-4
_DIM, _DEPTH, _HEADS = 64, 2, 4  # the transformer of benchmarks/throughput.py


# ------------------------------------------------------------------------------------------- legacy code
def _legacy_rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


def _legacy_block_forward(self: Any, x: torch.Tensor, c: torch.Tensor | None,
                          rope: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    from seqguide.models.backbones import _modulate

    B, L, D = x.shape
    if self.ada is not None and c is not None:
        sh1, sc1, g1, sh2, sc2, g2 = self.ada(c).chunk(6, dim=-1)
    else:
        sh1 = sc1 = sh2 = sc2 = torch.zeros(B, D, device=x.device, dtype=x.dtype)
        g1 = g2 = torch.ones(B, D, device=x.device, dtype=x.dtype)
    h = _modulate(self.norm1(x), sh1, sc1)
    q, k, v = self.qkv(h).view(B, L, 3, self.heads, D // self.heads).permute(2, 0, 3, 1, 4)
    q, k = _legacy_rotate(q, *rope), _legacy_rotate(k, *rope)
    p = self.drop.p if self.training else 0.0
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=p).transpose(1, 2).reshape(B, L, D)
    x = x + g1[:, None] * self.drop(self.proj(a))
    h = _modulate(self.norm2(x), sh2, sc2)
    return x + g2[:, None] * self.drop(self.mlp(h))


def _legacy_transformer_forward(self: Any, h: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    head_dim = self.dim // self.heads
    inv = 1.0 / (10_000.0 ** (torch.arange(0, head_dim, 2, device=h.device, dtype=torch.float32) / head_dim))
    angles = torch.arange(h.shape[1], device=h.device, dtype=torch.float32)[:, None] * inv[None]
    rope = (angles.cos(), angles.sin())
    for block in self.blocks:
        h = block(h, c, rope)
    return h


@contextlib.contextmanager
def legacy_transformer() -> Iterator[None]:
    """The transformer forward as it was before issue 23 (same weights), for the block."""
    from seqguide.models import backbones

    saved = backbones._TransformerBlock.forward, backbones.TransformerDenoiser._forward
    backbones._TransformerBlock.forward = _legacy_block_forward
    backbones.TransformerDenoiser._forward = _legacy_transformer_forward
    try:
        yield
    finally:
        backbones._TransformerBlock.forward, backbones.TransformerDenoiser._forward = saved


def _legacy_fill(self: Any, state: torch.Tensor, pred: torch.Tensor, where: torch.Tensor,
                 generator: torch.Generator | None) -> torch.Tensor:
    from seqguide.models.gumbel import gumbel_argmax

    return torch.where(where, gumbel_argmax(pred, generator), state)  # noise transformed at every position


@contextlib.contextmanager
def legacy_design_loop(*, memo: bool) -> Iterator[None]:
    """The masked step's Gumbel noise transformed at every position (same tokens as now) and, unless ``memo``, no
    validation memo (every layer of the oracle stack validates every design each time it sees it)."""
    from oracles.base import Oracle
    from seqguide.models.masked import MaskedDiffusion

    saved = MaskedDiffusion._fill, Oracle.validation_cache
    MaskedDiffusion._fill = _legacy_fill
    Oracle.validation_cache = memo
    try:
        yield
    finally:
        MaskedDiffusion._fill, Oracle.validation_cache = saved


# ------------------------------------------------------------------------------------------- measuring
def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    """(CPU seconds of this process, result) of one call: other processes on a shared machine do not enter."""
    start = time.process_time()
    out = fn()
    return time.process_time() - start, out


def _transformer(length: int, seed: int = 0) -> Any:
    from seqguide.models import MaskedDiffusion, TransformerDenoiser

    torch.manual_seed(seed)
    model = MaskedDiffusion("dna", length=length, backbone=TransformerDenoiser(dim=_DIM, depth=_DEPTH, heads=_HEADS),
                            fixed_length=True)
    with torch.no_grad():  # the untrained head is zero: give the logits (and sampling) some structure
        torch.nn.init.normal_(model.backbone.head.weight, std=0.5)
    return model.eval()


def forward_rows(shapes: list[tuple[int, int]], repeats: int) -> list[dict[str, Any]]:
    """Tokens/s of the legacy and the current forward on the same weights and inputs, interleaved."""
    rows = []
    for batch, length in shapes:
        model = _transformer(length)
        x = torch.randint(0, 4, (batch, length), generator=torch.Generator().manual_seed(1))
        times: dict[str, list[float]] = {"before": [], "after": []}
        outs: dict[str, torch.Tensor] = {}
        with torch.no_grad():
            model.backbone(x[:2])  # warm-up
            for _ in range(repeats):
                with legacy_transformer():
                    sec, outs["before"] = _timed(lambda m=model, x=x: m.backbone(x))
                times["before"].append(sec)
                sec, outs["after"] = _timed(lambda m=model, x=x: m.backbone(x))
                times["after"].append(sec)
        diff = float((outs["before"] - outs["after"]).abs().max())
        if diff > FORWARD_TOL:
            raise AssertionError(f"forward B={batch} L={length}: legacy and current logits differ by {diff:.3g}")
        before, after = batch * length / min(times["before"]), batch * length / min(times["after"])
        rows.append({"part": "forward", "case": f"B={batch} L={length}", "unit": "tokens/s", "before": before,
                     "after": after, "speedup": after / before, "check": f"max |logit diff| {diff:.2g}"})
    return rows


def sampling_rows(n: int, length: int, repeats: int) -> list[dict[str, Any]]:
    """Samples/s of unguided and SVDD sampling with the legacy and the current forward, interleaved."""
    from oracles import get_oracle
    from seqguide import sample
    from seqguide.guidance import SVDD

    model = _transformer(length)
    rows = []
    for label, guidance in (("unguided", lambda: []), ("SVDD M=8 (gc)", lambda: [SVDD(get_oracle("gc"), particles=8)])):
        sample(model, 2, steps=2, guidance=guidance(), seed=1, progress=False)  # warm-up
        times: dict[str, list[float]] = {"before": [], "after": []}
        seqs: dict[str, list[str]] = {}
        for _ in range(repeats):
            for which in ("before", "after"):
                ctx = legacy_transformer() if which == "before" else contextlib.nullcontext()
                with ctx:
                    sec, out = _timed(lambda g=guidance: sample(model, n, steps=length, guidance=g(), seed=0,
                                                                  progress=False))
                times[which].append(sec)
                seqs[which] = list(out.sequences)
        before, after = n / min(times["before"]), n / min(times["after"])
        rows.append({"part": "sampling", "case": f"{label}, n={n} L={length} steps={length}", "unit": "samples/s",
                     "before": before, "after": after, "speedup": after / before,
                     "check": "same samples" if seqs["before"] == seqs["after"] else "samples differ"})
    return rows


#: The design-loop variants: label -> (DesignLoop overdraw, validation memo, skip clean rows, legacy Gumbel fill,
#: revealed-only noise).
DESIGN_VARIANTS: dict[str, tuple[bool, bool, bool, bool, bool]] = {
    "before issue 23": (False, False, False, True, False),
    "main (overdraw + memo)": (True, True, False, True, False),
    "now (defaults)": (True, True, True, False, False),
    "now + revealed-only noise (opt-in, other stream)": (True, True, True, False, True),
}


def _design_model(quick: bool) -> tuple[Any, dict[str, Any], Any]:
    """(model, info, task): the ``design_ehrlich`` model of Ehrlich(32, 32, 4, 4), seed 0 (quick: an untrained small
    conv model on the same alphabet)."""
    from benchmarks.design_ehrlich import TASKS, ehrlich_model
    from benchmarks.runner import WORK_DIR, RunContext, RunOptions

    task = TASKS["ehrlich_v32_L32_c4_k4"]
    if not quick:
        ctx = RunContext("design_ehrlich", Path("."), WORK_DIR / "design_ehrlich", RunOptions())
        model, info = ehrlich_model(task, 0, ctx)
        return model, info, task
    from seqguide.models import ConvDenoiser, MaskedDiffusion

    torch.manual_seed(0)
    model = MaskedDiffusion(list(task.oracle(0).alphabet.tokens), length=task.dim,
                            backbone=ConvDenoiser(dim=16, depth=1, kernel_size=3), fixed_length=True).eval()
    return model, {"train_seconds": 0.0}, task


def design_rows(budget: int, repeats: int, quick: bool) -> list[dict[str, Any]]:
    """CPU per paid call of ``infill`` on Ehrlich(32, 32, 4, 4), each variant of :data:`DESIGN_VARIANTS`."""
    from benchmarks.design_common import run_infill
    from benchmarks.design_ehrlich import _INFILL
    from seqguide.baselines import BudgetedObjective

    model, info, task = _design_model(quick)
    steps = 16  # 32 positions, 2 tokens per step (design_ehrlich's setting for length 32)
    rows_seen = [0]
    hook = model.backbone.register_forward_pre_hook(lambda m, a: rows_seen.__setitem__(0, rows_seen[0] + len(a[0])))
    results: dict[str, dict[str, Any]] = {}
    try:
        for _ in range(repeats):
            for label, (overdraw, memo, skip, legacy_fill, revealed_only) in DESIGN_VARIANTS.items():
                rows_seen[0] = 0
                model.noise_everywhere = not revealed_only
                objective = BudgetedObjective(task.oracle(0), budget=budget)
                ctx = legacy_design_loop(memo=memo) if legacy_fill else contextlib.nullcontext()
                with ctx:
                    res = run_infill(model, objective, budget, 0, loop=_INFILL, steps=steps, model_info=info,
                                     name=f"speed-{label}", stop_at_optimum=True, overdraw=overdraw,
                                     skip_clean_rows=skip)
                calls = len(res.history)
                cpu = 1e6 * res.cpu_seconds / max(calls, 1)
                digest = hashlib.sha256("\n".join(res.history.designs).encode()).hexdigest()[:12]
                old = results.get(label)
                if old is None or cpu < old["cpu_us_per_call"]:
                    results[label] = {"variant": label, "cpu_us_per_call": cpu, "paid_calls": calls,
                                      "best": res.history.best()[1], "rounds": res.info["rounds"],
                                      "network_rows_per_call": rows_seen[0] / max(calls, 1),
                                      "designs_sha256": digest}
                print(f"design loop {label}: {cpu:.0f} us per paid call ({calls} calls)", flush=True)
    finally:
        hook.remove()
        model.noise_everywhere = True
    base = results["before issue 23"]["cpu_us_per_call"]
    for r in results.values():
        r["speedup_vs_before"] = base / r["cpu_us_per_call"]
    return list(results.values())


# ------------------------------------------------------------------------------------------- report
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny shapes and an untrained model (a smoke test)")
    parser.add_argument("--seeds", nargs="*", type=int, help=argparse.SUPPRESS)  # the runner passes them; unused
    parser.add_argument("--out", default=None, help="output stem (default: benchmarks/results/speed, or "
                                                    "runs/benchmarks/speed_quick with --quick)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.quick:
        shapes, f_rep, n, length, s_rep, budget, d_rep = [(4, 16)], 1, 4, 8, 1, 120, 1
    else:
        shapes, f_rep, n, length, s_rep, budget, d_rep = [(b, L) for b in (64, 256) for L in (64, 256)], 5, 16, 32, \
            2, 10_000, 2
    rows = forward_rows(shapes, f_rep)
    rows += sampling_rows(n, length, s_rep)
    design = design_rows(budget, d_rep, args.quick)
    by_label = {r["variant"]: r for r in design}
    before, now = by_label["before issue 23"], by_label["now (defaults)"]
    rows.append({"part": "design loop", "case": f"infill, Ehrlich(32, 32, 4, 4), {budget} calls, seed 0",
                 "unit": "CPU us per paid call", "before": before["cpu_us_per_call"], "after": now["cpu_us_per_call"],
                 "speedup": before["cpu_us_per_call"] / now["cpu_us_per_call"],
                 "check": "same designs as main" if now["designs_sha256"] == by_label["main (overdraw + memo)"][
                     "designs_sha256"] else "designs differ from main"})
    seconds = time.perf_counter() - started
    env = environment("cpu", benchmark_seconds=round(seconds, 1),
                      transformer=f"TransformerDenoiser(dim={_DIM}, depth={_DEPTH}, heads={_HEADS}), unconditioned",
                      repeats={"forward": f_rep, "sampling": s_rep, "design loop": d_rep}, quick=args.quick)
    notes = (
        "One process, before and after interleaved, best of the repeats; every time is this process's CPU time "
        "(time.process_time, torch on the threads shown above), so other work on a shared machine does not enter "
        "(rates are per CPU second). speedup = after / before for rates "
        "(tokens/s, samples/s) and before / after for CPU per paid call, so > 1 is faster. forward: backbone logits "
        "under no_grad, before = the pre-issue-23 block patched in on the same weights (rotary embedding on strided "
        f"views, modulation by zeros and ones on unconditioned blocks), logits agree within {FORWARD_TOL:g}. "
        "sampling: steps = length, the prediction cache on, before = the legacy forward. design loop: CPU of the "
        "whole run; 'before' turns off what issue 23 added to the loop (see the section below). No GPU was lent to "
        "this task: the GPU table of issue 23 "
        "(training tokens/s with bf16 and torch.compile, fractions of the FLOP-bound rate, FSDP/DDP) is not "
        "measured; this CPU table stands."
    )
    sections = [("Design-loop variants", (
        "`infill` as `design_ehrlich` runs it (`benchmarks.design_common.run_infill`: 250 candidates per round, "
        "elite infilling with 4 reverse steps, the first round 16 steps from the prior), seed 0, stopped at the "
        "budget or the optimum. *before issue 23*: every draw samples `candidates` (`DesignLoop(overdraw=False)`), "
        "no validation memo (`Oracle.validation_cache = False`), every row through the network "
        "(`skip_clean_rows=False`) and the Gumbel noise transformed at every position; *main*: draws sized for "
        "duplicates and the memo (the loop as merged before this branch); *now*: also the network only on rows "
        "that still hold a mask and the noise transformed only where a token is revealed (both give the same "
        "designs: compare designs_sha256 with main), and the validation of a batch handed down the oracle stack "
        "at once (not reverted in the other rows). The last row also draws Gumbel noise only where revealed "
        "(`MaskedDiffusion.noise_everywhere = False`): another random stream, so other designs. Not reverted "
        "anywhere: the store's batched writes (`executemany`), already on main. network_rows_per_call: rows "
        "through the backbone per paid call.\n\n" + markdown_table(design)))]
    out = Path(args.out) if args.out else output_stem("speed", args.quick)
    write_table(rows, out, title="Issue 23 speed-ups: forward, sampling and the design loop, before and after",
                env=env, notes=notes, sections=sections)
    print(f"wrote {out}.md ({seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
