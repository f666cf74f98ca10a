"""The ``loop:``, ``surrogate:``, ``value_model:``, ``report:``, ``devices:`` and ``loggers:`` sections of a campaign:
rounds and budget, the value sources refitted before each round, report options, where the campaign computes and
the experiment trackers its rounds are logged to."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator

from seqguide.design.schema.base import StrictConfig

__all__ = ["DeviceConfig", "LoggerSpec", "LoopConfig", "ReportConfig", "SurrogateConfig", "ValueModelConfig"]


class LoopConfig(StrictConfig):
    """The design loop.

    Attributes:
        rounds: Number of rounds (sample, dedupe, score, store, retrain).
        candidates: New unique designs sent to the objective per round (fewer in the last round if the budget
            runs out). Sampled designs that fail a hard constraint do not count: they are stored as rejected
            (uncharged) and sampling continues, up to ``max_draws`` draws.
        budget: Total real calls to the objective: unique designs scored and the look-ahead calls of guidance
            with ``value: oracle`` (default ``rounds * candidates``, which leaves nothing for a look-ahead: set it
            when a guider takes ``value: oracle``); see :mod:`seqguide.design.schema` for exactly what is charged.
        score_batch: Designs per objective call; each batch is committed to the store in one transaction,
            so a crash loses at most the batch being scored.
        max_draws: Sampling draws per round (each of ``candidates`` samples) to find ``candidates`` new designs
            that pass the hard constraints.
        feasibility: Learn which adjacent token pairs the objective refuses and drop candidates with one before
            they are paid for (:class:`seqguide.design.feasibility.PairFeasibility`): a pair seen in this many
            infeasible designs and in no feasible one is banned. None: off.
    """

    rounds: PositiveInt = 4
    candidates: PositiveInt = 64
    budget: PositiveInt | None = None
    score_batch: PositiveInt = 16
    max_draws: PositiveInt = 4
    feasibility: PositiveInt | None = None


class SurrogateConfig(StrictConfig):
    """The :class:`oracles.Surrogate` ensemble retrained on every label so far before each round.

    Attributes:
        members: Ensemble size.
        channels: CNN width.
        kernel_size: Convolution width.
        layers: Convolution layers.
        epochs: Training epochs per refit.
        lr: AdamW learning rate.
        min_labels: Fewer training labels than this: the round samples unguided.
        invalid_value: Training label for designs the objective scored invalid (e.g. infeasible Ehrlich
            sequences; transient failures excluded), so the surrogate learns to steer away from them; None
            leaves them out of its training set.
        warm_start: Start each round's fit from the previous round's saved surrogate instead of from scratch
            (``warm_epochs`` epochs on all labels; the first fit is from scratch).
        warm_epochs: Epochs of a warm-started refit (default: ``epochs``).
    """

    members: PositiveInt = 4
    channels: PositiveInt = 32
    kernel_size: PositiveInt = 5
    layers: PositiveInt = 2
    epochs: PositiveInt = 30
    lr: PositiveFloat = 3e-3
    min_labels: Annotated[int, Field(ge=2)] = 8
    invalid_value: float | None = None
    warm_start: bool = False
    warm_epochs: PositiveInt | None = None


class ValueModelConfig(StrictConfig):
    """The SVDD-MC learned value model (:func:`seqguide.guidance.fit_value_model`), refitted before each round
    on the labels so far and used as :class:`seqguide.guidance.LearnedValue` (network values only: guidance
    makes no objective calls).

    Attributes:
        max_steps: Optimiser steps per refit.
        batch_size: Training batch size.
        lr: AdamW learning rate.
        val_fraction: Held-out fraction of the labels (best checkpoint by validation MSE).
        pooling: ``mean`` or ``attention``.
        loss: ``mse`` or ``huber``.
        min_labels: Fewer valid labels than this: the round samples unguided.
    """

    max_steps: PositiveInt = 300
    batch_size: PositiveInt = 64
    lr: PositiveFloat = 1e-3
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    pooling: Literal["mean", "attention"] = "mean"
    loss: Literal["mse", "huber"] = "mse"
    min_labels: Annotated[int, Field(ge=2)] = 8


class ReportConfig(StrictConfig):
    """Report options. ``top_k``: designs in the top table and the logo / molecule grid."""

    top_k: PositiveInt = 20


class DeviceConfig(StrictConfig):
    """Where a campaign computes: model training, sampling, surrogate and value-model fits.

    Attributes:
        device: ``auto`` (the ``SEQGUIDE_DEVICE`` environment variable, else CUDA, else MPS, else CPU), ``cpu``,
            ``cuda``, ``cuda:1``, ``mps``; the resolved device is recorded with the run's model.
        precision: Lightning precision of model training (``32-true``, ``bf16-mixed``, ``16-mixed``).
        accumulate_grad_batches: Gradient accumulation of model training.
    """

    device: str = "auto"
    precision: Literal["32-true", "bf16-mixed", "16-mixed"] = "32-true"
    accumulate_grad_batches: PositiveInt = 1

    @field_validator("device")
    @classmethod
    def _device_name(cls, v: str) -> str:
        if not re.fullmatch(r"auto|gpu|cpu|mps|cuda(:\d+)?", v.strip().lower()):
            raise ValueError(f"unknown device {v!r}: use auto, cpu, cuda, cuda:N or mps")
        return v.strip().lower()


class LoggerSpec(StrictConfig):
    """One experiment tracker of ``loggers:`` (:mod:`seqguide.design.trackers`); a bare name is ``{name: NAME}``.

    Attributes:
        name: ``csv``, ``tensorboard``, ``mlflow`` or ``wandb`` (offline); all but ``csv`` need their package.
        args: Keyword arguments of Lightning's logger class (e.g. ``{flush_logs_every_n_steps: 1}``).
    """

    name: Literal["csv", "tensorboard", "mlflow", "wandb"]
    args: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _installed(cls, v: str) -> str:
        from seqguide.design.logger_names import missing_package

        missing = missing_package(v)
        if missing is not None:
            raise ValueError(f"the {v} logger needs the {missing} package, which is not installed (pip install "
                             f"{missing}), or leave it out of loggers")
        return v
