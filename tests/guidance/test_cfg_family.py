"""The CFG family against direct re-implementations of each paper's equation, on random tensors.

Each guider's ``combine`` is driven through a real :class:`SamplingContext` (so windows, step indices and
look-ahead flags behave as in the loop) on random conditional/unconditional predictions.
"""

from __future__ import annotations

import math

import pytest
import torch

from seqguide.guidance import (
    APG,
    CFG,
    FDG,
    RAAG,
    AdaptiveGuidance,
    CFGCtrl,
    CFGPlusPlus,
    CFGZeroStar,
    DynamicCFG,
    GuidanceInterval,
    LinearAG,
)
from seqguide.guidance.cfg.fdg import _down, _up, laplacian_pyramid, reconstruct_pyramid
from seqguide.models import ExactGaussianDenoiser, FlowMatching, GaussianDiffusion, Prediction
from seqguide.sampling.context import Counters, SamplingContext

B, SHAPE = 6, (2, 8, 8)


def _model(kind: str = "eps"):
    means = torch.zeros(3, *SHAPE)
    if kind == "velocity":
        return FlowMatching(ExactGaussianDenoiser(means, 0.3), image_shape=SHAPE, num_classes=2)
    return GaussianDiffusion(ExactGaussianDenoiser(means, 0.3), image_shape=SHAPE, num_classes=2, prediction=kind)


def _ctx(guider, model=None, steps: int = 10, step: int = 0):
    model = model or _model()
    ctx = SamplingContext(model, guiders=[guider], num_steps=steps, n=B, expansion=1,
                          generator=torch.Generator().manual_seed(0), device=torch.device("cpu"),
                          cond=torch.zeros(B, dtype=torch.long), use_cache=False, counters=Counters())
    guider.reset(ctx)
    _at(ctx, step)
    return ctx


def _at(ctx, step: int) -> float:
    t = 1.0 - step / ctx.num_steps
    ctx.set_step(step, t, t - 1.0 / ctx.num_steps)
    return t


def _cu(seed: int = 0, kind: str = "eps", t: float = 0.5):
    g = torch.Generator().manual_seed(seed)
    c, u, x = (torch.randn(B, *SHAPE, generator=g) for _ in range(3))
    tt = torch.full((B,), t)
    return Prediction(c, kind, tt, x), Prediction(u, kind, tt, x)


def _combine(guider, c, u, t=0.5):
    return guider.combine({"cond": c, "uncond": u}, t)["cond"]


def _norm(x):
    return x.flatten(1).norm(dim=1).view(-1, *([1] * (x.dim() - 1)))


def _inner(a, b):
    return (a * b).flatten(1).sum(dim=1).view(-1, *([1] * (a.dim() - 1)))


# ----------------------------------------------------------------------------------------- CFG
def test_cfg_formula_and_the_two_conventions_agree() -> None:
    c, u = _cu()
    native = CFG(scale=3.5)
    _ctx(native)
    out = _combine(native, c, u).value
    assert torch.allclose(out, u.value + 3.5 * (c.value - u.value))
    original = CFG(scale=2.5, base="cond")  # c + w (c - u) = u + (w + 1)(c - u)
    _ctx(original)
    assert torch.allclose(_combine(original, c, u).value, out, atol=1e-6)
    assert torch.allclose(out, (1 + 2.5) * c.value - 2.5 * u.value, atol=1e-6)  # Ho & Salimans eq. 6


def test_cfg_rescale_matches_lin_et_al() -> None:
    c, u = _cu(1)
    g = CFG(scale=4.0, rescale=0.7)
    _ctx(g)
    cfg = u.value + 4.0 * (c.value - u.value)
    std_c = c.value.flatten(1).std(dim=1, unbiased=False).view(-1, 1, 1, 1)
    std_g = cfg.flatten(1).std(dim=1, unbiased=False).view(-1, 1, 1, 1)
    expected = 0.7 * cfg * std_c / std_g + 0.3 * cfg
    assert torch.allclose(_combine(g, c, u).value, expected, atol=1e-5)


def test_cfg_gives_the_same_clean_estimate_in_every_parameterisation() -> None:
    model = _model("eps")
    c_eps, u_eps = _cu(2, "eps", t=0.6)
    g = CFG(scale=3.0)
    _ctx(g, model)
    x0_eps = model.to_x0_eps(_combine(g, c_eps, u_eps, 0.6))[0]
    for kind in ("x0", "v"):
        m = _model(kind)
        conv = [Prediction(m.from_x0_eps(p.replace(kind=kind), *model.to_x0_eps(p)), kind, p.t, p.state)
                for p in (c_eps, u_eps)]
        _ctx(g, m)
        assert torch.allclose(m.to_x0_eps(_combine(g, *conv, 0.6))[0], x0_eps, atol=1e-4), kind


