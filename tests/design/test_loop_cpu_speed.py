"""Issue 23, the design loop's CPU: shortcuts that must not change a single design.

* proposals run the network only on rows that still hold a mask (on the CPU by default): the same designs for a
  seed, fewer rows, and the model's own switch restored;
* the masked step on the recorded stream transforms the Gumbel noise only where a token is revealed: the very tokens
  of the full transform;
* a batch's validation handed down a wrapper stack at once gives the per-item reasons, each string checked once;
* the loop's memory reads stored designs without decoding their components.
"""

from __future__ import annotations

import torch

from oracles import from_function
from oracles.wrappers import Cached, first_validation_error
from oracles.wrappers.constraints import first_validation_errors
from seqguide.design import DesignLoop, DesignStore, EliteInfill
from seqguide.design.objective import Component, Objective
from seqguide.design.store.records import DesignRecord
from seqguide.models import ConvDenoiser, MaskedDiffusion
from seqguide.models.gumbel import gumbel_argmax


def _model() -> MaskedDiffusion:
    torch.manual_seed(0)
    model = MaskedDiffusion("dna", length=12, backbone=ConvDenoiser(dim=16, depth=1, kernel_size=3),
                            fixed_length=True)
    with torch.no_grad():
        torch.nn.init.normal_(model.backbone.head.weight, std=0.1)
    return model.eval()


def _run(skip: bool | None) -> tuple[list[str], int, bool]:
    model = _model()
    rows = [0]
    hook = model.backbone.register_forward_pre_hook(lambda m, a: rows.__setitem__(0, rows[0] + len(a[0])))
    oracle = from_function(lambda xs: [s.count("G") / len(s) for s in xs], name="g", alphabet=model.alphabet)
    with DesignLoop(model, oracle, None, budget=90, candidates=30, steps=6, seed=3, score_batch=30,
                    anchor=EliteInfill(elites=4, edits=(1, 3)), skip_clean_rows=skip) as loop:
        loop.run(3)
        designs = [d.sequence for d in loop.designs()]
    hook.remove()
    return designs, rows[0], model.skip_clean_rows


def test_skipping_clean_rows_gives_the_same_designs_with_fewer_rows_and_restores_the_switch() -> None:
    off, rows_off, flag_off = _run(False)
    default, rows_default, flag_default = _run(None)  # the model is on the CPU: on
    assert default == off and len(off) == 90
    assert rows_default < rows_off
    assert flag_off is False and flag_default is False  # the model's own setting afterwards


def test_revealed_only_transform_of_the_recorded_noise_gives_the_same_tokens() -> None:
    model = _model()
    assert model.noise_everywhere
    gen = torch.Generator().manual_seed(5)
    state = torch.randint(0, 4, (64, 12), generator=gen)
    where = torch.rand(64, 12, generator=gen) < 0.3
    state[where] = model.mask_id
    pred = torch.randn(64, 12, model.alphabet.vocab_size, generator=gen).log_softmax(-1)
    pred[..., model.mask_id] = float("-inf")
    got = model._fill(state, pred, where, torch.Generator().manual_seed(9))
    want = torch.where(where, gumbel_argmax(pred, torch.Generator().manual_seed(9)), state)
    assert torch.equal(got, want)


def test_batched_validation_down_a_stack_matches_the_per_item_reasons_and_checks_each_string_once() -> None:
    seen: list[str] = []

    def check(x: str) -> str | None:
        seen.append(x)
        return None if set(x) <= set("ACGT") else "bad letter"

    a = from_function(lambda xs: [1.0] * len(xs), name="a")
    a.validate = check
    b = from_function(lambda xs: [1.0] * len(xs), name="b")
    b.validate = lambda x: None if len(x) == 4 else "length"
    stack = Cached(Cached(a))
    xs = ["ACGT", "ACGX", "ACG", "ACGT", "AXG"]
    assert first_validation_errors([stack, b], xs) == [first_validation_error([stack, b], x) for x in xs]
    assert first_validation_errors([stack, b], xs) == [None, "a: bad letter", "b: length", None, "a: bad letter"]
    assert sorted(seen) == sorted(set(seen)) == ["ACG", "ACGT", "ACGX", "AXG"]  # once each, memo or not
    objective = Objective([Component("a", a), Component("b", b)])
    items = ["ACGT", "", 7, "ACGX", "ACG"]
    assert objective._validate_items(items) == [None, "empty sequence", "expected a string, got int",
                                                "a: bad letter", "b: length"]


def test_the_memory_reads_designs_without_components(tmp_path) -> None:
    store = DesignStore(tmp_path / "s.sqlite")
    run = store.create_run(name="r", config={}, seed=0, budget=10, alphabet=None, objective={}, model={})
    store.begin_round(run, 0, 0)
    store.add_designs(run, [DesignRecord("ACGT", 0, 0, 1.0, True, components={"g": 0.5})])
    full, light = store.designs(run)[0], store.designs(run, components=False)[0]
    assert full.components == {"g": 0.5} and light.components == {}
    assert (light.sequence, light.objective, light.valid, light.key) == (full.sequence, full.objective, True, "ACGT")
