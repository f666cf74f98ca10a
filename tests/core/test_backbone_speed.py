"""Issue 23: the rotary embedding as a complex multiply and the unconditioned blocks without modulation give the
outputs of the code before (reference implementation below, and checkpoints with outputs written by that code in
``data/rotary_checkpoints.pt``); the one Gumbel-max helper draws from softmax; the masked step's noise only where a
token is revealed keeps the distribution, and ``noise_everywhere`` reproduces the old random stream."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqguide import sample
from seqguide.models import MaskedDiffusion, TransformerDenoiser, load_model
from seqguide.models.backbones import _rotary_tables, _rotate
from seqguide.models.gumbel import gumbel_argmax, gumbel_noise

FIXTURE = Path(__file__).parent / "data" / "rotary_checkpoints.pt"


def _old_rotate(x: torch.Tensor, length: int) -> torch.Tensor:
    """The rotation before issue 23: pairs (2i, 2i + 1) on strided views, stack and flatten."""
    dh = x.shape[-1]
    inv = 1.0 / (10_000.0 ** (torch.arange(0, dh, 2, dtype=torch.float32) / dh))
    angles = torch.arange(length, dtype=torch.float32)[:, None] * inv[None]
    cos, sin = angles.cos(), angles.sin()
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1).flatten(-2)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_rotation_matches_the_old_pairing_on_a_strided_view(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    B, L, H, dh = 3, 17, 2, 8
    qkv = torch.randn(B, L, 3 * H * dh, generator=gen).to(dtype)
    q, k, _ = qkv.view(B, L, 3, H, dh).permute(2, 0, 3, 1, 4)  # the block's layout: strided views of one tensor
    rope = _rotary_tables(L, dh, q.device)
    tol = 1e-2 if dtype == torch.bfloat16 else 1e-6
    for x in (q, k):
        new = _rotate(x, rope)
        assert new.dtype == dtype and new.shape == x.shape
        torch.testing.assert_close(new.float(), _old_rotate(x.float(), L).to(dtype).float(), atol=tol, rtol=tol)


def test_rotation_gradients_match_the_old_ones() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 2, 9, 6, generator=gen, requires_grad=True)
    w = torch.randn(2, 2, 9, 6, generator=gen)
    (_rotate(x, _rotary_tables(9, 6, x.device)) * w).sum().backward()
    g_new = x.grad.clone()
    x.grad = None
    (_old_rotate(x, 9) * w).sum().backward()
    torch.testing.assert_close(g_new, x.grad, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("name", ["plain", "conditioned"])
def test_checkpoint_of_the_old_code_loads_and_gives_its_logits_and_samples(name: str, tmp_path: Path) -> None:
    entry = torch.load(FIXTURE, weights_only=True)[name]
    path = tmp_path / f"{name}.ckpt"
    torch.save({k: entry[k] for k in ("state_dict", "hyper_parameters", "seqguide_model")}, path)
    model = load_model(path)
    conditioned = name == "conditioned"
    with torch.no_grad():
        logits = model.backbone(entry["inputs"], entry["t"] if conditioned else None, entry["labels"])
    torch.testing.assert_close(logits, entry["logits"], atol=1e-5, rtol=1e-5)
    model.noise_everywhere = True  # the old random stream: the very samples the old code drew
    out = sample(model, 6, steps=6, seed=11, progress=False, cond=1 if conditioned else None).sequences
    assert list(out) == entry["samples"]


def test_unconditioned_block_output_does_not_depend_on_a_missing_ada() -> None:
    """A conditioned network whose adaLN is zero is the identity modulation: it equals the unconditioned path."""
    torch.manual_seed(0)
    plain = MaskedDiffusion("dna", length=10, backbone=TransformerDenoiser(dim=16, depth=2, heads=2, dropout=0.0))
    cond = MaskedDiffusion("dna", length=10, num_classes=2,
                           backbone=TransformerDenoiser(dim=16, depth=2, heads=2, dropout=0.0))
    shared = {k: v for k, v in plain.state_dict().items() if "norm1" not in k and "norm2" not in k}
    cond.load_state_dict(shared, strict=False)
    with torch.no_grad():
        for p in cond.backbone.class_embed.parameters():
            p.normal_()
        x = torch.randint(0, 4, (3, 10))
        # layer norms of the plain model are affine (weight 1, bias 0 at init): the same function as no affine
        torch.testing.assert_close(plain.backbone(x), cond.backbone(x, None, torch.tensor([0, 1, 2])))


def test_gumbel_argmax_draws_from_softmax() -> None:
    probs = torch.tensor([0.125, 0.25, 0.625])
    logp = probs.log().expand(200_000, 3)
    draws = gumbel_argmax(logp, torch.Generator().manual_seed(0))
    freq = torch.bincount(draws, minlength=3).double() / draws.numel()
    torch.testing.assert_close(freq, probs.double(), atol=5e-3, rtol=0)


def test_gumbel_noise_is_finite_and_standard() -> None:
    g = gumbel_noise((400_000,), torch.Generator().manual_seed(1), dtype=torch.float64)
    assert torch.isfinite(g).all()
    assert abs(g.mean().item() - 0.5772156649) < 0.01  # Euler-Mascheroni constant
    assert abs(g.var().item() - torch.pi ** 2 / 6) < 0.02


@pytest.mark.parametrize("everywhere", [False, True])
def test_masked_step_reveals_from_softmax_and_keeps_the_rest(everywhere: bool) -> None:
    model = MaskedDiffusion("dna", length=4, backbone=TransformerDenoiser(dim=16, depth=1, heads=2))
    model.noise_everywhere = everywhere
    n, V = 50_000, model.alphabet.vocab_size
    state = torch.full((n, 4), model.mask_id)
    state[:, 0] = 1  # a kept token
    probs = torch.zeros(V)
    probs[:4] = torch.tensor([0.1, 0.2, 0.3, 0.4])
    pred = probs.log().expand(n, 4, V).clone()
    out = model.step(state, pred, 1.0, 0.0, generator=torch.Generator().manual_seed(2))  # reveal everything masked
    assert (out[:, 0] == 1).all()
    freq = torch.bincount(out[:, 1:].flatten(), minlength=V)[:4].double() / (3 * n)
    torch.testing.assert_close(freq, probs[:4].double(), atol=6e-3, rtol=0)
    part = model.step(state, pred, 0.5, 0.25, generator=torch.Generator().manual_seed(3))
    still = part[:, 1:] == model.mask_id
    assert 0.1 < still.double().mean() < 0.9  # some revealed, some kept masked
