"""One resolver for devices and precision; campaigns take their device from it instead of pinning the CPU."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pytest
import torch

from seqguide.models import devices
from seqguide.models.devices import LaunchSpec, add_device_arguments, autocast, lightning_accelerator, resolve_device


def test_auto_is_the_best_available_device_and_the_environment_overrides_it(monkeypatch) -> None:
    monkeypatch.delenv(devices.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device() == resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device() == torch.device("cuda") and lightning_accelerator() == "gpu"
    assert devices.lightning_devices("cuda:1") == [1]
    monkeypatch.setenv(devices.DEVICE_ENV, "cpu")
    assert resolve_device() == torch.device("cpu") and lightning_accelerator() == "cpu"
    assert resolve_device("cuda:1") == torch.device("cuda:1"), "an explicit device wins over the environment"
    with pytest.raises(ValueError, match="'cuda:2' does not exist: this machine has 2"):
        resolve_device("cuda:2")


def test_unavailable_or_unknown_devices_are_named(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="'cuda' was requested but CUDA is not available"):
        resolve_device("gpu")
    with pytest.raises(ValueError, match="unknown device 'tpu9'"):
        resolve_device("tpu9")


def test_precision_outside_a_trainer() -> None:
    a, b = torch.randn(4, 4), torch.randn(4, 4)
    with autocast("cpu", "32"):
        assert (a @ b).dtype == torch.float32
    with autocast("cpu", "bf16-mixed"):
        assert (a @ b).dtype == torch.bfloat16
    with pytest.warns(UserWarning, match="needs CUDA; using 'bf16-mixed'"), autocast("cpu", "16-mixed"):
        assert (a @ b).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="precision must be one of"):
        devices.normalize_precision("bf16-true")


def test_launch_options() -> None:
    parser = argparse.ArgumentParser()
    add_device_arguments(parser)
    single = LaunchSpec.from_args(parser.parse_args([]))
    assert not single.distributed and single.device == "auto" and single.precision == "32-true"
    multi = LaunchSpec.from_args(parser.parse_args(["--devices", "0,1", "--strategy", "ddp", "--precision", "bf16"]))
    assert multi.distributed and multi.lightning_devices() == [0, 1] and multi.precision == "bf16-mixed"
    assert LaunchSpec(num_nodes=2).distributed and LaunchSpec(devices="auto").lightning_devices() == "auto"


def test_campaign_model_is_loaded_on_the_resolved_device(tmp_path: Path, monkeypatch) -> None:
    from scale_helpers import tiny_model

    from seqguide.design import load_campaign, model_source
    from seqguide.design.objective import build_objective

    model = tiny_model()
    ckpt = tmp_path / "model.ckpt"
    torch.save({"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams)}, ckpt)
    (tmp_path / "campaign.yaml").write_text(textwrap.dedent(f"""
        model:
          checkpoint: {ckpt}
        objective:
          oracles:
            - name: gc
        loop:
          rounds: 1
          candidates: 4
    """))
    config = load_campaign(tmp_path / "campaign.yaml").config
    asked: list[str] = []

    def spy(spec=None):
        asked.append("resolved")
        return torch.device("cpu")

    monkeypatch.setattr(model_source, "resolve_device", spy)
    loaded, info = model_source.prepare_model(config, tmp_path / "run", build_objective(config.objective))
    assert asked and loaded.device == torch.device("cpu") and info["source"] == "checkpoint"
