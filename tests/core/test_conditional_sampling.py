"""Class-conditional sampling with a different label in every row.

* The prediction cache must key rows by (state, label): with the label dropped, rows that share a state but
  not a label (every row at step 0) would share a prediction. Cache on must equal cache off, guided or not.
* Guided conditional sampling must give each row its own label's answer: with mixed labels, each label's
  samples follow the distribution that a run with only that label gives (an exact conditional table model,
  so a candidate scored under its neighbour's label shows up as a different distribution).
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
import torch
from torch import nn

from oracles import from_function
from seqguide import Alphabet, sample
from seqguide.guidance import SVDD
from seqguide.models import ExactMaskedModel, MaskedDiffusion, TransformerDenoiser

AB = Alphabet("AB")


class _ConditionalExact(nn.Module):
    """An exact masked model with one table per class; ``predict`` uses each row's own label."""

    time_conditioned = False

    def __init__(self, tables: list[dict[str, float]]) -> None:
        super().__init__()
        self.classes = nn.ModuleList(ExactMaskedModel(AB, t, exact_joint=False) for t in tables)
        self.alphabet, self.length = AB, self.classes[0].length
        self.mask_id, self.num_classes = AB.mask_id, len(tables)

    def predict(self, state, t, cond=None):
        if isinstance(cond, dict):
            return {name: self.predict(state, t, y) for name, y in cond.items()}
        labels = torch.as_tensor(cond, dtype=torch.long).expand(state.shape[0])
        out = torch.stack([m.predict(state, t) for m in self.classes])  # (C, B, L, V)
        return out[labels, torch.arange(state.shape[0])]

    def prior(self, n, length=None, *, generator=None, device=None):
        return self.classes[0].prior(n, length, device=device)

    def step(self, state, pred, t, s, generator=None):
        return self.classes[0].step(state, pred, t, s, generator)

    def x0_estimate(self, state, pred, *, generator=None, sample=False):
        return self.classes[0].x0_estimate(state, pred, generator=generator, sample=sample)

    def decode(self, clean):
        return AB.decode(clean)


def _tables() -> list[dict[str, float]]:
    seqs = ["".join(p) for p in itertools.product("AB", repeat=4)]
    out = []
    for c in range(3):
        g = torch.Generator().manual_seed(10 + c)
        p = torch.rand(len(seqs), generator=g, dtype=torch.float64) ** 4 + 1e-3
        out.append(dict(zip(seqs, (p / p.sum()).tolist())))
    return out


def _tv(a: list[str], b: list[str]) -> float:
    ca, cb = Counter(a), Counter(b)
    return 0.5 * sum(abs(ca[k] / len(a) - cb[k] / len(b)) for k in set(ca) | set(cb))


@pytest.fixture(scope="module")
def cond_net() -> MaskedDiffusion:
    torch.manual_seed(0)
    model = MaskedDiffusion("dna", length=8, backbone=TransformerDenoiser(dim=32, depth=1, heads=2), num_classes=3)
    for p in model.backbone.parameters():  # off the adaLN-Zero identity start, so labels change predictions
        nn.init.normal_(p, std=0.3)
    model.eval()
    x = model.prior(3)
    preds = model.predict(x, 1.0, torch.tensor([0, 1, 2]))
    assert not torch.allclose(preds[0], preds[1]) and not torch.allclose(preds[1], preds[2])
    return model


def test_cache_on_equals_cache_off_with_a_label_per_row(cond_net):
    labels = torch.tensor([0, 1, 2] * 4)
    steps = 4 * cond_net.length  # many steps that change nothing: the cache serves most rows
    on = sample(cond_net, 12, steps=steps, cond=labels, seed=3, progress=False, cache=True)
    off = sample(cond_net, 12, steps=steps, cond=labels, seed=3, progress=False, cache=False)
    assert on.trace["cached_rows"] > 0
    assert on.sequences == off.sequences
    same = sample(cond_net, 12, steps=steps, cond=0, seed=3, progress=False, cache=True)
    assert same.sequences != on.sequences  # the labels matter for this model


def test_guided_cache_on_equals_cache_off_with_a_label_per_row(cond_net):
    gc = from_function(lambda xs: [(s.count("G") + s.count("C")) / len(s) for s in xs], name="gc")
    labels = torch.tensor([2, 0, 1, 1, 0, 2])
    runs = [sample(cond_net, 6, steps=2 * cond_net.length, cond=labels, seed=5, progress=False, cache=cache,
                   guidance=[SVDD(gc, particles=4)]) for cache in (True, False)]
    assert runs[0].trace["cached_rows"] > 0
    assert runs[0].sequences == runs[1].sequences


def test_guided_conditional_samples_follow_each_rows_own_label():
    model = _ConditionalExact(_tables())
    reward = from_function(lambda xs: [float(s.count("A")) for s in xs], name="a_count")
    n = 1500

    def run(labels: torch.Tensor, seed: int) -> list[str]:
        out = sample(model, len(labels), steps=4, cond=labels, seed=seed, progress=False,
                     guidance=[SVDD(reward, particles=4, alpha=1.0)])
        return out.sequences

    mixed_labels = torch.tensor([0, 1, 2]).repeat(n)
    mixed = run(mixed_labels, seed=0)
    for c in range(3):
        mine = [s for s, y in zip(mixed, mixed_labels.tolist()) if y == c]
        alone = run(torch.full((n,), c), seed=100 + c)  # the per-row reference: every row has label c
        assert _tv(mine, alone) < 0.1, (c, _tv(mine, alone))
        others = [run(torch.full((n,), d), seed=200 + d) for d in range(3) if d != c]
        assert all(_tv(mine, o) > 0.2 for o in others)  # the classes are far apart: the check can fail
