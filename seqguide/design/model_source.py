"""The campaign's generative model: load a checkpoint, or train one once and cache it in the run directory.

With ``model.train`` the model is trained at the start of the first session and saved as
``<run_dir>/model/model.ckpt`` (written to a temporary name, then renamed, so a crash never leaves half a
file there) next to ``train_spec.json``, the spec and seed it was trained from. A session killed while
training resumes from the last training checkpoint of the same spec (``<run_dir>/model/train/``), ending
with the weights an uninterrupted run would have (see :mod:`seqguide.training.step_trainer`). Later sessions
(``--resume``) load that file instead of training; a checkpoint whose spec differs is retrained. Either
way the model the loop uses is the one *loaded from the file*, so an uninterrupted run and a resumed one
sample with bit-identical weights.

``model.train.kind`` chooses masked diffusion (default) or a Gumbel-Softmax simplex flow; a checkpoint is loaded as
whichever sequence model it holds (:func:`seqguide.models.load_model`).

``data.ehrlich_samples: N`` draws N feasible sequences from the discrete Markov process (DMP) of the
objective's ``ehrlich`` oracle and writes them to ``<run_dir>/data/ehrlich_dmp.fasta`` before training.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from seqguide.design.loop_types import Purpose, derive_seed
from seqguide.design.objective import Objective
from seqguide.design.schema import CampaignConfig
from seqguide.design.schema.model import DataConfig, TrainConfig
from seqguide.models.devices import lightning_accelerator, lightning_devices, resolve_device

__all__ = ["DIGEST_KIND", "file_digest", "model_digest", "prepare_model", "resumed_model", "write_ehrlich_fasta"]

log = logging.getLogger(__name__)


DIGEST_KIND = "tensors-v1"  # recorded with the digest; a model record without it holds the old file digest


def file_digest(path: str | Path, n: int = 12) -> str:
    """The first ``n`` hex digits of a file's SHA-256 (the model digest stores written before
    :data:`DIGEST_KIND` recorded; it also covers timestamps, paths and loop counters, so see :func:`model_digest`)."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:n]


def _tensors(obj: Any, prefix: str, out: dict[str, Any]) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        out[prefix] = obj
    elif isinstance(obj, dict):
        for key, value in obj.items():
            _tensors(value, f"{prefix}/{key}", out)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _tensors(value, f"{prefix}/{i}", out)


def model_digest(path: str | Path, n: int = 12) -> str:
    """The first ``n`` hex digits of a SHA-256 over a checkpoint's tensors only: the weights (``state_dict``) and
    the optimiser state (``optimizer_states``), each tensor as its name, dtype, shape and bytes, in sorted name
    order. Two checkpoints with identical weights and optimiser state have the same digest whatever else the file
    holds (timestamps, paths, callback and loop state), so a resumed training that ends with the uninterrupted
    run's weights prints the same digest. A checkpoint without those keys is hashed over all its tensors."""
    import torch

    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    parts = {k: ckpt[k] for k in ("state_dict", "optimizer_states") if isinstance(ckpt, dict) and k in ckpt}
    tensors: dict[str, Any] = {}
    _tensors(parts or ckpt, "", tensors)
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:n]


def resumed_model(stored: dict[str, Any] | None, info: dict[str, Any]) -> str | None:
    """Check that the model about to continue a stored run is the one the run recorded.

    Args:
        stored: The run's model record (``runs.model``); a record without ``digest_kind`` holds the old file digest.
        info: The model just prepared (:func:`prepare_model`).

    Returns:
        None when the record matches; for an old record that matches the file, a line saying the record is
        updated to the tensor digest (the caller stores ``info``).

    Raises:
        ValueError: the model differs from the stored run's (a one-line reason naming both digests).
    """
    if not stored or "sha256" not in stored:
        return None  # a run recorded without a digest: nothing to compare
    old = stored["sha256"]
    if stored.get("digest_kind") == info["digest_kind"]:
        if old == info["sha256"]:
            return None
        raise ValueError(f"the model's tensor digest is {info['sha256']}, not the stored run's {old}: a different "
                         f"model (its weights or optimiser state differ) cannot continue this run")
    if old == file_digest(info["checkpoint"], len(old)):
        return (f"the store recorded the model by its file digest {old} (written before tensor digests); the record "
                f"now holds its tensor digest {info['sha256']} (designs so far keep the id {stored.get('id')})")
    raise ValueError(f"the model file's digest is {file_digest(info['checkpoint'], len(old))}, not the stored "
                     f"run's {old}: a different model file cannot continue this run")


