"""Count host synchronisations: the operations that make the CPU wait for the accelerator.

On a GPU, reading a device tensor's value on the host (``.item()``, ``bool(t)`` in an ``if``, ``.tolist()``,
``int(t)``, ``.cpu()``) or running an op whose output *size* depends on the data (``nonzero``, boolean-mask
indexing, ``unique``, ``torch.equal``, ``repeat_interleave`` with tensor repeats) blocks the host until all
queued kernels have finished. A handful per sampling step is enough to leave the GPU idle between steps.

:class:`HostSyncCounter` finds them without a GPU: it is a ``TorchFunctionMode`` that tags every tensor
that would live on the device (the model's parameters and buffers, tensors created with an explicit
``device=``, and everything computed from a tagged tensor) and counts the syncing operations applied to
tagged tensors, with the line of seqguide code that called them. Host-side bookkeeping (a float64 tensor
built from Python floats, a NumPy array) is not tagged and not counted, as on a real GPU.

Example:
    >>> from seqguide.sampling.host_syncs import HostSyncCounter
    >>> with HostSyncCounter(model) as syncs:                     # doctest: +SKIP
    ...     sample(model, 16, steps=32, seed=0, progress=False)
    >>> syncs.total, syncs.by_site().most_common(3)                # doctest: +SKIP
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

__all__ = ["HostSyncCounter"]

_TAG = "_seqguide_on_device"
_TORCH_DIR = str(Path(torch.__file__).resolve().parent)
_THIS_FILE = str(Path(__file__).resolve())
_CHECKOUT = Path(__file__).resolve().parents[2]  # seqguide/sampling/host_syncs.py -> the folder above seqguide/

# Reading a value (or a whole tensor) back to the host.
_READS = {"item", "__bool__", "__int__", "__float__", "__index__", "tolist", "cpu", "numpy"}
# Output size depends on the data: the host must wait to allocate the result.
_DATA_DEPENDENT = {"nonzero", "argwhere", "masked_select", "unique", "unique_consecutive", "equal", "allclose"}
_INDEXING = {"__getitem__", "__setitem__", "index_put", "index_put_"}


def _tensors(obj: Any) -> Iterator[torch.Tensor]:
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for o in obj:
            yield from _tensors(o)
    elif isinstance(obj, dict):
        for o in obj.values():
            yield from _tensors(o)


def _tagged(t: torch.Tensor) -> bool:
    return bool(getattr(t, _TAG, False))


def _tag(obj: Any) -> None:
    for t in _tensors(obj):
        try:
            setattr(t, _TAG, True)
        except (AttributeError, RuntimeError):  # e.g. some C++-owned views
            pass


def _has_bool_index(index: Any) -> bool:
    return any(t.dtype in (torch.bool, torch.uint8) and _tagged(t) for t in _tensors(index))


class HostSyncCounter(TorchFunctionMode):
    """Counts device-to-host synchronisations of the code run inside it (see the module docstring).

    Args:
        *roots: Modules or tensors that live on the device (their parameters, buffers or themselves are
            tagged); tensors created with an explicit ``device=`` are tagged whatever the roots.

    Attributes:
        total: Number of syncing operations counted.
        sites: ``Counter`` of ``(file:line, op)`` for each counted operation.
    """

    def __init__(self, *roots: Any) -> None:
        super().__init__()
        self.total = 0
        self.sites: Counter[tuple[str, str]] = Counter()
        self._roots = list(roots)
        self._tagged_roots: list[torch.Tensor] = []

    def __enter__(self) -> HostSyncCounter:
        for root in self._roots:
            tensors: Iterable[torch.Tensor]
            if isinstance(root, torch.nn.Module):
                tensors = [*root.parameters(), *root.buffers()]
            else:
                tensors = list(_tensors(root))
            for t in tensors:
                if not _tagged(t):
                    setattr(t, _TAG, True)
                    self._tagged_roots.append(t)
        return super().__enter__()

    def __exit__(self, *exc: Any) -> None:
        super().__exit__(*exc)
        for t in self._tagged_roots:
            try:
                delattr(t, _TAG)
            except AttributeError:
                pass
        self._tagged_roots = []

    # ---------------------------------------------------------------------------- counting
    def _site(self) -> str:
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_filename
            if not name.startswith(_TORCH_DIR) and name != _THIS_FILE:
                return f"{_short(name)}:{frame.f_lineno}"
            frame = frame.f_back
        return "?"

    def _count(self, op: str) -> None:
        self.total += 1
        self.sites[(self._site(), op)] += 1

    def _is_sync(self, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
        if name in _READS or name in _DATA_DEPENDENT:
            return any(_tagged(t) for t in _tensors(args))
        if name in _INDEXING:
            return len(args) > 1 and _has_bool_index(args[1])
        if name == "where" and len(args) == 1 and not kwargs:
            return _tagged(args[0])
        if name == "repeat_interleave":
            repeats = args[1] if len(args) > 1 else kwargs.get("repeats")
            return isinstance(repeats, torch.Tensor) and repeats.numel() > 1 and _tagged(repeats)
        return False

    def __torch_function__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if self._is_sync(name, args, kwargs):
            self._count(name)
        out = func(*args, **kwargs)
        if name == "cpu" and isinstance(out, torch.Tensor):
            # On a CPU-only machine .cpu() returns the tensor itself; on a GPU it is a host copy. Hand back an
            # untagged alias so that reading the host copy is not counted a second time.
            return out.view_as(out) if out is args[0] else out
        if name in ("numpy", "tolist", "item"):
            return out
        if kwargs.get("device") is not None or any(_tagged(t) for t in _tensors(args)) or \
                any(_tagged(t) for t in _tensors(kwargs)):
            _tag(out)
        return out

    def by_site(self) -> Counter[str]:
        """Counts per ``"file:line op"``, e.g. to list the sync points of a step."""
        return Counter({f"{site} {op}": n for (site, op), n in self.sites.items()})


def _short(path: str, checkout: Path | None = None) -> str:
    """``path`` relative to the checkout that holds this package (``seqguide/sampling/x.py``,
    ``tests/scale/test_y.py``), else its file name.

    The checkout is the folder above the package root, found from this module's own ``__file__``, never by
    looking for a folder named ``seqguide`` in the path: a clone sits in such a folder by default.
    """
    root = _CHECKOUT if checkout is None else checkout
    resolved = Path(path).resolve()
    try:
        return resolved.relative_to(root).as_posix()
    except ValueError:
        return resolved.name
