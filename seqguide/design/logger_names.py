"""The experiment trackers a campaign can log to, and whether each one's package is installed (no Lightning import:
the campaign schema checks ``loggers:`` with it; :mod:`seqguide.design.trackers` builds the loggers)."""

from __future__ import annotations

import importlib.util

__all__ = ["LOGGERS", "missing_package"]

#: Logger name -> (the package it needs, Lightning's class).
LOGGERS: dict[str, tuple[str | None, str]] = {
    "csv": (None, "CSVLogger"),
    "tensorboard": ("tensorboard", "TensorBoardLogger"),
    "mlflow": ("mlflow", "MLFlowLogger"),
    "wandb": ("wandb", "WandbLogger"),
}


def missing_package(name: str) -> str | None:
    """The package a logger needs that is not installed (None: it can run)."""
    package = LOGGERS[name][0]
    if package is None or importlib.util.find_spec(package) is not None:
        return None
    if name == "tensorboard" and importlib.util.find_spec("tensorboardX") is not None:
        return None
    return package
