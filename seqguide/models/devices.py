"""Where models live and run: one resolver for devices, Lightning accelerators and precision (no heavy imports).

Every part of seqguide that picks a device asks :func:`resolve_device`; its default is the best one available
(CUDA, then Apple MPS, then the CPU), and the environment variable ``SEQGUIDE_DEVICE`` overrides that default
(e.g. ``SEQGUIDE_DEVICE=cpu`` on a GPU machine). :func:`lightning_accelerator` and :func:`lightning_devices` turn
a device into the ``accelerator``/``devices`` arguments of a Lightning ``Trainer``, and :func:`autocast`
applies a Lightning precision string (``"bf16-mixed"``, ...) to code that runs outside a Trainer.

Example:
    >>> from seqguide.models.devices import resolve_device, lightning_accelerator
    >>> dev = resolve_device("cpu")
    >>> lightning_accelerator(dev)
    'cpu'
"""

from __future__ import annotations

import argparse
import contextlib
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch

__all__ = [
    "DEVICE_ENV",
    "PRECISIONS",
    "LaunchSpec",
    "add_device_arguments",
    "autocast",
    "lightning_accelerator",
    "lightning_devices",
    "model_device",
    "normalize_precision",
    "resolve_device",
]

DEVICE_ENV = "SEQGUIDE_DEVICE"
#: Precision settings understood outside a Trainer (Lightning's names; "32" and "bf16" are aliases).
PRECISIONS = ("32-true", "bf16-mixed", "16-mixed")
_PRECISION_ALIASES = {"32": "32-true", "bf16": "bf16-mixed", "16": "16-mixed"}


def model_device(model: object) -> torch.device:
    """The device of ``model``: its ``device`` attribute, else its first parameter's, else the CPU."""
    dev = getattr(model, "device", None)
    if isinstance(dev, torch.device):
        return dev
    try:
        return next(model.parameters()).device  # type: ignore[attr-defined]
    except (AttributeError, StopIteration):
        return torch.device("cpu")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def resolve_device(spec: str | torch.device | None = None) -> torch.device:
    """The torch device for ``spec``.

    Args:
        spec: ``None`` or ``"auto"`` (the ``SEQGUIDE_DEVICE`` environment variable if set, else CUDA, else MPS,
            else CPU), ``"gpu"`` (CUDA), or any torch device string (``"cpu"``, ``"cuda:1"``, ``"mps"``).

    Raises:
        ValueError: for an unknown device, or a CUDA/MPS device on a machine that has none.
    """
    if isinstance(spec, torch.device):
        dev = spec
    else:
        text = (spec or "auto").strip().lower()
        if text == "auto":
            text = os.environ.get(DEVICE_ENV, "").strip().lower() or "auto"
            if text == "auto":
                return torch.device("cuda" if torch.cuda.is_available() else "mps" if _mps_available() else "cpu")
        if text == "gpu":
            text = "cuda"
        try:
            dev = torch.device(text)
        except RuntimeError as err:
            raise ValueError(f"unknown device {spec!r}: use auto, cpu, gpu, cuda, cuda:N or mps ({err})") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(dev)!r} was requested but CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(dev)!r} does not exist: this machine has {torch.cuda.device_count()} "
                             "CUDA device(s)")
    if dev.type == "mps" and not _mps_available():
        raise ValueError("device 'mps' was requested but Apple MPS is not available on this machine")
    return dev


def lightning_accelerator(device: str | torch.device | None = None) -> str:
    """The Lightning ``accelerator`` for a device (``"cpu"``, ``"gpu"`` or ``"mps"``); default: the best one."""
    dev = resolve_device(device)
    return {"cuda": "gpu", "mps": "mps"}.get(dev.type, "cpu")


def lightning_devices(device: str | torch.device | None = None) -> int | list[int]:
    """The Lightning ``devices`` for one device: ``[index]`` for ``cuda:index``, else 1."""
    dev = resolve_device(device)
    return [dev.index] if dev.type == "cuda" and dev.index is not None else 1


