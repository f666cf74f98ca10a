"""``seqguide train`` is quiet: no warning or advertisement that seqguide's own settings cause, a help text that
names the command, and a progress bar that shows the run's real length."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from seqguide.training.quiet import epoch_description

ROOT = Path(__file__).resolve().parents[2]
_ENTRY = "from seqguide.cli import main; raise SystemExit(main())"
# What the messages we silenced look like: a warning (Lightning prints them as "file.py:LINE: text"), the logger
# advertisement, the TensorBoard notice, LightningCLI's args notice, or an epoch total of -2.
_NOISE = re.compile(r"warn|Tip:|tensorboard|litlogger|\.py:\d+: |args parameter|/-\d", re.I)


def test_the_progress_bar_shows_the_real_length_of_a_run() -> None:
    assert epoch_description(2, -1, 600) == "Epoch 2 (600 steps)"  # counted in steps: not "Epoch 2/-2"
    assert epoch_description(2, 10, -1) == "Epoch 2/9"
    assert epoch_description(0, None, -1) == "Epoch 0"


def test_train_help_names_the_command() -> None:
    proc = subprocess.run([sys.executable, "-c", _ENTRY, "train", "--help"], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: seqguide train "), proc.stdout[:200]


@pytest.mark.slow
def test_a_tiny_train_prints_no_warning_we_cause(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", _ENTRY, "train", "--config", "configs/train/crp.yaml",
                           "--trainer.max_steps", "3", "--trainer.val_check_interval", "2",
                           "--trainer.default_root_dir", str(tmp_path / "run")],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    noisy = [line for line in proc.stderr.replace("\r", "\n").splitlines() if _NOISE.search(line)]
    assert noisy == [], noisy
    assert "`Trainer.fit` stopped: `max_steps=3` reached." in proc.stderr  # Lightning's own news still shows
    assert (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()
    assert list((tmp_path / "run" / "lightning_logs").glob("version_*/metrics.csv"))  # the CSV logger still logs
