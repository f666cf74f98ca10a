"""Models a benchmark trains once and keeps under ``runs/benchmarks/`` (git-ignored), keyed by their settings.

:func:`settings_hash` names a cache entry after the settings that change it; :func:`cached_fit` keeps one
entry per folder (a checkpoint and a JSON file of what its training reported) and trains only when either file is
missing or a retrain is asked for::

    folder = CACHE / f"{task}-model-{settings_hash(settings)}"
    model, meta = cached_fit(folder, load=MaskedDiffusion.load, fit=train, retrain=args.retrain)
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

__all__ = ["cached_fit", "settings_hash"]

T = TypeVar("T")


def settings_hash(settings: Any, n: int = 10) -> str:
    """A short stable hash of JSON-serialisable settings (cache keys)."""
    return hashlib.sha1(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:n]


def cached_fit(folder: str | Path, *, load: Callable[[Path], T], fit: Callable[[Path], tuple[T, dict[str, Any]]],
               retrain: bool = False, checkpoint: str = "model.ckpt", meta: str = "model.json"
               ) -> tuple[T, dict[str, Any]]:
    """A model trained once and kept in ``folder``.

    Args:
        folder: The cache entry (name it with :func:`settings_hash` of everything the model depends on).
        load: ``load(checkpoint_path) -> model`` for an entry that is there.
        fit: ``fit(checkpoint_path) -> (model, meta)``: trains, writes the checkpoint at ``checkpoint_path`` (the
            folder exists and is empty) and returns the model to use and what to record about it.
        retrain: Train again even when the entry is there.
        checkpoint: File name of the checkpoint inside ``folder``.
        meta: File name of the JSON metadata inside ``folder``.

    Returns:
        ``(model, meta)``; ``meta["cached"]`` is True when the model was loaded (``fit`` records False).
    """
    folder = Path(folder)
    ckpt, meta_path = folder / checkpoint, folder / meta
    if ckpt.is_file() and meta_path.is_file() and not retrain:
        return load(ckpt), {**json.loads(meta_path.read_text()), "cached": True}
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    model, info = fit(ckpt)
    meta_path.write_text(json.dumps(info, indent=1))
    return model, info
