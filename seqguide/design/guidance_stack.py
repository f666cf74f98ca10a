"""Build a campaign's guidance stack each round, with the value source each guider asks for.

Value sources (``guidance[i].value``):

* ``oracle``: the campaign objective itself, applied to the model's look-ahead (SVDD-PM style). Its calls
  are *not* charged to the budget; they are memoised in the store file (table ``oracle_cache``) and
  counted per round in ``rounds.guidance_oracle_calls``.
* ``surrogate``: an :class:`oracles.Surrogate` ensemble fitted on every valid label of the earlier rounds
  (the combined objective; with ``surrogate.invalid_value`` also the designs the objective found invalid,
  labelled with that value), with a seed derived from (campaign seed, round). Each round's surrogate is saved
  under ``<run_dir>/surrogates/round_NNN/``, so a resumed run loads it instead of refitting. Round 0, or
  any round with fewer than ``surrogate.min_labels`` labels, samples **unguided** (the objective may be
  expensive, so it is never used as a fallback look-ahead).
* ``value_model``: the SVDD-MC learned value model (:func:`seqguide.guidance.fit_value_model` on the
  labels so far, used as :class:`seqguide.guidance.LearnedValue` with network values only, so guidance makes
  no objective calls); saved under ``<run_dir>/value_models/round_NNN/``; same fallback rules.
"""

from __future__ import annotations

import importlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from oracles import Cached, Oracle
from seqguide.design.loop import GuidancePlan, LoopState, Purpose, derive_seed
from seqguide.design.objective import Objective
from seqguide.design.schema import (
    BeamConfig,
    BestOfNConfig,
    GuidanceConfig,
    SMCConfig,
    STGFlowConfig,
    SurrogateConfig,
    SVDDConfig,
    ValueModelConfig,
)
from seqguide.guidance import SMC, SVDD, BeamSearch, BestOfN, Guider, STGFlow

__all__ = ["CampaignGuidance", "make_guider", "value_model_available"]

_VALUE_MODEL_MODULE = "seqguide.guidance.value_model"


def make_guider(config: GuidanceConfig, value: Any) -> Guider:
    """The guider a config entry describes, with ``value`` (an Oracle or a ValueFunction)."""
    if isinstance(config, SVDDConfig):
        return SVDD(value, particles=config.particles, alpha=config.alpha, start=config.start, stop=config.stop)
    if isinstance(config, SMCConfig):
        return SMC(value, particles=config.particles, lam=config.lam, potential=config.potential,
                   resample_every=config.resample_every, ess_threshold=config.ess_threshold, output=config.output,
                   start=config.start, stop=config.stop)
    if isinstance(config, BestOfNConfig):
        return BestOfN(value, n=config.n)
    if isinstance(config, BeamConfig):
        return BeamSearch(value, beams=config.beams, expand=config.expand)
    if isinstance(config, STGFlowConfig):  # temporary (issue 11) until the guider registry builds guiders
        return STGFlow(value, scale=config.scale, particles=config.particles, source=config.source,
                       start=config.start, stop=config.stop)
    raise TypeError(f"unknown guidance config {type(config).__name__}")


def value_model_available() -> bool:
    """True if ``seqguide.guidance.value_model`` with ``fit_value_model`` can be imported."""
    try:
        module = importlib.import_module(_VALUE_MODEL_MODULE)
    except ImportError:
        return False
    return hasattr(module, "fit_value_model")


def _atomic_dir(final: Path) -> Path:
    """A fresh ``<final>.partial`` directory to write into before renaming it to ``final``."""
    partial = final.with_name(final.name + ".partial")
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    return partial


