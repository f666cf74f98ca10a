"""Training from config alone: DDP on two CPU processes (gloo), resume from the last checkpoint, bf16 mixed
precision, gradient accumulation and torch.compile, all through ``seqguide train`` (LightningCLI)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqguide.data import SequenceDataModule
from seqguide.models import MaskedDiffusion
from seqguide.training.sequences import train_cli

_CONFIG = """\
seed_everything: 0
trainer:
  max_steps: 80
  val_check_interval: 80
  check_val_every_n_epoch: null
  accelerator: cpu
  devices: 1
  enable_progress_bar: false
  logger: false
  enable_model_summary: false
model:
  backbone:
    class_path: seqguide.models.ConvDenoiser
    init_args: {dim: 32, depth: 2, dropout: 0.0}
  lr: 0.005
  warmup_steps: 5
data:
  preset: crp
  batch_size: 32
  val_fraction: 0.15
  seed: 0
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(_CONFIG)
    return path


def _held_out_nll(checkpoint: Path, repeats: int = 16) -> float:
    """ELBO (nats/token) on the validation split with fixed noise: comparable between runs, low variance."""
    data = SequenceDataModule(preset="crp", batch_size=64, val_fraction=0.15, seed=0)
    data.setup("fit")
    x = torch.cat([b["tokens"] for b in data.val_dataloader()])
    model = MaskedDiffusion.load(checkpoint)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        return float(torch.stack([model.nll(x, None, g).mean() for _ in range(repeats)]).mean())


@pytest.mark.slow
def test_ddp_on_two_processes_matches_one_process(tmp_path: Path, config: Path, cpu_env) -> None:
    assert train_cli(["--config", str(config), "--trainer.default_root_dir", str(tmp_path / "one")]) == 0
    # Two processes with half the batch each: the same global batch of 32 and the same number of samples.
    proc = subprocess.run(
        [sys.executable, "-m", "seqguide.cli", "train", "--config", str(config), "--trainer.default_root_dir",
         str(tmp_path / "two"), "--trainer.strategy", "ddp", "--trainer.devices", "2", "--data.batch_size", "16"],
        env=cpu_env, capture_output=True, text=True, timeout=480, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MEMBER: 2/2" in proc.stderr, "Lightning did not start two processes"
    assert proc.stdout.count("checkpoint: ") == 1, "only global rank 0 reports"
    one = _held_out_nll(tmp_path / "one" / "checkpoints" / "last.ckpt")
    two = _held_out_nll(tmp_path / "two" / "checkpoints" / "last.ckpt")
    untrained = math.log(4)  # zero-initialised output head: uniform over A, C, G, T
    assert one < untrained - 0.15 and two < untrained - 0.15, (one, two)
    # Seeds 0-2 on one process give 1.157-1.163; with the same masks on both ranks DDP gave 1.193.
    assert abs(one - two) < 0.025, (one, two)


@pytest.mark.slow
def test_resume_from_last_checkpoint(tmp_path: Path, config: Path, capsys) -> None:
    root = ["--config", str(config), "--trainer.default_root_dir", str(tmp_path / "run")]
    assert train_cli([*root, "--trainer.max_steps", "10", "--ckpt_path", "last"]) == 0
    assert "no last.ckpt in" in capsys.readouterr().out, "a first 'last' run starts fresh and says so"
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    assert torch.load(last, weights_only=True)["global_step"] == 10
    assert train_cli([*root, "--trainer.max_steps", "20", "--ckpt_path", "last"]) == 0
    assert f"resuming from {last} (step 10)" in capsys.readouterr().out
    resumed = torch.load(last, weights_only=True)
    assert resumed["global_step"] == 20
    # A fresh 20-step run with the same seed is deterministic; the resumed one continued from step 10 instead.
    assert train_cli(["--config", str(config), "--trainer.default_root_dir", str(tmp_path / "fresh"),
                      "--trainer.max_steps", "20"]) == 0
    fresh = torch.load(tmp_path / "fresh" / "checkpoints" / "last.ckpt", weights_only=True)
    assert any(not torch.equal(resumed["state_dict"][k], fresh["state_dict"][k]) for k in fresh["state_dict"])
    # A missing checkpoint is one line (exit 2), like every checkpoint seqguide cannot resume from.
    assert train_cli([*root, "--ckpt_path", str(tmp_path / "missing.ckpt")]) == 2
    assert "no such checkpoint file" in capsys.readouterr().err


@pytest.mark.slow
def test_bf16_accumulation_and_compile_from_config(tmp_path: Path, config: Path, capsys) -> None:
    assert train_cli(["--config", str(config), "--trainer.default_root_dir", str(tmp_path / "run"),
                      "--trainer.max_steps", "6", "--trainer.val_check_interval", "12",  # batches, not steps
                      "--trainer.precision", "bf16-mixed", "--trainer.accumulate_grad_batches", "2",
                      "--compile", "true", "--compile_backend", "eager"]) == 0
    metrics = dict(re.findall(r"(\S+)=([-\d.]+)", capsys.readouterr().out.split("metrics:")[-1]))
    assert math.isfinite(float(metrics["val/nll"]))
    ckpt = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)
    assert ckpt["global_step"] == 6
    batches = ckpt["loops"]["fit_loop"]["epoch_loop.batch_progress"]["total"]["completed"]
    assert batches == 12, "two batches per optimiser step"
    saved = (tmp_path / "run" / "config.yaml").read_text()
    assert "precision: bf16-mixed" in saved and "compile: true" in saved
    assert not any("_orig_mod" in k for k in ckpt["state_dict"]), "compiled in place: plain checkpoint keys"
    MaskedDiffusion.load(tmp_path / "run" / "checkpoints" / "last.ckpt")
