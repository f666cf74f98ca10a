"""An exactly solvable image denoiser: every class is an isotropic Gaussian, so E[x_0 | x_t] is closed form.

With class ``y`` distributed as ``N(mu_y, std^2 I)`` (and the null class as its own Gaussian ``N(mu_null,
std^2 I)``), a Gaussian path ``x_t = alpha_t x_0 + sigma_t eps`` has the posterior mean

    E[x_0 | x_t, y] = mu_y + alpha_t std^2 / (alpha_t^2 std^2 + sigma_t^2) (x_t - alpha_t mu_y)

so :class:`ExactGaussianDenoiser` is the Bayes-optimal network of :class:`~seqguide.models.GaussianDiffusion`
and :class:`~seqguide.models.FlowMatching`, in whatever parameterisation the model uses. Because the two
branch scores differ only in their means, classifier-free guidance with scale w is *exactly* sampling
``N(mu_null + w (mu_y - mu_null), std^2 I)`` (the scores are linear in the mean), which tests use to check
samplers and guidance end to end.

Example:
    >>> import torch
    >>> from seqguide.models import GaussianDiffusion
    >>> means = torch.stack([torch.full((1, 2, 2), m) for m in (-0.5, 0.5, 0.0)])   # 2 classes + null
    >>> model = GaussianDiffusion(ExactGaussianDenoiser(means, std=0.2), image_shape=(1, 2, 2), num_classes=2)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

__all__ = ["ExactGaussianDenoiser"]


class ExactGaussianDenoiser(nn.Module):
    """The exact denoiser of a per-class Gaussian data distribution.

    Args:
        means: ``(num_classes + 1, C, H, W)`` class means; the last row is the null (unconditional) class.
        std: Per-pixel standard deviation of every class.
    """

    built = True

    def __init__(self, means: torch.Tensor, std: float) -> None:
        super().__init__()
        if means.dim() != 4:
            raise ValueError(f"means must be (num_classes + 1, C, H, W), got shape {tuple(means.shape)}")
        if std <= 0:
            raise ValueError(f"std must be > 0, got {std}")
        self.register_buffer("means", means.float())
        self.std = float(std)
        self._alpha_sigma: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None
        self._kind = "x0"

    def bind(self, process: object) -> None:
        """Read the path and the parameterisation from the model that owns this denoiser."""
        self._alpha_sigma = process.alpha_sigma  # type: ignore[attr-defined]
        self._kind = process.prediction  # type: ignore[attr-defined]

    def posterior_mean(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """``E[x_0 | x_t, y]`` ``(B, C, H, W)``."""
        if self._alpha_sigma is None:
            raise RuntimeError("ExactGaussianDenoiser is not bound to a model (the model calls bind())")
        null = self.means.shape[0] - 1
        if labels is None:
            labels = torch.full((x.shape[0],), null, dtype=torch.long, device=x.device)
        mu = self.means[labels]
        a, s = (c.to(x.dtype).reshape(-1, 1, 1, 1) for c in self._alpha_sigma(t.double()))
        v = self.std**2
        return mu + a * v / (a**2 * v + s**2) * (x - a * mu)

    def forward(self, x: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        x0 = self.posterior_mean(x, t, labels)
        if self._kind == "x0":
            return x0
        a, s = (c.to(x.dtype).reshape(-1, 1, 1, 1) for c in self._alpha_sigma(t.double()))
        eps = (x - a * x0) / s.clamp_min(torch.finfo(x.dtype).tiny)
        if self._kind == "eps":
            return eps
        if self._kind == "v":
            return a * eps - s * x0
        return eps - x0  # velocity