# --------------------------------------------------------------------------------------------- Ehrlich
def _find_ehrlich(objective: Objective) -> Any:
    for comp in objective.components:
        oracle = comp.oracle
        while hasattr(oracle, "inner") and not hasattr(oracle, "sample_feasible"):
            oracle = oracle.inner
        if hasattr(oracle, "sample_feasible"):
            return oracle
    return None


def write_ehrlich_fasta(objective: Objective, path: Path, n: int, seed: int) -> tuple[Path, list[str]]:
    """Write ``n`` DMP draws of the objective's Ehrlich oracle to a FASTA file (kept if already there).

    Returns:
        The path and the Ehrlich alphabet's tokens (the model's alphabet).

    Raises:
        ValueError: if the objective has no ``ehrlich`` component.
    """
    ehrlich = _find_ehrlich(objective)
    if ehrlich is None:
        raise ValueError("model.train.data.ehrlich_samples needs an 'ehrlich' oracle among objective.oracles")
    tokens = list(ehrlich.alphabet.tokens)
    if not path.is_file():
        seqs = ehrlich.sample_feasible(n, seed)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".partial")
        tmp.write_text("".join(f">dmp_{i}\n{s}\n" for i, s in enumerate(seqs)))
        os.replace(tmp, path)
    return path, tokens


# ------------------------------------------------------------------------------------------- training
@contextlib.contextmanager
def _quiet(active: bool) -> Iterator[None]:
    """Silence Lightning's banners (restored afterwards)."""
    if not active:
        yield
        return
    names = [n for n in list(logging.Logger.manager.loggerDict) if n.startswith("lightning")]
    names += ["lightning.pytorch", "lightning.fabric", "lightning.pytorch.utilities.rank_zero"]
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _datamodule(data: DataConfig, *, path: str | None, alphabet: Any, seed: int) -> Any:
    from seqguide.data import SequenceDataModule

    return SequenceDataModule(path=path, preset=data.preset if path is None else None, alphabet=alphabet,
                              length=data.length, limit=data.limit, too_long=data.too_long, missing=data.missing,
                              val_fraction=data.val_fraction, batch_size=data.batch_size, seed=seed)


def _backbone(spec: Any) -> Any:
    from seqguide.models import ConvDenoiser, TransformerDenoiser

    if spec.type == "conv":
        return ConvDenoiser(dim=spec.dim, depth=spec.depth, kernel_size=spec.kernel_size, dropout=spec.dropout)
    return TransformerDenoiser(dim=spec.dim, depth=spec.depth, heads=spec.heads, mlp_ratio=spec.mlp_ratio,
                               dropout=spec.dropout)


def _train(train: TrainConfig, run_dir: Path, objective: Objective, seed: int, progress: bool,
           recipe: str, devices: Any = None) -> dict[str, Any]:
    from seqguide.models import GumbelSoftmaxFlow, MaskedDiffusion
    from seqguide.training.sequences import train_sequence_model
    from seqguide.training.step_trainer import last_checkpoint

    data = train.data
    path, alphabet = data.path, data.alphabet
    if data.ehrlich_samples is not None:
        fasta, tokens = write_ehrlich_fasta(objective, run_dir / "data" / "ehrlich_dmp.fasta",
                                            data.ehrlich_samples, derive_seed(seed, Purpose.DATA))
        path, alphabet = str(fasta), alphabet or tokens
    dm = _datamodule(data, path=path, alphabet=alphabet, seed=seed)
    work = run_dir / "model" / "train"
    spec = work / "spec.json"
    resume = last_checkpoint(work) is not None and spec.is_file() and _same_recipe(spec.read_text(), recipe)
    if work.exists() and not resume:  # another spec's (or no) checkpoint: start over
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    spec.write_text(recipe)
    device = None if devices is None else devices.device
    with _quiet(not progress):
        if train.kind == "simplex":
            cls, kwargs = GumbelSoftmaxFlow, train.flow.model_dump()
        else:
            cls, kwargs = MaskedDiffusion, {"schedule": train.schedule}
        result = train_sequence_model(cls, dm, backbone=_backbone(train.backbone), out_dir=work,
                                      max_steps=train.steps, val_check_interval=train.val_check_interval, seed=seed,
                                      progress=progress, accelerator=lightning_accelerator(device), lr=train.lr,
                                      warmup_steps=train.warmup_steps, resume=resume,
                                      trainer_kwargs=_trainer_kwargs(devices), **kwargs)
    if not result.checkpoint.is_file():
        raise RuntimeError(f"training finished without writing a checkpoint under {work}")
    return {"source": "trained", "train_checkpoint": str(result.checkpoint), "data": str(path or data.preset),
            "metrics": {k: round(v, 6) for k, v in result.metrics.items()}, "steps": train.steps}


