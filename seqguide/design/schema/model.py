"""The ``model:`` and ``sampling:`` sections of a campaign: the generative model (a checkpoint, or the data,
network and steps to train one, and its online fine-tuning between rounds) and how candidates are drawn from it
(steps, class label, elite anchoring)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, NonNegativeInt, PositiveFloat, PositiveInt, create_model, field_validator, model_validator

from seqguide.design.finetune_settings import FINETUNE_SETTINGS, Setting
from seqguide.design.schema.base import StrictConfig

__all__ = [
    "AnchorConfig",
    "BackboneConfig",
    "ConvBackboneConfig",
    "DataConfig",
    "FineTuneConfig",
    "FlowConfig",
    "ModelConfig",
    "SamplingConfig",
    "TrainConfig",
    "TransformerBackboneConfig",
]


class DataConfig(StrictConfig):
    """Training data for a model trained at the start of the run (exactly one source).

    Attributes:
        preset: A packaged data set (``crp``, ``ars``, ``amp``, ``nci``, ``moses``, ``splice5``, ``ww``, ...).
        path: A FASTA / CSV / TSV / parquet / SMILES file.
        ehrlich_samples: Draw this many feasible sequences from the discrete Markov process of the
            objective's ``ehrlich`` oracle; they are written to ``<run_dir>/data/ehrlich_dmp.fasta``.
        alphabet: ``dna``, ``rna``, ``protein``, ``selfies`` or a token list (required for a plain file).
        length: Padded length in tokens (default: the longest sequence).
        limit: Read at most this many records.
        too_long: Sequences longer than ``length``: ``error``, ``drop`` or ``truncate``.
        missing: A table row with an empty/NA/NaN/None sequence or label cell: ``error`` (naming file, line and
            column) or ``drop`` (left out, counted in the log).
        val_fraction: Held-out fraction for validation.
        batch_size: Training batch size.
    """

    preset: str | None = None
    path: str | None = None
    ehrlich_samples: PositiveInt | None = None
    alphabet: str | list[str] | None = None
    length: PositiveInt | None = None
    limit: PositiveInt | None = None
    too_long: Literal["error", "drop", "truncate"] = "error"
    missing: Literal["error", "drop"] = "error"
    val_fraction: float = Field(0.1, ge=0.0, lt=1.0)
    batch_size: PositiveInt = 64

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, v: str | None) -> str | None:
        if v is None:
            return v
        from seqguide.data.presets import PRESETS

        if v.lower() not in PRESETS:
            raise ValueError(f"unknown data preset {v!r} (available: {', '.join(PRESETS)})")
        return v

    @model_validator(mode="after")
    def _one_source(self) -> DataConfig:
        given = [k for k in ("preset", "path", "ehrlich_samples") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of preset, path, ehrlich_samples (got {given or 'none'})")
        return self


class TransformerBackboneConfig(StrictConfig):
    """A :class:`~seqguide.models.TransformerDenoiser` (``type: transformer``)."""

    type: Literal["transformer"] = "transformer"
    dim: PositiveInt = 64
    depth: PositiveInt = 2
    heads: PositiveInt = 4
    mlp_ratio: PositiveFloat = 4.0
    dropout: float = Field(0.1, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _heads_divide_dim(self) -> TransformerBackboneConfig:
        if self.dim % self.heads:
            raise ValueError(f"heads={self.heads} must divide dim={self.dim}")
        return self


class ConvBackboneConfig(StrictConfig):
    """A :class:`~seqguide.models.ConvDenoiser` (``type: conv``)."""

    type: Literal["conv"]
    dim: PositiveInt = 64
    depth: PositiveInt = 4
    kernel_size: PositiveInt = 5
    dropout: float = Field(0.1, ge=0.0, lt=1.0)

    @field_validator("kernel_size")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"kernel_size must be odd (got {v})")
        return v


BackboneConfig = Annotated[TransformerBackboneConfig | ConvBackboneConfig, Field(discriminator="type")]


class FlowConfig(StrictConfig):
    """Settings of a :class:`~seqguide.models.GumbelSoftmaxFlow` (``kind: simplex``).

    Attributes:
        tau_max: Temperature at the noise end.
        decay: Exponential decay rate of the temperature.
        beta: Noise scale of the Gumbel logits.
        eta: Sampling stochasticity in [0, 1]: 0 = deterministic ODE step, 1 = ancestral step (value-based guiders
            such as SVDD need ``eta > 0`` to see distinct candidates).
    """

    tau_max: PositiveFloat = 10.0
    decay: PositiveFloat = 3.0
    beta: PositiveFloat = 2.0
    eta: float = Field(0.0, ge=0.0, le=1.0)


class TrainConfig(StrictConfig):
    """A generative-model training run done once at the start of the campaign.

    The checkpoint is cached as ``<run_dir>/model/model.ckpt``; a resumed (or re-run) campaign loads it
    instead of training again.

    Attributes:
        kind: ``masked`` (:class:`~seqguide.models.MaskedDiffusion`) or ``simplex``
            (:class:`~seqguide.models.GumbelSoftmaxFlow`, settings in ``flow``).
        data: The training data.
        backbone: The denoising network (``type: transformer`` or ``type: conv``).
        steps: Optimiser steps.
        val_check_interval: Validate every this many steps (the best validation checkpoint is kept).
        lr: AdamW learning rate.
        warmup_steps: Linear warm-up steps.
        schedule: Noise schedule of masked diffusion, ``loglinear`` or ``cosine``.
        flow: Settings of the simplex flow (``kind: simplex`` only).
        seed: Training seed (default: the campaign seed).
    """

    kind: Literal["masked", "simplex"] = "masked"
    data: DataConfig
    backbone: BackboneConfig = Field(default_factory=TransformerBackboneConfig)
    steps: PositiveInt = 500
    val_check_interval: PositiveInt = 100
    lr: PositiveFloat = 2e-3
    warmup_steps: NonNegativeInt = 20
    schedule: Literal["loglinear", "cosine"] = "loglinear"
    flow: FlowConfig = Field(default_factory=FlowConfig)
    seed: Annotated[int, Field(ge=0, lt=2**32)] | None = None

    @model_validator(mode="after")
    def _flow_only_for_simplex(self) -> TrainConfig:
        if self.kind != "simplex" and "flow" in self.model_fields_set:
            raise ValueError("flow: settings apply to kind: simplex only")
        return self

    def recipe(self) -> dict[str, Any]:
        """The settings that define the trained model (a masked run's recipe does not list the simplex-only keys,
        so runs cached before ``kind`` existed are not retrained)."""
        out = self.model_dump(mode="json")
        if self.kind == "masked":
            out.pop("kind")
            out.pop("flow")
        return out


def _field(setting: Setting) -> tuple[Any, Any]:
    """A pydantic field (annotation, default) from a row of the fine-tuning settings table."""
    if setting.choices:
        kind: Any = Literal[setting.choices]  # type: ignore[valid-type]
    else:
        bound = {("ge" if setting.inclusive else "gt"): setting.low} if setting.low is not None else {}
        kind = Annotated[(int if setting.type is int else float), Field(strict=True, **bound)]
    return (kind | None if setting.optional else kind), setting.default


FineTuneConfig = create_model(  # built from the one table the FineTune dataclass also reads (no second copy)
    "FineTuneConfig", __base__=StrictConfig, __module__=__name__,
    **{name: _field(setting) for name, setting in FINETUNE_SETTINGS.items()})
FineTuneConfig.__doc__ = """Online fine-tuning of the generator between rounds
    (:class:`seqguide.design.finetune.FineTune`): before each round the model takes ``steps`` AdamW steps on the
    valid designs so far, weighted by reward, anchored to the pretrained model; per-round checkpoints go to
    ``<run_dir>/finetune/`` (a resumed run continues from them). Defaults and bounds: the one table in
    :mod:`seqguide.design.finetune_settings`, which the dataclass reads too.

    Attributes:
        objective: ``rank`` (weighted retraining, weights 1/(k N + rank), centred), ``reward`` (reward-weighted
            ELBO, weights exp(z / alpha), centred) or ``augmented`` (REINVENT's augmented likelihood on the ELBO).
        steps: Optimizer steps per update.
        every: Update before every ``every``-th round only (1: every round); the cost falls by that factor.
        batch_size: Designs (and replay samples) per step.
        lr: Learning rate (no weight decay).
        clip: Gradient-norm clip.
        anchor: Weight of the KL anchor to the pretrained model (0: none).
        replay: Samples of the pretrained model the anchor is evaluated on (0: on the trained designs).
        rank_k: ``k`` of the rank weights.
        alpha: Temperature of the ``reward`` weights (standard deviations of the rewards).
        sigma: Reward scale of ``augmented`` (nats per standard deviation).
        min_labels: Valid designs needed before the first update.
        probe: Unguided samples drawn per update to report the fine-tuned model's validity and uniqueness (0: none).
        sample_steps: Reverse steps of the replay and probe samples (default: ``sampling.steps``).
    """


class ModelConfig(StrictConfig):
    """The generative model: a checkpoint file or a training spec (exactly one).

    Attributes:
        checkpoint: A ``MaskedDiffusion`` or ``GumbelSoftmaxFlow`` checkpoint (``.ckpt``, loaded with
            ``weights_only=True``; the class is read from the file).
        train: A training spec, run at the start of the campaign and cached in the run directory.
        alphabet: Optional check: the model's alphabet kind or name must match (``dna``, ``protein``, ...).
        length: Optional check: the model's sequence length must equal this.
        finetune: Fine-tune the model online between rounds (see :class:`FineTuneConfig`; default: off).
    """

    checkpoint: str | None = None
    train: TrainConfig | None = None
    alphabet: str | None = None
    length: PositiveInt | None = None
    finetune: FineTuneConfig | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if (self.checkpoint is None) == (self.train is None):
            raise ValueError("give exactly one of checkpoint (a trained model) or train (a training spec)")
        return self


class AnchorConfig(StrictConfig):
    """Proposals anchored on the best designs so far (:class:`seqguide.design.EliteInfill`, masked models only).

    Attributes:
        elites: How many of the best valid designs so far are parents.
        edits: ``[lo, hi]``: positions masked and refilled per child.
        window: Probability that a child's masked positions are one contiguous window.
        crossover: Probability that a child starts from a two-point crossover of two elites.
        min_labels: Valid designs needed before anchoring starts (earlier rounds sample from the prior).
        mutation: Probability that a child also gets one uniform random point mutation outside the masked positions.
        restart_after: Paid calls without a better design after which the population restarts from the prior.
        ties: Which of equal-valued designs stay elites: ``newest`` (drift along a plateau) or ``oldest``.
    """

    elites: PositiveInt = 32
    edits: tuple[PositiveInt, PositiveInt] = (1, 4)
    window: float = Field(0.5, ge=0.0, le=1.0)
    crossover: float = Field(0.2, ge=0.0, le=1.0)
    min_labels: PositiveInt = 1
    mutation: float = Field(0.0, ge=0.0, le=1.0)
    restart_after: PositiveInt | None = None
    ties: Literal["newest", "oldest"] = "newest"

    @model_validator(mode="after")
    def _ordered(self) -> AnchorConfig:
        if self.edits[0] > self.edits[1]:
            raise ValueError(f"edits must be [lo, hi] with lo <= hi, got {list(self.edits)}")
        return self


class SamplingConfig(StrictConfig):
    """How candidates are drawn.

    Attributes:
        steps: Reverse diffusion steps (default: the model's sequence length).
        batch_size: Samples per sampler chunk (default: a whole draw at once).
        cond: Class label for a class-conditional model (e.g. 1 = AMP for the ``amp`` preset).
        anchor: Refill masked copies of the elites instead of sampling from the prior once there are labels
            (guided infilling, LaMBO-2-style; see :class:`AnchorConfig`); these draws take ``anchor.edits[1]``
            reverse steps.
    """

    steps: PositiveInt | None = None
    batch_size: PositiveInt | None = None
    cond: NonNegativeInt | None = None
    anchor: AnchorConfig | None = None
