"""The one table of online fine-tuning's settings: each one's default and bound, read by both the
:class:`~seqguide.design.finetune.FineTune` dataclass (its defaults and ``__post_init__`` checks) and the campaign
schema's ``FineTuneConfig`` (built from this table), so the two cannot disagree. Imports neither torch nor pydantic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["FINETUNE_SETTINGS", "OBJECTIVES", "Setting", "check_finetune"]

OBJECTIVES = ("rank", "reward", "augmented")


@dataclass(frozen=True)
class Setting:
    """One fine-tuning setting: its default, type (``int``, ``float`` or ``str``), lower bound and whether the bound
    itself is allowed, and for ``str`` the allowed values; ``optional`` also allows None (meaning "the default")."""

    default: Any
    type: type
    low: float | None = None
    inclusive: bool = False
    choices: tuple[str, ...] = ()
    optional: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed, or None."""
        if value is None and self.optional:
            return None
        if self.choices:
            return None if value in self.choices else f"must be one of {', '.join(self.choices)}, got {value!r}"
        if self.type is int:
            ok = isinstance(value, int) and not isinstance(value, bool)
            kind = "integer"
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            kind = "finite number"
        if ok and self.low is not None:
            ok = value >= self.low if self.inclusive else value > self.low
        if ok:
            return None
        sign = "non-negative" if self.inclusive and self.low == 0 else "positive"
        return f"must be a {sign} {kind}, got {value!r}"


FINETUNE_SETTINGS: dict[str, Setting] = {
    "objective": Setting("rank", str, choices=OBJECTIVES),
    "steps": Setting(4, int, 0),
    "every": Setting(1, int, 0),
    "batch_size": Setting(64, int, 0),
    "lr": Setting(1e-4, float, 0),
    "clip": Setting(1.0, float, 0),
    "anchor": Setting(1.0, float, 0, inclusive=True),
    "replay": Setting(256, int, 0, inclusive=True),
    "rank_k": Setting(1e-3, float, 0),
    "alpha": Setting(1.0, float, 0),
    "sigma": Setting(2.0, float, 0),
    "min_labels": Setting(16, int, 0),
    "probe": Setting(64, int, 0, inclusive=True),
    "sample_steps": Setting(None, int, 0, optional=True),
}


def check_finetune(values: dict[str, Any], where: str = "FineTune") -> None:
    """Raise ValueError for the first setting in ``values`` that its :class:`Setting` refuses."""
    for name, setting in FINETUNE_SETTINGS.items():
        if name in values:
            problem = setting.problem(values[name])
            if problem:
                raise ValueError(f"{where}: {name} {problem}")
