"""The sampling loop: determinism, caching, exactness on the toy model, hook order and contracts."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from seqguide import Alphabet, sample
from seqguide.guidance import Candidates, Final, Guider
from seqguide.models import ConvDenoiser, ExactMaskedModel, MaskedDiffusion


def _tv(samples: list[str], target: dict[str, float]) -> float:
    counts = Counter(samples)
    return 0.5 * sum(abs(counts[s] / len(samples) - p) for s, p in target.items())


@pytest.fixture
def net_model() -> MaskedDiffusion:
    torch.manual_seed(0)
    return MaskedDiffusion("dna", length=12, backbone=ConvDenoiser(dim=16, depth=2)).eval()


def test_same_seed_same_samples_different_seed_different(net_model) -> None:
    a = sample(net_model, 16, steps=12, seed=5, progress=False)
    b = sample(net_model, 16, steps=12, seed=5, progress=False)
    c = sample(net_model, 16, steps=12, seed=6, progress=False)
    assert a.sequences == b.sequences and torch.equal(a.tokens, b.tokens)
    assert a.sequences != c.sequences
    chunked = sample(net_model, 16, steps=12, seed=5, batch_size=5, progress=False)
    assert len(chunked.sequences) == 16
    assert chunked.sequences == sample(net_model, 16, steps=12, seed=5, batch_size=5, progress=False).sequences


def test_cache_reuses_unchanged_rows_without_changing_samples(net_model) -> None:
    steps = 4 * net_model.length
    cached = sample(net_model, 8, steps=steps, seed=1, progress=False, cache=True)
    plain = sample(net_model, 8, steps=steps, seed=1, progress=False, cache=False)
    assert cached.sequences == plain.sequences
    assert plain.trace["nfe"] == steps
    # Each row changes at most `length` times, so at most `length` (+1 for the first step) evaluations.
    assert cached.trace["nfe"] <= net_model.length + 1
    assert cached.trace["cached_rows"] > 0 and "oracle_calls" in cached.trace


def test_time_conditioned_model_is_never_served_from_cache() -> None:
    torch.manual_seed(0)
    model = MaskedDiffusion("dna", length=6, backbone=ConvDenoiser(dim=16, depth=1), time_conditioning=True).eval()
    # One row: no duplicate rows within a step, so every step must call the network (t differs).
    out = sample(model, 1, steps=24, seed=0, progress=False)
    assert out.trace["nfe"] == 24 and out.trace["cached_rows"] == 0
    # Identical rows at the same time are still evaluated once (e.g. all rows are masked at step 0);
    # every row-step is either evaluated or served from such a duplicate.
    out = sample(model, 4, steps=24, seed=0, progress=False)
    assert out.trace["nfe"] * 4 + out.trace["cached_rows"] == 24 * 4 and out.trace["cached_rows"] >= 3


def test_unguided_sampling_of_exact_model_matches_table(toy_table) -> None:
    model = ExactMaskedModel(Alphabet("AB"), toy_table)
    out = sample(model, 3000, steps=3, seed=0, progress=False)
    assert _tv(out.sequences, toy_table) < 0.04
    # The factorised (MDLM) step is exact only in the many-steps limit.
    fact = ExactMaskedModel(Alphabet("AB"), toy_table, exact_joint=False)
    few = _tv(sample(fact, 3000, steps=1, seed=0, progress=False).sequences, toy_table)
    many = _tv(sample(fact, 3000, steps=64, seed=0, progress=False).sequences, toy_table)
    assert many < 0.04 < few


class _Recorder(Guider):
    def __init__(self, log: list[str]) -> None:
        super().__init__()
        self.log = log

    def reset(self, ctx) -> None:
        super().reset(ctx)
        self.log.append("reset")

    def conditions(self, t):
        self.log.append("conditions")
        return ("cond",)

    def combine(self, preds, t):
        self.log.append("combine")
        return preds

    def adjust(self, state, pred, t):
        self.log.append("adjust")
        return pred

    def propose(self, model, state, pred, t, s):
        self.log.append("propose")
        return Candidates(model.step(state, pred, t, s, self.ctx.generator).unsqueeze(1), state, pred, t, s)

    def select(self, cands, t):
        self.log.append("select")
        return cands.states[:, 0]

    def remask(self, state, pred, t):
        self.log.append("remask")
        return state

    def finalize(self, state):
        self.log.append("finalize")
        return Final(state)


def test_hooks_are_called_in_design_order(net_model) -> None:
    log: list[str] = []
    sample(net_model, 3, steps=2, guidance=[_Recorder(log)], seed=0, progress=False)
    per_step = ["conditions", "combine", "adjust", "propose", "select", "remask"]
    assert log == ["reset", *per_step, *per_step, "finalize"]
    log.clear()
    sample(net_model, 3, steps=1, guidance=_Recorder(log), seed=0, batch_size=2, progress=False)
    assert log.count("reset") == 2, "per-run state is reset for every batch chunk"


def test_guidance_contracts_are_checked(net_model) -> None:
    with pytest.raises(ValueError, match=r"at most one guider per stack may propose and select candidates"):
        sample(net_model, 2, steps=2, guidance=[_Recorder([]), _Recorder([])], progress=False)
    with pytest.raises(TypeError, match=r"guidance\[0\] must be a seqguide Guider"):
        sample(net_model, 2, steps=2, guidance=[object()], progress=False)
    with pytest.raises(ValueError, match="steps must be >= 1"):
        sample(net_model, 2, steps=0, progress=False)

    class _Many(Guider):
        def propose(self, model, state, pred, t, s):
            nxt = model.step(state.repeat_interleave(2, 0), pred.repeat_interleave(2, 0), t, s, self.ctx.generator)
            return Candidates(nxt.view(state.shape[0], 2, -1), state, pred, t, s)

    with pytest.raises(RuntimeError, match="proposed 2 candidates per row but no guider selects"):
        sample(net_model, 2, steps=2, guidance=[_Many()], progress=False)
    with pytest.raises(ValueError, match="stop must be in"):
        Guider(start=0.5, stop=0.5)


def test_active_window_by_step_fraction(net_model) -> None:
    seen: list[int] = []

    class _Window(Guider):
        def adjust(self, state, pred, t):
            if self.is_active():
                seen.append(self.ctx.step_index)
            return pred

    sample(net_model, 1, steps=10, guidance=[_Window(start=0.2, stop=0.5)], progress=False)
    assert seen == [2, 3, 4]
