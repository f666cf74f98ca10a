"""``torch.compile`` for seqguide models, in place, so checkpoints and the model protocol are unchanged.

:func:`compile_backbone` compiles the network a model calls (its ``backbone``) with ``nn.Module.compile``: the
module object, its parameters and its ``state_dict`` keys stay the same (no ``_orig_mod.`` prefix), so a
compiled model trains under any Lightning strategy, saves loadable checkpoints and samples through ``sample()``
as before. Sampling evaluates batches of changing size (the cache sends only changed rows), so the default
compiles with ``dynamic=True``: one graph for every batch size instead of a recompilation per size.

Example:
    >>> from seqguide.models.compile import compile_backbone
    >>> model = compile_backbone(model)                            # doctest: +SKIP
    >>> out = sample(model, 64, steps=128, seed=0)                 # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["compile_backbone", "is_compiled"]


def is_compiled(module: torch.nn.Module) -> bool:
    """True if ``module`` was compiled in place (``nn.Module.compile``)."""
    return getattr(module, "_compiled_call_impl", None) is not None


def compile_backbone(model: Any, *, backend: str = "inductor", mode: str | None = None,
                     dynamic: bool | None = True, fullgraph: bool = False) -> Any:
    """Compile ``model.backbone`` (or ``model`` itself when it has none) in place and return ``model``.

    Args:
        model: A seqguide model (``MaskedDiffusion``, ``ValueModel``, ...) or any ``nn.Module``.
        backend: ``torch.compile`` backend (``"inductor"``; ``"eager"`` or ``"aot_eager"`` to check tracing only).
        mode: ``torch.compile`` mode (``None``, ``"reduce-overhead"`` for CUDA graphs, ``"max-autotune"``).
        dynamic: Compile for dynamic batch sizes (True), static ones (False) or let torch decide (None).
        fullgraph: Fail on graph breaks instead of falling back to Python.

    Raises:
        TypeError: if there is nothing to compile.
    """
    target = getattr(model, "backbone", model)
    if not isinstance(target, torch.nn.Module):
        raise TypeError(f"compile_backbone needs an nn.Module or a model with a .backbone, got {type(model).__name__}")
    if not is_compiled(target):
        target.compile(backend=backend, mode=mode, dynamic=dynamic, fullgraph=fullgraph)
    return model
