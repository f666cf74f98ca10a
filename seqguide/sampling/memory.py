"""Estimate the memory one sampling forward needs, and refuse a batch that cannot fit before it is tried.

One forward of a sequence model over ``rows`` sequences of ``length`` positions returns ``rows x length x
vocab`` logits; in float32 that alone is ``rows * length * vocab * 4`` bytes (the network's activations and the
sampler's copies come on top, so the estimate is a lower bound). Guiders multiply the rows of a forward:
``particles`` (SVDD, SMC, STG-flow), ``beams x expand`` (beam search), ``n`` (best-of-n), ``reward_samples``.
:func:`check_forward_memory` compares the estimate with the memory available on the device
(``torch.cuda.mem_get_info`` on CUDA; ``MemAvailable`` of ``/proc/meminfo`` on the CPU, or the free physical
pages where there is no ``/proc``) and raises a one-line :class:`MemoryEstimateError` naming what to lower.

Example:
    >>> forward_bytes(rows=64, length=100, vocab=6)
    153600
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["MULTIPLIERS", "MemoryEstimateError", "available_memory", "check_forward_memory", "forward_bytes",
           "guider_rows", "is_out_of_memory"]

#: Guider arguments that multiply the rows of a forward (an argument absent from a guider counts 1).
MULTIPLIERS = ("particles", "beams", "expand", "n", "reward_samples")


class MemoryEstimateError(ValueError):
    """A batch whose logits alone need more memory than the device has (the message names what to lower)."""


def forward_bytes(rows: int, length: int, vocab: int, *, bytes_per_value: int = 4) -> int:
    """Bytes of the logits of one forward: ``rows x length x vocab x bytes_per_value`` (float32: 4)."""
    return int(rows) * int(length) * int(vocab) * int(bytes_per_value)


def guider_rows(arguments: Mapping[str, Any]) -> tuple[int, str | None]:
    """How many rows a guider evaluates per requested sample (the product of its :data:`MULTIPLIERS`), and the
    argument that contributes most (None when the guider adds no rows)."""
    factor, largest, name = 1, 1, None
    for key in MULTIPLIERS:
        value = arguments.get(key)
        if isinstance(value, int) and not isinstance(value, bool) and value > 1:
            factor *= value
            if value > largest:
                largest, name = value, key
    return factor, name


def available_memory(device: str | torch.device) -> int | None:
    """Free bytes on ``device`` (CUDA: ``mem_get_info``; CPU: ``MemAvailable``), None where unknown."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            return int(torch.cuda.mem_get_info(device)[0])
        except (RuntimeError, AssertionError):  # no driver, or a device that does not exist
            return None
    if device.type != "cpu":
        return None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def _gib(n: float) -> str:
    return f"{n / 2**30:,.1f} GiB" if n >= 2**27 else f"{n / 2**20:,.1f} MiB"


def check_forward_memory(rows: int, length: int, vocab: int, device: str | torch.device, *, where: str,
                         available: int | None = None) -> int:
    """Refuse a forward whose logits alone exceed the memory available on ``device``.

    Args:
        rows: Sequences in one forward (batch times the guiders' row factors).
        length: Positions per sequence.
        vocab: Logits per position.
        device: Where the forward runs.
        where: The setting to lower, for the message (``guidance[0].particles``, ``--batch-size``).
        available: Free bytes (default: :func:`available_memory`).

    Returns:
        The estimate in bytes.

    Raises:
        MemoryEstimateError: when the estimate exceeds the available memory.
    """
    need = forward_bytes(rows, length, vocab)
    free = available_memory(device) if available is None else available
    if free is not None and need > free:
        fit = max(1, math.floor(rows * free / need))
        raise MemoryEstimateError(
            f"{where}: one forward of {rows:,} rows x {length} positions x {vocab} tokens needs about {_gib(need)} "
            f"for its float32 logits alone, more than the {_gib(free)} available on {torch.device(device)} "
            f"(at most ~{fit:,} rows fit); lower it")
    return need


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is an allocator's failure (CUDA or CPU out of memory, a Python ``MemoryError``)."""
    if isinstance(err, MemoryError) or type(err).__name__ == "OutOfMemoryError":
        return True
    text = str(err).lower()
    return isinstance(err, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text
                                              or "not enough memory" in text or "failed to allocate" in text)
