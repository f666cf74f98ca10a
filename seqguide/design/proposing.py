"""A design round's proposal: the sampler draws that fill its candidate list (used by
:meth:`seqguide.design.loop.DesignLoop.propose`).

Draw ``k`` of round ``r`` samples with the seed ``derive_seed(seed, r, Purpose.SAMPLE, k)`` (refilling elites with
``derive_seed(seed, r, Purpose.ANCHOR, k)`` when the loop anchors), sized by
:func:`~seqguide.design.candidates.draw_size` to fill the round after deduplication, until the list is full or
``max_draws`` draws are spent. While it samples on the CPU, a masked model runs its network only on rows that
still hold a mask (:attr:`seqguide.models.MaskedDiffusion.skip_clean_rows`: the same predictions, so the same
designs, for fewer rows; on a GPU it would cost a host sync per step, so it is left as the model has it).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

import torch

from seqguide.design.candidates import CandidateList, draw_size, fresh_share
from seqguide.design.loop_types import GuidancePlan, Proposal, Purpose, derive_seed
from seqguide.design.store.records import utc_now
from seqguide.models.devices import model_device
from seqguide.sampling import sample

__all__ = ["propose_round", "skipping_clean_rows"]


@contextlib.contextmanager
def skipping_clean_rows(model: Any, enabled: bool | None) -> Iterator[None]:
    """Turn the model's ``skip_clean_rows`` on for the block (``enabled`` None: on when the model runs on the CPU;
    models without the switch are left alone), and restore it after."""
    if not hasattr(model, "skip_clean_rows"):
        yield
        return
    on = model_device(model).type == "cpu" if enabled is None else bool(enabled)
    before = model.skip_clean_rows
    model.skip_clean_rows = on
    try:
        yield
    finally:
        model.skip_clean_rows = before


def propose_round(loop: Any, r: int, plan: GuidancePlan) -> Proposal:
    """Sample round ``r``'s candidates for ``loop`` (a :class:`~seqguide.design.loop.DesignLoop`) with ``plan``'s
    guiders: new designs in sampling order until ``loop.candidates`` of them pass the objective's free checks (see
    :meth:`~seqguide.design.loop.DesignLoop.propose`)."""
    calls = 0
    nfe = seconds = 0.0
    guidance = "unguided"
    model = loop.model
    parents = loop._parents(r)
    feasible = loop._fit_feasibility(r)
    found = CandidateList(loop.candidates, loop._keys_before(r), loop.key, loop.objective.precheck,
                          None if feasible is None else
                          lambda xs: feasible.allowed([model.alphabet.tokenize(s) for s in xs]))
    metered = int(loop.charged_elsewhere()) if loop.charged_elsewhere is not None else 0
    draw = 0
    for draw in range(loop.max_draws):
        seed = derive_seed(loop.seed, r, Purpose.SAMPLE, draw)
        n = draw_size(loop.candidates - found.accepted, fresh_share(loop.store, loop.run_id, r, found)
                      ) if loop.overdraw else loop.candidates
        start = time.perf_counter()
        init, steps = None, loop.steps
        if parents is not None:
            gen = torch.Generator(device=parents.device).manual_seed(derive_seed(loop.seed, r, Purpose.ANCHOR, draw))
            init = loop.anchor.starts(parents, n, mask_id=model.mask_id, generator=gen,
                                      num_tokens=model.alphabet.size)
            steps = loop.anchor.steps
        with skipping_clean_rows(model, loop.skip_clean_rows):
            samples = sample(model, n, steps=steps, guidance=plan.guiders, cond=loop.cond, seed=seed,
                             batch_size=loop.sample_batch_size, progress=False, init=init)
        seconds += time.perf_counter() - start
        trace = samples.trace
        nfe += float(trace.get("nfe", 0.0)) * n
        calls += int(trace.get("oracle_calls", 0))
        if trace.get("guidance"):
            guidance = "; ".join(trace["guidance"])
        found.add_draw(samples.sequences, seed, draw)
        if found.full:
            break
    if parents is not None:
        a = loop.anchor
        restarts = f", restart {loop._memory.pool.restarts}" if loop._memory.pool.restarts else ""
        guidance = (f"{guidance} [elite infill: {parents.shape[0]} elites, {a.edits[0]}-{a.edits[1]} edits, "
                    f"window {a.window:g}, crossover {a.crossover:g}{restarts}]")
    if feasible is not None:
        guidance = f"{guidance} [pair feasibility: {len(feasible.banned)} banned pairs, {found.filtered} dropped]"
    if plan.value_state:
        guidance = f"{guidance} [{plan.value_source}: {plan.value_state}]"
    charged = int(loop.charged_elsewhere()) - metered if loop.charged_elsewhere is not None else 0
    return Proposal(r, found.sequences, found.seeds, found.draws, found.sampled, found.duplicates, draw + 1,
                    guidance, plan, nfe, calls, seconds, utc_now(), charged)
