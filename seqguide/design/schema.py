"""The campaign schema: typed, strict configuration objects for a YAML design campaign.

A campaign file is validated into :class:`CampaignConfig` (pydantic v2, ``extra="forbid"``: an unknown or
misspelled key is an error, never silently ignored). Reading the file, interpolation, command-line
overrides and error formatting live in :mod:`seqguide.design.config_io`; this module only says what a
valid campaign is.

Top-level keys::

    name:        run name (default: the file name without .yaml); the run lives in runs/campaigns/<name>/
    description: free text, stored with the run
    seed:        the campaign seed; every random choice of the run is derived from it
    run_dir:     where the run writes (default runs/campaigns/<name>); relative paths are relative to
                 the working directory
    store:       the SQLite store (default <run_dir>/campaign.sqlite)
    model:       a trained checkpoint, or a training spec (data + backbone + steps) trained at the start of
                 the run and cached in <run_dir>/model/ (a resumed run never retrains)
    sampling:    reverse steps, batch size and class label used to draw candidates; ``anchor`` refills masked
                 copies of the best designs so far instead of sampling the prior (EliteInfill)
    objective:   the "assay": oracles with weights, how they combine, hard constraints
    guidance:    the guidance stack: registered guiders (``seqguide guiders list``) with their arguments and
                 value sources (``value: oracle | surrogate | value_model``)
    loop:        rounds, new designs per round, the oracle budget, scoring batch size, the learned pair-feasibility
                 filter (``feasibility``)
    surrogate:   the ensemble surrogate retrained each round (used by guiders with value: surrogate)
    value_model: the learned SVDD-MC value model (used by guiders with value: value_model)
    report:      report options (top-k)
    devices:     where it computes (device auto|cpu|cuda[:N]|mps, training precision, gradient accumulation);
                 the resolved device is recorded with the run's model and may change on --resume
    quick:       overrides applied by --quick (consumed when the file is read, see config_io)

Every number meant to be finite is: NaN and +-inf are refused for every float key (the base model sets
pydantic's ``allow_inf_nan=False``) and anywhere inside an oracle's free-form ``args``, with the key path
(a NaN bound would silently switch a hard constraint off; a NaN weight would make every design invalid
while the budget is spent).

**What the budget counts.** ``loop.budget`` is the number of real calls to the campaign objective's oracles
(the "assay"): every design sent is charged, whether it comes back valid or not. The store's ledger
(``oracle_calls``) records each design, committed, just before it is sent; its result is committed the moment
the oracle returns it (item by item for oracles that stream: an ``external`` tool with ``batch_size``, a
``Parallel`` pool). Candidates already in the store are dropped before scoring, so a stored design is never
sent again, and a resumed run reads what was paid from the ledger. A process killed while items are in flight
loses only their results; the resumed run sends those items again, and these *re-paid* calls are real calls:
charged to the budget and shown in the report (so with a binding budget a killed run ends with fewer designs
than an uninterrupted one). A SIGKILL landing in the instant between recording a call and sending it charges a
call the oracle never received (never the reverse). SIGTERM and Ctrl-C stop at the next item boundary:
nothing in flight is lost and the run stays resumable. Designs rejected by a
hard constraint are stored (invalid, with the reason) but are not charged: constraints are cheap local
checks run before the assay. A design whose evaluation failed transiently (a timeout, a crashed external
tool) is stored invalid with ``transient = 1`` and stays charged; it is not retried automatically.
"Unique" is by design key: the sequence, or for SELFIES the canonical SMILES of the molecule. Look-ahead
and best-of-N evaluations of the true objective made by guidance (``value: oracle``) are charged too: each real
call once (they are memoised in the store), counted per round in ``guidance_charged`` (``guidance_oracle_calls``
counts every item sent, memo hits included); the designs of a round are then scored with what is left, so a
round's look-ahead can take the budget past its end by at most that round's look-ahead calls.
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from seqguide.guidance.registry import GuiderSpec, raise_problems, validate_mapping, validate_stack

__all__ = [
    "CAMPAIGN_SOURCES",
    "AnchorConfig",
    "BackboneConfig",
    "CampaignConfig",
    "ConstraintSpec",
    "ConvBackboneConfig",
    "DataConfig",
    "DeviceConfig",
    "FlowConfig",
    "GuidanceEntry",
    "LoopConfig",
    "ModelConfig",
    "ObjectiveConfig",
    "OracleSpec",
    "ReportConfig",
    "SamplingConfig",
    "SurrogateConfig",
    "TrainConfig",
    "TransformerBackboneConfig",
    "ValueModelConfig",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class _Strict(BaseModel):
    """Base: unknown keys are errors; defaults are validated too; float keys must be finite numbers."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


