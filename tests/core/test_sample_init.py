"""sample(init=...): a partially masked start is refilled from the model's conditional; kept positions stay."""

from __future__ import annotations

import itertools

import pytest
import torch

from seqguide import sample
from seqguide.models.toy import ExactMaskedModel


def _model() -> ExactMaskedModel:
    seqs = ["".join(p) for p in itertools.product("AC", repeat=3)]
    weights = torch.tensor([1.0, 2.0, 3.0, 4.0, 8.0, 1.0, 5.0, 0.5])
    return ExactMaskedModel(["A", "C"], dict(zip(seqs, (weights / weights.sum()).tolist())))


def test_infill_draws_the_exact_conditional_and_keeps_the_rest() -> None:
    model = _model()
    probs = dict(zip(model.sequences, model.p.tolist()))
    start = model.alphabet.encode(["CAA"]).repeat(4000, 1)
    start[:, 1:] = model.mask_id  # C followed by two masked positions
    out = sample(model, 4000, steps=2, init=start, seed=0, progress=False).sequences
    assert all(s[0] == "C" for s in out)  # the kept position is carried over
    z = sum(p for s, p in probs.items() if s[0] == "C")
    for s, p in probs.items():
        if s[0] == "C":  # the exact conditional p(x2 x3 | x1 = C), not the prior
            assert abs(out.count(s) / len(out) - p / z) < 0.025, s


def test_bad_init_is_a_clear_error() -> None:
    model = _model()
    with pytest.raises(ValueError, match="rows for n=3"):
        sample(model, 3, steps=1, init=torch.zeros(2, 3, dtype=torch.long), progress=False)
    with pytest.raises(ValueError, match="length 4"):
        sample(model, 2, steps=1, init=torch.zeros(2, 4, dtype=torch.long), progress=False)
    with pytest.raises(TypeError, match="int64"):
        sample(model, 2, steps=1, init=torch.zeros(2, 3), progress=False)


def test_a_pad_id_in_init_is_refused_with_its_row_and_position() -> None:
    """The pad id is no token to keep: refused with the row and position (it would shorten the sequence), except
    as trailing padding of a variable-length model."""
    model = _model()
    pad, mask = model.alphabet.pad_id, model.mask_id
    start = torch.tensor([[0, mask, 1], [1, pad, mask]])
    with pytest.raises(ValueError, match=rf"^init\[1, 1\] is the pad id {pad}, not a token to keep or the mask id "
                                         rf"{mask} \(a pad is only trailing padding"):
        sample(model, 2, steps=1, init=start, progress=False)
    trailing = torch.tensor([[0, mask, pad], [1, pad, pad]])
    from seqguide.sampling.sampler import _check_init  # the exact toy has no shorter sequences to sample

    assert torch.equal(_check_init(model, trailing, 2, 3, torch.device("cpu")), trailing)  # allowed
    model.fixed_length = True  # every sequence has the model's length: no pad anywhere
    with pytest.raises(ValueError, match=r"^init\[0, 2\] is the pad id .*fixed length; 3 such position"):
        sample(model, 2, steps=1, init=trailing, progress=False)
