"""Module paths that moved when the package was laid out by family (guidance subpackages, ``seqguide.training``).

Code written against an old path (``from seqguide.guidance.svdd import SVDD``, a campaign's
``method: seqguide.guidance.svdd:SVDD``) keeps working: importing an old path returns the module at its new path
and warns once with a :class:`DeprecationWarning` that names it. The public names never moved
(``from seqguide.guidance import SVDD``); this table is only for module paths, and goes in a later release.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType

__all__ = ["MOVED", "install"]

_G = "seqguide.guidance"

#: Old module path -> where it lives now.
MOVED: dict[str, str] = {
    f"{_G}.adaptive_guidance": f"{_G}.cfg.adaptive_guidance",
    f"{_G}.apg": f"{_G}.cfg.apg",
    f"{_G}.cfg_common": f"{_G}.cfg.common",
    f"{_G}.cfg_ctrl": f"{_G}.cfg.cfg_ctrl",
    f"{_G}.cfg_plus_plus": f"{_G}.cfg.cfg_plus_plus",
    f"{_G}.cfg_zero_star": f"{_G}.cfg.cfg_zero_star",
    f"{_G}.classifier_guidance": f"{_G}.cfg.classifier_guidance",
    f"{_G}.dynamic_cfg": f"{_G}.cfg.dynamic_cfg",
    f"{_G}.fdg": f"{_G}.cfg.fdg",
    f"{_G}.guidance_interval": f"{_G}.cfg.guidance_interval",
    f"{_G}.linear_ag": f"{_G}.cfg.linear_ag",
    f"{_G}.raag": f"{_G}.cfg.raag",
    f"{_G}.aps": f"{_G}.posterior.aps",
    f"{_G}.measurement": f"{_G}.posterior.measurement",
    f"{_G}.measurement_value": f"{_G}.posterior.measurement_value",
    f"{_G}.reward_guidance": f"{_G}.posterior.reward_guidance",
    f"{_G}.reward_measurement": f"{_G}.posterior.reward_measurement",
    f"{_G}.classifier_discrete": f"{_G}.discrete.classifier",
    f"{_G}.discrete_cfg": f"{_G}.discrete.cfg",
    f"{_G}.noisy_classifier": f"{_G}.discrete.noisy_classifier",
    f"{_G}.stgflow": f"{_G}.discrete.stgflow",
    f"{_G}.beam": f"{_G}.value.beam",
    f"{_G}.best_of_n": f"{_G}.value.best_of_n",
    f"{_G}.learned_value": f"{_G}.value.learned",
    f"{_G}.resampling": f"{_G}.value.resampling",
    f"{_G}.smc": f"{_G}.value.smc",
    f"{_G}.svdd": f"{_G}.value.svdd",
    f"{_G}.train_value": f"{_G}.value.train_cli",
    f"{_G}.value_fit": f"{_G}.value.fit",
    # value_model.py held the model, its fit and LearnedValue, now three modules: the package offers all of them.
    f"{_G}.value_model": f"{_G}.value",
    f"{_G}.registry_cli": f"{_G}.registry.cli",
    "seqguide.training_images": "seqguide.training.images",
    "seqguide.step_trainer": "seqguide.training.step_trainer",
    "seqguide.trainer_options": "seqguide.training.options",
    "seqguide.compile": "seqguide.models.compile",
    "seqguide.devices": "seqguide.models.devices",
    "seqguide.prediction": "seqguide.models.prediction",
    "seqguide.yaml_io": "seqguide.io.safe_yaml",
    "seqguide.design.store_schema": "seqguide.design.store.schema",
}


def _caller_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the import statement, past the import machinery's frames."""
    frame, level = sys._getframe(1), 1
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen importlib")
                                 or frame.f_code.co_filename == __file__):
        frame, level = frame.f_back, level + 1
    return level


class _MovedLoader(importlib.abc.Loader):
    def __init__(self, new: str) -> None:
        self.new = new

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        warnings.warn(f"{module.__name__} moved to {self.new}; import it from there (or the public name from its "
                      "package)", DeprecationWarning, stacklevel=_caller_stacklevel())
        # The import system returns whatever sys.modules holds for the name once this returns: the new module.
        sys.modules[module.__name__] = importlib.import_module(self.new)


class _MovedFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(name)
        return None if new is None else importlib.util.spec_from_loader(name, _MovedLoader(new))


def install() -> None:
    """Put the finder for moved modules first on ``sys.meta_path`` (idempotent; ``import seqguide`` calls it)."""
    if not any(isinstance(f, _MovedFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _MovedFinder())
