"""GaussianDiffusion and FlowMatching: parameterisations, steps against their equations, exact sampling."""

from __future__ import annotations

import inspect

import pytest
import torch

from seqguide import sample
from seqguide.guidance import CFG
from seqguide.models import CosineVPSchedule, ExactGaussianDenoiser, GaussianDiffusion, LinearVPSchedule, Prediction

from .conftest import MU, STD, exact_diffusion, exact_flow, gaussian_means

N = 2000


def _pred(model, kind: str, B: int = 5, t: float = 0.4, seed: int = 0) -> Prediction:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(B, 1, 2, 2, generator=g)
    return Prediction(torch.randn(B, 1, 2, 2, generator=g), kind, torch.full((B,), t), x)


@pytest.mark.parametrize("kind", ["eps", "x0", "v"])
def test_gaussian_parameterisations_are_consistent(kind: str) -> None:
    model = exact_diffusion(kind)
    pred = _pred(model, kind)
    x0, eps = model.to_x0_eps(pred)
    a, s = model.path_coefficients(pred.t, x0)
    assert torch.allclose(a**2 + s**2, torch.ones_like(a))
    assert torch.allclose(a * x0 + s * eps, pred.state, atol=1e-5)  # x_t = alpha x0 + sigma eps
    assert torch.allclose(model.from_x0_eps(pred, x0, eps), pred.value, atol=1e-5)
    if kind == "v":  # v = alpha eps - sigma x0 (Salimans & Ho 2022)
        assert torch.allclose(pred.value, a * eps - s * x0, atol=1e-5)


def test_flow_parameterisation_and_euler_step() -> None:
    model = exact_flow()
    pred = _pred(model, "velocity", t=0.7)
    x0, eps = model.to_x0_eps(pred)
    assert torch.allclose(0.3 * x0 + 0.7 * eps, pred.state, atol=1e-5)  # x_t = (1 - t) x0 + t eps
    assert torch.allclose(eps - x0, pred.value, atol=1e-5)  # velocity = eps - x0
    nxt = model.step(pred.state, pred, 0.7, 0.5)
    assert torch.allclose(nxt, pred.state - 0.2 * pred.value, atol=1e-6)  # Euler
    model.eta = 1e-9  # the DDIM form with eta -> 0 is the Euler step
    assert torch.allclose(model.step(pred.state, pred, 0.7, 0.5), nxt, atol=1e-5)


def test_ddpm_step_is_the_posterior_and_equals_ddim_with_eta_one() -> None:
    model = exact_diffusion("eps", sampler="ddpm")
    pred = _pred(model, "eps", t=0.6)
    t, s = 0.6, 0.45
    out = model.step(pred.state, pred, t, s, torch.Generator().manual_seed(3))
    # DDPM eqs. 6-7 written out directly.
    sched = CosineVPSchedule()
    ab_t, ab_s = float(sched.alpha_bar(torch.tensor(t))), float(sched.alpha_bar(torch.tensor(s)))
    x0 = (pred.state - (1 - ab_t) ** 0.5 * pred.value) / ab_t**0.5
    beta = 1 - ab_t / ab_s
    mean = ab_s**0.5 * beta / (1 - ab_t) * x0 + (ab_t / ab_s) ** 0.5 * (1 - ab_s) / (1 - ab_t) * pred.state
    var = (1 - ab_s) / (1 - ab_t) * beta
    z = torch.randn(pred.state.shape, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(out, mean + var**0.5 * z, atol=1e-5)
    model.sampler, model.eta = "ddim", 1.0
    ddim = model.step(pred.state, pred, t, s, torch.Generator().manual_seed(3))
    assert torch.allclose(ddim, out, atol=1e-5)
    model.eta = 0.0  # deterministic DDIM (Song et al. eq. 12 with sigma = 0)
    det = model.step(pred.state, pred, t, s)
    assert torch.allclose(det, ab_s**0.5 * x0 + (1 - ab_s) ** 0.5 * pred.value, atol=1e-5)


def test_schedules_span_data_to_noise() -> None:
    for sched in (CosineVPSchedule(), LinearVPSchedule()):
        ab = sched.alpha_bar(torch.linspace(0, 1, 11, dtype=torch.float64))
        assert ab[0] == pytest.approx(1.0) and ab[-1] < 1e-4 and bool((ab[1:] < ab[:-1]).all())


@pytest.mark.parametrize(("kind", "sampler"), [("eps", "ddim"), ("v", "ddim"), ("x0", "ddpm")])
def test_exact_model_samples_its_class_distribution(kind: str, sampler: str) -> None:
    model = exact_diffusion(kind, sampler=sampler)
    out = sample(model, N, steps=200, cond=1, seed=0, progress=False)
    x = out.tokens
    assert x.mean().item() == pytest.approx(MU[1], abs=0.02)
    assert x.std().item() == pytest.approx(STD, abs=0.015)
    assert out.sequences.min() >= 0 and out.sequences.max() <= 1  # decoded to [0, 1]


def test_cfg_samples_the_exactly_guided_gaussian() -> None:
    """With equal class variances, CFG with scale w samples N(mu_null + w (mu_y - mu_null), std^2) exactly."""
    w = 2.0
    target = MU[2] + w * (MU[0] - MU[2])
    for model, steps in ((exact_diffusion("eps"), 200), (exact_flow(solver="heun"), 40)):
        out = sample(model, N, steps=steps, cond=0, seed=1, progress=False, guidance=[CFG(scale=w)])
        assert out.tokens.mean().item() == pytest.approx(target, abs=0.02), type(model).__name__
        assert out.tokens.std().item() == pytest.approx(STD, abs=0.015)


def test_heun_is_second_order_and_pays_two_guided_evaluations() -> None:
    euler = exact_flow(solver="euler")
    heun = exact_flow(solver="heun")
    steps = 6
    e = sample(euler, N, steps=steps, cond=1, seed=0, progress=False)
    h = sample(heun, N, steps=steps, cond=1, seed=0, progress=False)
    assert abs(h.tokens.std().item() - STD) < 0.75 * abs(e.tokens.std().item() - STD)
    assert e.trace["nfe"] == steps and h.trace["nfe"] == 2 * steps - 1  # Euler on the last step to t = 0
    guided = sample(heun, 8, steps=steps, cond=1, seed=0, progress=False, guidance=[CFG(scale=2.0)])
    assert guided.trace["nfe"] == 2 * (2 * steps - 1)  # both branches at both evaluations


def test_heun_without_the_loop_is_a_clear_error() -> None:
    model = exact_flow(solver="heun")
    pred = _pred(model, "velocity")
    with pytest.raises(RuntimeError, match="evaluator"):
        model.step(pred.state, pred, 0.4, 0.2)


def test_stochastic_flow_step_keeps_the_marginals() -> None:
    out = sample(exact_flow(eta=1.0), N, steps=100, cond=0, seed=0, progress=False)
    assert out.tokens.mean().item() == pytest.approx(MU[0], abs=0.02)
    assert out.tokens.std().item() == pytest.approx(STD, abs=0.015)


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="prediction must be one of"):
        exact_diffusion("velocity")
    with pytest.raises(ValueError, match="sampler must be"):
        exact_diffusion("eps", sampler="euler")
    with pytest.raises(ValueError, match="length=5 does not apply"):
        exact_diffusion().prior(2, 5)
    with pytest.raises(ValueError, match="posterior mean only"):
        model = exact_diffusion()
        pred = _pred(model, "eps")
        model.x0_estimate(pred.state, pred, sample=True)