def normalize_precision(precision: str | int | None) -> str:
    """Lightning's name for a precision setting (``"32-true"``, ``"bf16-mixed"``, ``"16-mixed"``).

    Raises:
        ValueError: for a precision that cannot be applied outside a Trainer (e.g. ``"bf16-true"``).
    """
    text = "32-true" if precision is None else str(precision).strip().lower()
    text = _PRECISION_ALIASES.get(text, text)
    if text not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} (or 32, bf16, 16), got {precision!r}")
    return text


@contextlib.contextmanager
def autocast(device: str | torch.device, precision: str | int | None) -> Iterator[None]:
    """``torch.autocast`` for a Lightning precision string; ``"32-true"`` does nothing.

    fp16 autocast needs CUDA: on other devices ``"16-mixed"`` falls back to bf16 with a warning, as Lightning does.
    """
    precision = normalize_precision(precision)
    dev = torch.device(device)
    if precision == "32-true":
        yield
        return
    dtype = torch.bfloat16
    if precision == "16-mixed":
        if dev.type == "cuda":
            dtype = torch.float16
        else:
            warnings.warn(f"precision '16-mixed' needs CUDA; using 'bf16-mixed' on {dev.type}", stacklevel=3)
    with torch.autocast(device_type=dev.type, dtype=dtype):
        yield


@dataclass(frozen=True)
class LaunchSpec:
    """Where and how a command runs: one device, or several processes through Lightning.

    Attributes:
        device: The torch device of a single-process run (``auto``: the best available).
        accelerator: Lightning accelerator of a multi-process run (``auto``, ``cpu``, ``gpu``, ``mps``).
        devices: Devices (processes) per node: a count, ``"auto"`` or a list of indices such as ``"0,1"``.
        strategy: Lightning strategy (``auto``, ``ddp``, ``ddp_spawn``, ...).
        num_nodes: Number of machines.
        precision: ``32-true``, ``bf16-mixed`` or ``16-mixed``.
    """

    device: str = "auto"
    accelerator: str = "auto"
    devices: str = "1"
    strategy: str = "auto"
    num_nodes: int = 1
    precision: str = "32-true"

    @property
    def distributed(self) -> bool:
        """True when the run asks for Lightning's launcher (several devices or nodes, or a named strategy)."""
        return self.devices.strip() not in ("1", "") or self.num_nodes > 1 or self.strategy != "auto"

    def lightning_devices(self) -> int | str | list[int]:
        """``devices`` as Lightning expects it."""
        text = self.devices.strip()
        if text == "auto" or text == "-1":
            return text if text == "auto" else -1
        if "," in text or text.startswith("["):
            return [int(v) for v in text.strip("[]").split(",") if v.strip()]
        return int(text)

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LaunchSpec:
        return cls(device=args.device, accelerator=args.accelerator, devices=str(args.devices),
                   strategy=args.strategy, num_nodes=args.num_nodes, precision=normalize_precision(args.precision))


def add_device_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--device``, ``--accelerator``, ``--devices``, ``--strategy``, ``--num-nodes`` and ``--precision``."""
    group = parser.add_argument_group("devices", "one device, or several processes/nodes through Lightning")
    group.add_argument("--device", default="auto",
                       help=f"torch device of a single-process run: auto (default; ${DEVICE_ENV} or the best "
                            "available), cpu, cuda, cuda:N, mps")
    group.add_argument("--accelerator", default="auto", help="Lightning accelerator of a multi-process run (auto, "
                                                               "cpu, gpu, mps)")
    group.add_argument("--devices", default="1", help="devices (processes) per node: N, 'auto' or a list '0,1' "
                                                       "(default 1: no Lightning launcher)")
    group.add_argument("--strategy", default="auto", help="Lightning strategy, e.g. ddp (default auto)")
    group.add_argument("--num-nodes", type=int, default=1, help="number of machines (default 1)")
    group.add_argument("--precision", default="32-true", help="32-true (default), bf16-mixed or 16-mixed")
