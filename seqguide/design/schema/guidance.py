"""The ``guidance:`` section of a campaign: one entry per guider, validated by the guider registry against the
guider's own constructor, with the value sources a campaign provides (``value: oracle | surrogate | value_model``)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import WrapValidator

from seqguide.guidance.registry import GuiderSpec, raise_problems, validate_mapping

__all__ = ["CAMPAIGN_SOURCES", "GuidanceEntry"]


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
