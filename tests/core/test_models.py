"""Backbones and MaskedDiffusion: shapes, SUBS constraints, the reverse step, ELBO training on real data."""

from __future__ import annotations

import math

import lightning as L
import pytest
import torch

from seqguide import DNA, sample
from seqguide.data import SequenceDataModule
from seqguide.models import ConvDenoiser, MaskedDiffusion, TransformerDenoiser, build_backbone
from seqguide.training.sequences import train_masked_diffusion


@pytest.mark.parametrize("cls", [TransformerDenoiser, ConvDenoiser])
@pytest.mark.parametrize("num_classes,time_cond", [(0, False), (3, True)])
def test_backbone_shapes_and_rebuild_from_spec(cls, num_classes: int, time_cond: bool) -> None:
    net = cls(dim=32, depth=2)
    net.build(vocab_size=7, length=10, num_classes=num_classes, time_conditioning=time_cond)
    x = torch.randint(0, 7, (3, 10))
    t = torch.rand(3) if time_cond else None
    y = torch.tensor([0, 1, num_classes]) if num_classes else None
    assert net(x, t, y).shape == (3, 10, 7)
    twin = build_backbone(net.spec())
    twin.build(vocab_size=7, length=10, num_classes=num_classes, time_conditioning=time_cond)
    twin.load_state_dict(net.state_dict())
    assert torch.equal(twin(x, t, y), net(x, t, y))


def test_class_embedding_changes_prediction_and_null_class_is_default() -> None:
    torch.manual_seed(0)
    net = TransformerDenoiser(dim=32, depth=1, heads=2)
    net.build(vocab_size=6, length=8, num_classes=2)
    for p in net.parameters():  # leave the adaLN-Zero identity initialisation
        torch.nn.init.normal_(p, std=0.2)
    net.eval()
    x = torch.randint(0, 6, (2, 8))
    assert not torch.allclose(net(x, labels=torch.tensor([0, 0])), net(x, labels=torch.tensor([1, 1])))
    assert torch.equal(net(x), net(x, labels=torch.tensor([2, 2])))


def test_subs_parameterisation_and_reverse_step() -> None:
    torch.manual_seed(0)
    model = MaskedDiffusion("dna", length=12, backbone=TransformerDenoiser(dim=32, depth=1, heads=2)).eval()
    x = model.prior(64)
    x[:, :4] = torch.tensor([0, 1, 2, 3])
    logp = model.predict(x, 0.7)
    assert logp.shape == (64, 12, DNA.vocab_size)
    assert torch.isneginf(logp[..., DNA.mask_id]).all(), "mask must have zero probability"
    assert torch.allclose(logp[:, 4:].exp().sum(-1), torch.ones(64, 8))
    carried = logp[:, :4].argmax(-1)
    assert torch.equal(carried, x[:, :4]) and torch.equal(logp[:, :4].max(-1).values, torch.zeros(64, 4))
    g = torch.Generator().manual_seed(1)
    nxt = model.step(x, logp, 1.0, 0.75, g)
    assert torch.equal(nxt[:, :4], x[:, :4]), "unmasked tokens never change"
    revealed = (nxt[:, 4:] != DNA.mask_id).float().mean()
    assert abs(float(revealed) - 0.25) < 0.05  # loglinear: reveal prob (a_s - a_t)/(1 - a_t) = 0.25
    final = model.step(x, logp, 0.2, 0.0, g)
    assert not (final == DNA.mask_id).any(), "the step to t=0 reveals every token"
    assert not (final == DNA.pad_id).all()


def test_fixed_length_forbids_pad() -> None:
    model = MaskedDiffusion("dna", length=6, backbone=ConvDenoiser(dim=16, depth=2), fixed_length=True).eval()
    logp = model.predict(model.prior(4), 1.0)
    assert torch.isneginf(logp[..., DNA.pad_id]).all()
    out = sample(model, 32, steps=6, seed=0, progress=False)
    assert all(len(s) == 6 for s in out.sequences)


