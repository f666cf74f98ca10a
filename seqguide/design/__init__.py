"""Design loops and YAML campaigns: schema, runner, SQLite store, reports.

* :mod:`~seqguide.design.schema` (a package, by section of the campaign file): the typed, strict campaign
  configuration (what the budget counts).
* :mod:`~seqguide.design.config_io`: YAML, ``quick:``, ``key=value`` overrides, interpolation, error messages.
* :mod:`~seqguide.design.objective`: weighted oracle components with hard constraints.
* :mod:`~seqguide.design.store` (a package): the SQLite (WAL) store of runs, rounds, designs and the oracle-call
  ledger, the records it reads and writes (:class:`DesignRecord`, :class:`RoundRecord`) and its SQL schema.
* :mod:`~seqguide.design.lock`: one writer per run directory (:class:`RunLock`).
* :mod:`~seqguide.design.interrupts`: SIGTERM / Ctrl-C stop at the next item boundary (:class:`GracefulStop`).
* :mod:`~seqguide.design.loop`: :class:`DesignLoop` (propose, evaluate, step, best, history) and the hooks of
  its :class:`LoopObserver`.
* :mod:`~seqguide.design.loop_types`: what the loop passes around (:class:`LoopState`, :class:`GuidancePlan`,
  :class:`Proposal`, :func:`derive_seed`).
* :mod:`~seqguide.design.candidates` and :mod:`~seqguide.design.round_memory`: how the loop fills a round's
  candidate list, and what it remembers of the finished rounds (their keys, elites, feasibility filter).
* :mod:`~seqguide.design.feasibility`: :class:`~seqguide.design.feasibility.PairFeasibility` (a learned filter).
* :mod:`~seqguide.design.anchoring`: :class:`EliteInfill` (proposals anchored on the best designs so far).
* :mod:`~seqguide.design.finetune` and :mod:`~seqguide.design.finetune_losses`: :class:`FineTune` (the generator
  fine-tuned online between rounds on the designs paid so far) and its objectives.
* :mod:`~seqguide.design.guidance_stack` and :mod:`~seqguide.design.model_source`: a campaign's guidance stack
  and value sources each round, and its generative model (a checkpoint, or trained once and cached).
* :mod:`~seqguide.design.campaign`: :class:`Campaign` (a YAML campaign end to end, with resume);
  :mod:`~seqguide.design.console`: its live display.
* :mod:`~seqguide.design.report` (a package): tables and figures of a run, from the store alone.
* :mod:`~seqguide.design.cli`: ``seqguide design run|validate`` and ``seqguide report``.

Example:
    >>> from seqguide.design import Campaign, write_report
    >>> result = Campaign.from_yaml("configs/campaigns/dna_motif.yaml", quick=True).run()   # doctest: +SKIP
    >>> write_report(result.run_dir).files                                                  # doctest: +SKIP
"""

from seqguide.design.anchoring import EliteInfill
from seqguide.design.campaign import Campaign, CampaignError, CampaignResult
from seqguide.design.config_io import ConfigError, LoadedCampaign, load_campaign
from seqguide.design.finetune import FineTune
from seqguide.design.interrupts import GracefulStop, Interrupted
from seqguide.design.lock import LockError, RunLock
from seqguide.design.loop import DesignLoop, LoopObserver
from seqguide.design.loop_types import GuidancePlan, LoopState, Proposal, derive_seed
from seqguide.design.objective import Component, Evaluation, Objective, build_objective
from seqguide.design.report import Report, write_report
from seqguide.design.report.run_data import load_run
from seqguide.design.schema import CampaignConfig
from seqguide.design.store import DesignStore, StoreError
from seqguide.design.store.records import DesignRecord, RoundRecord

__all__ = [
    "Campaign",
    "CampaignConfig",
    "CampaignError",
    "CampaignResult",
    "Component",
    "ConfigError",
    "DesignLoop",
    "DesignRecord",
    "DesignStore",
    "EliteInfill",
    "Evaluation",
    "FineTune",
    "GracefulStop",
    "GuidancePlan",
    "Interrupted",
    "LoadedCampaign",
    "LockError",
    "LoopObserver",
    "LoopState",
    "Objective",
    "Proposal",
    "Report",
    "RoundRecord",
    "RunLock",
    "StoreError",
    "build_objective",
    "derive_seed",
    "load_campaign",
    "load_run",
    "write_report",
]
