"""The campaign schema: typed, strict configuration objects for a YAML design campaign.

A campaign file is validated into :class:`CampaignConfig` (pydantic v2, ``extra="forbid"``: an unknown or
misspelled key is an error, never silently ignored). Reading the file, interpolation, command-line
overrides and error formatting live in :mod:`seqguide.design.config_io`; this module only says what a
valid campaign is. Its sections are in :mod:`.model` (``model``, ``sampling``), :mod:`.objective`, :mod:`.data`,
:mod:`.guidance` and :mod:`.loop` (``loop``, ``surrogate``, ``value_model``, ``report``, ``devices``), on the
strict base of :mod:`.base`; :mod:`.campaign` holds the top level (:class:`CampaignConfig`).
Every name is importable from here.

Top-level keys::

    name:        run name (default: the file name without .yaml); the run lives in runs/campaigns/<name>/
    description: free text, stored with the run
    seed:        the campaign seed; every random choice of the run is derived from it
    run_dir:     where the run writes (default runs/campaigns/<name>); relative paths are relative to
                 the working directory
    store:       the SQLite store (default <run_dir>/campaign.sqlite)
    model:       a trained checkpoint, or a training spec (data + backbone + steps) trained at the start of
                 the run and cached in <run_dir>/model/ (a resumed run never retrains); ``finetune`` fine-tunes
                 it online between rounds on the designs paid so far (checkpoints in <run_dir>/finetune/)
    sampling:    reverse steps, batch size and class label used to draw candidates; ``anchor`` refills masked
                 copies of the best designs so far instead of sampling the prior (EliteInfill)
    objective:   the "assay": oracles with weights, how they combine, hard constraints
    data:        ``initial``: a labelled file (CSV/FASTA with measured values) imported as round 0, never charged
                 to the budget; the paid rounds learn from it like from paid designs
    guidance:    the guidance stack: registered guiders (``seqguide guiders list``) with their arguments and
                 value sources (``value: oracle | surrogate | value_model``)
    loop:        rounds, new designs per round, the oracle budget, scoring batch size, the learned pair-feasibility
                 filter (``feasibility``)
    surrogate:   the ensemble surrogate retrained each round (used by guiders with value: surrogate)
    value_model: the learned SVDD-MC value model (used by guiders with value: value_model)
    report:      report options (top-k)
    devices:     where it computes (device auto|cpu|cuda[:N]|mps, training precision, gradient accumulation);
                 the resolved device is recorded with the run's model and may change on --resume
    loggers:     experiment trackers each round's metrics go to (default [csv]; tensorboard, mlflow, wandb offline
                 when installed; a name or {name: ..., args: {...}}), under <run_dir>/logs/; may change on --resume
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

from seqguide.design.schema.campaign import CampaignConfig
from seqguide.design.schema.data import DataSection, InitialDataConfig
from seqguide.design.schema.guidance import CAMPAIGN_SOURCES, GuidanceEntry
from seqguide.design.schema.loop import (
    DeviceConfig,
    LoggerSpec,
    LoopConfig,
    ReportConfig,
    SurrogateConfig,
    ValueModelConfig,
)
from seqguide.design.schema.model import (
    AnchorConfig,
    BackboneConfig,
    ConvBackboneConfig,
    DataConfig,
    FineTuneConfig,
    FlowConfig,
    ModelConfig,
    SamplingConfig,
    TrainConfig,
    TransformerBackboneConfig,
)
from seqguide.design.schema.objective import ConstraintSpec, ObjectiveConfig, OracleSpec

__all__ = [
    "CAMPAIGN_SOURCES",
    "AnchorConfig",
    "BackboneConfig",
    "CampaignConfig",
    "ConstraintSpec",
    "ConvBackboneConfig",
    "DataConfig",
    "DataSection",
    "DeviceConfig",
    "FineTuneConfig",
    "FlowConfig",
    "GuidanceEntry",
    "InitialDataConfig",
    "LoggerSpec",
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
