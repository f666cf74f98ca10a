"""DiscreteCFG on exactly solvable class-conditional models (masked and simplex): the guided step keeps masked
diffusion's unmasking rate and draws tokens from softmax(log p_u + w (log p_c - log p_u)); w = 1 and w = 0 give the
conditional and unconditional models; the schedules give the documented weights."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import numpy as np
import pytest
import torch

from seqguide import Alphabet, sample
from seqguide.guidance import DiscreteCFG
from seqguide.models import ExactMaskedModel, ExactSimplexModel

AB = Alphabet("AB")


class _Conditional:
    """Class-conditional exact model: class c has table ``tables[c]``; the null class (``num_classes``) is the
    mixture ``sum_c prior_c tables[c]``. Everything but ``predict`` is the mixture model's."""

    def __init__(self, make: Any, tables: list[dict[str, float]], prior: list[float]) -> None:
        seqs = sorted(set().union(*tables))
        mix = {s: sum(p * t.get(s, 0.0) for p, t in zip(prior, tables)) for s in seqs}
        self.classes = [make(t) for t in tables]
        self.mixture = make(mix)
        self.num_classes = len(tables)
        self.tables, self.mix = tables, mix

    def __getattr__(self, name: str) -> Any:
        return getattr(self.mixture, name)

    def predict(self, state: torch.Tensor, t: float, cond: Any = None) -> Any:
        if isinstance(cond, dict):
            return {b: self.predict(state, t, y) for b, y in cond.items()}
        out = self.mixture.predict(state, t)
        if cond is None:
            return out
        y = torch.as_tensor(cond).expand(state.shape[0])
        for c, model in enumerate(self.classes):
            rows = y == c
            if rows.any():
                out[rows] = model.predict(state[rows], t)
        return out


def _tables() -> tuple[list[dict[str, float]], list[float]]:
    seqs = ["".join(p) for p in __import__("itertools").product("AB", repeat=3)]
    g = torch.Generator().manual_seed(0)
    t0 = torch.rand(len(seqs), generator=g, dtype=torch.float64) ** 2 + 0.01
    t1 = torch.tensor([s.count("B") + 0.2 for s in seqs], dtype=torch.float64) ** 2
    return [dict(zip(seqs, (t0 / t0.sum()).tolist())), dict(zip(seqs, (t1 / t1.sum()).tolist()))], [0.7, 0.3]


def _tv(samples: list[str], target: dict[str, float]) -> float:
    counts = Counter(samples)
    return 0.5 * sum(abs(counts[s] / len(samples) - p) for s, p in target.items())


def _masked(table: dict[str, float]) -> ExactMaskedModel:
    return ExactMaskedModel(AB, table, exact_joint=False)


def _simplex(table: dict[str, float]) -> ExactSimplexModel:
    return ExactSimplexModel(AB, table, eta=1.0)


@pytest.mark.parametrize("make,steps", [(_masked, 16), (_simplex, 24)])
def test_weight_one_is_conditional_and_zero_unconditional(make: Any, steps: int) -> None:
    tables, prior = _tables()
    model = _Conditional(make, tables, prior)
    assert 0.5 * sum(abs(tables[1][s] - model.mix[s]) for s in model.mix) > 0.2  # the classes differ
    for w, target in ((1.0, tables[1]), (0.0, model.mix)):
        out = sample(model, 4000, steps=steps, cond=1, seed=0, progress=False,
                     guidance=[DiscreteCFG(scale=w, schedule="constant")])
        assert _tv(out.sequences, target) < 0.04, (w, _tv(out.sequences, target))


def test_guided_masked_step_keeps_the_unmasking_rate_and_draws_the_mixed_tokens() -> None:
    """One step t = 0.8 -> 0.6 from the all-mask state at w = 4: each position stays masked with probability
    (1 - alpha_s) / (1 - alpha_t) = 0.75 exactly as without guidance, and the revealed tokens follow
    softmax(log p_u + 4 (log p_c - log p_u)) (a tilt of the whole kernel, mask entry included, would change both)."""
    tables, prior = _tables()
    model = _Conditional(_masked, tables, prior)
    cfg = DiscreteCFG(scale=4.0, schedule="constant")
    n = 40000
    state = model.prior(n)
    sample(model, 1, steps=1, cond=1, seed=0, progress=False, guidance=[cfg])  # bind a context
    cfg.ctx.cond = torch.ones(n, dtype=torch.long)
    preds = model.predict(state, 0.8, {"cond": cfg.ctx.cond, "uncond": None})
    mixed = cfg.combine(preds, 0.8)["cond"]
    lc, lu = preds["cond"][0, :, :2], preds["uncond"][0, :, :2]
    analytic = torch.softmax(lu + 4.0 * (lc - lu), dim=-1)  # (L, 2)
    assert torch.allclose(mixed[0, :, :2].exp(), analytic, atol=1e-6)
    nxt = model.step(state, mixed, 0.8, 0.6, torch.Generator().manual_seed(3))
    stay = (nxt == model.mask_id).double().mean(dim=0)
    assert torch.allclose(stay, torch.full_like(stay, 0.75), atol=4 * math.sqrt(0.75 * 0.25 / n))
    for pos in range(3):
        revealed = nxt[:, pos][nxt[:, pos] != model.mask_id]
        frac_b = float((revealed == 1).double().mean())
        p = float(analytic[pos, 1])
        assert abs(frac_b - p) < 4 * math.sqrt(p * (1 - p) / revealed.numel()), (pos, frac_b, p)
    # Guidance matters here: the mixed distribution differs from the conditional one.
    assert (analytic[:, 1] - lc.exp()[:, 1]).abs().max() > 0.1


def test_schedules_and_branches() -> None:
    tables, prior = _tables()
    model = _Conditional(_masked, tables, prior)
    seen: dict[str, list[float]] = {}

    class _Spy(DiscreteCFG):
        def combine(self, preds, t):  # records the weight the loop sees at each step
            self.seen.append(self.weight(t))
            return super().combine(preds, t)

    for schedule in ("constant", "linear", "interval"):
        spy = _Spy(scale=3.0, schedule=schedule, onset=0.5)
        spy.seen = []
        out = sample(model, 8, steps=4, cond=1, seed=0, progress=False, cache=False, guidance=[spy])
        seen[schedule] = spy.seen
        two = sum(w != 1.0 for w in spy.seen)
        assert out.trace["nfe"] == pytest.approx(4 + two)  # the unconditional branch only when w != 1
    assert seen["constant"] == [3.0] * 4
    assert np.allclose(seen["linear"], [1.0, 1.5, 2.0, 2.5])  # 1 + (w - 1) alpha(t), alpha = 1 - t
    assert seen["interval"] == [1.0, 1.0, 3.0, 3.0]


def test_errors() -> None:
    for kwargs, match in (({"scale": -1.0}, "scale"), ({"schedule": "cubic"}, "schedule"), ({"onset": 2.0}, "onset")):
        with pytest.raises(ValueError, match=match):
            DiscreteCFG(**kwargs)
    tables, prior = _tables()
    model = _Conditional(_masked, tables, prior)
    with pytest.raises(ValueError, match="cond="):
        sample(model, 2, steps=2, seed=0, progress=False, guidance=[DiscreteCFG(scale=2.0, schedule="constant")])