def _trainer_kwargs(devices: Any) -> dict[str, Any]:
    """The campaign's ``devices`` keys as Lightning Trainer arguments (defaults left out)."""
    if devices is None:
        return {}
    out: dict[str, Any] = {}
    if devices.precision != "32-true":
        out["precision"] = devices.precision
    if devices.accumulate_grad_batches != 1:
        out["accumulate_grad_batches"] = devices.accumulate_grad_batches
    if devices.device.startswith("cuda:"):
        out["devices"] = lightning_devices(devices.device)
    return out


def _same_recipe(stored: str, recipe: str) -> bool:
    """Whether a cached model's ``train_spec.json`` is the spec about to be trained, once the stored spec is read
    through the current schema (keys added since it was written take their defaults)."""
    if stored == recipe:
        return True
    try:
        old = json.loads(stored)
        old["train"] = TrainConfig.model_validate(old["train"]).model_dump(mode="json")
    except (ValueError, KeyError, TypeError):
        return False
    return json.dumps(old, sort_keys=True) == recipe


def prepare_model(config: CampaignConfig, run_dir: Path, objective: Objective, *,
                  progress: bool = False) -> tuple[Any, dict[str, Any]]:
    """Load or train the campaign's model.

    Args:
        config: The campaign.
        run_dir: The run directory (the trained checkpoint is cached in ``run_dir/model``).
        objective: The objective (needed for ``ehrlich_samples`` data).
        progress: Show Lightning's progress bar while training.

    Returns:
        ``(model, info)``: the model in eval mode and its provenance (``info["id"]`` goes on every design).

    Raises:
        ValueError: if the model's alphabet or length disagrees with ``model.alphabet`` / ``model.length``.
    """
    from seqguide.models import load_model

    spec = config.model
    info: dict[str, Any]
    if spec.checkpoint is not None:
        ckpt = Path(spec.checkpoint)
        info = {"source": "checkpoint"}
    else:
        assert spec.train is not None
        ckpt = run_dir / "model" / "model.ckpt"
        seed = spec.train.seed if spec.train.seed is not None else config.seed
        recipe = json.dumps({"train": spec.train.recipe(), "seed": seed}, sort_keys=True)
        recipe_file = ckpt.with_name("train_spec.json")
        info = {"source": "trained (cached)"}
        if not ckpt.is_file() or not recipe_file.is_file() or not _same_recipe(recipe_file.read_text(), recipe):
            # No model yet, or one trained from another spec (a stale directory): train (again).
            info = _train(spec.train, run_dir, objective, seed, progress, recipe, config.devices)
            tmp = ckpt.with_suffix(".partial")
            shutil.copyfile(info["train_checkpoint"], tmp)
            os.replace(tmp, ckpt)
            recipe_file.write_text(recipe)
    device = resolve_device(config.devices.device)
    model = load_model(ckpt, map_location=device)
    info["device"] = str(device)
    digest = model_digest(ckpt)
    info.update(checkpoint=str(ckpt.resolve()), sha256=digest, digest_kind=DIGEST_KIND, id=f"{ckpt.name}@{digest}",
                model=type(model).__name__, alphabet=model.alphabet.name, kind=model.alphabet.kind,
                length=model.length)
    if spec.alphabet is not None and spec.alphabet.lower() not in (model.alphabet.name, model.alphabet.kind):
        raise ValueError(f"model.alphabet: the model's alphabet is {model.alphabet.name!r} (kind "
                         f"{model.alphabet.kind!r}), not {spec.alphabet!r}")
    if spec.length is not None and spec.length != model.length:
        raise ValueError(f"model.length: the model generates length {model.length}, not {spec.length}")
    return model, info
