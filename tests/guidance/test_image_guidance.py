"""Guidance on images end to end: one CFG for discrete and image models, measured NFE savings, classifier
guidance, and SVDD / SMC / best-of-N with a non-differentiable oracle on an exactly solvable image model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from oracles import from_function
from seqguide import sample
from seqguide.guidance import (
    APG,
    CFG,
    SMC,
    SVDD,
    AdaptiveGuidance,
    BestOfN,
    CFGPlusPlus,
    ClassifierGuidance,
    GuidanceInterval,
    LinearAG,
)
from seqguide.guidance.cfg.classifier_guidance import calibrated_log_prob, softplus_copy
from seqguide.models import ConvDenoiser, ExactGaussianDenoiser, GaussianDiffusion, MaskedDiffusion, Prediction

STD = 0.2
MU = (-0.5, 0.5, 0.0)  # class 0, class 1, null


def _image_model(**kwargs) -> GaussianDiffusion:
    means = torch.stack([torch.full((1, 2, 2), m) for m in MU])
    kwargs.setdefault("clip_x0", False)
    return GaussianDiffusion(ExactGaussianDenoiser(means, STD), image_shape=(1, 2, 2), num_classes=2, **kwargs)


@pytest.fixture
def masked_model() -> MaskedDiffusion:
    torch.manual_seed(0)
    model = MaskedDiffusion("dna", length=3, backbone=ConvDenoiser(dim=16, depth=1, dropout=0.0), num_classes=2)
    nn.init.normal_(model.backbone.head.weight, std=2.0)  # a non-trivial, class-dependent random model
    nn.init.normal_(model.backbone.class_embed.weight, std=2.0)
    for block in model.backbone.blocks:  # FiLM starts at zero: make the label matter
        nn.init.normal_(block.film.weight, std=1.0)
    return model.eval()


def test_one_cfg_instance_steers_a_masked_model_and_an_image_model(masked_model) -> None:
    cfg = CFG(scale=2.5)
    # Discrete: one step from all-mask reveals every position from softmax(u + w (c - u)), i.e. the normalised
    # product p_c^w p_u^(1 - w) of the model's own conditionals, computed here directly.
    n = 6000
    out = sample(masked_model, n, steps=1, cond=1, seed=0, progress=False, guidance=[cfg])
    x = masked_model.prior(1)
    with torch.no_grad():
        lc, lu = masked_model.predict(x, 1.0, torch.tensor([1])), masked_model.predict(x, 1.0, None)
    impossible = torch.isneginf(lc) & torch.isneginf(lu)  # mask/pad tokens: probability 0 in both branches
    mixed = torch.where(impossible, torch.full_like(lc, float("-inf")),
                        2.5 * lc.clamp_min(-1e4) - 1.5 * lu.clamp_min(-1e4))
    expected = torch.softmax(mixed, dim=-1)[0]  # (L, V)
    counts = torch.nn.functional.one_hot(out.tokens, masked_model.alphabet.vocab_size).float().mean(dim=0)
    assert (counts - expected).abs().max() < 0.025
    plain = torch.softmax(lc, dim=-1)[0]
    assert (plain - expected).abs().max() > 0.1  # guidance moved the distribution measurably
    assert out.trace["forward_calls"] == 1  # both branches in one batched call (identical rows deduplicated)
    # Images: the same instance samples N(mu_null + w (mu_0 - mu_null), std^2).
    img = sample(_image_model(), 2000, steps=200, cond=0, seed=0, progress=False, guidance=[cfg])
    assert img.tokens.mean().item() == pytest.approx(MU[2] + 2.5 * (MU[0] - MU[2]), abs=0.02)


def test_inactive_guiders_save_the_unconditional_call() -> None:
    model, steps, n = _image_model(), 20, 4
    assert sample(model, n, steps=steps, cond=0, progress=False, guidance=[CFG(scale=1.0)]).trace["nfe"] == steps
    half = sample(model, n, steps=steps, cond=0, progress=False, guidance=[CFG(scale=3.0, start=0.5)])
    assert half.trace["nfe"] == steps + steps // 2
    interval = GuidanceInterval(scale=3.0, sigma_lo=0.5, sigma_hi=3.0)
    out = sample(model, n, steps=steps, cond=0, progress=False, guidance=[interval])
    times = torch.linspace(1, 0, steps + 1, dtype=torch.float64)[:-1]
    sigma = model.noise_level(times)
    inside = int(((sigma > 0.5) & (sigma <= 3.0)).sum())
    assert 0 < inside < steps and out.trace["nfe"] == steps + inside


def test_adaptive_guidance_saves_the_measured_number_of_unconditional_calls() -> None:
    model, steps, n = _image_model(), 30, 8
    full = sample(model, n, steps=steps, cond=0, seed=0, progress=False, guidance=[CFG(scale=3.0)])
    ag = sample(model, n, steps=steps, cond=0, seed=0, progress=False,
                guidance=[AdaptiveGuidance(scale=3.0, threshold=0.99, space="x0")])
    stopped, skipped = ag.trace["AdaptiveGuidance.stopped_at_step"], ag.trace["AdaptiveGuidance.skipped_uncond_steps"]
    assert 0 <= stopped < steps - 1 and skipped == steps - 1 - stopped
    assert full.trace["nfe"] - ag.trace["nfe"] == skipped  # one unconditional row per sample per skipped step
    assert stopped > 2  # the clean estimates of the two branches align only as sampling proceeds
    # Until it stops, AG is CFG: its samples are much closer to CFG's than the unguided conditional ones.
    cond_only = sample(model, n, steps=steps, cond=0, seed=0, progress=False)
    assert (ag.tokens - full.tokens).abs().mean() < 0.5 * (cond_only.tokens - full.tokens).abs().mean()


def test_linear_ag_saves_calls_and_fitted_coefficients_track_cfg() -> None:
    model, steps, n = _image_model(), 20, 64
    full = sample(model, n, steps=steps, cond=0, seed=0, progress=False, guidance=[CFG(scale=3.0)])
    lag = LinearAG(scale=3.0, window=(0.0, 1.0), every=2)
    out = sample(model, n, steps=steps, cond=0, seed=0, progress=False, guidance=[lag])
    estimated = out.trace["LinearAG.estimated_uncond_steps"]
    assert estimated == steps // 2 and full.trace["nfe"] - out.trace["nfe"] == estimated
    fitted = lag.fit(model, 32, steps=steps, cond=0, seed=1)
    assert len(fitted.coefficients) == steps
    out_fit = sample(model, n, steps=steps, cond=0, seed=0, progress=False, guidance=[fitted])
    err_default = (out.tokens - full.tokens).abs().mean()
    err_fit = (out_fit.tokens - full.tokens).abs().mean()
    assert err_fit <= err_default + 1e-6 and err_fit < 0.05


def test_cfg_plus_plus_needs_a_renoising_step(masked_model) -> None:
    with pytest.raises(TypeError, match="renoises with the unconditional prediction"):
        sample(masked_model, 2, steps=2, cond=0, progress=False, guidance=[CFGPlusPlus(scale=0.5)])
    out = sample(_image_model(), 16, steps=10, cond=0, progress=False, guidance=[CFGPlusPlus(scale=0.5)])
    assert out.trace["nfe"] == 20 and torch.isfinite(out.tokens).all()


def test_stateful_guiders_reset_per_run_and_follow_resampling() -> None:
    model = _image_model(sampler="ddpm")
    apg = APG(scale=4.0, momentum=-0.5)
    a = sample(model, 8, steps=10, cond=0, seed=3, progress=False, guidance=[apg])
    b = sample(model, 8, steps=10, cond=0, seed=3, progress=False, guidance=[apg])
    assert torch.equal(a.tokens, b.tokens)  # nothing survives between runs
    oracle = from_function(lambda xs: [float(-x.mean()) for x in xs], name="darker")
    seen: list[torch.Tensor] = []

    class _Spy(APG):
        def reorder(self, index):
            seen.append(index)
            super().reorder(index)

    spy = _Spy(scale=2.0, momentum=-0.5)
    sample(model, 4, steps=6, cond=0, seed=0, progress=False,
           guidance=[spy, SMC(oracle, particles=4, lam=20.0, ess_threshold=1.0)])
    assert seen and spy._running is not None and spy._running.shape[0] == 16


@pytest.mark.slow
def test_svdd_smc_best_of_n_steer_images_with_a_non_differentiable_oracle() -> None:
    """The oracle is an argmax-class indicator of a nearest-mean judge: 1 if an image is closer to class 0's mean."""
    model = _image_model(sampler="ddpm")

    def judge(xs):
        x = torch.stack(list(xs)).flatten(1) * 2 - 1  # decoded [0, 1] back to model space
        return [float(v) for v in ((x - MU[0]).norm(dim=1) < (x - MU[1]).norm(dim=1)).double()]

    oracle = from_function(judge, name="is_class_0")
    n, steps = 200, 20
    base = sample(model, n, steps=steps, seed=0, progress=False)  # the null class: mean 0, half of each
    base_rate = np.mean(judge(base.sequences))
    assert 0.3 < base_rate < 0.7
    for guider in (SVDD(oracle, particles=8), SMC(oracle, particles=8, lam=5.0), BestOfN(oracle, n=8)):
        out = sample(model, n, steps=steps, seed=0, progress=False, guidance=[guider])
        assert np.mean(judge(out.sequences)) > base_rate + 0.3, type(guider).__name__
        assert out.trace["oracle_calls"] >= n * 8 and len(out.sequences) == n


