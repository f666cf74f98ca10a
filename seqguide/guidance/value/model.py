"""Learned value models for soft value-based decoding: SVDD-MC (Li et al. 2024, arXiv 2408.08252, §4).

SVDD steers a pretrained masked diffusion model with a *value* of noisy states, the expected terminal
reward reachable from them. The soft value (SVDD eq. 3) is

    v_t(x_t) = alpha * log E_{x_0 ~ p_pre(x_0 | x_t)} [ exp(r(x_0) / alpha) ],

which tends to the posterior mean ``E[r(x_0) | x_t]`` as alpha grows. SVDD-MC (Alg. 1 with the value
learned by Monte-Carlo regression, §4) estimates it without look-ahead calls to the denoiser:

1. draw ``x_0^(i) ~ p_pre`` from the pretrained model (unguided sampling) and label them ``r(x_0^(i))``
   with the oracle (invalid designs are dropped);
2. corrupt them with the model's forward process, ``x_t = q(x_t | x_0)`` at a fresh ``t ~ U(0, 1)``
   and fresh masks every epoch;
3. regress ``r(x_0)`` on ``(x_t, t)`` with a time-conditioned network (MSE, optionally Huber).

The MSE minimiser is ``E[r(x_0) | x_t, t]``, the alpha -> infinity limit of the soft value, i.e. the
quantity SVDD-MC's regression targets. At sampling time :class:`LearnedValue` scores candidate states
with the network (one batched call per step, no denoiser look-ahead) and uses the oracle's exact reward
for fully clean states when an oracle is given, so the last selection and ``Samples.scores`` use the
true reward (:mod:`seqguide.guidance.value.learned`); :func:`~seqguide.guidance.value.fit.fit_value_model` runs
steps 1-3 (:mod:`seqguide.guidance.value.fit`). The network base, the noised dataset and the training run are shared
with the noisy classifier of discrete classifier guidance (:mod:`seqguide.guidance.noisy_states`); a
:class:`ValueModel` also serves that guidance as a regressor (``log_potential``).

Example:
    >>> from seqguide.guidance import SVDD, LearnedValue, fit_value_model
    >>> vm = fit_value_model(model, oracle, n=2000, max_steps=2000)            # doctest: +SKIP
    >>> out = sample(model, 64, steps=64, guidance=SVDD(LearnedValue(vm, oracle), particles=8))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
from typing import Any, ClassVar

import torch
import torch.nn.functional as F

from seqguide.alphabet import Alphabet
from seqguide.guidance.noisy_states import NoisedStateDataset, NoisyStateModel
from seqguide.guidance.value.regression import regression_metrics
from seqguide.models.backbones import Backbone
from seqguide.models.schedules import NoiseSchedule

__all__ = ["NoisedRewardDataset", "ValueModel"]

log = logging.getLogger(__name__)

_LOSSES = ("mse", "huber")


class ValueModel(NoisyStateModel):
    """A time-conditioned network ``v(x_t, t) ~ E[r(x_0) | x_t]`` on noisy token states.

    The backbone maps ``(B, L)`` tokens and ``t`` to per-position outputs; these are pooled over the
    positions that are not visible padding (masked positions count: their content is unknown) into one
    scalar per state. The network works on standardised rewards ``(r - reward_mean) / reward_std``;
    :meth:`forward` returns values in the oracle's own units.

    Args:
        alphabet: The generative model's alphabet (preset name, token list, ``to_dict()`` dict or Alphabet).
        length: Sequence length L (the backbone's positional size).
        backbone: An unbuilt :class:`~seqguide.models.backbones.Backbone` (built here with time conditioning
            and ``out_dim=1``, or 2 for attention pooling) or its ``spec()`` dict. Default: a 4-block dilated
            CNN of width 48 (``ConvDenoiser(dim=48, depth=4, dropout=0.0)``).
        schedule: Noise schedule of the generative model (``"loglinear"`` or ``"cosine"``), used to corrupt
            training states exactly as the model's forward process does.
        pooling: ``"mean"`` over non-pad positions, or ``"attention"`` (softmax weights from a second
            output channel).
        loss: ``"mse"`` (its minimiser is the posterior mean) or ``"huber"`` (robust to outlier rewards).
        huber_delta: Huber threshold, in standardised reward units.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        warmup_steps: Linear warm-up steps, followed by cosine decay to 10% of ``lr``.
        reward_mean: Mean of the training rewards (oracle units), for standardisation.
        reward_std: Standard deviation of the training rewards (oracle units), > 0.
        maximize: Whether larger rewards are better (copied from the oracle); :class:`LearnedValue` negates
            values of a minimised oracle so that larger is always better during selection.
        oracle_name: Name of the oracle that labelled the data (informational).
        weights: Scalarisation weights used for a multi-objective oracle, if any.

    Raises:
        ValueError: for an unknown pooling/loss/schedule or a non-positive ``reward_std`` or ``length``.
    """

    file_format: ClassVar[str] = "seqguide.ValueModel/1"
    required_hparams: ClassVar[tuple[str, ...]] = ("reward_std", "pooling", "backbone")

    def __init__(
        self,
        alphabet: str | list[str] | dict[str, Any] | Alphabet = "dna",
        length: int = 32,
        backbone: Backbone | dict[str, Any] | None = None,
        schedule: str = "loglinear",
        pooling: str = "mean",
        loss: str = "mse",
        huber_delta: float = 1.0,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        warmup_steps: int = 50,
        reward_mean: float = 0.0,
        reward_std: float = 1.0,
        maximize: bool = True,
        oracle_name: str | None = None,
        weights: list[float] | None = None,
    ) -> None:
        if loss not in _LOSSES:
            raise ValueError(f"loss must be one of {_LOSSES}, got {loss!r}")
        if not (math.isfinite(reward_std) and reward_std > 0):
            raise ValueError(f"reward_std must be finite and > 0, got {reward_std}")
        if not math.isfinite(reward_mean):
            raise ValueError(f"reward_mean must be finite, got {reward_mean}")
        if huber_delta <= 0:
            raise ValueError(f"huber_delta must be > 0, got {huber_delta}")
        super().__init__(alphabet, length, backbone, schedule, pooling, out_features=1)
        self.save_hyperparameters(ignore=["backbone", "alphabet"])
        self._plain_hparams()
        self.hparams["weights"] = None if weights is None else [float(w) for w in weights]

    # ------------------------------------------------------------------ network
    def _standardized(self, tokens: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """Network output in standardised reward units: ``(B,)`` float32."""
        return self.pooled(tokens, t)[:, 0]

    def forward(self, tokens: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """Predicted value ``E[r(x_0) | x_t]`` in the oracle's units.

        Args:
            tokens: ``(B, L)`` int64 noisy states (mask and pad ids allowed).
            t: Their time: a float or ``(B,)`` floats in [0, 1].

        Returns:
            ``(B,)`` float32 values.
        """
        return self._standardized(tokens, t) * self.hparams.reward_std + self.hparams.reward_mean

    def log_potential(self, tokens: torch.Tensor, t: torch.Tensor | float, target: int | None = None) -> torch.Tensor:
        """The value as a guidance log-potential, larger-is-better (a minimised objective is negated): ``(B,)``.

        Used by :class:`~seqguide.guidance.DiscreteClassifierGuidance` as ``log p(y | x_t)`` of a regressor
        (the tilt ``exp(scale * v(x_t))``); ``tokens`` may be soft one-hots (differentiable).

        Raises:
            ValueError: if a class ``target`` is given (a regressor has no classes).
        """
        if target is not None:
            raise ValueError(f"a ValueModel is a regressor: it has no class target (got target={target})")
        sign = 1.0 if self.hparams.maximize else -1.0
        return sign * self(tokens, t)

    # ------------------------------------------------------------------ training
    def _loss(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if self.hparams.loss == "huber":
            return F.huber_loss(pred, target, delta=self.hparams.huber_delta)
        return F.mse_loss(pred, target)

    def _common_step(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        x_t, t, r = batch["x_t"], batch["t"], batch["reward"].float()
        pred = self._standardized(x_t, t)
        target = (r - self.hparams.reward_mean) / self.hparams.reward_std
        loss = self._loss(pred, target)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "train", batch_size=x_t.shape[0])
        if stage == "val":
            self._val_outputs.append((pred.detach() * self.hparams.reward_std + self.hparams.reward_mean,
                                      r.detach()))
        return loss

    def _log_validation(self, pred: torch.Tensor, target: torch.Tensor) -> None:
        metrics = regression_metrics(pred.double().cpu().numpy(), target.double().cpu().numpy())
        self.log("val/mse", metrics["mse"], prog_bar=True)
        self.log("val/r2", metrics["r2"])
        self.log("val/spearman", metrics["spearman"], prog_bar=True)


# ---------------------------------------------------------------------------------- data
class NoisedRewardDataset(NoisedStateDataset):
    """Pairs ``(x_t, t) -> r(x_0)`` whose noise is drawn when an item is read (SVDD-MC regression data): a
    :class:`~seqguide.guidance.noisy_states.NoisedStateDataset` with the target ``"reward"``.

    Args:
        tokens: ``(N, L)`` int64 clean sequences x_0.
        rewards: ``(N,)`` finite rewards r(x_0) in oracle units.
        schedule: The generative model's noise schedule.
        mask_id: The mask token id.
        seed: Seed of the noise.
        fixed: Draw the noise once (validation).
        repeats: Corruptions per sequence when ``fixed`` (the dataset has ``N * repeats`` items).
    """

    def __init__(self, tokens: torch.Tensor, rewards: torch.Tensor, schedule: NoiseSchedule, mask_id: int, *,
                 seed: int = 0, fixed: bool = False, repeats: int = 1) -> None:
        if not torch.isfinite(torch.as_tensor(rewards)).all():
            raise ValueError("rewards must be finite (drop invalid designs first)")
        super().__init__(tokens, torch.as_tensor(rewards).double(), schedule, mask_id, key="reward", seed=seed,
                         fixed=fixed, repeats=repeats)

    @property
    def rewards(self) -> torch.Tensor:
        return self.targets

