"""Packaged image data, image training (Python and ``seqguide train``) and checkpoints."""

from __future__ import annotations

import pytest
import torch

from seqguide import sample
from seqguide.cli import main
from seqguide.data import ImageDataModule
from seqguide.models import FlowMatching, GaussianDiffusion, ImageUNet
from seqguide.training.images import is_image_config, train_image_model


def test_digits_and_photo_patches_are_split_by_class() -> None:
    dm = ImageDataModule("digits", val_fraction=0.1, test_fraction=0.2)
    assert dm.image_shape == (1, 8, 8) and dm.num_classes == 10
    sizes = {name: len(dm.split(name)) for name in ("train", "val", "test")}
    assert sum(sizes.values()) == 1797 and sizes["test"] == pytest.approx(0.2 * 1797, abs=10)
    train = dm.split("train")
    assert train.images.min() == -1 and train.images.max() == 1
    counts = torch.bincount(dm.split("test").labels, minlength=10)
    assert counts.min() >= 34  # stratified: every class in proportion
    patches = ImageDataModule("photo_patches")
    assert patches.image_shape == (3, 16, 16) and patches.class_names == ["china", "flower"]
    with pytest.raises(ValueError, match="unknown preset"):
        ImageDataModule("mnist")
    with pytest.raises(ValueError, match="val_fraction"):
        ImageDataModule("digits", val_fraction=1.5)


@pytest.mark.slow
@pytest.mark.parametrize("cls", [GaussianDiffusion, FlowMatching])
def test_training_lowers_the_loss_and_checkpoints_reload(tmp_path, cls) -> None:
    torch.manual_seed(0)
    data = ImageDataModule("digits", batch_size=64, val_fraction=0.1)
    model = cls(ImageUNet(base_channels=8, channel_mult=(1, 2)), image_shape=data.image_shape,
                num_classes=data.num_classes, lr=3e-3, warmup_steps=5)
    batch = next(iter(data.val_dataloader()))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        before = model.loss(batch["images"], batch["labels"], gen).mean()
    result = train_image_model(model, data, out_dir=tmp_path, max_steps=60, val_check_interval=30, progress=False,
                               accelerator="cpu", ema_decay=0.0)  # 60 steps: an average would still be the init
    with torch.no_grad():
        after = result.model.loss(batch["images"], batch["labels"], torch.Generator().manual_seed(0)).mean()
    assert after < 0.8 * before
    reloaded = cls.load(result.checkpoint)  # torch.load(weights_only=True)
    a = sample(result.model, 4, steps=3, cond=2, seed=0, progress=False).tokens
    b = sample(reloaded, 4, steps=3, cond=2, seed=0, progress=False).tokens
    assert torch.allclose(a, b, atol=1e-5)
    other = FlowMatching if cls is GaussianDiffusion else GaussianDiffusion
    with pytest.raises(ValueError, match="checkpoint"):
        other.load(result.checkpoint)


@pytest.mark.slow
def test_seqguide_train_dispatches_image_configs(tmp_path, capsys) -> None:
    cfg = "configs/train/digits_diffusion.yaml"
    assert is_image_config(["--config", cfg]) and is_image_config([f"--config={cfg}"])
    assert not is_image_config(["--config", "configs/train/crp.yaml"])
    rc = main(["train", "--config", cfg, "--trainer.max_steps", "2", "--trainer.val_check_interval", "2",
               "--trainer.default_root_dir", str(tmp_path), "--trainer.enable_progress_bar", "false",
               "--model.init_args.denoiser.init_args.base_channels", "8"])
    assert rc == 0
    ckpt = tmp_path / "checkpoints" / "best.ckpt"
    assert ckpt.is_file() and "checkpoint:" in capsys.readouterr().out
    model = GaussianDiffusion.load(ckpt)
    assert model.prediction == "v" and model.image_shape == (1, 8, 8) and model.num_classes == 10
