"""Writes ``rotary_checkpoints.pt``: two tiny MaskedDiffusion transformer checkpoints and what the code before the
complex-multiply rotary embedding (issue 23) computed with them: logits on fixed inputs and samples drawn with the
then-only random stream (Gumbel noise at every position). Run once at commit 67c259c (the old ``_rotate`` /
``_modulate`` code); ``tests/core/test_backbone_speed.py`` checks the current code against the file.

    PYTHONPATH=. python tests/core/data/make_rotary_fixture.py
"""

from pathlib import Path

import torch

from seqguide import sample
from seqguide.models import MaskedDiffusion, TransformerDenoiser


def _tiny(**kwargs) -> MaskedDiffusion:
    model = MaskedDiffusion("dna", length=12, backbone=TransformerDenoiser(dim=16, depth=2, heads=2, dropout=0.0),
                            **kwargs)
    gen = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in model.parameters():  # adaLN-Zero and the head start at zero: give every weight a value
            p.copy_(0.5 * torch.randn(p.shape, generator=gen))
    return model.eval()


def main() -> None:
    out = {}
    for name, kwargs in (("plain", {}), ("conditioned", {"num_classes": 2, "time_conditioning": True})):
        model = _tiny(**kwargs)
        gen = torch.Generator().manual_seed(3)
        x = torch.randint(0, model.alphabet.size, (5, 12), generator=gen)
        x[:, ::3] = model.mask_id
        t = torch.full((5,), 0.4)
        labels = torch.tensor([0, 1, 2, 0, 1]) if kwargs else None
        with torch.no_grad():
            logits = model.backbone(x, t if kwargs.get("time_conditioning") else None, labels)
            samples = sample(model, 6, steps=6, seed=11, progress=False, cond=1 if kwargs else None).sequences
        out[name] = {"state_dict": model.state_dict(), "hyper_parameters": dict(model.hparams),
                     "seqguide_model": "MaskedDiffusion", "inputs": x, "t": t, "labels": labels,
                     "logits": logits, "samples": list(samples)}
    torch.save(out, Path(__file__).with_name("rotary_checkpoints.pt"))


if __name__ == "__main__":
    main()
