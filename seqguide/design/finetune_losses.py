"""The losses of online generator fine-tuning: per-design advantages from rewards, and a sequence model's
per-sequence ELBO (or denoising loss) with its KL anchor to a frozen reference, for ``MaskedDiffusion`` and
``GumbelSoftmaxFlow``.

Every objective here is built so that **equal rewards give zero advantages** (the update depends only on reward
differences) and the anchor's gradient is exactly zero at the reference weights (a KL between two identical
distributions). :mod:`seqguide.design.finetune` runs the optimisation.

Advantages ``a`` (``rewards`` oriented so that larger is better, ``N`` designs):

* ``rank`` -- weighted retraining (Tripp, Daxberger & Hernandez-Lobato 2020, "Sample-efficient optimization in the
  latent space of deep generative models via weighted retraining", eq. 5): ``w_i ∝ 1 / (k N + rank_i)`` (rank 0 =
  best, ties share their mean rank), normalised, and centred: ``a_i = w_i - mean(w)``.
* ``reward`` -- reward-weighted likelihood (the target ``p(x) exp(r(x) / alpha)`` of reward-guided sampling, fitted
  as in advantage-weighted regression, Peng et al. 2019 eq. 7): ``w_i ∝ exp(z_i / alpha)`` with ``z`` the rewards
  in standard deviations, normalised and centred.
* ``augmented`` -- REINVENT's augmented likelihood (Olivecrona et al. 2017, eq. 3) on the ELBO, with the reward
  centred: the fine-tuned log-likelihood is regressed onto ``log p_ref(x) + sigma * z(x)``, ``z = (r - mean) / std``.

For ``rank`` and ``reward`` the loss is ``sum_i a_i NLL(x_i)`` (rows drawn with probability ``|a_i|``, signed):
the likelihood of above-average designs rises and that of below-average ones falls.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from seqguide.design.finetune_settings import OBJECTIVES  # the fine-tuning objectives: one list, with the settings

__all__ = ["OBJECTIVES", "advantages", "anchor_kl", "noised", "per_token_logp", "sequence_nll"]


_FLOOR = -1e4  # log-probabilities below this count as zero probability (keeps -inf out of the KL's gradient)


def _mean_ranks(r: np.ndarray) -> np.ndarray:
    """Rank of each reward, 0 = largest; equal rewards share the mean of their ranks."""
    order = np.argsort(-r, kind="stable")
    ranks = np.empty(len(r), dtype=np.float64)
    ranks[order] = np.arange(len(r), dtype=np.float64)
    _, inverse = np.unique(r, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    return (sums / counts)[inverse]


def advantages(rewards: Any, objective: str, *, rank_k: float = 1e-3, alpha: float = 1.0) -> np.ndarray:
    """Per-design advantages ``(N,)`` float64 for ``objective`` (see the module docstring); all zero when every
    reward is equal.

    Args:
        rewards: ``(N,)`` finite rewards, larger is better.
        objective: One of :data:`OBJECTIVES`.
        rank_k: ``k`` of the rank weights (smaller: more weight on the very best).
        alpha: Temperature of the ``reward`` weights, in standard deviations of the rewards.

    Raises:
        ValueError: for an unknown objective or a non-finite reward.
    """
    r = np.asarray(rewards, dtype=np.float64).reshape(-1)
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown fine-tuning objective {objective!r} (known: {', '.join(OBJECTIVES)})")
    if not np.isfinite(r).all():
        raise ValueError("fine-tuning rewards must be finite")
    n = len(r)
    if n == 0:
        return np.zeros(0)
    if float(r.max()) == float(r.min()):  # every reward equal: nothing to learn (and no float noise to learn from)
        return np.zeros(n)
    std = float(r.std())
    if objective == "augmented":
        return np.zeros(n) if std == 0.0 else (r - r.mean()) / std
    if objective == "rank":
        w = 1.0 / (rank_k * n + _mean_ranks(r))
    else:
        z = np.zeros(n) if std == 0.0 else (r - r.max()) / std
        w = np.exp(z / alpha)
    w = w / w.sum()
    a = w - w.mean()
    a[np.abs(a) <= 1e-12 * np.abs(w).max()] = 0.0  # float rounding of equal weights is not a reward difference
    return a


def noised(model: Any, x0: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor,
                                                                               torch.Tensor]:
    """A draw of the model's training corruption of clean ids ``x0 (B, L)``: ``(x_t, t, w)``, with ``w (B, L)`` the
    per-position weight of the per-sequence loss (masked diffusion: the ELBO weight ``-alpha'(t)/(1-alpha(t))``
    on masked positions, over ``L``, MDLM eq. 10; simplex flow: ``1/L``, the denoiser's cross-entropy)."""
    B, L = x0.shape
    if hasattr(model, "q_xt"):  # MaskedDiffusion
        t = model._sample_t(B, x0.device, generator)
        xt = model.q_xt(x0, t, generator)
        w = (xt == model.mask_id).float() * model.schedule.loss_weight(t).float()[:, None] / L
        return xt, t, w
    if hasattr(model, "noisy"):  # GumbelSoftmaxFlow
        u = torch.rand(1, device=x0.device, generator=generator)
        t = (u + torch.arange(B, device=x0.device) / B) % 1.0
        return model.noisy(x0, t, generator), t, torch.full((B, L), 1.0 / L, device=x0.device)
    raise TypeError(f"fine-tuning needs a MaskedDiffusion or GumbelSoftmaxFlow model, not {type(model).__name__}")


def per_token_logp(model: Any, xt: torch.Tensor, t: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """The model's clean-token log-probabilities ``(B, L, V)`` at the noisy state (one network call)."""
    return model(xt, t, labels)


def sequence_nll(logp: torch.Tensor, x0: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``(B,)``: ``sum_l w_l * -log p(x0_l | x_t)`` (a one-sample ELBO estimate of the NLL per token for masked
    diffusion). Positions with zero weight contribute nothing (their log-probability may be ``-inf``)."""
    tok = -logp.gather(-1, x0.unsqueeze(-1)).squeeze(-1)
    return torch.where(w > 0, tok * w, torch.zeros_like(tok)).sum(dim=-1)


def anchor_kl(logp: torch.Tensor, logp_ref: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """``(B,)``: ``sum_l w_l KL(p_ref(. | x_t) || p(. | x_t))`` per position: for masked diffusion a one-sample
    estimate of the KL between the reference's and the model's reverse processes on the replay sequences, which
    bounds the KL of their sequence distributions. Zero with zero gradient when the two models agree."""
    ref = logp_ref.clamp_min(_FLOOR)
    p_ref = ref.exp()
    kl = (p_ref * (ref - logp.clamp_min(_FLOOR))).sum(dim=-1)
    return torch.where(w > 0, kl * w, torch.zeros_like(kl)).sum(dim=-1)
