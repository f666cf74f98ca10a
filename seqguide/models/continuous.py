"""Continuous image models on the sampling loop: Gaussian diffusion and rectified flow matching.

Both are class-conditional LightningModules with a null class and label dropout (classifier-free training,
Ho & Salimans 2022, arXiv 2207.12598) and processes of the model protocol, on the loop's time axis
(t = 1 noise, t = 0 data). Their noisy states are Gaussian paths ``x_t = alpha_t x_0 + sigma_t eps``:

- :class:`GaussianDiffusion` (DDPM, Ho et al. 2020, arXiv 2006.11239): variance preserving,
  ``alpha_t = sqrt(alpha_bar(t))``, linear or cosine schedule (:mod:`seqguide.models.gaussian_schedules`);
  the network predicts eps, x0 or v = alpha eps - sigma x0 (Salimans & Ho 2022, arXiv 2202.00512) and is
  trained by the simple MSE loss on that target (DDPM eq. 14). Steps: DDIM with eta (Song et al. 2021,
  arXiv 2010.02502, eq. 12) and the ancestral DDPM step (the posterior q(x_s | x_t, x_0), DDPM eq. 6-7).
- :class:`FlowMatching` (rectified flow, Liu et al. 2022, arXiv 2209.03003; Lipman et al. 2022):
  ``alpha_t = 1 - t``, ``sigma_t = t``; the network predicts the velocity ``dx_t/dt = eps - x_0`` (trained
  by MSE on it). Steps: Euler and Heun (Karras et al. 2022, Alg. 1) on the ODE; ``eta > 0`` gives the
  stochastic DDIM step on the same Gaussian path (same marginals), which value-based guiders need.

``x0_estimate`` is the posterior mean (Tweedie's formula, read off the prediction). Predictions are
:class:`~seqguide.models.prediction.Prediction` objects carrying their state and time, so guiders can move
between parameterisations (``to_x0_eps``/``from_x0``), and CFG++ can hand the step its unconditional
prediction (``Prediction.uncond``).

Example:
    >>> from seqguide import sample
    >>> from seqguide.models import GaussianDiffusion, ImageUNet
    >>> model = GaussianDiffusion(ImageUNet(base_channels=16), image_shape=(1, 8, 8), num_classes=10)
    >>> out = sample(model, 4, steps=10, cond=3, seed=0, progress=False)
    >>> out.sequences.shape                  # decoded images in [0, 1]
    torch.Size([4, 1, 8, 8])
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from seqguide.models.checkpoints import load_checkpoint
from seqguide.models.gaussian_schedules import VPSchedule, get_vp_schedule
from seqguide.models.lightning_steps import WarmupSteps
from seqguide.models.prediction import Prediction
from seqguide.models.protocol import Cond, predict_branches
from seqguide.models.unet import ImageDenoiser, ImageUNet, build_image_denoiser

__all__ = ["FlowMatching", "GaussianDiffusion"]

DATA_RANGE = (-1.0, 1.0)  #: images live in [-1, 1] in model space; ``decode`` maps them to [0, 1]


def _resolve_denoiser(denoiser: nn.Module | dict[str, Any] | None) -> nn.Module:
    if denoiser is None:
        return ImageUNet()
    if isinstance(denoiser, dict):
        return build_image_denoiser(denoiser)
    if not isinstance(denoiser, nn.Module):
        raise TypeError(f"denoiser must be an image denoiser module or its spec dict, got {type(denoiser).__name__}")
    return denoiser


class _ImageProcess(WarmupSteps):
    """Shared parts of the continuous models: conditioning, parameterisations, the DDIM-form step, training."""

    time_conditioned = True
    #: Extra :class:`Prediction` fields the step understands (CFG++ checks for "uncond").
    prediction_extras: ClassVar[tuple[str, ...]] = ("uncond",)
    kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(self, denoiser: nn.Module | dict[str, Any] | None, *, image_shape: Sequence[int],
                 num_classes: int, prediction: str, cond_dropout: float, eta: float, clip_x0: bool, lr: float,
                 weight_decay: float, warmup_steps: int, t_eps: float) -> None:
        super().__init__()
        image_shape = tuple(int(d) for d in image_shape)
        if len(image_shape) != 3 or min(image_shape) < 1:
            raise ValueError(f"image_shape must be (channels, height, width) of positive ints, got {image_shape}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0, got {num_classes}")
        if prediction not in self.kinds:
            raise ValueError(f"prediction must be one of {self.kinds} for {type(self).__name__}, got {prediction!r}")
        if not 0.0 <= cond_dropout <= 1.0:
            raise ValueError(f"cond_dropout must be in [0, 1], got {cond_dropout}")
        if eta < 0:
            raise ValueError(f"eta must be >= 0, got {eta}")
        if not 0.0 <= t_eps < 1.0:
            raise ValueError(f"t_eps must be in [0, 1), got {t_eps}")
        net = _resolve_denoiser(denoiser)
        if not getattr(net, "built", True):
            net.build(channels=image_shape[0], num_classes=num_classes)
        self.denoiser = net
        self.image_shape = image_shape
        self.prediction = prediction
        if hasattr(net, "bind"):  # an analytic denoiser reads the path and parameterisation from its model
            net.bind(self)
        self.num_classes = num_classes
        self.eta = eta  #: settable: stochasticity of the step (0 = deterministic ODE/DDIM)
        self.clip_x0 = clip_x0  #: settable: clip the x0 estimate to the data range inside the step
        self.save_hyperparameters(ignore=["denoiser"])
        self.hparams["image_shape"] = list(image_shape)
        if isinstance(net, ImageDenoiser):  # plain data, so checkpoints load with weights_only=True
            self.hparams["denoiser"] = net.spec()

    # ------------------------------------------------------------------ path coefficients
    def alpha_sigma(self, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha_t, sigma_t)`` float64 tensors of the Gaussian path ``x_t = alpha_t x_0 + sigma_t eps``."""
        raise NotImplementedError

    def noise_level(self, t: torch.Tensor | float) -> torch.Tensor:
        """EDM noise level ``sigma_t / alpha_t`` (the axis of guidance intervals)."""
        a, s = self.alpha_sigma(t)
        return s / a

    def path_coefficients(self, t: torch.Tensor | float, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(alpha_t, sigma_t)`` in ``like``'s dtype and device, shaped to broadcast against it (per row for a
        ``(B,)`` t)."""
        a, s = self.alpha_sigma(torch.as_tensor(t, dtype=torch.float64, device=like.device))
        shape = (-1,) + (1,) * (like.dim() - 1) if a.dim() else ()
        return a.to(like.dtype).reshape(shape), s.to(like.dtype).reshape(shape)

    # ------------------------------------------------------------------ parameterisations
    def to_x0_eps(self, pred: Prediction) -> tuple[torch.Tensor, torch.Tensor]:
        """Clean-image and noise estimates ``(x0, eps)``, each ``(B, C, H, W)``, implied by ``pred``."""
        x, v = pred.state, pred.value
        a, s = self.path_coefficients(pred.t, x)
        if pred.kind == "eps":
            return (x - s * v) / a, v
        if pred.kind == "x0":
            return v, torch.where(s > 0, (x - a * v) / s.clamp_min(torch.finfo(x.dtype).tiny), torch.zeros_like(v))
        if pred.kind == "v":  # VP only: x0 = a x - s v, eps = s x + a v
            return a * x - s * v, s * x + a * v
        if pred.kind == "velocity":  # x_t = x0 + t (eps - x0): x0 = x - t v, eps = x + (1 - t) v
            return x - s * v, x + a * v
        raise ValueError(f"unknown prediction kind {pred.kind!r}")

    def from_x0_eps(self, pred: Prediction, x0: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """The value of ``pred``'s kind for the estimates ``(x0, eps)`` (inverse of :meth:`to_x0_eps`)."""
        a, s = self.path_coefficients(pred.t, x0)
        if pred.kind == "eps":
            return eps
        if pred.kind == "x0":
            return x0
        if pred.kind == "v":
            return a * eps - s * x0
        return eps - x0  # velocity

    def from_x0(self, pred: Prediction, x0: torch.Tensor) -> Prediction:
        """``pred`` changed so that its clean-image estimate is ``x0`` (same state and time)."""
        a, s = self.path_coefficients(pred.t, x0)
        eps = (pred.state - a * x0) / s.clamp_min(torch.finfo(x0.dtype).tiny)
        return pred.replace(value=self.from_x0_eps(pred, x0, eps))

    # ------------------------------------------------------------------ process protocol
    def prior(self, n: int, length: int | None = None, *, generator: torch.Generator | None = None,
              device: torch.device | str | None = None) -> torch.Tensor:
        """Standard Gaussian noise ``(n, C, H, W)`` (t = 1). ``length`` does not apply to images."""
        if length is not None:
            raise ValueError(f"length={length} does not apply to an image model (image_shape={self.image_shape})")
        return torch.randn((n, *self.image_shape), generator=generator, device=device or self.device)

    def _network(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        return self.denoiser(x, t.to(x.dtype), labels)

    def predict(self, state: torch.Tensor, t: float | torch.Tensor, cond: Cond = None):
        """One network call.

        Args:
            state: ``(B, C, H, W)`` noisy images.
            t: Time (float or ``(B,)``).
            cond: None (null class), labels ``(B,)``, or ``{branch: labels or None}`` (one batched forward).

        Returns:
            A :class:`Prediction` (or ``{branch: Prediction}`` for a dict ``cond``).
        """
        B = state.shape[0]
        t_vec = torch.as_tensor(t, dtype=torch.float32, device=state.device).reshape(-1).expand(B).clone()
        if isinstance(cond, dict):
            outs = predict_branches(lambda x, y: self._network(x, t_vec.repeat(x.shape[0] // B), y), state, cond,
                                    self.num_classes)
            return {b: Prediction(v, self.prediction, t_vec, state) for b, v in outs.items()}
        labels = None
        if cond is not None:
            labels = torch.as_tensor(cond, dtype=torch.long, device=state.device).expand(B)
        return Prediction(self._network(state, t_vec, labels), self.prediction, t_vec, state)

    def _clean_and_noise(self, pred: Prediction) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x0, eps)`` for the step: x0 clipped to the data range (eps re-derived) when ``clip_x0``."""
        x0, eps = self.to_x0_eps(pred)
        if self.clip_x0:
            x0 = x0.clamp(*DATA_RANGE)
            a, s = self.path_coefficients(pred.t, x0)
            eps = torch.where(s > 0, (pred.state - a * x0) / s.clamp_min(torch.finfo(x0.dtype).tiny), eps)
        return x0, eps

    def _ddim_update(self, state: torch.Tensor, pred: Prediction, t: float, s: float, eta: float,
                     generator: torch.Generator | None) -> torch.Tensor:
        """DDIM (Song et al. 2021, eq. 12) on the Gaussian path:
        ``x_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c z`` with
        ``c = eta sigma_s sqrt(1 - (alpha_t sigma_s / (alpha_s sigma_t))^2)`` (eta = 1: the posterior variance).
        With ``pred.uncond`` (CFG++) the noise direction is the unconditional eps."""
        x0, eps = self._clean_and_noise(pred)
        if pred.uncond is not None:  # CFG++ (Chung et al. 2024, Alg. 1): renoise with the unconditional eps
            _, eps = self._clean_and_noise(pred.replace(value=pred.uncond, uncond=None))
        a_t, s_t = (float(c) for c in self.alpha_sigma(t))
        a_s, s_s = (float(c) for c in self.alpha_sigma(s))
        c = 0.0
        if eta > 0 and s_s > 0:
            ratio = (a_t * s_s) / (a_s * s_t)
            c = eta * s_s * max(0.0, 1.0 - ratio**2) ** 0.5
        out = a_s * x0 + max(0.0, s_s**2 - c**2) ** 0.5 * eps
        if c > 0:
            out = out + c * torch.randn(state.shape, generator=generator, device=state.device, dtype=state.dtype)
        return out

    def x0_estimate(self, state: torch.Tensor, pred: Prediction, *, generator: torch.Generator | None = None,
                    sample: bool = False) -> torch.Tensor:
        """The posterior mean ``E[x_0 | x_t]`` ``(B, C, H, W)`` read off the prediction (Tweedie's formula).

        Raises:
            ValueError: for ``sample=True`` (a continuous model gives the mean, not draws from p(x_0 | x_t)).
        """
        if sample:
            raise ValueError(f"{type(self).__name__}.x0_estimate gives the posterior mean only (sample=False)")
        if not isinstance(pred, Prediction):
            raise TypeError(f"{type(self).__name__} expects a Prediction, got {type(pred).__name__}")
        return self.to_x0_eps(pred)[0]

    def decode(self, clean: torch.Tensor) -> torch.Tensor:
        """Images from model space ``[-1, 1]`` to intensities in ``[0, 1]``, ``(B, C, H, W)`` float."""
        lo, hi = DATA_RANGE
        return ((clean.clamp(lo, hi) - lo) / (hi - lo)).float()

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Intensities in ``[0, 1]`` to model space (inverse of :meth:`decode`)."""
        lo, hi = DATA_RANGE
        return images.to(self.device, torch.float32) * (hi - lo) + lo

    # ------------------------------------------------------------------ training
    def _sample_t(self, n: int, device: torch.device, generator: torch.Generator | None) -> torch.Tensor:
        """Stratified times in ``[t_eps, 1]`` (one uniform offset per batch: lower-variance loss estimates)."""
        u = torch.rand(1, device=device, generator=generator)
        t = (u + torch.arange(n, device=device) / n) % 1.0
        return self.hparams.t_eps + (1.0 - self.hparams.t_eps) * t

    def loss(self, x0: torch.Tensor, labels: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-image MSE ``(B,)`` between the network output at ``x_t ~ q(x_t | x_0)`` and its target."""
        t = self._sample_t(x0.shape[0], x0.device, generator)
        eps = torch.randn(x0.shape, device=x0.device, generator=generator, dtype=x0.dtype)
        a, s = self.path_coefficients(t, x0)
        xt = a * x0 + s * eps
        out = self._network(xt, t, labels)
        target = self.from_x0_eps(Prediction(out, self.prediction, t, xt), x0, eps)
        return (out - target).pow(2).flatten(1).mean(dim=1)

    def _common_step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        x0 = batch["images"]
        if tuple(x0.shape[1:]) != self.image_shape:
            raise ValueError(f"batch images have shape {tuple(x0.shape[1:])}, the model expects {self.image_shape}")
        gen = None
        if stage != "train":  # the same noise every validation pass: comparable curves
            gen = torch.Generator(device=x0.device).manual_seed(1234)
        loss = self.loss(x0, self._labels(batch, stage == "train"), gen).mean()
        self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=x0.shape[0])
        return loss

    # ------------------------------------------------------------------ checkpoints
    @classmethod
    def load(cls, path: str | Path, map_location: str | torch.device = "cpu") -> _ImageProcess:
        """Load a Lightning checkpoint with ``torch.load(weights_only=True)`` (no pickled objects).

        Raises:
            FileNotFoundError: if ``path`` does not exist.
            CheckpointError: if the file is not a checkpoint seqguide can load (a ValueError).
            ValueError: if the file is not a checkpoint of this class.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint not found: {path}")
        ckpt = load_checkpoint(path, map_location=map_location)
        if "state_dict" not in ckpt or "hyper_parameters" not in ckpt:
            raise ValueError(f"{path}: not a Lightning checkpoint (missing state_dict/hyper_parameters)")
        hp = dict(ckpt["hyper_parameters"])
        if not isinstance(hp.get("denoiser"), dict) or "image_shape" not in hp:
            raise ValueError(f"{path}: not a seqguide {cls.__name__} checkpoint")
        hp.pop("_instantiator", None)
        class_path = hp.pop("_class_path", None)  # written by LightningCLI's subclass mode
        if class_path is not None and class_path.rsplit(".", 1)[-1] != cls.__name__:
            raise ValueError(f"{path}: a {class_path.rsplit('.', 1)[-1]} checkpoint, not a {cls.__name__} one")
        import inspect

        unknown = set(hp) - set(inspect.signature(cls.__init__).parameters)
        if unknown:
            raise ValueError(f"{path}: not a {cls.__name__} checkpoint (unexpected hyperparameters {sorted(unknown)})")
        model = cls(**hp)
        model.load_state_dict(ckpt["state_dict"])
        return model.eval()


class GaussianDiffusion(_ImageProcess):
    """Class-conditional Gaussian (DDPM) diffusion with eps, x0 or v prediction.

    Args:
        denoiser: An unbuilt image denoiser (e.g. :class:`~seqguide.models.ImageUNet`), its ``spec()`` dict, or
            a ready module ``(x, t, labels) -> (B, C, H, W)``. Default: ``ImageUNet()``.
        image_shape: ``(channels, height, width)``.
        num_classes: Number of class labels (label ``num_classes`` is the null class); 0 for unconditional.
        prediction: What the network predicts: ``"eps"``, ``"x0"`` or ``"v"``.
        schedule: ``"cosine"`` (Nichol & Dhariwal) or ``"linear"`` (DDPM).
        sampler: ``"ddim"`` (deterministic for ``eta = 0``) or ``"ddpm"`` (ancestral: the exact posterior
            step). Settable after construction (``model.sampler = "ddpm"``).
        eta: DDIM stochasticity (0: deterministic; 1: the DDPM posterior variance).
        clip_x0: Clip the x0 estimate to [-1, 1] inside the step (as DDPM/guided-diffusion do).
        cond_dropout: Probability of training with the null label (classifier-free training).
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: Linear learning-rate warm-up.
        t_eps: Smallest training time.
    """

    kinds: ClassVar[tuple[str, ...]] = ("eps", "x0", "v")

    def __init__(self, denoiser: nn.Module | dict[str, Any] | None = None, image_shape: Sequence[int] = (1, 8, 8),
                 num_classes: int = 0, prediction: Literal["eps", "x0", "v"] = "eps",
                 schedule: Literal["cosine", "linear"] = "cosine", sampler: Literal["ddim", "ddpm"] = "ddim",
                 eta: float = 0.0, clip_x0: bool = True, cond_dropout: float = 0.1, lr: float = 2e-3,
                 weight_decay: float = 0.0, warmup_steps: int = 100, t_eps: float = 1e-3) -> None:
        if sampler not in ("ddim", "ddpm"):
            raise ValueError(f"sampler must be 'ddim' or 'ddpm', got {sampler!r}")
        super().__init__(denoiser, image_shape=image_shape, num_classes=num_classes, prediction=prediction,
                         cond_dropout=cond_dropout, eta=eta, clip_x0=clip_x0, lr=lr, weight_decay=weight_decay,
                         warmup_steps=warmup_steps, t_eps=t_eps)
        self.schedule: VPSchedule = get_vp_schedule(schedule)
        self.sampler = sampler

    def alpha_sigma(self, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        return self.schedule.alpha_sigma(torch.as_tensor(t, dtype=torch.float64))

    def step(self, state: torch.Tensor, pred: Prediction, t: float, s: float,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Reverse step t -> s < t: DDIM with ``eta``, or the ancestral DDPM step.

        The DDPM step draws from the posterior ``q(x_s | x_t, x0_hat)`` (DDPM eqs. 6-7):
        mean ``sqrt(ab_s) b_ts / (1 - ab_t) x0 + sqrt(a_ts) (1 - ab_s) / (1 - ab_t) x_t``, variance
        ``(1 - ab_s) / (1 - ab_t) b_ts`` with ``a_ts = ab_t / ab_s``, ``b_ts = 1 - a_ts``.

        Args:
            state: ``(B, C, H, W)`` x_t.
            pred: The (guided) :class:`Prediction` for ``state`` at t.
        """
        if not isinstance(pred, Prediction):
            raise TypeError(f"GaussianDiffusion.step expects a Prediction, got {type(pred).__name__}")
        if self.sampler == "ddim" or pred.uncond is not None:
            return self._ddim_update(state, pred, t, s, 1.0 if self.sampler == "ddpm" else self.eta, generator)
        ab_t = float(self.schedule.alpha_bar(torch.tensor(t)))
        ab_s = float(self.schedule.alpha_bar(torch.tensor(s)))
        a_ts = ab_t / ab_s
        b_ts = 1.0 - a_ts
        x0, _ = self._clean_and_noise(pred)
        mean = (ab_s**0.5 * b_ts / (1.0 - ab_t)) * x0 + (a_ts**0.5 * (1.0 - ab_s) / (1.0 - ab_t)) * state
        var = (1.0 - ab_s) / (1.0 - ab_t) * b_ts
        if var <= 0:
            return mean
        z = torch.randn(state.shape, generator=generator, device=state.device, dtype=state.dtype)
        return mean + var**0.5 * z


class FlowMatching(_ImageProcess):
    """Class-conditional rectified flow: ``x_t = (1 - t) x_0 + t eps``, velocity ``eps - x_0``.

    Args:
        denoiser: As for :class:`GaussianDiffusion`; the network predicts the velocity.
        image_shape: ``(channels, height, width)``.
        num_classes: Number of class labels (label ``num_classes`` is the null class).
        solver: ``"euler"`` or ``"heun"`` (second order: two guided evaluations per step, Euler on the last
            step to t = 0). Settable after construction.
        eta: Stochasticity of the Euler step (0: the ODE; > 0: the DDIM-eta step on the same Gaussian path).
        clip_x0: Clip the x0 estimate inside the step (off by default for flows).
        cond_dropout: Probability of training with the null label.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: Linear learning-rate warm-up.
        t_eps: Smallest training time.
    """

    kinds: ClassVar[tuple[str, ...]] = ("velocity",)

    def __init__(self, denoiser: nn.Module | dict[str, Any] | None = None, image_shape: Sequence[int] = (1, 8, 8),
                 num_classes: int = 0, solver: Literal["euler", "heun"] = "euler", eta: float = 0.0,
                 clip_x0: bool = False, cond_dropout: float = 0.1, lr: float = 2e-3, weight_decay: float = 0.0,
                 warmup_steps: int = 100, t_eps: float = 0.0, prediction: Literal["velocity"] = "velocity") -> None:
        if solver not in ("euler", "heun"):
            raise ValueError(f"solver must be 'euler' or 'heun', got {solver!r}")
        super().__init__(denoiser, image_shape=image_shape, num_classes=num_classes, prediction=prediction,
                         cond_dropout=cond_dropout, eta=eta, clip_x0=clip_x0, lr=lr, weight_decay=weight_decay,
                         warmup_steps=warmup_steps, t_eps=t_eps)
        self.solver = solver

    @property
    def second_order(self) -> bool:
        """True when a step needs a second guided evaluation (Heun): the loop then attaches an evaluator."""
        return self.solver == "heun"

    def alpha_sigma(self, t: torch.Tensor | float) -> tuple[torch.Tensor, torch.Tensor]:
        t = torch.as_tensor(t, dtype=torch.float64)
        return 1.0 - t, t

    def step(self, state: torch.Tensor, pred: Prediction, t: float, s: float,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """Reverse step t -> s < t.

        Euler: ``x_s = x_t + (s - t) v`` (with ``eta > 0`` or CFG++'s ``uncond``: the DDIM form
        ``x_s = (1 - s) x0 + s eps``, which equals Euler for eta = 0). Heun: ``x' = x_t + (s - t) v_t``,
        ``x_s = x_t + (s - t) (v_t + v_s(x')) / 2`` with ``v_s`` the loop's guided prediction at ``(x', s)``.
        """
        if not isinstance(pred, Prediction):
            raise TypeError(f"FlowMatching.step expects a Prediction, got {type(pred).__name__}")
        if self.solver == "euler" or s <= 0.0:
            if self.eta > 0 or pred.uncond is not None or self.clip_x0:
                return self._ddim_update(state, pred, t, s, self.eta, generator)
            return state + (s - t) * pred.value
        if pred.uncond is not None:
            raise ValueError("CFGPlusPlus renoises along a first-order step: use FlowMatching(solver='euler')")
        if self.eta > 0:
            raise ValueError("solver='heun' integrates the ODE: use eta=0 (or solver='euler' for stochastic steps)")
        if pred.evaluate is None:
            raise RuntimeError("solver='heun' needs the guided prediction at the next time: sample through "
                               "seqguide.sample(), which attaches the evaluator to the prediction")
        guess = state + (s - t) * pred.value
        rows = pred.rows if pred.rows is not None else torch.arange(state.shape[0], device=state.device)
        second = pred.evaluate(guess, s, rows)
        return state + (s - t) * 0.5 * (pred.value + second.value)
