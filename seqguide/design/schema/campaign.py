"""The top level of a campaign file: :class:`CampaignConfig` (its keys are listed in
:mod:`seqguide.design.schema`), the run name's rule and the guidance stack's check."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from seqguide.design.schema.base import StrictConfig
from seqguide.design.schema.data import DataSection
from seqguide.design.schema.guidance import GuidanceEntry
from seqguide.design.schema.loop import (
    DeviceConfig,
    LoggerSpec,
    LoopConfig,
    ReportConfig,
    SurrogateConfig,
    ValueModelConfig,
)
from seqguide.design.schema.model import (
    ModelConfig,
    SamplingConfig,
)
from seqguide.design.schema.objective import ObjectiveConfig
from seqguide.guidance.registry import GuiderSpec, raise_problems, validate_stack

__all__ = ["CampaignConfig"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class CampaignConfig(StrictConfig):
    """A whole campaign (see the module docstring for every key)."""

    name: str
    description: str = ""
    seed: int = Field(0, ge=0, lt=2**32)
    run_dir: str | None = None
    store: str | None = None
    model: ModelConfig
    sampling: SamplingConfig = Field(default_factory=SamplingConfig)
    objective: ObjectiveConfig
    data: DataSection = Field(default_factory=DataSection)
    guidance: list[GuidanceEntry] = Field(default_factory=list)
    loop: LoopConfig = Field(default_factory=LoopConfig)
    surrogate: SurrogateConfig = Field(default_factory=SurrogateConfig)
    value_model: ValueModelConfig = Field(default_factory=ValueModelConfig)
    report: ReportConfig = Field(default_factory=ReportConfig)
    devices: DeviceConfig = Field(default_factory=DeviceConfig)
    loggers: list[LoggerSpec] = Field(default_factory=lambda: [LoggerSpec(name="csv")])

    @field_validator("loggers", mode="before")
    @classmethod
    def _bare_names(cls, v: object) -> object:
        if isinstance(v, list):
            return [{"name": x} if isinstance(x, str) else x for x in v]
        return v

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