def test_inactive_cfg_asks_only_for_the_conditional_branch() -> None:
    ctx = _ctx(CFG(scale=1.0))
    assert ctx.guiders[0].conditions(0.5) == ("cond",)
    g = CFG(scale=0.0, base="cond")
    _ctx(g)
    assert g.conditions(0.5) == ("cond",)
    g = CFG(scale=2.0, start=0.5)
    ctx = _ctx(g, steps=10, step=4)
    assert g.conditions(0.6) == ("cond",)
    c, u = _cu()
    assert _combine(g, c, u).value is c.value
    _at(ctx, 5)
    assert g.conditions(0.5) == ("cond", "uncond")


# ----------------------------------------------------------------------------- interval guidance
def test_guidance_interval_is_cfg_inside_and_cond_outside() -> None:
    model = _model()
    g = GuidanceInterval(scale=3.0, sigma_lo=0.5, sigma_hi=2.0)
    cfg = CFG(scale=3.0)
    ctx = _ctx(g, model, steps=50)
    _ctx(cfg, model, steps=50)
    inside = outside = 0
    for step in range(50):
        t = _at(ctx, step)
        cfg.ctx.set_step(step, t, t)
        c, u = _cu(step, t=t)
        sigma = float(model.noise_level(torch.tensor(t)))
        out = _combine(g, c, u, t).value
        if 0.5 < sigma <= 2.0:
            inside += 1
            assert g.conditions(t) == ("cond", "uncond")
            assert torch.allclose(out, _combine(cfg, c, u, t).value)
        else:
            outside += 1
            assert g.conditions(t) == ("cond",) and torch.equal(out, c.value)
    assert inside > 3 and outside > 3


# ----------------------------------------------------------------------------------------- APG
def test_apg_with_eta_one_no_threshold_no_momentum_is_cfg() -> None:
    for space in ("x0", "prediction"):
        c, u = _cu(3)
        apg, cfg = APG(scale=4.0, eta=1.0, space=space), CFG(scale=4.0)
        _ctx(apg)
        _ctx(cfg)
        assert torch.allclose(_combine(apg, c, u).value, _combine(cfg, c, u).value, atol=1e-4), space


def _apg_direct(c, u, w, eta, r, beta, running):
    """Sadat et al. 2024, Alg. 1, written out."""
    d = c - u
    if beta:
        d = d + beta * running if running is not None else d
    new_running = d  # the buffer holds the averaged update before the norm threshold
    if r is not None:
        d = d * torch.clamp(r / _norm(d), max=1.0)
    par = _inner(d, c) / _inner(c, c) * c
    return c + (w - 1) * ((d - par) + eta * par), new_running


def test_apg_matches_the_paper_with_threshold_and_momentum_and_resets_per_run() -> None:
    apg = APG(scale=6.0, eta=0.2, norm_threshold=3.0, momentum=-0.5, space="prediction")
    ctx = _ctx(apg)
    running = None
    for step in range(3):
        t = _at(ctx, step)
        c, u = _cu(10 + step, t=t)
        expected, running = _apg_direct(c.value, u.value, 6.0, 0.2, 3.0, -0.5, running)
        assert torch.allclose(_combine(apg, c, u, t).value, expected, atol=1e-4), step
    apg.reset(ctx)  # a new run: the momentum buffer starts empty again
    _at(ctx, 0)
    c, u = _cu(10, t=1.0)
    expected, _ = _apg_direct(c.value, u.value, 6.0, 0.2, 3.0, -0.5, None)
    assert torch.allclose(_combine(apg, c, u, 1.0).value, expected, atol=1e-4)


def test_apg_x0_space_projects_the_denoised_predictions() -> None:
    model = _model("eps")
    apg = APG(scale=5.0, eta=0.0, space="x0")
    _ctx(apg, model)
    c, u = _cu(4)
    x0c, x0u = model.to_x0_eps(c)[0], model.to_x0_eps(u)[0]
    expected, _ = _apg_direct(x0c, x0u, 5.0, 0.0, None, 0.0, None)
    assert torch.allclose(model.to_x0_eps(_combine(apg, c, u))[0], expected, atol=1e-4)