def _finite_tree(value: Any, path: str = "") -> Any:
    """Refuse NaN/+-inf anywhere inside plain data (free-form ``args``), naming the key path below it."""
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("non_finite", "Input should be a finite number (got {value})",
                                  {"subpath": path, "value": repr(value)})
    if isinstance(value, dict):
        for k, v in value.items():
            _finite_tree(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _finite_tree(v, f"{path}[{i}]")
    return value


#: Keyword arguments of an oracle: free-form plain data, every number finite.
OracleArgs = Annotated[dict[str, Any], AfterValidator(_finite_tree)]


# ------------------------------------------------------------------------------------------------ model
class DataConfig(_Strict):
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


class TransformerBackboneConfig(_Strict):
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


class ConvBackboneConfig(_Strict):
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


class FlowConfig(_Strict):
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


class TrainConfig(_Strict):
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


class ModelConfig(_Strict):
    """The generative model: a checkpoint file or a training spec (exactly one).

    Attributes:
        checkpoint: A ``MaskedDiffusion`` or ``GumbelSoftmaxFlow`` checkpoint (``.ckpt``, loaded with
            ``weights_only=True``; the class is read from the file).
        train: A training spec, run at the start of the campaign and cached in the run directory.
        alphabet: Optional check: the model's alphabet kind or name must match (``dna``, ``protein``, ...).
        length: Optional check: the model's sequence length must equal this.
    """

    checkpoint: str | None = None
    train: TrainConfig | None = None
    alphabet: str | None = None
    length: PositiveInt | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ModelConfig:
        if (self.checkpoint is None) == (self.train is None):
            raise ValueError("give exactly one of checkpoint (a trained model) or train (a training spec)")
        return self


class AnchorConfig(_Strict):
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


class SamplingConfig(_Strict):
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


# -------------------------------------------------------------------------------------------- objective
def _known_oracle(name: str) -> str:
    from oracles import list_oracles

    available = list_oracles()
    if name not in available:
        raise ValueError(f"unknown oracle {name!r} (available: {', '.join(available)})")
    return name


class OracleSpec(_Strict):
    """One objective component.

    Attributes:
        name: A registered oracle (``seqguide oracles list``).
        args: Keyword arguments of the oracle.
        weight: Weight in the combination; 0 records the value without optimising it.
        label: Column name in the store and reports (default: the name, made unique).
    """

    name: str
    args: OracleArgs = Field(default_factory=dict)
    weight: float = 1.0
    label: str | None = None

    @field_validator("name")
    @classmethod
    def _registered(cls, v: str) -> str:
        return _known_oracle(v)


class ConstraintSpec(_Strict):
    """A hard constraint: ``lower <= oracle(x) <= upper``, checked before the (paid) objective.

    When neither bound is given the oracle's own ``default_bounds`` apply (``restriction_sites``,
    ``homopolymer``, ``pains``, ``brenk``: zero sites / runs above the limit / alerts).
    """

    name: str
    args: OracleArgs = Field(default_factory=dict)
    lower: float | None = None
    upper: float | None = None
    label: str | None = None

    @field_validator("name")
    @classmethod
    def _registered(cls, v: str) -> str:
        return _known_oracle(v)

    @model_validator(mode="after")
    def _ordered(self) -> ConstraintSpec:
        if self.lower is not None and self.upper is not None and self.lower > self.upper:
            raise ValueError(f"lower={self.lower:g} is greater than upper={self.upper:g}")
        return self


class ObjectiveConfig(_Strict):
    """The campaign objective (the "assay" that the budget pays for).

    Attributes:
        oracles: The components; each component's value is stored, and their combination is the objective.
        combine: ``sum`` (``sum w_i v_i``), ``product`` (``prod v_i ** w_i``) or ``geometric``
            (``prod v_i ** (w_i / sum w)``, for desirabilities in [0, 1]); weight-0 components are left out.
        constraints: Hard constraints; a violating design is stored as invalid with the reason, uncharged.
        maximize: Direction of the combined objective.
    """

    oracles: list[OracleSpec] = Field(min_length=1)
    combine: Literal["sum", "product", "geometric"] = "sum"
    constraints: list[ConstraintSpec] = Field(default_factory=list)
    maximize: bool = True

    @model_validator(mode="after")
    def _some_weight(self) -> ObjectiveConfig:
        if all(o.weight == 0 for o in self.oracles):
            raise ValueError("every objective oracle has weight 0; give at least one a non-zero weight")
        if self.combine == "geometric" and any(o.weight < 0 for o in self.oracles):
            raise ValueError("combine: geometric needs non-negative weights")
        return self


# --------------------------------------------------------------------------------------------- guidance
#: The value sources a campaign resolves for guiders' resource parameters (``value: surrogate``, ...):
#: ``oracle`` (the objective itself on the model's look-ahead; memoised, counted per round as guidance oracle
#: calls), ``surrogate`` (an ensemble retrained on all labels so far at the start of every round; round 0, or too
#: few labels, samples unguided) or ``value_model`` (the SVDD-MC learned value model).
CAMPAIGN_SOURCES = ("oracle", "surrogate", "value_model")


def _guider(value: Any, handler: Any) -> GuiderSpec:
    """One ``guidance`` entry, validated by the guider registry against the guider's own constructor."""
    spec = validate_mapping(value)
    foreign = [((param,), f"{spec.method} takes its {param} from {source!r}, which campaigns do not provide "
                          f"(campaign sources: {', '.join(CAMPAIGN_SOURCES)})")
               for param, source in spec.sources().items() if source not in CAMPAIGN_SOURCES]
    foreign += [(("method",), f"{spec.method} needs a {param} object that only Python code can pass (use it through "
                              "seqguide.guidance.build_guider in a script)") for param in spec.info.python_resources]
    if foreign:
        raise_problems(foreign, value)
    return spec


#: One guidance entry: ``{method: <registered name or class path>, <resource>: <source>, <argument>: <value>}``.
#: Its keys, types and defaults are the guider constructor's (``seqguide guiders show NAME``).
GuidanceEntry = Annotated[Any, WrapValidator(_guider)]


# ----------------------------------------------------------------------------------------- loop & co.
class LoopConfig(_Strict):
    """The design loop.

    Attributes:
        rounds: Number of rounds (sample, dedupe, score, store, retrain).
        candidates: New unique designs sent to the objective per round (fewer in the last round if the budget
            runs out). Sampled designs that fail a hard constraint do not count: they are stored as rejected
            (uncharged) and sampling continues, up to ``max_draws`` draws.
        budget: Total real calls to the objective: unique designs scored and the look-ahead calls of guidance
            with ``value: oracle`` (default ``rounds * candidates``, which leaves nothing for a look-ahead: set it
            when a guider takes ``value: oracle``); see the module docstring for exactly what is charged.
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


class SurrogateConfig(_Strict):
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


class ValueModelConfig(_Strict):
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


class ReportConfig(_Strict):
    """Report options. ``top_k``: designs in the top table and the logo / molecule grid."""

    top_k: PositiveInt = 20


class DeviceConfig(_Strict):
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


class CampaignConfig(_Strict):
    """A whole campaign (see the module docstring for every key)."""

    name: str
    description: str = ""
    seed: int = Field(0, ge=0, lt=2**32)
    run_dir: str | None = None
    store: str | None = None
    model: ModelConfig
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    objective: ObjectiveConfig
    guidance: list[GuidanceEntry] = Field(default_factory=list)
    loop: LoopConfig = Field(default_factory=LoopConfig)
    surrogate: SurrogateConfig = Field(default_factory=SurrogateConfig)
    value_model: ValueModelConfig = Field(default_factory=ValueModelConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    devices: DeviceConfig = Field(default_factory=DeviceConfig)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(f"name must be letters, digits, '_', '.' or '-' (it names a directory), got {v!r}")
        return v

    @field_validator("guidance")
    @classmethod
    def _runnable_stack(cls, v: list[GuiderSpec]) -> list[GuiderSpec]:
        problems = validate_stack(v)
        if problems:
            raise_problems([((), m) for _, m in problems], v)
        return v

    @property
    def budget(self) -> int:
        """The oracle budget: ``loop.budget`` or ``rounds * candidates``."""
        return self.loop.budget if self.loop.budget is not None else self.loop.rounds * self.loop.candidates

    def value_sources(self) -> set[str]:
        """The value sources the guidance stack uses (``oracle``, ``surrogate``, ``value_model``)."""
        return {source for g in self.guidance for source in g.sources().values()}
