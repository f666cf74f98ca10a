"""The ``objective:`` section of a campaign: the "assay" the budget pays for, its weighted oracle components and
hard constraints (oracle names checked against the registry)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from seqguide.design.schema.base import OracleArgs, StrictConfig

__all__ = ["ConstraintSpec", "ObjectiveConfig", "OracleSpec"]


def _known_oracle(name: str) -> str:
    from oracles import list_oracles

    available = list_oracles()
    if name not in available:
        raise ValueError(f"unknown oracle {name!r} (available: {', '.join(available)})")
    return name


class OracleSpec(StrictConfig):
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


class ConstraintSpec(StrictConfig):
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


class ObjectiveConfig(StrictConfig):
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