# ----------------------------------------------------------------------------------------- FDG
def test_laplacian_pyramid_reconstructs_exactly() -> None:
    x = torch.randn(3, 2, 16, 16)
    for levels in (1, 2, 3):
        parts = laplacian_pyramid(x, levels)
        assert len(parts) == levels and parts[-1].shape[-1] == 16 // 2 ** (levels - 1)
        assert torch.allclose(reconstruct_pyramid(parts), x, atol=1e-5)


def test_fdg_equal_scales_is_cfg_and_two_levels_match_the_band_split() -> None:
    c, u = _cu(5)
    fdg, cfg = FDG(scales=(3.0, 3.0)), CFG(scale=3.0)
    _ctx(fdg)
    _ctx(cfg)
    assert torch.allclose(_combine(fdg, c, u).value, _combine(cfg, c, u).value, atol=1e-5)
    fdg = FDG(scales=(1.5, 6.0))  # high, low
    _ctx(fdg)
    d = c.value - u.value
    low = _up(_down(d), d.shape[-2:])
    expected = u.value + 6.0 * low + 1.5 * (d - low)
    assert torch.allclose(_combine(fdg, c, u).value, expected, atol=1e-5)


def test_fdg_parallel_weights_scale_the_part_of_each_band_parallel_to_the_conditional_band() -> None:
    """Sadat et al. 2025 (FDG, with APG's projection per level): d_l = c_l - u_l splits into the part parallel to
    c_l (not to u_l) and the rest; the parallel part is multiplied by parallel_weights[l] before the level's scale."""
    c, u = _cu(7)
    scales, pw = (3.0, 2.0), (0.0, 0.5)
    fdg = FDG(scales=scales, parallel_weights=pw)
    _ctx(fdg)
    cs, us = laplacian_pyramid(c.value, 2), laplacian_pyramid(u.value, 2)
    levels = []
    for cl, ul, w, p in zip(cs, us, scales, pw):
        d = (cl - ul).double()
        coef = (d * cl).flatten(1).sum(1) / (cl.double() * cl).flatten(1).sum(1)
        par = coef.view(-1, 1, 1, 1) * cl
        levels.append(ul + w * ((d - par) + p * par).float())
    expected = reconstruct_pyramid(levels)
    got = _combine(fdg, c, u).value
    assert torch.allclose(got, expected, atol=1e-4)
    plain = FDG(scales=scales)
    _ctx(plain)
    assert (got - _combine(plain, c, u).value).abs().max() > 0.05  # the weights matter here


def test_fdg_default_scales_are_the_papers_order_high_frequency_strongest() -> None:
    """Sadat et al. 2025 (and diffusers' FrequencyDecoupledGuidance [10, 5], listed high to low): the stronger
    scale multiplies the high-frequency band, the milder one the low-frequency band (diversity, colour)."""
    fdg = FDG()
    assert fdg.scales == (10.0, 5.0)
    c, u = _cu(8)
    _ctx(fdg)
    d = c.value - u.value
    low = _up(_down(d), d.shape[-2:])
    assert torch.allclose(_combine(fdg, c, u).value, u.value + 5.0 * low + 10.0 * (d - low), atol=1e-4)


# ------------------------------------------------------------------------------------ CFG-Zero*
def test_cfg_zero_star_reduces_to_cfg_and_matches_its_equation() -> None:
    c, u = _cu(6, "velocity")
    model = _model("velocity")
    plain, cfg = CFGZeroStar(scale=3.0, zero_init_steps=0, optimized_scale=False), CFG(scale=3.0)
    _ctx(plain, model)
    _ctx(cfg, model)
    assert torch.allclose(_combine(plain, c, u).value, _combine(cfg, c, u).value, atol=1e-6)
    star = CFGZeroStar(scale=3.0, zero_init_steps=0)
    _ctx(star, model)
    s = _inner(c.value, u.value) / (_inner(u.value, u.value) + 1e-8)
    assert torch.allclose(_combine(star, c, u).value, s * u.value + 3.0 * (c.value - s * u.value), atol=1e-5)


def test_cfg_zero_star_zero_init_needs_no_unconditional_call() -> None:
    model = _model("velocity")
    star = CFGZeroStar(scale=3.0, zero_init_steps=2)
    ctx = _ctx(star, model)
    c, _ = _cu(7, "velocity")
    assert star.conditions(1.0) == ("cond",)
    assert torch.count_nonzero(star.combine({"cond": c}, 1.0)["cond"].value) == 0
    _at(ctx, 2)
    assert star.conditions(0.8) == ("cond", "uncond")
    with pytest.raises(ValueError, match="zeroes a velocity"):
        _ctx(CFGZeroStar(scale=3.0, zero_init_steps=1), _model("eps"))


