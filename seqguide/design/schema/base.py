"""The base of every campaign-schema section: strict pydantic models whose numbers are finite, and the free-form
``args`` of an oracle (plain data, every number finite); the sections are in the other ``schema_*`` modules."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

__all__ = ["OracleArgs", "StrictConfig", "finite_tree"]


class StrictConfig(BaseModel):
    """Base: unknown keys are errors; defaults are validated too; float keys must be finite numbers."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


def finite_tree(value: Any, path: str = "") -> Any:
    """Refuse NaN/+-inf anywhere inside plain data (free-form ``args``), naming the key path below it."""
    if isinstance(value, float) and not math.isfinite(value):
        raise PydanticCustomError("non_finite", "Input should be a finite number (got {value})",
                                  {"subpath": path, "value": repr(value)})
    if isinstance(value, dict):
        for k, v in value.items():
            finite_tree(v, f"{path}.{k}")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            finite_tree(v, f"{path}[{i}]")
    return value


#: Keyword arguments of an oracle: free-form plain data, every number finite.
OracleArgs = Annotated[dict[str, Any], AfterValidator(finite_tree)]
