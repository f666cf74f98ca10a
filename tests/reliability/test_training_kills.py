"""SIGKILL and SIGTERM during training: resuming from the last checkpoint ends with exactly the weights (and the
optimiser state) of an uninterrupted run. The runs are forked processes that receive real signals at random
optimiser steps (SIGKILL loses the steps since the last checkpoint; SIGTERM makes Lightning stop at the step
boundary, where the last checkpoint is written)."""

from __future__ import annotations

import multiprocessing as mp
import os
import random
import signal
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.slow

STEPS, VAL_EVERY = 24, 6


def _train(out: str, kill_at: int, signum: int, resume: bool) -> None:
    """Run in a forked child: train, killing this process with ``signum`` after step ``kill_at`` (0: never)."""
    import lightning as L

    import seqguide.training.sequences as training
    from seqguide.data import SequenceDataModule
    from seqguide.models import ConvDenoiser

    torch.set_num_threads(1)

    class Killer(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if kill_at and trainer.global_step == kill_at:
                os.kill(os.getpid(), signum)

    make = training.step_trainer

    def with_killer(*args, **kwargs):
        trainer, cb = make(*args, **kwargs)
        trainer.callbacks.append(Killer())
        return trainer, cb

    training.step_trainer = with_killer
    dm = SequenceDataModule(preset="crp", batch_size=32, val_fraction=0.1, seed=0)
    training.train_masked_diffusion(dm, backbone=ConvDenoiser(dim=16, depth=2), out_dir=out, max_steps=STEPS,
                                    val_check_interval=VAL_EVERY, seed=0, progress=False, accelerator="cpu",
                                    resume=resume)
    os._exit(0)


def _run(out: Path, kill_at: int = 0, signum: int = signal.SIGKILL, resume: bool = False) -> int:
    proc = mp.get_context("fork").Process(target=_train, args=(str(out), kill_at, signum, resume))
    proc.start()
    proc.join(timeout=240)
    assert not proc.is_alive(), "training did not finish"
    return proc.exitcode


def _final(out: Path) -> dict:
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["global_step"] == STEPS
    return ckpt


def test_killed_training_resumes_to_the_uninterrupted_weights(tmp_path, tally):
    rng = random.Random(1307)
    assert _run(tmp_path / "reference") == 0
    reference = _final(tmp_path / "reference")

    out = tmp_path / "killed"
    first = rng.randrange(VAL_EVERY + 1, 2 * VAL_EVERY * 2 - 1)  # past a checkpoint, mid-epoch (11 batches/epoch)
    second = rng.randrange(first + 1, STEPS)
    assert _run(out, first, signal.SIGKILL) == -signal.SIGKILL
    _run(out, second, signal.SIGTERM, resume=True)  # Lightning stops at the step boundary (SystemExit) ...
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=True)["global_step"] == second  # ... saving it
    assert _run(out, resume=True) == 0
    resumed = _final(out)

    assert resumed["state_dict"].keys() == reference["state_dict"].keys()
    for key, value in reference["state_dict"].items():
        assert torch.equal(resumed["state_dict"][key], value), key
    for a, b in zip(reference["optimizer_states"][0]["state"].values(),
                    resumed["optimizer_states"][0]["state"].values()):
        assert all(torch.equal(a[k], b[k]) for k in a)
    tally.faults("training: SIGKILL then SIGTERM at random steps, resumed", 2)