class _Linear(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        with torch.no_grad():  # logit_0 - logit_1 grows as the image darkens (toward class 0's mean)
            self.net[0 + 1].weight.copy_(torch.cat([-torch.ones(4, 4), torch.ones(4, 4)]))
            self.net[1].bias.zero_()
            self.net[3].weight.copy_(torch.tensor([[1.0] * 4 + [0.0] * 4, [0.0] * 4 + [1.0] * 4]))
            self.net[3].bias.zero_()

    def forward(self, x):
        return self.net(x)


def test_calibrated_log_prob_and_softplus_copy() -> None:
    logits, y = torch.randn(5, 4), torch.tensor([0, 1, 2, 3, 0])
    direct = torch.log(torch.exp(2.0 * logits[torch.arange(5), y]) / torch.exp(2.0 * 0.5 * logits).sum(dim=1))
    assert torch.allclose(calibrated_log_prob(logits, y, 2.0, 0.5), direct, atol=1e-5)
    assert torch.allclose(calibrated_log_prob(logits, y, 1.0, 1.0), logits.log_softmax(1)[torch.arange(5), y])
    clf = _Linear()
    smooth = softplus_copy(clf, 3.0)
    assert isinstance(smooth.net[2], nn.Softplus) and isinstance(clf.net[2], nn.ReLU)


def test_classifier_guidance_shifts_the_score_by_the_classifier_gradient() -> None:
    model = _image_model(prediction="eps")
    g = ClassifierGuidance(_Linear(), scale=2.0, softplus_beta=None, schedule="constant")
    out = sample(model, 4, steps=2, cond=0, progress=False, guidance=[g])  # sets up a context
    assert out.trace["ClassifierGuidance.guided_steps"] == 2
    x = torch.randn(4, 1, 2, 2)
    pred = Prediction(torch.randn(4, 1, 2, 2), "eps", torch.full((4,), 0.5), x)
    g.ctx.cond = torch.zeros(4, dtype=torch.long)
    x0 = model.to_x0_eps(pred)[0].detach().requires_grad_(True)
    grad = torch.autograd.grad(calibrated_log_prob(g.classifier(x0), torch.zeros(4, dtype=torch.long), 1.0,
                                                   0.5).sum(), x0)[0]
    _, s = (float(v) for v in model.alpha_sigma(0.5))
    adjusted = g.adjust(x, pred, 0.5)
    assert torch.allclose(adjusted.value, pred.value - s * 2.0 * grad, atol=1e-5)  # Dhariwal & Nichol eq. 14


def test_classifier_guidance_defaults_to_elucds_sine_bump() -> None:
    """EluCD's schedule s(t) = scale (1 + gamma sin(pi t)), gamma = 0.3: the plain scale at both ends of the run,
    1.3 times it half-way, symmetric about t = 1/2 (a cosine would be 1 + gamma at t = 0 and 1 - gamma at t = 1)."""
    g = ClassifierGuidance(_Linear(), scale=2.0)
    assert g.schedule == "sine" and g.gamma == 0.3
    for t, want in ((0.0, 2.0), (0.5, 2.6), (1.0, 2.0), (0.25, 2.0 * (1 + 0.3 * 0.5**0.5))):
        assert abs(g.strength(t) - want) < 1e-9, (t, g.strength(t), want)
    assert abs(g.strength(0.2) - g.strength(0.8)) < 1e-12
    assert ClassifierGuidance(_Linear(), scale=2.0, schedule="constant").strength(0.5) == 2.0


def test_classifier_guidance_steers_toward_the_target_class() -> None:
    model = _image_model(prediction="v")

    def frac_dark(samples) -> float:
        return float((samples.tokens.flatten(1).mean(dim=1) < 0).double().mean())

    plain = sample(model, 400, steps=30, seed=0, progress=False)
    guided = sample(model, 400, steps=30, seed=0, progress=False,
                    guidance=[ClassifierGuidance(_Linear(), scale=1.0, target=0)])
    assert frac_dark(guided) > frac_dark(plain) + 0.3
    with pytest.raises(ValueError, match="needs a target class"):
        sample(model, 2, steps=2, progress=False, guidance=[ClassifierGuidance(_Linear())])