# ----------------------------------------------------------------------------------------- RAAG
def test_raag_scale_follows_the_ratio_schedule() -> None:
    c, u = _cu(8)
    g = RAAG(scale=7.0, alpha=2.0)
    _ctx(g)
    rho = _norm(c.value - u.value) / _norm(u.value)
    w = 1 + (7.0 - 1) * torch.exp(-2.0 * rho)
    assert torch.allclose(_combine(g, c, u).value, u.value + w * (c.value - u.value), atol=1e-5)
    g0 = RAAG(scale=7.0, alpha=0.0)  # no damping: CFG
    _ctx(g0)
    assert torch.allclose(_combine(g0, c, u).value, u.value + 7.0 * (c.value - u.value), atol=1e-5)


# -------------------------------------------------------------------------------------- CFG-Ctrl
def test_cfg_ctrl_p_control_is_cfg() -> None:
    c, u = _cu(9)
    g, cfg = CFGCtrl(scale=3.0, control="pid"), CFG(scale=3.0)
    _ctx(g)
    _ctx(cfg)
    assert torch.allclose(_combine(g, c, u).value, _combine(cfg, c, u).value, atol=1e-6)


def test_cfg_ctrl_pid_and_sliding_mode_match_their_control_laws() -> None:
    pid = CFGCtrl(scale=2.0, control="pid", kp=0.8, ki=0.1, kd=0.3)
    smc = CFGCtrl(scale=2.0, control="smc", lam=0.05, k=0.3)
    ctx_p, ctx_s = _ctx(pid), _ctx(smc)
    integral = prev_e = prev_corrected = None
    for step in range(3):
        t = _at(ctx_p, step)
        _at(ctx_s, step)
        c, u = _cu(20 + step, t=t)
        e = c.value - u.value
        integral = e if integral is None else integral + e
        deriv = torch.zeros_like(e) if prev_e is None else e - prev_e
        expected = u.value + 2.0 * (0.8 * e + 0.1 * integral + 0.3 * deriv)
        assert torch.allclose(_combine(pid, c, u, t).value, expected, atol=1e-5), step
        prev_e = e
        ref = e if prev_corrected is None else prev_corrected
        corrected = e - 0.3 * torch.sign((e - ref) + 0.05 * ref)
        assert torch.allclose(_combine(smc, c, u, t).value, u.value + 2.0 * corrected, atol=1e-5), step
        prev_corrected = corrected


def test_stateful_guiders_do_not_move_their_state_on_lookaheads() -> None:
    g = CFGCtrl(scale=2.0, control="smc")
    ctx = _ctx(g)
    c, u = _cu(30)
    first = _combine(g, c, u).value
    ctx.lookahead, ctx.lookahead_rows = True, torch.arange(B).repeat_interleave(2)
    c2, u2 = c.repeat_interleave(2), u.repeat_interleave(2)
    _combine(g, c2, u2)
    ctx.lookahead, ctx.lookahead_rows = False, None
    g2 = CFGCtrl(scale=2.0, control="smc")
    _ctx(g2)
    _combine(g2, c, u)
    _at(ctx, 1)
    _at(g2.ctx, 1)
    c3, u3 = _cu(31)
    assert torch.allclose(_combine(g, c3, u3).value, _combine(g2, c3, u3).value)
    assert first.shape == c.value.shape


# ------------------------------------------------------------------------------------ DynamicCFG
def test_dynamic_cfg_picks_the_best_scale_per_sample() -> None:
    target = torch.randn(B, *SHAPE)
    scales = (1.0, 2.0, 4.0, 8.0)
    model = _model("x0")

    def evaluator(x0, labels, t):
        return -(x0 - target.repeat(len(scales), 1, 1, 1)).flatten(1).norm(dim=1)

    g = DynamicCFG(evaluator, scales=scales)
    _ctx(g, model)
    c, u = _cu(11, "x0")
    out = _combine(g, c, u).value
    brute = torch.stack([u.value + w * (c.value - u.value) for w in scales])  # (K, B, ...)
    best = (brute - target).flatten(2).norm(dim=2).argmin(dim=0)
    expected = brute[best, torch.arange(B)]
    assert torch.allclose(out, expected, atol=1e-5)
    assert g.trace()["evaluator_rows"] == len(scales) * B