def test_constructor_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="length must be >= 1"):
        MaskedDiffusion("dna", length=0)
    with pytest.raises(ValueError, match="unknown noise schedule 'cubic'"):
        MaskedDiffusion("dna", length=4, schedule="cubic", backbone=ConvDenoiser(dim=8, depth=1))
    with pytest.raises(ValueError, match="heads=3 must divide dim=32"):
        TransformerDenoiser(dim=32, heads=3)


@pytest.mark.slow
def test_training_on_real_data_beats_uniform_and_checkpoint_reloads_weights_only(tmp_path) -> None:
    """A few hundred steps on the CRP binding sites (RegulonDB via logomaker) learn the motif:
    validation NLL falls well below the uniform baseline log(4) nats/token."""
    data = SequenceDataModule(preset="crp", batch_size=32, val_fraction=0.15, seed=0)
    result = train_masked_diffusion(
        data, backbone=ConvDenoiser(dim=64, depth=4), out_dir=tmp_path, max_steps=300, val_check_interval=100,
        lr=2e-3, warmup_steps=20, progress=False, accelerator="cpu",
    )
    baseline = math.log(4)
    assert result.metrics["val/nll"] < 0.85 * baseline, result.metrics
    # The checkpoint is plain data: it loads with weights_only=True and reproduces the model.
    ckpt = torch.load(result.checkpoint, map_location="cpu", weights_only=True)
    assert ckpt["hyper_parameters"]["alphabet"]["tokens"] == list("ACGT")
    again = MaskedDiffusion.load(result.checkpoint)
    x = again.prior(4)
    assert torch.equal(again.predict(x, 1.0), result.model.predict(x, 1.0))
    out = sample(again, 64, steps=26, seed=0, progress=False)
    assert all(len(s) == 26 and set(s) <= set("ACGT") for s in out.sequences)
    # CRP sites are palindromic TGTGA...TCACA: the trained model puts the half-site where the data have it.
    frac = sum("TGTGA" in s or "TCACA" in s for s in out.sequences) / len(out.sequences)
    random_frac = 1 - (1 - 2 / 4**5) ** 22
    assert frac > 3 * random_frac, (frac, random_frac)


def test_conditional_training_uses_labels(tmp_path) -> None:
    data = SequenceDataModule(preset="amp", limit=200, length=40, too_long="drop", batch_size=32, seed=0)
    assert data.num_classes == 2
    model = MaskedDiffusion(data.alphabet, length=data.length, num_classes=data.num_classes,
                            backbone=ConvDenoiser(dim=32, depth=2), lr=1e-3)
    trainer = L.Trainer(max_steps=3, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator="cpu", limit_val_batches=1)
    trainer.fit(model, datamodule=data)
    out = sample(model, 4, steps=8, cond=1, seed=0, progress=False)
    assert len(out.sequences) == 4
    with pytest.raises(ValueError, match="one label or 4 labels"):
        sample(model, 4, steps=8, cond=[0, 1], seed=0, progress=False)


@pytest.mark.slow
def test_another_models_checkpoint_is_named_even_when_its_class_was_never_imported(tmp_path) -> None:
    # MaskedDiffusion.load of a GumbelSoftmaxFlow checkpoint in a process that imported only the masked model:
    # the base class no longer imports its subclasses (no import circle), and still says what the file holds.
    import subprocess
    import sys

    path = tmp_path / "flow.ckpt"
    torch.save({"state_dict": {}, "hyper_parameters": {"backbone": {"name": "ConvDenoiser"}, "alphabet": "dna"},
                "seqguide_model": "GumbelSoftmaxFlow"}, path)
    script = ("import sys\nfrom seqguide.models.masked import MaskedDiffusion\n"
              "assert 'seqguide.models.simplex' not in sys.modules\n"
              f"MaskedDiffusion.load({str(path)!r})\n")
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "a GumbelSoftmaxFlow checkpoint, not a MaskedDiffusion one; load it with seqguide.models.load_model" \
        in run.stderr, run.stderr
