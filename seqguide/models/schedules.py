"""Noise schedules for absorbing-state (masked) diffusion.

A schedule gives ``alpha(t)``, the probability that a token is still clean at time ``t`` in [0, 1]
(``alpha(0) = 1``: data; ``alpha(1) = 0``: fully masked), and its derivative. The continuous-time
ELBO of masked diffusion (Sahoo et al. 2024, MDLM, eq. 10; Shi et al. 2024, MD4) weights the
cross-entropy of each masked token by ``-alpha'(t) / (1 - alpha(t))``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["CosineSchedule", "LogLinearSchedule", "NoiseSchedule", "get_schedule"]


class NoiseSchedule:
    """Base class: ``alpha(t)`` and ``dalpha(t)`` on tensors of times in [0, 1]."""

    name = "base"

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def dalpha(self, t: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def loss_weight(self, t: torch.Tensor) -> torch.Tensor:
        """ELBO weight ``-alpha'(t) / (1 - alpha(t))`` of a masked token's cross-entropy at time t."""
        return -self.dalpha(t) / (1.0 - self.alpha(t)).clamp_min(torch.finfo(t.dtype).tiny)

    def unmask_probability(self, t: float | torch.Tensor, s: float | torch.Tensor) -> torch.Tensor:
        """Probability that a token masked at time t is revealed by time s < t:
        ``(alpha(s) - alpha(t)) / (1 - alpha(t))`` (the absorbing reverse kernel)."""
        t = torch.as_tensor(t, dtype=torch.float64)
        s = torch.as_tensor(s, dtype=torch.float64)
        a_t, a_s = self.alpha(t), self.alpha(s)
        return ((a_s - a_t) / (1.0 - a_t).clamp_min(1e-12)).clamp(0.0, 1.0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class LogLinearSchedule(NoiseSchedule):
    """``alpha(t) = 1 - t``: MDLM's log-linear schedule (total noise ``sigma(t) = -log(1 - t)``)."""

    name = "loglinear"

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return 1.0 - t

    def dalpha(self, t: torch.Tensor) -> torch.Tensor:
        return -torch.ones_like(t)


class CosineSchedule(NoiseSchedule):
    """``alpha(t) = cos(pi t / 2)``: slow masking near the data end, fast near the noise end.

    This is the ``CosineNoise`` of the MDLM code (Sahoo et al. 2024; ``noise_schedule.py``:
    ``alpha = eps + (1 - eps) cos(pi t / 2)``) without its ``eps`` floor, whose ELBO weight is
    ``-alpha'/(1 - alpha) = (pi/2) sin(pi t/2) / (1 - cos(pi t/2))``. It is *not* MD4's "cosine" (Shi et al.
    2024, Table 1: ``alpha(t) = 1 - cos(pi (1 - t) / 2)``, which masks fast near the data end).
    """

    name = "cosine"

    def alpha(self, t: torch.Tensor) -> torch.Tensor:
        return torch.cos(0.5 * math.pi * t)

    def dalpha(self, t: torch.Tensor) -> torch.Tensor:
        return -0.5 * math.pi * torch.sin(0.5 * math.pi * t)


_SCHEDULES = {"loglinear": LogLinearSchedule, "cosine": CosineSchedule}


def get_schedule(name: str | NoiseSchedule) -> NoiseSchedule:
    """Resolve ``"loglinear"`` or ``"cosine"`` (or return a schedule instance unchanged)."""
    if isinstance(name, NoiseSchedule):
        return name
    try:
        return _SCHEDULES[name]()
    except KeyError:
        raise ValueError(f"unknown noise schedule {name!r}: expected one of {sorted(_SCHEDULES)}") from None
