"""Noise schedules of Gaussian (variance-preserving) diffusion on the loop's time axis t in [0, 1].

A schedule gives ``alpha_bar(t)``, the signal fraction of ``x_t = sqrt(alpha_bar) x_0 + sqrt(1 - alpha_bar) eps``,
with ``alpha_bar(0) = 1`` (data) falling to nearly 0 at ``t = 1`` (noise), so the sampling loop's convention
(t from 1 to 0) holds for every schedule. The discrete DDPM schedules map onto it as in Song et al. 2021
(arXiv 2011.13456, §3.4 / App. B) and Nichol & Dhariwal 2021 (arXiv 2102.09672, eq. 17):

- :class:`LinearVPSchedule`: DDPM's linear betas from 1e-4 to 0.02 over 1000 steps in the continuous limit,
  ``alpha_bar(t) = exp(-(beta_0 t + (beta_1 - beta_0) t^2 / 2))`` with ``beta_0 = 0.1``, ``beta_1 = 20``.
- :class:`CosineVPSchedule`: ``alpha_bar(t) = f(t) / f(0)``, ``f(t) = cos^2(pi/2 (t + s) / (1 + s))``,
  ``s = 0.008``, kept at or above the linear schedule's final value so that ``t = 1`` stays finite.

``noise_level(t) = sqrt((1 - alpha_bar) / alpha_bar)`` is the EDM noise level sigma (Karras et al. 2022), the
axis on which guidance intervals are given (Kynkaanniemi et al. 2024).
"""

from __future__ import annotations

import math

import torch

__all__ = ["CosineVPSchedule", "LinearVPSchedule", "VPSchedule", "get_vp_schedule"]

_BETA_0, _BETA_1 = 0.1, 20.0  # continuous-time limit of DDPM's betas 1e-4 .. 0.02 over T = 1000
_COSINE_OFFSET = 0.008  # Nichol & Dhariwal's s
_ALPHA_BAR_MIN = math.exp(-(_BETA_0 + 0.5 * (_BETA_1 - _BETA_0)))  # alpha_bar(1) of the linear schedule


class VPSchedule:
    """Base class: ``alpha_bar(t)`` on tensors of times in [0, 1]."""

    name = "base"

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def alpha_sigma(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(sqrt(alpha_bar), sqrt(1 - alpha_bar))``: the signal and noise scales of ``x_t``."""
        ab = self.alpha_bar(t)
        return ab.sqrt(), (1.0 - ab).clamp_min(0.0).sqrt()

    def noise_level(self, t: torch.Tensor) -> torch.Tensor:
        """EDM noise level ``sigma(t) = sqrt((1 - alpha_bar) / alpha_bar)``."""
        ab = self.alpha_bar(t)
        return ((1.0 - ab) / ab).sqrt()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LinearVPSchedule(VPSchedule):
    """DDPM's linear beta schedule in continuous time (Ho et al. 2020; Song et al. 2021)."""

    name = "linear"

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64)
        return torch.exp(-(_BETA_0 * t + 0.5 * (_BETA_1 - _BETA_0) * t**2))


class CosineVPSchedule(VPSchedule):
    """The cosine schedule of Nichol & Dhariwal 2021 (eq. 17), floored at the linear schedule's alpha_bar(1)."""

    name = "cosine"

    def alpha_bar(self, t: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64)
        s = _COSINE_OFFSET

        def f(u: torch.Tensor | float) -> torch.Tensor:
            return torch.cos(torch.as_tensor((u + s) / (1 + s) * 0.5 * math.pi, dtype=torch.float64)) ** 2

        return (f(t) / f(0.0)).clamp(min=_ALPHA_BAR_MIN, max=1.0)


_SCHEDULES = {"linear": LinearVPSchedule, "cosine": CosineVPSchedule}


def get_vp_schedule(name: str | VPSchedule) -> VPSchedule:
    """Resolve ``"linear"`` or ``"cosine"`` (or return a schedule instance unchanged)."""
    if isinstance(name, VPSchedule):
        return name
    try:
        return _SCHEDULES[name]()
    except KeyError:
        raise ValueError(f"unknown Gaussian noise schedule {name!r}: expected one of {sorted(_SCHEDULES)}") from None
