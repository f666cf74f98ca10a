"""Load checkpoint files safely and refuse anything else with a message of our own.

:func:`load_checkpoint` is ``torch.load(path, weights_only=True)``: tensors and plain data only, never
code. Whatever goes wrong (an empty file, random bytes, a truncated archive, a pickle that would run code,
a file that is not a dict) becomes one :class:`CheckpointError` line naming the file and what it is;
the loader is never relaxed (seqguide does not load pickled Python objects from files).

Example:
    >>> load_checkpoint("model.ckpt")                       # doctest: +SKIP
    {'state_dict': {...}, 'hyper_parameters': {...}, ...}
"""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path
from typing import Any

import torch

__all__ = ["CheckpointError", "load_checkpoint"]


class CheckpointError(ValueError):
    """A file that is not a checkpoint seqguide can load (the message names the file and the problem)."""


def _why(err: BaseException) -> str:
    text = str(err)
    if isinstance(err, pickle.UnpicklingError) and "Weights only load failed" in text:
        if "Unsupported global" in text or "GLOBAL" in text or "REDUCE" in text or "__reduce__" in text:
            return ("it holds Python objects other than tensors and plain data; refused (seqguide loads "
                    "checkpoints without running code stored in them)")
        return ("its content is not a PyTorch checkpoint of tensors and plain data (seqguide loads checkpoints "
                "without running code stored in them)")
    if isinstance(err, EOFError):
        return "the file ends early (empty or truncated)"
    if isinstance(err, RuntimeError) and ("zip archive" in text or "PytorchStreamReader" in text):
        return "it is not a PyTorch checkpoint archive (corrupt or truncated zip)"
    kind = type(err)
    name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__.lstrip('_')}.{kind.__name__}"
    return f"it is not a PyTorch checkpoint ({name})"


def load_checkpoint(path: str | Path, *, map_location: Any = "cpu", what: str = "checkpoint") -> dict[str, Any]:
    """Read a checkpoint dict with ``torch.load(weights_only=True)``.

    Args:
        path: The file.
        map_location: Passed to :func:`torch.load`.
        what: What the file should be, for messages (``"MaskedDiffusion checkpoint"``).

    Returns:
        The checkpoint (a dict).

    Raises:
        FileNotFoundError: if ``path`` is not a file.
        CheckpointError: for anything that is not a loadable checkpoint dict.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: not a {what}: the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's pickle-protocol notes about foreign files
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # torch.load on foreign bytes raises anything (struct.error, KeyError, ...)
        raise CheckpointError(f"{path}: not a {what}: {_why(err)}") from None
    if not isinstance(ckpt, dict):
        raise CheckpointError(f"{path}: not a {what}: it holds a {type(ckpt).__name__}, not a checkpoint dict")
    return ckpt