# ------------------------------------------------------------------------------------------- CFG++
def test_cfg_plus_plus_hands_the_step_the_unconditional_prediction() -> None:
    model = _model("eps")
    g = CFGPlusPlus(scale=0.6)
    _ctx(g, model)
    c, u = _cu(12, t=0.6)
    out = _combine(g, c, u, 0.6)
    assert torch.allclose(out.value, u.value + 0.6 * (c.value - u.value)) and torch.equal(out.uncond, u.value)
    model.clip_x0 = False
    nxt = model.step(out.state, out, 0.6, 0.4)
    a_t, s_t = (float(v) for v in model.alpha_sigma(0.6))
    a_s, s_s = (float(v) for v in model.alpha_sigma(0.4))
    x0_lam = (out.state - s_t * out.value) / a_t
    assert torch.allclose(nxt, a_s * x0_lam + s_s * u.value, atol=1e-5)  # Chung et al. Alg. 1


# -------------------------------------------------------------------------------- adaptive guidance
def test_adaptive_guidance_stops_once_the_branches_align() -> None:
    g = AdaptiveGuidance(scale=3.0, threshold=0.9)
    ctx = _ctx(g)
    c, _ = _cu(13)
    far = c.replace(value=-c.value)
    near = c.replace(value=c.value + 0.01 * torch.randn_like(c.value))
    assert g.conditions(1.0) == ("cond", "uncond")
    _combine(g, c, far)
    _at(ctx, 1)
    assert g.conditions(0.9) == ("cond", "uncond")
    _combine(g, c, near)  # cos > 0.9 for every sample: this step is guided, the next ones are not
    _at(ctx, 2)
    assert g.conditions(0.8) == ("cond",) and g.combine({"cond": c}, 0.8)["cond"] is c
    assert g.trace()["stopped_at_step"] == 1


def test_linear_ag_estimates_the_unconditional_branch_affinely() -> None:
    g = LinearAG(scale=3.0, window=(0.0, 1.0), every=2, coefficients=tuple((0.5, -0.25, 0.75) for _ in range(10)))
    ctx = _ctx(g)
    c0, u0 = _cu(14)
    assert g.conditions(1.0) == ("cond", "uncond")
    _combine(g, c0, u0)
    _at(ctx, 1)
    assert g.conditions(0.9) == ("cond",)
    c1, _ = _cu(15)
    u_hat = 0.5 * c1.value - 0.25 * c0.value + 0.75 * u0.value
    out = g.combine({"cond": c1}, 0.9)["cond"].value
    assert torch.allclose(out, u_hat + 3.0 * (c1.value - u_hat), atol=1e-5)
    _at(ctx, 2)
    assert g.conditions(0.8) == ("cond", "uncond")


def test_constructors_name_the_bad_argument() -> None:
    for make, match in [(lambda: CFG(scale=2.0, base="both"), "base"), (lambda: CFG(rescale=2.0), "rescale"),
                        (lambda: APG(norm_threshold=0.0), "norm_threshold"), (lambda: FDG(scales=()), "scales"),
                        (lambda: GuidanceInterval(sigma_lo=2.0, sigma_hi=1.0), "sigma_hi"),
                        (lambda: CFGCtrl(control="lqr"), "control"), (lambda: LinearAG(every=1), "every"),
                        (lambda: AdaptiveGuidance(threshold=2.0), "threshold"),
                        (lambda: CFGPlusPlus(scale=-1.0), "scale"), (lambda: RAAG(alpha=-1.0), "alpha")]:
        with pytest.raises(ValueError, match=match):
            make()
    assert math.isclose(CFG(scale=2.0, base="cond").weight, 3.0)


def test_cfg_on_discrete_log_probs_is_the_normalised_product_of_experts() -> None:
    g = torch.Generator().manual_seed(0)
    lc = torch.randn(4, 5, 6, generator=g).log_softmax(-1)
    lu = torch.randn(4, 5, 6, generator=g).log_softmax(-1)
    lc[..., 0] = lu[..., 0] = float("-inf")  # e.g. the mask token: impossible in both branches
    cfg = CFG(scale=2.0)
    _ctx(cfg)
    out = cfg.combine({"cond": lc, "uncond": lu}, 0.5)["cond"]
    p = lc.exp() ** 2.0 * lu.exp() ** (1 - 2.0)
    p[..., 0] = 0.0
    assert torch.allclose(out.exp(), p / p.sum(-1, keepdim=True), atol=1e-5)
    assert torch.isneginf(out[..., 0]).all()
