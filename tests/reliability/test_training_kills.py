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
    # ... so the printed model digest (tensors only, not the file's timestamps and loop state) is the same.
    from seqguide.design.model_source import model_digest

    last = "checkpoints/last.ckpt"
    assert model_digest(out / last) == model_digest(tmp_path / "reference" / last)
    tally.faults("training: SIGKILL then SIGTERM at random steps, resumed", 2)


class _Evil:
    """Pickles as a call of ``os.system`` (what weights_only loading must refuse)."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def _bad_checkpoints(tmp_path: Path, good: Path) -> dict[str, Path]:
    """An empty file, a truncated real checkpoint, one that runs code, and a plain dict with no training state."""
    data = good.read_bytes()
    files = {"empty": b"", "truncated": data[: len(data) // 2]}
    out = {}
    for name, content in files.items():
        out[name] = tmp_path / f"{name}.ckpt"
        out[name].write_bytes(content)
    out["malicious"] = tmp_path / "malicious.ckpt"
    torch.save({"state_dict": {}, "global_step": _Evil()}, out["malicious"])
    out["not training"] = tmp_path / "weights.ckpt"
    torch.save({"weights": torch.zeros(2)}, out["not training"])
    return out


CLI_TRAIN = ["--data.preset", "crp", "--model.init_args.backbone", "seqguide.models.ConvDenoiser",
             "--model.init_args.backbone.dim", "8", "--trainer.max_steps", "2", "--trainer.enable_progress_bar",
             "false", "--trainer.logger", "false", "--trainer.accelerator", "cpu"]


@pytest.mark.parametrize("kind", ["empty", "truncated", "malicious", "not training"])
def test_a_bad_checkpoint_to_resume_from_is_one_line_naming_it(tmp_path, tiny_model, tally, capfd, kind):
    """``seqguide train --ckpt_path FILE`` and ``--resume`` (a bad ``last.ckpt``), and a campaign's left-over
    ``model/train/checkpoints/last.ckpt``: exit 2, one line naming the file, saying to delete it; never run."""
    from reliability_helpers import one_or_two_lines

    from seqguide.cli import main
    from seqguide.training.step_trainer import checked_resume

    bad = _bad_checkpoints(tmp_path, tiny_model)[kind]
    root = tmp_path / "root"
    (root / "checkpoints").mkdir(parents=True)
    (root / "checkpoints" / "last.ckpt").write_bytes(bad.read_bytes())
    for how in (["--ckpt_path", str(bad)], ["--resume"]):
        capfd.readouterr()
        code = main(["train", *CLI_TRAIN, "--trainer.default_root_dir", str(root), *how])
        err = capfd.readouterr().err
        assert code == 2, (how, err)
        # Lightning's own start-up lines ("INFO: Seed set to 0", "GPU available") come before the check, and
        # reach stderr only where an earlier test left Lightning's loggers at INFO; the refusal itself is one line.
        refusal = "\n".join(ln for ln in err.splitlines() if not ln.startswith("INFO: "))
        assert one_or_two_lines(refusal) and "pwned" not in err, err
        named = bad if how[0] == "--ckpt_path" else root / "checkpoints" / "last.ckpt"
        assert f"cannot resume training from {named}" in err and "delete it" in err, err
    assert "pwned" not in capfd.readouterr().out
    with pytest.raises(ValueError, match=r"cannot resume training from .*delete it"):
        checked_resume(bad)
    tally.inputs("training: bad checkpoints to resume from (--ckpt_path, --resume)", 2)


def test_a_corrupt_last_checkpoint_left_in_a_campaign_is_one_line_naming_it(tmp_path, tally):
    """A campaign killed while training left ``model/train/checkpoints/last.ckpt``; if that file is damaged,
    ``--resume`` refuses in one line naming it (not Lightning's traceback, again and again); once it is deleted,
    the resume trains afresh and finishes."""
    import yaml
    from reliability_helpers import call_cli, one_or_two_lines

    from seqguide.design.cli import design_main

    run_dir = tmp_path / "run"
    cfg = {"name": "trained", "run_dir": str(run_dir), "objective": {"oracles": [{"name": "gc"}]},
           "model": {"train": {"data": {"preset": "crp", "val_fraction": 0.1, "batch_size": 16},
                               "backbone": {"type": "conv", "dim": 8, "depth": 1}, "steps": 2,
                               "val_check_interval": 2}},
           "sampling": {"steps": 4}, "loop": {"rounds": 1, "candidates": 2}}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    work = run_dir / "model" / "train"
    code, _, err = call_cli(design_main, ["run", str(path), "--no-progress"])
    assert code == 0, err
    (run_dir / "model" / "model.ckpt").unlink()  # as if killed while training: only last.ckpt is left
    last = work / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:100])
    for _ in range(2):  # the same line each time, never a traceback
        code, _, err = call_cli(design_main, ["run", str(path), "--no-progress", "--resume"])
        assert code == 2 and one_or_two_lines(err), err
        assert f"cannot resume training from {last}" in err and "delete it" in err, err
    last.unlink()
    code, _, err = call_cli(design_main, ["run", str(path), "--no-progress", "--resume"])
    assert code == 0, err
    tally.inputs("campaign: a truncated last.ckpt left by training", 1)
