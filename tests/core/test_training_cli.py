"""``seqguide train``: one LightningCLI for several sequence model classes (model.class_path), data links kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqguide.cli import main
from seqguide.models import GumbelSoftmaxFlow, MaskedDiffusion, load_model

CONFIGS = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.mark.slow
@pytest.mark.parametrize("config,cls,monitor", [("crp.yaml", MaskedDiffusion, "val/nll"),
                                                ("crp_simplex.yaml", GumbelSoftmaxFlow, "val/ce")])
def test_train_configs_build_their_model_class(tmp_path: Path, capsys, config: str, cls, monitor: str) -> None:
    code = main(["train", "--config", str(CONFIGS / config), "--trainer.max_steps", "4",
                 "--trainer.val_check_interval", "2", "--trainer.default_root_dir", str(tmp_path),
                 "--trainer.enable_progress_bar", "false", "--trainer.logger", "false", "--trainer.accelerator", "cpu"])
    assert code == 0
    out = capsys.readouterr().out
    assert f"model: {cls.__name__}" in out and monitor in out
    best = tmp_path / "checkpoints" / "best.ckpt"
    model = load_model(best)
    assert type(model) is cls
    # Linked from the data, never written in the YAML: alphabet, length, classes, fixed length.
    assert model.length == 26 and model.alphabet.tokens == list("ACGT") and model.num_classes == 0
    ckpt = torch.load(best, weights_only=True)
    assert ckpt["seqguide_model"] == cls.__name__
    assert ckpt["callbacks"] and any(monitor in k for k in ckpt["callbacks"])


@pytest.mark.slow
def test_the_model_class_can_be_switched_on_the_command_line(tmp_path: Path, capsys) -> None:
    code = main(["train", "--config", str(CONFIGS / "crp.yaml"), "--model", "GumbelSoftmaxFlow",
                 "--model.init_args.backbone", "seqguide.models.ConvDenoiser", "--model.init_args.backbone.dim", "16",
                 "--trainer.max_steps", "2", "--trainer.val_check_interval", "2",
                 "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
                 "--trainer.logger", "false", "--trainer.accelerator", "cpu"])
    assert code == 0
    assert isinstance(load_model(tmp_path / "checkpoints" / "best.ckpt"), GumbelSoftmaxFlow)
