"""Distributed sampling through Lightning: blocks of requests sharded over processes, gathered on rank 0.

The ``n`` requested samples are cut into blocks of ``batch_size`` requests. Block ``k`` is drawn by
:func:`~seqguide.sampling.sample` with its own generator, seeded with ``chunk_seed(seed, k)``, so the samples
of a block depend only on (seed, block index): a run on 1, 2 or 16 processes, on one node or several, returns
the same samples (on the same kind of hardware), and they equal ``sample(model, n, seed=seed,
batch_size=batch_size, chunk_seeds=True)`` in one process. Lightning does the rest: ``Trainer.predict`` runs a
:class:`SamplingTask` over a :class:`SampleRequests` dataset, its distributed sampler deals the blocks out to the
processes (no block twice), and the task gathers every block on global rank 0, which assembles one
:class:`~seqguide.sampling.Samples` in request order.

Every process builds its own copy of the guidance stack (guiders, value functions, oracles): a ``Budgeted``
oracle inside a guider counts per process. Launch as any Lightning script: ``strategy="ddp"`` re-runs the
script (or the ``seqguide sample`` command) once per device; ``torchrun`` or SLURM set the ranks across nodes.

Example (one GPU machine, 4 GPUs; each process runs this script)::

    from seqguide.sampling.distributed import sample_distributed
    out = sample_distributed(model, 10_000, steps=128, seed=0, batch_size=256, guidance=[SVDD(oracle)],
                             accelerator="gpu", devices=4, strategy="ddp")
    if out is not None:            # global rank 0
        out.to_frame().to_csv("samples.csv")
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from seqguide.guidance.base import Guider
from seqguide.models.devices import LaunchSpec, autocast, resolve_device
from seqguide.sampling.sampler import Samples, chunk_seed, sample

__all__ = ["SampleRequests", "SamplingTask", "launch_sampling", "merge_blocks", "sample_distributed"]

_SUMMED = ("forward_calls", "cached_rows", "oracle_calls", "oracle_batches")


class SampleRequests(Dataset):
    """``n`` requests in blocks of ``block_size``: item ``k`` is ``{"block": k, "start": lo, "stop": hi}``.

    Args:
        n: Number of requested samples.
        block_size: Requests per block (the last block may be smaller).
    """

    def __init__(self, n: int, block_size: int) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        if block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {block_size}")
        self.n, self.block_size = n, block_size

    def __len__(self) -> int:
        return math.ceil(self.n / self.block_size)

    def __getitem__(self, k: int) -> dict[str, int]:
        if not 0 <= k < len(self):
            raise IndexError(f"block {k} out of range (0..{len(self) - 1})")
        lo = k * self.block_size
        return {"block": k, "start": lo, "stop": min(self.n, lo + self.block_size)}


def _one(batch: list[dict[str, int]]) -> dict[str, int]:
    """DataLoader collate: one block per predict step (module level, so spawned workers can pickle it)."""
    return batch[0]


class SamplingTask(L.LightningModule):
    """``predict_step`` draws one block of requests with :func:`~seqguide.sampling.sample` (see the module docs).

    After ``Trainer.predict``, :attr:`gathered` holds ``[(block, start, stop, Samples), ...]`` of *every* process
    on global rank 0, in block order, and None elsewhere.

    Args:
        model: The generative model (a registered submodule: Lightning moves it to each process's device).
        steps: Reverse steps.
        length: Sequence length (default: the model's).
        guidance: The guidance stack, used by every block (guiders reset their state per block).
        cond: ``(n,)`` class labels of the requests, or None.
        seed: The run's seed; block k uses ``chunk_seed(seed, k)``.
        cache: Reuse unchanged predictions (see ``sample``).
        compile: Compile the model's backbone (``torch.compile``) on each process before sampling.
    """

    def __init__(self, model: torch.nn.Module, *, steps: int, length: int | None = None,
                 guidance: Sequence[Guider] = (), cond: torch.Tensor | None = None, seed: int = 0,
                 cache: bool = True, compile: bool = False) -> None:
        super().__init__()
        self.model = model
        self.steps, self.length, self.seed, self.cache, self.compile_model = steps, length, seed, cache, compile
        self.guidance = list(guidance)
        self.cond = cond
        self._results: list[tuple[int, int, int, Samples]] = []
        self.gathered: list[tuple[int, int, int, Samples]] | None = None

    def on_predict_start(self) -> None:
        self._results, self.gathered = [], None
        if self.compile_model:
            from seqguide.models.compile import compile_backbone

            compile_backbone(self.model)

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> int:
        k, lo, hi = (int(batch[key]) for key in ("block", "start", "stop"))
        cond = None if self.cond is None else self.cond[lo:hi]
        out = sample(self.model, hi - lo, length=self.length, steps=self.steps, guidance=self.guidance, cond=cond,
                     seed=chunk_seed(self.seed, k), progress=False, cache=self.cache)
        self._results.append((k, lo, hi, out))
        return k

    def on_predict_epoch_end(self) -> None:
        results = self._results
        world = self.trainer.world_size if self._trainer is not None else 1
        if world > 1 and torch.distributed.is_available() and torch.distributed.is_initialized():
            parts: list[Any] | None = [None] * world if self.trainer.is_global_zero else None
            torch.distributed.gather_object(results, parts, dst=0)
            results = [r for part in parts for r in part] if parts is not None else []
        if self._trainer is None or self.trainer.is_global_zero:
            self.gathered = sorted(results, key=lambda r: r[0])
        self._results = []


def merge_blocks(blocks: Sequence[tuple[int, int, int, Samples]], *, n: int, seed: int, seconds: float) -> Samples:
    """One :class:`Samples` from the ``(block, start, stop, Samples)`` of a run, with the costs summed over blocks.

    Raises:
        RuntimeError: if the blocks do not cover requests ``0 .. n-1`` exactly once.
    """
    blocks = sorted(blocks, key=lambda b: b[1])
    expected = 0
    for _, lo, hi, _ in blocks:
        if lo != expected:
            raise RuntimeError(f"distributed sampling lost or repeated requests: a block starts at {lo}, "
                               f"expected {expected}")
        expected = hi
    if expected != n:
        raise RuntimeError(f"distributed sampling returned {expected} of {n} requests")
    parts = [s for *_, s in blocks]
    first = parts[0]
    if isinstance(first.sequences, torch.Tensor):
        sequences: Any = torch.cat([p.sequences for p in parts])
    else:
        sequences = [x for p in parts for x in p.sequences]

    def cat(name: str) -> np.ndarray | None:
        values = [getattr(p, name) for p in parts]
        if any(v is None for v in values):
            return None
        if name == "group":  # request indices within a block -> within the run
            values = [v + lo for v, (_, lo, _, _) in zip(values, blocks)]
        return np.concatenate(values)

    trace: dict[str, Any] = dict(first.trace)
    for key, value in first.trace.items():
        if key in _SUMMED or (isinstance(value, (int, float)) and not isinstance(value, bool)
                              and key not in ("nfe", "steps", "seed", "seconds")):
            trace[key] = sum(p.trace.get(key, 0) for p in parts)
    rows = sum(round(p.trace["nfe"] * (hi - lo)) for (_, lo, hi, p) in blocks)  # network rows, as sample() counts
    trace.update(nfe=rows / n, seed=seed, seconds=seconds, blocks=len(parts))
    return Samples(sequences, torch.cat([p.tokens for p in parts]), cat("scores"), cat("weights"), cat("group"),
                   trace)


def sample_distributed(
    model: torch.nn.Module,
    n: int,
    *,
    steps: int,
    length: int | None = None,
    guidance: Guider | Sequence[Guider] = (),
    cond: Any = None,
    seed: int = 0,
    batch_size: int | None = None,
    cache: bool = True,
    accelerator: str = "auto",
    devices: int | str | list[int] = "auto",
    strategy: str = "auto",
    num_nodes: int = 1,
    precision: str = "32-true",
    compile: bool = False,
    progress: bool = True,
) -> Samples | None:
    """Draw ``n`` samples on several processes/devices/nodes with a Lightning ``Trainer`` (module docs).

    Args:
        model: The generative model.
        n: Number of samples requested.
        steps: Reverse steps.
        length: Sequence length (default: the model's).
        guidance: A guider or a list of guiders.
        cond: One class label or ``n`` labels.
        seed: The run's seed (the samples depend on it and on ``batch_size`` only).
        batch_size: Requests per block (the unit dealt to a process); required with several processes.
        cache: Reuse unchanged predictions.
        accelerator: Lightning accelerator (``"auto"``, ``"cpu"``, ``"gpu"``).
        devices: Devices (processes) per node.
        strategy: Lightning strategy (``"ddp"`` for several devices; ``"auto"`` for one).
        num_nodes: Machines.
        precision: ``"32-true"``, ``"bf16-mixed"`` or ``"16-mixed"`` (Lightning's precision plugin).
        compile: ``torch.compile`` the backbone on each process.
        progress: Show Lightning's progress bar over blocks.

    Returns:
        On global rank 0 the :class:`Samples` of all ``n`` requests in order; None on every other rank.

    Raises:
        ValueError: if several processes run without ``batch_size``, or for invalid arguments.
    """
    guiders = [guidance] if isinstance(guidance, Guider) else list(guidance)
    labels = None
    if cond is not None:
        labels = torch.as_tensor(cond, dtype=torch.long).cpu()
        labels = labels.expand(n).clone() if labels.dim() == 0 else labels
        if labels.shape != (n,):
            raise ValueError(f"cond must be one label or {n} labels, got shape {tuple(labels.shape)}")
    trainer = L.Trainer(accelerator=accelerator, devices=devices, strategy=strategy, num_nodes=num_nodes,
                        precision=precision, logger=False, enable_checkpointing=False, enable_model_summary=False,
                        enable_progress_bar=progress, inference_mode=False, use_distributed_sampler=True)
    world = trainer.num_nodes * trainer.num_devices
    if batch_size is None:
        if world > 1:
            raise ValueError(f"batch_size is required with {world} processes: the requests are dealt out in blocks "
                             "of batch_size (the samples depend on it, not on the number of processes)")
        batch_size = n
    requests = SampleRequests(n, batch_size)
    loader = DataLoader(requests, batch_size=1, shuffle=False, collate_fn=_one)
    task = SamplingTask(model, steps=steps, length=length, guidance=guiders, cond=labels, seed=seed, cache=cache,
                        compile=compile)
    start = time.perf_counter()
    trainer.predict(task, dataloaders=loader, return_predictions=False)
    if not trainer.is_global_zero:
        return None
    assert task.gathered is not None
    return merge_blocks(task.gathered, n=n, seed=seed, seconds=time.perf_counter() - start)


def launch_sampling(model: torch.nn.Module, spec: LaunchSpec, n: int, *, steps: int, seed: int,
                    batch_size: int | None = None, compile: bool = False, **kwargs: Any) -> Samples | None:
    """Sample as ``spec`` says: in this process on ``spec.device``, or through :func:`sample_distributed`.

    Both give the same samples for a seed and ``batch_size`` (each block seeded with ``chunk_seed(seed, k)``).

    Args:
        model: The generative model (moved to the device).
        spec: Where to run (``LaunchSpec.from_args`` of ``seqguide sample``'s options).
        n: Samples requested.
        steps: Reverse steps.
        seed: The seed.
        batch_size: Requests per block.
        compile: ``torch.compile`` the backbone first.
        **kwargs: Further ``sample`` arguments (``guidance``, ``cond``, ``length``, ``cache``, ``progress``).

    Returns:
        The samples; None on a process other than global rank 0.
    """
    if spec.distributed:
        return sample_distributed(model, n, steps=steps, seed=seed, batch_size=batch_size,
                                  accelerator=spec.accelerator, devices=spec.lightning_devices(),
                                  strategy=spec.strategy, num_nodes=spec.num_nodes, precision=spec.precision,
                                  compile=compile, **kwargs)
    device = resolve_device(spec.device)
    model = model.to(device)
    if compile:
        from seqguide.models.compile import compile_backbone

        compile_backbone(model)
    with autocast(device, spec.precision):
        return sample(model, n, steps=steps, seed=seed, batch_size=batch_size, chunk_seeds=True, **kwargs)
