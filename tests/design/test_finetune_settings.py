"""The FineTune dataclass and the campaign schema's FineTuneConfig read one table of defaults and bounds: their
defaults agree field by field, and each accepts exactly the values the other accepts."""

from __future__ import annotations

import dataclasses
import math

import pytest
from pydantic import ValidationError

from seqguide.design.finetune import FineTune
from seqguide.design.finetune_losses import OBJECTIVES
from seqguide.design.finetune_settings import FINETUNE_SETTINGS
from seqguide.design.schema.model import FineTuneConfig

PROBES = [-1, 0, 1, 3, True, 4.0, -0.5, 0.0, 1e-4, 2.5, math.inf, math.nan, None, "rank", "reward", "augmented", "x"]


def test_the_dataclass_and_the_schema_share_every_default():
    fields = {f.name: f.default for f in dataclasses.fields(FineTune)}
    schema = FineTuneConfig().model_dump()
    assert set(schema) == set(FINETUNE_SETTINGS) and set(FINETUNE_SETTINGS) <= set(fields)
    for name, setting in FINETUNE_SETTINGS.items():
        assert fields[name] == schema[name] == setting.default, name
    assert FINETUNE_SETTINGS["objective"].choices == OBJECTIVES


def _accepts(make, name, value):
    try:
        make(**{name: value})
    except (ValueError, ValidationError):
        return False
    return True


@pytest.mark.parametrize("name", list(FINETUNE_SETTINGS))
def test_the_dataclass_and_the_schema_accept_the_same_values(name):
    for value in PROBES:
        assert _accepts(FineTune, name, value) == _accepts(FineTuneConfig, name, value), (name, value)
    assert _accepts(FineTune, name, FINETUNE_SETTINGS[name].default)
