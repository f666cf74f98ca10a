"""Classifier guidance for images with an off-the-shelf clean-image classifier, calibrated as in EluCD
(Ma, Hu, Wang, Sun 2024, arXiv 2310.11311, §4; released code AlexMaOLS/EluCD).

Classifier guidance (Dhariwal & Nichol 2021, arXiv 2105.05233) adds ``s * grad log p(y | x_t)`` to the score.
EluCD makes it work with a classifier trained on *clean* images only:

- the classifier sees the posterior-mean estimate ``x0_hat(x_t)`` and the gradient is taken w.r.t. ``x0_hat``
  (no backpropagation through the denoiser);
- calibration: the guided log-probability is ``tau l_y - log sum_k exp(tau delta l_k)`` (``tau``: joint
  temperature; ``delta``: margin-temperature discount; delta = 1 is the temperature-scaled conditional), and
  the classifier's ReLUs are replaced by ``Softplus(beta)`` for smoother gradients (on a copy);
- a time schedule: the scale is boosted by a sine bump ``1 + gamma sin(pi t)`` (zero at both ends of the run).

The score shift ``delta_score = s(t) g`` enters the model's prediction through Tweedie's formula,
``x0_hat <- x0_hat + sigma_t^2 / alpha_t delta_score`` (for eps prediction: ``eps <- eps - sigma_t delta_score``,
Dhariwal & Nichol eq. 14), and is mapped back to the model's parameterisation (steps with no signal left,
``alpha_t ~ 0``, are not guided). The classifier maps model-space
images ``(B, C, H, W)`` (in [-1, 1]) to logits ``(B, K)``; the target class is each sample's ``cond`` label, or
``target``. Defaults follow the EluCD README (beta = 3, tau = 1, delta = 0.5, gamma = 0.3).
"""

from __future__ import annotations

import copy
import math
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from seqguide.guidance.base import Guider
from seqguide.models.prediction import Prediction

__all__ = ["ClassifierGuidance", "calibrated_log_prob", "softplus_copy"]

_ALPHA_MIN = 1e-4  # no signal left (alpha_t ~ 0, e.g. a flow at t = 1): the score there ignores the data


def softplus_copy(classifier: nn.Module, beta: float) -> nn.Module:
    """A copy of ``classifier`` with every ``nn.ReLU`` replaced by ``nn.Softplus(beta)``."""
    clf = copy.deepcopy(classifier)

    def swap(module: nn.Module) -> None:
        for name, child in module.named_children():
            if isinstance(child, nn.ReLU):
                setattr(module, name, nn.Softplus(beta=beta))
            else:
                swap(child)

    swap(clf)
    return clf


def calibrated_log_prob(logits: torch.Tensor, labels: torch.Tensor, tau: float, delta: float) -> torch.Tensor:
    """EluCD's calibrated log-probability ``tau l_y - logsumexp(tau delta l)`` ``(B,)``."""
    picked = logits.gather(1, labels[:, None])[:, 0]
    return tau * picked - torch.logsumexp(tau * delta * logits, dim=1)


