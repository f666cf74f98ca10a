"""The sampling hot path returns bit-identical samples to the code before it was made sync-free.

``golden_samples.json`` holds tokens, scores, weights and cost counters of a grid of runs (unguided with and
without the cache, chunked, class-conditional, time-conditioned, SVDD, SMC, best-of-N, beam search, look-ahead
with sampled completions) recorded at commit b7eb9ac, before the per-step host synchronisations were removed
from ``sample()``, the prediction cache and the guiders. Regenerate (only when a change of samples is
intended) with ``python tests/scale/test_golden_samples.py --write``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

from oracles import from_function
from seqguide import sample
from seqguide.guidance import SMC, SVDD, BeamSearch, BestOfN
from seqguide.guidance.value.functions import PosteriorMeanValue
from seqguide.models import ConvDenoiser, MaskedDiffusion, TransformerDenoiser

GOLDEN = Path(__file__).with_name("golden_samples.json")
_TRACE_KEYS = ("nfe", "forward_calls", "cached_rows", "oracle_calls", "oracle_batches")
_WEIGHTS = torch.rand(10, 4, generator=torch.Generator().manual_seed(5), dtype=torch.float64).tolist()


def _position_score(xs: list[str]) -> list[float]:
    """A position-specific score without ties (a PWM-like sum of per-position weights)."""
    return [sum(_WEIGHTS[i]["ACGT".index(c)] for i, c in enumerate(x)) / len(x) for x in xs]


def _models() -> dict[str, MaskedDiffusion]:
    torch.manual_seed(0)
    conv = MaskedDiffusion("dna", length=10, backbone=ConvDenoiser(dim=16, depth=2)).eval()
    torch.manual_seed(1)
    cond = MaskedDiffusion("dna", length=8, backbone=TransformerDenoiser(dim=16, depth=1, heads=2),
                           num_classes=2).eval()
    torch.manual_seed(2)
    timed = MaskedDiffusion("dna", length=6, backbone=ConvDenoiser(dim=16, depth=1), time_conditioning=True,
                            fixed_length=True).eval()
    for m in (conv, cond, timed):  # untrained heads are zero: give the logits some structure
        with torch.no_grad():
            torch.nn.init.normal_(m.backbone.head.weight, std=0.5)
    return {"conv": conv, "cond": cond, "timed": timed}


def _runs() -> dict[str, tuple[str, dict[str, Any]]]:
    gc = from_function(_position_score, name="position_score")
    return {
        "unguided": ("conv", {"n": 6, "steps": 40}),
        "unguided_nocache": ("conv", {"n": 6, "steps": 40, "cache": False}),
        "unguided_chunked": ("conv", {"n": 7, "steps": 12, "batch_size": 3}),
        "conditional": ("cond", {"n": 6, "steps": 16, "cond": [0, 1, 0, 1, 1, 0]}),
        "time_conditioned": ("timed", {"n": 5, "steps": 12}),
        "svdd": ("conv", {"n": 4, "steps": 10, "guidance": lambda: [SVDD(gc, particles=4)]}),
        "svdd_soft": ("conv", {"n": 4, "steps": 20, "guidance": lambda: [SVDD(gc, particles=3, alpha=0.05)]}),
        "svdd_conditional": ("cond", {"n": 4, "steps": 8, "cond": 1, "guidance": lambda: [SVDD(gc, particles=3)]}),
        "smc": ("conv", {"n": 3, "steps": 10, "guidance": lambda: [SMC(gc, particles=4, lam=20.0)]}),
        "smc_all_systematic": ("conv", {"n": 3, "steps": 10, "guidance": lambda: [
            SMC(gc, particles=4, lam=5.0, ess_threshold=1.0, output="all", resampling="systematic",
                potential="max")]}),
        "smc_best": ("cond", {"n": 2, "steps": 8, "cond": 0, "guidance": lambda: [
            SMC(gc, particles=3, lam=10.0, output="best", resample_every=2)]}),
        "best_of_n": ("conv", {"n": 3, "steps": 10, "guidance": lambda: [BestOfN(gc, n=4)]}),
        "beam": ("conv", {"n": 2, "steps": 10, "guidance": lambda: [BeamSearch(gc, beams=2, expand=3)]}),
        "lookahead_samples": ("conv", {"n": 3, "steps": 10, "guidance": lambda: [
            SVDD(PosteriorMeanValue(gc, samples=2, temperature=0.1), particles=3)]}),
    }


def _record(out: Any) -> dict[str, Any]:
    def arr(x: Any) -> Any:
        return None if x is None else [float(v) for v in x]

    return {"sequences": list(out.sequences), "tokens": out.tokens.tolist(), "scores": arr(out.scores),
            "weights": arr(out.weights), "group": None if out.group is None else [int(g) for g in out.group],
            "trace": {k: out.trace[k] for k in _TRACE_KEYS}}


def _run_all() -> dict[str, dict[str, Any]]:
    models = _models()
    results = {}
    for name, (model, kwargs) in _runs().items():
        kwargs = dict(kwargs)
        guidance = kwargs.pop("guidance", lambda: ())()
        n = kwargs.pop("n")
        results[name] = _record(sample(models[model], n, guidance=guidance, seed=11, progress=False, **kwargs))
    return results


def test_samples_and_costs_match_the_recorded_ones() -> None:
    golden = json.loads(GOLDEN.read_text())
    now = _run_all()
    assert sorted(now) == sorted(golden)
    for name, expected in golden.items():
        got = now[name]
        assert got["tokens"] == expected["tokens"], f"{name}: different samples"
        assert got["sequences"] == expected["sequences"], name
        for key in ("scores", "weights"):
            if expected[key] is None:
                assert got[key] is None, name
            else:
                assert got[key] == pytest.approx(expected[key], rel=1e-12, abs=1e-12), f"{name}: {key}"
        assert got["group"] == expected["group"], name
        assert got["trace"] == pytest.approx(expected["trace"]), f"{name}: cost counters"


if __name__ == "__main__":
    if "--write" in sys.argv:
        torch.set_num_threads(1)
        GOLDEN.write_text(json.dumps(_run_all(), indent=1) + "\n")
        print(f"wrote {GOLDEN}")