class CampaignGuidance:
    """The guidance factory of a campaign (see the module docstring).

    Args:
        configs: The ``guidance`` entries.
        objective: The campaign objective (the ``oracle`` value source).
        model: The generative model (its alphabet is the surrogate's).
        run_dir: Where per-round value models are saved.
        store_path: The store file (look-ahead cache); None keeps the cache in memory.
        surrogate: Surrogate settings.
        value_model: Value-model settings.
        progress: Show fitting progress.
    """

    def __init__(self, configs: list[Any], objective: Objective, model: Any, *, run_dir: Path,
                 store_path: Path | None, surrogate: SurrogateConfig, value_model: ValueModelConfig,
                 progress: bool = False) -> None:
        self.configs = list(configs)
        self.objective = objective
        self.model = model
        self.run_dir = Path(run_dir)
        self.surrogate_config = surrogate
        self.value_model_config = value_model
        self.progress = progress
        self._lookahead: Oracle | None = None
        self._store_path = store_path
        sources = {c.value for c in self.configs}
        if "value_model" in sources and not value_model_available():
            raise ValueError(f"guidance value 'value_model' needs {_VALUE_MODEL_MODULE}.fit_value_model, which this "
                             "installation does not have; use value: surrogate or value: oracle")

    # ----------------------------------------------------------------------------- sources
    def lookahead(self) -> Oracle:
        """The objective memoised for look-ahead calls (not charged to the budget)."""
        if self._lookahead is None:
            self._lookahead = Cached(self.objective, path=self._store_path,
                                     namespace=f"guidance-lookahead:{self.objective!r}")
        return self._lookahead

    def close(self) -> None:
        """Close the look-ahead cache's connection to the store file."""
        if self._lookahead is not None:
            self._lookahead.close()

    def _surrogate(self, state: LoopState) -> tuple[Any, str]:
        from oracles import Surrogate

        cfg = self.surrogate_config
        train = [(d.sequence, float(d.objective)) for d in state.labels]
        if cfg.invalid_value is not None:
            train += [(d.sequence, float(cfg.invalid_value)) for d in state.failed]
            train.sort(key=lambda p: p[0])  # a fixed order whatever the scoring order
        if len(train) < cfg.min_labels:
            return None, f"unguided ({len(train)} labels < surrogate.min_labels={cfg.min_labels})"
        final = self.run_dir / "surrogates" / f"round_{state.round:03d}"
        file = final / "surrogate.safetensors"
        if not file.is_file():
            seqs = [s for s, _ in train]
            values = [v for _, v in train]
            s = Surrogate(self.model.alphabet, members=cfg.members, channels=cfg.channels,
                          kernel_size=cfg.kernel_size, layers=cfg.layers, lr=cfg.lr,
                          name=f"surrogate_r{state.round}", maximize=self.objective.maximize)
            s.fit(seqs, values, epochs=cfg.epochs, seed=derive_seed(state.seed, Purpose.SURROGATE) % 2**31,
                  verbose=self.progress)
            partial = _atomic_dir(final)
            s.save(partial / "surrogate.safetensors")
            if final.exists():
                shutil.rmtree(final)
            os.replace(partial, final)
        # Always the saved copy: a fresh and a resumed run then guide with identical weights.
        return Surrogate.load(file), f"{file.relative_to(self.run_dir)} ({len(train)} labels)"

    def _value_model(self, state: LoopState) -> tuple[Any, str]:
        from seqguide.guidance.value_model import LearnedValue, ValueModel, fit_value_model

        cfg = self.value_model_config
        labels = state.labels
        if len(labels) < cfg.min_labels:
            return None, f"unguided ({len(labels)} labels < value_model.min_labels={cfg.min_labels})"
        final = self.run_dir / "value_models" / f"round_{state.round:03d}"
        file = final / "value_model.ckpt"
        if not file.is_file():
            vm = fit_value_model(
                self.model, sequences=[d.sequence for d in labels], rewards=[float(d.objective) for d in labels],
                max_steps=cfg.max_steps, batch_size=cfg.batch_size, lr=cfg.lr, val_fraction=cfg.val_fraction,
                pooling=cfg.pooling, loss=cfg.loss, maximize=self.objective.maximize,
                seed=derive_seed(state.seed, Purpose.VALUE_MODEL) % 2**31, progress=self.progress,
                accelerator="cpu")
            partial = _atomic_dir(final)
            vm.save(partial / "value_model.ckpt")
            if final.exists():
                shutil.rmtree(final)
            os.replace(partial, final)
        # Network values only (oracle=None): guidance with a value model makes no objective calls.
        return LearnedValue(ValueModel.load(file)), f"{file.relative_to(self.run_dir)} ({len(labels)} labels)"

    # ----------------------------------------------------------------------------- factory
    def __call__(self, state: LoopState) -> GuidancePlan:
        """The guidance plan of a round: build each guider with its value, or leave it out (unguided)."""
        start = time.perf_counter()
        cache: dict[str, tuple[Any, str]] = {}
        guiders: list[Guider] = []
        notes: list[str] = []
        for cfg in self.configs:
            if cfg.value not in cache:
                if cfg.value == "oracle":
                    cache[cfg.value] = (self.lookahead(), "objective look-ahead")
                elif cfg.value == "surrogate":
                    cache[cfg.value] = self._surrogate(state)
                else:
                    cache[cfg.value] = self._value_model(state)
            value, note = cache[cfg.value]
            if note not in notes:
                notes.append(note)
            if value is not None:
                guiders.append(make_guider(cfg, value))
        sources = sorted(cache) or ["none"]
        return GuidancePlan(guiders, "+".join(sources), "; ".join(notes) or None, time.perf_counter() - start)