def test_label_dropout_trains_the_null_class() -> None:
    model = exact_diffusion(cond_dropout=1.0)
    batch = {"images": torch.zeros(64, 1, 2, 2), "labels": torch.randint(0, 2, (64,))}
    assert bool((model._labels(batch, train=True) == model.num_classes).all())  # every label dropped to null
    assert torch.equal(model._labels(batch, train=False), batch["labels"])  # never at validation
    model.hparams.cond_dropout = 0.3
    dropped = (model._labels(batch | {"labels": torch.zeros(4000, dtype=torch.long)}, train=True) == 2).double()
    assert dropped.mean().item() == pytest.approx(0.3, abs=0.03)
    with pytest.raises(ValueError, match="no 'labels'"):
        model._labels({"images": batch["images"]}, train=True)


def test_heun_step_averages_the_two_velocities() -> None:
    model = exact_flow(solver="heun")
    pred = _pred(model, "velocity", t=0.8)
    second = torch.randn_like(pred.value)
    seen = {}

    def evaluate(x, s, rows):
        seen["x"], seen["s"] = x, s
        return pred.replace(value=second, state=x, t=torch.full((x.shape[0],), s))

    out = model.step(pred.state, pred.replace(evaluate=evaluate), 0.8, 0.5)
    assert seen["s"] == 0.5 and torch.allclose(seen["x"], pred.state - 0.3 * pred.value)  # Euler predictor
    assert torch.allclose(out, pred.state - 0.3 * 0.5 * (pred.value + second), atol=1e-6)  # trapezoidal corrector


def test_clipping_x0_rederives_eps_so_the_step_stays_on_the_path() -> None:
    """With the default clip_x0=True an x0 estimate outside [-1, 1] is clipped and eps re-derived from the state,
    eps = (x_t - alpha_t x0_clipped) / sigma_t: deterministic DDIM is then
    x_s = alpha_s x0_clipped + sigma_s eps (Song et al. eq. 12), and a step to s = t returns x_t."""
    assert inspect.signature(GaussianDiffusion).parameters["clip_x0"].default is True
    model = GaussianDiffusion(ExactGaussianDenoiser(gaussian_means(), STD), image_shape=(1, 2, 2), num_classes=2,
                              prediction="eps", eta=0.0)
    assert model.clip_x0
    pred = _pred(model, "eps", t=0.6)
    pred = pred.replace(value=pred.value * 4)  # an eps whose x0 estimate leaves the data range
    x0, _ = model.to_x0_eps(pred)
    assert x0.abs().max() > 1.5
    t, s = 0.6, 0.3
    a_t, s_t = (float(c) for c in model.alpha_sigma(t))
    a_s, s_s = (float(c) for c in model.alpha_sigma(s))
    clipped = x0.clamp(-1, 1)
    eps = (pred.state - a_t * clipped) / s_t
    assert torch.allclose(model.step(pred.state, pred, t, s), a_s * clipped + s_s * eps, atol=1e-5)
    assert torch.allclose(model.step(pred.state, pred, t, t), pred.state, atol=1e-5)
