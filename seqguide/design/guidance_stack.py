"""Build a campaign's guidance stack each round, with the value source each guider asks for.

Every guider comes from the guider registry (:mod:`seqguide.guidance.registry`): the campaign validated each
``guidance`` entry against the guider's constructor, and here each *resource* parameter of it (``value`` for
SVDD, SMC, best-of-N and beam search; whatever a guider lists in its ``resources``) is given the object its
source resolves to for the round. Sources:

* ``oracle``: the campaign objective itself, applied to the model's look-ahead (SVDD-PM style, and best-of-N
  or beam search scoring their candidates). Its real calls are charged to the budget like the designs': they
  are memoised in the store file (table ``oracle_cache``), every memo entry is one paid call
  (:meth:`CampaignGuidance.lookahead_calls`, crash-safe because the memo is), the items sent (hits included)
  are counted per round in ``rounds.guidance_oracle_calls`` and the paid ones in ``rounds.guidance_charged``.
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
from seqguide.design.schema import SurrogateConfig, ValueModelConfig
from seqguide.guidance import Guider
from seqguide.guidance.registry import GuiderSpec
from seqguide.models.devices import lightning_accelerator, resolve_device

__all__ = ["CampaignGuidance", "value_model_available"]

_VALUE_MODEL_MODULE = "seqguide.guidance.value.fit"


def value_model_available() -> bool:
    """True if ``seqguide.guidance.value.fit`` with ``fit_value_model`` can be imported."""
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
        configs: The ``guidance`` entries (validated guider specs).
        objective: The campaign objective (the ``oracle`` value source).
        model: The generative model (its alphabet is the surrogate's).
        run_dir: Where per-round value models are saved.
        store_path: The store file (look-ahead cache); None keeps the cache in memory.
        surrogate: Surrogate settings.
        value_model: Value-model settings.
        progress: Show fitting progress.
    """

    def __init__(self, configs: list[GuiderSpec], objective: Objective, model: Any, *, run_dir: Path,
                 store_path: Path | None, surrogate: SurrogateConfig, value_model: ValueModelConfig,
                 progress: bool = False, device: str = "auto") -> None:
        self.configs = list(configs)
        self.device = device
        self.objective = objective
        self.model = model
        self.run_dir = Path(run_dir)
        self.surrogate_config = surrogate
        self.value_model_config = value_model
        self.progress = progress
        self._lookahead: Oracle | None = None
        self._store_path = store_path
        sources = {src for c in self.configs for src in c.sources().values()}
        if "value_model" in sources and not value_model_available():
            raise ValueError(f"guidance value 'value_model' needs {_VALUE_MODEL_MODULE}.fit_value_model, which this "
                             "installation does not have; use value: surrogate or value: oracle")

    # ----------------------------------------------------------------------------- sources
    @property
    def uses_objective(self) -> bool:
        """Whether a guider takes ``value: oracle`` (the true objective), whose calls the budget pays."""
        return any(src == "oracle" for c in self.configs for src in c.sources().values())

    def lookahead_calls(self) -> int:
        """Real objective calls the look-ahead has made in this run so far (its memo entries)."""
        return len(self.lookahead()) if self.uses_objective else 0

    def lookahead(self) -> Oracle:
        """The objective memoised for look-ahead calls (each entry is one paid call, see the module docstring)."""
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
            previous = self._previous_surrogate(state.round) if cfg.warm_start else None
            if previous is not None:  # continue from the last round's weights
                s = Surrogate.load(previous, device=resolve_device(self.device))
                s.name = f"surrogate_r{state.round}"
                epochs = cfg.warm_epochs or cfg.epochs
            else:
                s = Surrogate(self.model.alphabet, members=cfg.members, channels=cfg.channels,
                              kernel_size=cfg.kernel_size, layers=cfg.layers, lr=cfg.lr,
                              name=f"surrogate_r{state.round}", maximize=self.objective.maximize,
                              device=resolve_device(self.device))
                epochs = cfg.epochs
            s.fit(seqs, values, epochs=epochs, seed=derive_seed(state.seed, Purpose.SURROGATE) % 2**31,
                  verbose=self.progress, accelerator=lightning_accelerator(self.device),
                  warm_start=previous is not None)
            partial = _atomic_dir(final)
            s.save(partial / "surrogate.safetensors")
            if final.exists():
                shutil.rmtree(final)
            os.replace(partial, final)
        # Always the saved copy: a fresh and a resumed run then guide with identical weights.
        surrogate = Surrogate.load(file, device=resolve_device(self.device))
        return surrogate, f"{file.relative_to(self.run_dir)} ({len(train)} labels)"

    def _previous_surrogate(self, round: int) -> Path | None:
        """The saved surrogate of the latest earlier round (warm starts continue from it)."""
        for r in range(round - 1, -1, -1):
            file = self.run_dir / "surrogates" / f"round_{r:03d}" / "surrogate.safetensors"
            if file.is_file():
                return file
        return None

    def _value_model(self, state: LoopState) -> tuple[Any, str]:
        from seqguide.guidance.value.fit import fit_value_model
        from seqguide.guidance.value.learned import LearnedValue
        from seqguide.guidance.value.model import ValueModel

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
                accelerator=lightning_accelerator(self.device))
            partial = _atomic_dir(final)
            vm.save(partial / "value_model.ckpt")
            if final.exists():
                shutil.rmtree(final)
            os.replace(partial, final)
        # Network values only (oracle=None): guidance with a value model makes no objective calls.
        return LearnedValue(ValueModel.load(file, map_location=resolve_device(self.device))), \
            f"{file.relative_to(self.run_dir)} ({len(labels)} labels)"

    # ----------------------------------------------------------------------------- factory
    def _resolve(self, source: str, state: LoopState) -> tuple[Any, str]:
        if source == "oracle":
            return self.lookahead(), "objective look-ahead"
        if source == "surrogate":
            return self._surrogate(state)
        if source == "value_model":
            return self._value_model(state)
        raise ValueError(f"campaigns cannot provide the guidance source {source!r}")

    def __call__(self, state: LoopState) -> GuidancePlan:
        """The guidance plan of a round: build each guider with its resources, or leave it out (unguided) while a
        source has nothing to offer yet (a surrogate or value model before enough labels)."""
        start = time.perf_counter()
        cache: dict[str, tuple[Any, str]] = {}
        guiders: list[Guider] = []
        notes: list[str] = []
        for spec in self.configs:
            resources: dict[str, Any] = {}
            for param, source in spec.sources().items():
                if source not in cache:
                    cache[source] = self._resolve(source, state)
                value, note = cache[source]
                if note not in notes:
                    notes.append(note)
                resources[param] = value
            if all(v is not None for v in resources.values()):
                guiders.append(spec.build(resources))
        sources = sorted(cache) or ["none"]
        predict = None
        surrogate = cache.get("surrogate", (None, ""))[0]
        if surrogate is not None and guiders:  # the surrogate's ranking of the round is checked after scoring
            predict = _ensemble_mean(surrogate)
        return GuidancePlan(guiders, "+".join(sources), "; ".join(notes) or None, time.perf_counter() - start,
                            predict=predict)


def _ensemble_mean(surrogate: Any) -> Any:
    def predict(sequences: Any) -> Any:
        return surrogate.predict(list(sequences))[0]

    return predict
