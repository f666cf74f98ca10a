"""What ``seqguide train`` does so that Lightning prints only what matters: :class:`QuietCLI` (a LightningCLI
mixin) and :class:`StepProgressBar`.

Each of these is a message seqguide's own settings caused, fixed where it comes from:

- LightningCLI warned that ``args`` and ``sys.argv`` were both given: ``seqguide train`` had already taken its
  arguments from ``sys.argv`` and passes them as ``args``; the parse now sees only those.
- ``train --help`` said ``usage: seqguide``: the parser is named ``seqguide train``.
- A step-counted run (``max_steps``, ``max_epochs`` unset = -1) showed ``Epoch N/-2`` in the progress bar: the bar
  shows the real total, ``Epoch N (step budget max_steps)`` or ``Epoch N/last``.
- The default logger (``logger: true``) printed that TensorBoard is not installed: it is a :class:`CSVLogger` under
  ``default_root_dir``, chosen explicitly (what Lightning falls back to anyway); a configured logger is kept.
- Lightning advertises its hosted logger (a ``Tip`` log record) on every fit, and its own ``_pytree`` module calls
  a torch API that torch deprecated (a FutureWarning, not ours to fix): both are filtered by exact message, in
  this process only.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import Any

from lightning.pytorch.callbacks import RichProgressBar, TQDMProgressBar
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.imports import _RICH_AVAILABLE

__all__ = ["QuietCLI", "StepProgressBar", "epoch_description", "silence_lightning_notices"]

_TIP = "💡 Tip: For seamless cloud logging"


def epoch_description(epoch: int, max_epochs: int | None, max_steps: int) -> str:
    """``Epoch 3/9`` with an epoch limit, ``Epoch 3 (600 steps)`` for a run counted in steps, else ``Epoch 3``."""
    if max_epochs is not None and max_epochs > 0:
        return f"Epoch {epoch}/{max_epochs - 1}"
    if max_steps is not None and max_steps > 0:
        return f"Epoch {epoch} ({max_steps} steps)"
    return f"Epoch {epoch}"


class StepProgressBar(RichProgressBar if _RICH_AVAILABLE else TQDMProgressBar):  # type: ignore[misc]
    """Lightning's progress bar whose training line shows the run's real length (:func:`epoch_description`)
    instead of ``Epoch N/-2`` when the run is counted in steps."""

    def _get_train_description(self, current_epoch: int) -> str:  # RichProgressBar's hook
        text = epoch_description(current_epoch, self.trainer.max_epochs, self.trainer.max_steps)
        width = len(getattr(self, "validation_description", ""))
        return f"{text:{width}}" if width > len(text) else text

    def on_train_epoch_start(self, trainer: Any, *args: Any) -> None:
        super().on_train_epoch_start(trainer, *args)
        if isinstance(self, TQDMProgressBar) and getattr(self, "_train_progress_bar", None) is not None:
            self.train_progress_bar.set_description(
                epoch_description(trainer.current_epoch, trainer.max_epochs, trainer.max_steps))


class _DropTip(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(_TIP)


def silence_lightning_notices() -> None:
    """Drop Lightning's hosted-logger advertisement and its own ``_pytree`` FutureWarning (exact messages only)."""
    log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    if not any(isinstance(f, _DropTip) for f in log.filters):
        log.addFilter(_DropTip())
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated",
                            category=FutureWarning)


class QuietCLI:
    """Mixin for a ``LightningCLI`` subclass of ``seqguide train`` (see the module docstring for what it fixes).

    Put it first: ``class SeqguideCLI(QuietCLI, LightningCLI)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        silence_lightning_notices()
        kwargs.setdefault("parser_kwargs", {"prog": "seqguide train"})
        super().__init__(*args, **kwargs)

    def parse_arguments(self, parser: Any, args: Any) -> None:
        """Parse ``args`` alone: they were taken from ``sys.argv`` already (no double-source warning)."""
        argv, sys.argv = sys.argv, sys.argv[:1]
        try:
            super().parse_arguments(parser, args)  # type: ignore[misc]
        finally:
            sys.argv = argv

    def instantiate_trainer(self, **kwargs: Any) -> Any:
        """The Trainer, with a :class:`CSVLogger` under ``default_root_dir`` where the logger is the default, and
        the :class:`StepProgressBar` where a progress bar is shown."""
        config = self.config_init.get("trainer") or {}  # type: ignore[attr-defined]
        if "logger" not in kwargs and config.get("logger") in (None, True):
            kwargs["logger"] = CSVLogger(save_dir=config.get("default_root_dir") or ".")
        if "callbacks" not in kwargs and config.get("enable_progress_bar") is not False:
            given = config.get("callbacks") or []
            kwargs["callbacks"] = [*(given if isinstance(given, list) else [given]), StepProgressBar()]
        return super().instantiate_trainer(**kwargs)  # type: ignore[misc]
