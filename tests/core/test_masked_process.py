"""MaskedDiffusion's reverse step and ELBO against direct computations; both noise schedules.

* The token a step reveals is a draw from ``softmax(pred)`` (a Gumbel sign error, i.e. near-greedy sampling,
  would pass every shape test).
* ``nll`` equals the MDLM eq. 10 estimate written out here from the same random draws, with the weight
  ``-alpha'(t) / (1 - alpha(t))`` computed by hand for each schedule (an ELBO weight of 1 changes it).
* With the Bayes-optimal denoiser (an exact table model) the continuous-time ELBO is the exact NLL:
  ``E_t[w(t) sum_masked -log p(x0^l | x_t)] = -log p(x0)`` for every schedule (MD4 §3; MDLM §3.2).
"""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from torch import nn

from seqguide import DNA
from seqguide.models import ConvDenoiser, ExactMaskedModel, MaskedDiffusion
from seqguide.models.schedules import CosineSchedule, LogLinearSchedule, get_schedule

SCHEDULES = ["loglinear", "cosine"]


def _alpha(name: str, t: torch.Tensor) -> torch.Tensor:
    return 1.0 - t if name == "loglinear" else torch.cos(0.5 * math.pi * t)


def _weight(name: str, t: torch.Tensor) -> torch.Tensor:
    """-alpha'(t) / (1 - alpha(t)), by hand."""
    if name == "loglinear":
        return 1.0 / t
    return 0.5 * math.pi * torch.sin(0.5 * math.pi * t) / (1.0 - torch.cos(0.5 * math.pi * t))


class _ExactNet(nn.Module):
    """A backbone that returns the exact clean-token log-marginals of a table model (the Bayes-optimal denoiser)."""

    def __init__(self, exact: ExactMaskedModel) -> None:
        super().__init__()
        self.exact = exact

    def forward(self, x: torch.Tensor, t: torch.Tensor | None = None, labels: torch.Tensor | None = None):
        return self.exact.predict(x, 1.0)


def _exact_model(schedule: str, seed: int = 0) -> tuple[MaskedDiffusion, ExactMaskedModel]:
    seqs = ["".join(p) for p in itertools.product("ACGT", repeat=3)]
    g = torch.Generator().manual_seed(seed)
    p = torch.rand(len(seqs), generator=g, dtype=torch.float64) ** 2 + 1e-2
    exact = ExactMaskedModel(DNA, dict(zip(seqs, (p / p.sum()).tolist())), schedule=schedule)
    model = MaskedDiffusion(DNA, length=3, backbone=ConvDenoiser(dim=8, depth=1), schedule=schedule).eval()
    model.backbone = _ExactNet(exact)
    return model, exact


def test_step_draws_revealed_tokens_from_softmax_of_the_prediction():
    torch.manual_seed(0)
    model = MaskedDiffusion(DNA, length=5, backbone=ConvDenoiser(dim=8, depth=1)).eval()
    V, L, N = DNA.vocab_size, 5, 40_000
    logits = torch.randn(L, V) * 1.5
    logits[:, DNA.mask_id] = float("-inf")
    logits[:, DNA.pad_id] = float("-inf")
    pred = logits.log_softmax(-1).expand(N, L, V)
    state = model.prior(N)
    g = torch.Generator().manual_seed(1)
    out = model.step(state, pred, 1.0, 0.0, g)  # t=1 -> s=0 reveals every position
    assert not (out == DNA.mask_id).any()
    freq = torch.nn.functional.one_hot(out, V).double().mean(0)  # (L, V)
    target = logits.softmax(-1).double()
    # 4.5 standard errors of a frequency at this N; a greedy or tempered draw is off by > 0.1.
    assert (freq - target).abs().max() < 4.5 * math.sqrt(0.25 / N), (freq - target).abs().max()
    # The look-ahead's sampled estimate uses the same draw.
    est = model.x0_estimate(state, pred, generator=torch.Generator().manual_seed(2), sample=True)
    assert (torch.nn.functional.one_hot(est, V).double().mean(0) - target).abs().max() < 4.5 * math.sqrt(0.25 / N)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_nll_is_the_mdlm_estimate_written_out(schedule):
    torch.manual_seed(0)
    model = MaskedDiffusion(DNA, length=8, backbone=ConvDenoiser(dim=16, depth=2), schedule=schedule).eval()
    x0 = torch.randint(0, 4, (64, 8))
    got = model.nll(x0, generator=torch.Generator().manual_seed(7))
    # The same draws, by hand: antithetic times, then the masks.
    g = torch.Generator().manual_seed(7)
    eps = model.hparams.t_eps
    u = torch.rand(1, generator=g)
    t = eps + (1 - eps) * ((u + torch.arange(64) / 64) % 1.0)
    xt = torch.where(torch.rand(x0.shape, generator=g) < 1 - _alpha(schedule, t)[:, None],
                     torch.full_like(x0, DNA.mask_id), x0)
    logp = model(xt, t)
    ce = -logp.gather(-1, x0[..., None])[..., 0] * (xt == DNA.mask_id)
    want = _weight(schedule, t) * ce.sum(-1) / 8
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_elbo_of_the_exact_denoiser_is_the_exact_nll(schedule):
    model, exact = _exact_model(schedule)
    g = torch.Generator().manual_seed(3)
    for seq in ("ACG", "TTA"):
        x0 = DNA.encode([seq] * 20_000, length=3)
        nelbo = float(model.nll(x0, generator=g).double().mean()) * 3  # nats per sequence
        nll = -math.log(exact.p[exact.sequences.index(seq)])
        assert nelbo == pytest.approx(nll, rel=0.03), (seq, nelbo, nll)


def test_cosine_schedule_is_mdlm_cosine_noise():
    s = get_schedule("cosine")
    assert isinstance(s, CosineSchedule) and isinstance(get_schedule("loglinear"), LogLinearSchedule)
    t = torch.linspace(0.0, 1.0, 11, dtype=torch.float64, requires_grad=True)
    a = s.alpha(t)
    assert float(a[0].detach()) == 1.0 and abs(float(a[-1].detach())) < 1e-12  # clean at t=0, fully masked at t=1
    assert bool((a[1:] < a[:-1]).all())
    (grad,) = torch.autograd.grad(a.sum(), t)
    torch.testing.assert_close(s.dalpha(t.detach()), grad)
    inner = t.detach()[1:]
    torch.testing.assert_close(s.loss_weight(inner), _weight("cosine", inner))
    # The reverse kernel: a masked token is revealed between t and s with (alpha_s - alpha_t) / (1 - alpha_t).
    p = float(s.unmask_probability(1.0, 0.75))
    assert p == pytest.approx(math.cos(0.375 * math.pi), abs=1e-9)
    model = MaskedDiffusion(DNA, length=16, backbone=ConvDenoiser(dim=8, depth=1), schedule="cosine").eval()
    x = model.prior(2000)
    nxt = model.step(x, model.predict(x, 1.0), 1.0, 0.75, torch.Generator().manual_seed(0))
    assert float((nxt != DNA.mask_id).double().mean()) == pytest.approx(p, abs=0.01)
