"""The sampling hot path: vectorised decoding and a bounded number of host syncs per step."""

from __future__ import annotations

import pytest
import torch

from oracles import get_oracle
from seqguide import DNA, Alphabet, sample
from seqguide.guidance import SMC, SVDD
from seqguide.models import MaskedDiffusion, TransformerDenoiser
from seqguide.sampling.context import Counters, SamplingContext
from seqguide.sampling.host_syncs import HostSyncCounter


def _reference_decode(alphabet: Alphabet, ids: torch.Tensor, mask_char: str = "?") -> list[str]:
    table = [*alphabet.tokens, "", mask_char]
    return ["".join(table[v] for v in row) for row in ids.tolist()]


@pytest.mark.parametrize("alphabet", [DNA, Alphabet(["[C]", "[O]", "[Branch1]", "[=N]", "."], kind="selfies"),
                                      Alphabet(["Ala", "G"], name="mixed")])
def test_decode_matches_a_token_by_token_lookup(alphabet: Alphabet) -> None:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, alphabet.vocab_size, (64, 13), generator=g)  # pads and masks anywhere
    ids[0] = alphabet.pad_id
    ids[1, 5:] = alphabet.pad_id
    for mask_char in ("?", "", "<m>"):
        assert alphabet.decode(ids, mask_char=mask_char) == _reference_decode(alphabet, ids, mask_char)
    assert alphabet.decode(ids[3]) == _reference_decode(alphabet, ids[3:4])
    assert alphabet.decode(torch.zeros(0, 4, dtype=torch.long)) == []


def test_decode_names_the_sequence_and_position_of_a_bad_id() -> None:
    ids = torch.zeros(3, 4, dtype=torch.long)
    ids[2, 1] = DNA.vocab_size
    with pytest.raises(ValueError, match=r"sequence 2, position 1: id 6 is outside"):
        DNA.decode(ids)


@pytest.mark.parametrize(("name", "cache", "limit"), [
    ("unguided", True, 2.2), ("unguided", False, 1.1), ("svdd", True, 5.6), ("smc", True, 6.5)])
def test_host_syncs_per_step_stay_bounded(name: str, cache: bool, limit: float) -> None:
    # Before the hot path was reworked: 16.5, 3.1, 39.8 and 41.7 syncs per step on this run.
    torch.manual_seed(0)
    model = MaskedDiffusion("dna", length=16, backbone=TransformerDenoiser(dim=32, depth=1, heads=2)).eval()
    model.cpu_shortcuts = False  # count the path a GPU runs: the CPU-only shortcut indexes by mask (no sync there)
    gc = get_oracle("gc")
    guidance = {"unguided": (), "svdd": [SVDD(gc, particles=8)], "smc": [SMC(gc, particles=8)]}[name]
    steps = 16
    with HostSyncCounter(model) as syncs:
        sample(model, 8, steps=steps, guidance=guidance, seed=0, progress=False, cache=cache)
    assert syncs.total / steps <= limit, syncs.by_site().most_common(8)


def test_cache_notices_a_state_modified_in_place() -> None:
    torch.manual_seed(0)
    model = MaskedDiffusion("dna", length=6, backbone=TransformerDenoiser(dim=16, depth=1, heads=2)).eval()
    with torch.no_grad():
        torch.nn.init.normal_(model.backbone.head.weight, std=1.0)
    ctx = SamplingContext(model, guiders=[], num_steps=4, n=3, expansion=1, generator=torch.Generator(),
                          device=torch.device("cpu"), cond=None, use_cache=True, counters=Counters())
    state = model.prior(3)
    state[:, 1] = torch.tensor([0, 1, 2])
    with torch.no_grad():
        first = ctx.predict_branches(state, 0.5)["cond"]
        again = ctx.predict_branches(state, 0.5)["cond"]  # the same tensor, unchanged: served from the cache
        assert torch.equal(again, first) and ctx.counters.rows == 3
        state[:, 0] = 1  # in place: same object, new content
        third = ctx.predict_branches(state, 0.5)["cond"]
        assert torch.equal(third, model.predict(state, 0.5)) and not torch.equal(third, first)


def test_hash_collisions_fall_back_to_exact_matching(monkeypatch) -> None:
    from seqguide.sampling import rows

    g = torch.Generator().manual_seed(1)
    x = torch.randint(0, 3, (40, 5), generator=g)
    inverse, first = rows.unique_rows(x)
    assert torch.equal(x[first][inverse], x) and first.numel() == torch.unique(x, dim=0).shape[0]
    torch.manual_seed(0)
    model = MaskedDiffusion("dna", length=8, backbone=TransformerDenoiser(dim=16, depth=1, heads=2)).eval()
    with torch.no_grad():
        torch.nn.init.normal_(model.backbone.head.weight, std=1.0)
    expected = sample(model, 6, steps=24, seed=4, progress=False, guidance=[SVDD(get_oracle("gc"), particles=3)])
    # Every row hashes to the same key: each grouping must detect the collision and match exactly instead.
    zero = torch.zeros(5, dtype=torch.long)
    monkeypatch.setattr(rows, "_hash_weights", lambda width, device: (zero.new_zeros(width), zero.new_zeros(width)))
    inverse, first = rows.unique_rows(x)
    assert torch.equal(x[first][inverse], x) and first.numel() == torch.unique(x, dim=0).shape[0]
    collided = sample(model, 6, steps=24, seed=4, progress=False, guidance=[SVDD(get_oracle("gc"), particles=3)])
    assert collided.sequences == expected.sequences
    for key in ("nfe", "cached_rows"):
        assert collided.trace[key] == expected.trace[key]