class ClassifierGuidance(Guider):
    """Off-the-shelf classifier guidance on the x0 estimate (EluCD calibration), on the ``adjust`` hook.

    Args:
        classifier: ``nn.Module`` from clean model-space images ``(B, C, H, W)`` to logits ``(B, K)``.
        scale: s, multiplying the calibrated classifier gradient added to the score, ``s(t) grad log p~(y | x)``
            (times the schedule): 0 = no guidance, 1 = Bayes' rule for a calibrated classifier.
        joint_temperature: tau (multiplies the logits).
        margin_discount: delta (the normaliser uses ``tau * delta``); 1 gives a plain temperature-scaled softmax.
        softplus_beta: Replace ReLUs by ``Softplus(beta)``; None keeps the classifier as is.
        schedule: ``"sine"`` (EluCD: ``1 + gamma sin(pi t)``) or ``"constant"``.
        gamma: Height of the sine bump.
        target: Class to steer every sample to; None uses each sample's ``cond`` label.
        start: Fraction of the run (by step) from which guidance is applied.
        stop: Fraction after which it is not.
    """

    resources: ClassVar[dict[str, tuple[str, ...]]] = {"classifier": ("surrogate", "classifier")}
    paper: ClassVar[str] = "Ma et al. 2024, arXiv 2310.11311 (EluCD), §4; Dhariwal & Nichol 2021, eq. 14"

    def __init__(self, classifier: nn.Module, *, scale: float = 1.0, joint_temperature: float = 1.0,
                 margin_discount: float = 0.5, softplus_beta: float | None = 3.0,
                 schedule: Literal["sine", "constant"] = "sine", gamma: float = 0.3, target: int | None = None,
                 start: float = 0.0, stop: float = 1.0) -> None:
        super().__init__(start=start, stop=stop)
        if not isinstance(classifier, nn.Module):
            raise TypeError(f"classifier must be a torch nn.Module (images -> logits), got {type(classifier).__name__}")
        if scale < 0:
            raise ValueError(f"scale must be >= 0, got {scale}")
        if joint_temperature <= 0:
            raise ValueError(f"joint_temperature must be > 0, got {joint_temperature}")
        if margin_discount <= 0:
            raise ValueError(f"margin_discount must be > 0, got {margin_discount}")
        if softplus_beta is not None and softplus_beta <= 0:
            raise ValueError(f"softplus_beta must be > 0 or None, got {softplus_beta}")
        if schedule not in ("sine", "constant"):
            raise ValueError(f"schedule must be 'sine' or 'constant', got {schedule!r}")
        if target is not None and target < 0:
            raise ValueError(f"target must be a class index >= 0 or None, got {target}")
        self.classifier = (softplus_copy(classifier, softplus_beta) if softplus_beta is not None else classifier).eval()
        self.scale, self.tau, self.delta = float(scale), float(joint_temperature), float(margin_discount)
        self.softplus_beta, self.schedule, self.gamma, self.target = softplus_beta, schedule, float(gamma), target

    def reset(self, ctx: Any) -> None:
        super().reset(ctx)
        self._guided_steps = 0

    def strength(self, t: float) -> float:
        """s(t): the scale times the time schedule."""
        return self.scale * (1.0 + self.gamma * math.sin(math.pi * t) if self.schedule == "sine" else 1.0)

    def _targets(self, n: int, device: torch.device) -> torch.Tensor:
        if self.target is not None:
            return torch.full((n,), self.target, dtype=torch.long, device=device)
        labels = self.ctx.current_labels()
        if labels is None:
            raise ValueError("ClassifierGuidance needs a target class: sample(..., cond=labels) or target=...")
        return labels.to(device)

    def gradient(self, x0: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """``grad_x0 log p~(y | x0)`` ``(B, C, H, W)`` of the calibrated log-probability."""
        clf = self.classifier.to(x0.device)
        with torch.enable_grad():
            x = x0.detach().float().requires_grad_(True)
            logp = calibrated_log_prob(clf(x).float(), labels, self.tau, self.delta)
            (grad,) = torch.autograd.grad(logp.sum(), x)
        return grad.to(x0.dtype)

    def adjust(self, state: torch.Tensor, pred: Any, t: float) -> Any:
        if not self.is_active() or self.scale == 0:
            return pred
        if not isinstance(pred, Prediction):
            raise TypeError("ClassifierGuidance guides image models (Prediction); for discrete models use "
                            "DiscreteClassifierGuidance")
        model = self.ctx.model
        x0, _ = model.to_x0_eps(pred)
        a, s = model.path_coefficients(pred.t, x0)
        if float(a.min()) <= _ALPHA_MIN:
            return pred
        g = self.gradient(x0, self._targets(x0.shape[0], x0.device))
        shifted = x0 + (s**2 / a) * self.strength(t) * g  # Tweedie: E[x0 | x_t] under the shifted score
        if not self.ctx.lookahead:
            self._guided_steps += 1
        return model.from_x0(pred, shifted)

    def trace(self) -> dict[str, Any]:
        return {"guided_steps": self._guided_steps}

    def __repr__(self) -> str:
        return (f"ClassifierGuidance(scale={self.scale}, joint_temperature={self.tau}, margin_discount={self.delta}, "
                f"softplus_beta={self.softplus_beta}, schedule={self.schedule!r}, gamma={self.gamma})")
