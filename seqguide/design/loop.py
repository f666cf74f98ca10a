"""DesignLoop: propose with guided sampling, drop what was already scored, score under a budget, store.

The loop a campaign runs, usable on its own from Python::

    from seqguide.design import DesignLoop, DesignStore
    from seqguide.guidance import SVDD

    loop = DesignLoop(model, oracle, lambda state: [SVDD(oracle, particles=8)],
                      DesignStore("runs/my_loop.sqlite"), budget=256, candidates=64, seed=0)
    loop.run(rounds=4)                  # or: loop.propose(); loop.evaluate(...); or loop.step() per round
    loop.best(10), loop.history

Determinism (what makes resume exact): round ``r`` draws with seeds derived from ``(seed, r, draw)``, its
guidance comes from ``guidance_factory`` given the labels of rounds ``< r`` (and a seed derived from
``(seed, r)``), and duplicates are dropped against rounds ``< r`` only, so the candidate list of a round is a
function of the seed and the store's earlier rounds. Candidates are scored in list order, a batch at a time;
a resumed loop rebuilds the list and skips what is stored.

Exactly-once scoring: every design is announced in the store's ledger (``oracle_calls``, committed) just
before it is sent to the objective's oracles, and its result is committed the moment the oracle returns
it (item by item for oracles that stream: ``External`` with ``batch_size``, ``Parallel``), so a kill
loses only the results still in flight. Those designs are scored again after a resume and each real call
is charged (``budget_used`` counts the ledger). A :class:`~seqguide.design.interrupts.GracefulStop` makes
SIGTERM and Ctrl-C stop at the next item boundary instead.

The draws that fill a round live in :mod:`seqguide.design.proposing`; this module keeps the round cycle and its
exactly-once scoring.

Kept whole: the round cycle and its exactly-once scoring share the loop's state; round 0 from a file (issue 24)
pushed it just past 500 lines, and the next split (the session bookkeeping) is planned with the in-flight retry.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from oracles import Oracle
from seqguide.design.anchoring import EliteInfill
from seqguide.design.feasibility import PairFeasibility
from seqguide.design.finetune import FineTune
from seqguide.design.initial import InitialData, file_sha256, import_into
from seqguide.design.interrupts import GracefulStop
from seqguide.design.loop_types import GuidanceFactory, GuidancePlan, LoopState, Proposal, Purpose, derive_seed
from seqguide.design.objective import Evaluation, Objective
from seqguide.design.proposing import propose_round
from seqguide.design.round_memory import RoundMemory
from seqguide.design.store import DesignStore
from seqguide.design.store.records import DesignRecord, RoundRecord, utc_now
from seqguide.guidance.base import Guider
from seqguide.metrics.samples import spearman

__all__ = [
    "DesignLoop",
    "GuidancePlan",
    "LoopObserver",
    "LoopState",
    "Proposal",
    "Purpose",
    "derive_seed",
]


def _identity(s: str) -> str:
    return s


class LoopObserver:
    """Hooks a user interface can implement (every method is a no-op by default)."""

    def round_started(self, loop: DesignLoop, round: int) -> None:
        """A round begins (before its value model is fitted)."""

    def proposed(self, loop: DesignLoop, proposal: Proposal, to_score: int) -> None:
        """The candidate list is ready; ``to_score`` of them still need scoring."""

    def batch_scored(self, loop: DesignLoop, records: list[DesignRecord]) -> None:
        """Designs were scored and committed (a part of a batch, as the oracle returned it)."""

    def round_finished(self, loop: DesignLoop, record: RoundRecord) -> None:
        """A round is complete."""


class DesignLoop:
    """A multi-round design loop over one store.

    Args:
        model: A generative model for :func:`seqguide.sample` (e.g. a ``MaskedDiffusion``).
        oracle: The objective: an :class:`~seqguide.design.objective.Objective`, or any single-objective
            :class:`oracles.Oracle` (then a one-component objective).
        guidance_factory: ``f(LoopState) -> list[Guider] | GuidancePlan`` called once per round (fit a
            surrogate on ``state.labels`` here). None samples unguided.
        store: Where designs go (default: an in-memory store).
        budget: Real objective calls allowed in this run (each charged design once, plus any call whose result
            a crash lost; see :mod:`seqguide.design.schema`).
        candidates: New designs per round that pass the objective's free checks and go to its oracles
            (budget permitting); designs rejected by a hard constraint are stored too, on top of these.
        steps: Reverse steps per sample (default: ``model.length``).
        seed: The loop seed; every draw's seed is derived from it.
        score_batch: Designs per objective call and store transaction.
        max_draws: Sampler draws per round to find ``candidates`` new designs.
        sample_batch_size: ``batch_size`` of :func:`seqguide.sample`.
        cond: Class label for a class-conditional model.
        run_id: Continue this run of ``store`` (resume); None creates a new run.
        name: Run name (new runs).
        config: Plain-data configuration stored with a new run.
        model_info: Model provenance: a dict stored with the run; its ``"id"`` entry goes on every design.
        alphabet: Alphabet description stored with a new run (default: ``model.alphabet.to_dict()``).
        observer: A :class:`LoopObserver` (progress display).
        code_version: ``(version, git commit)`` stored with a new run.
        argv: The command line, recorded with this process's session.
        key: A design's identity for deduplication (default: the sequence itself); e.g. the canonical SMILES of
            a SELFIES string, so that two spellings of one molecule are one design (and paid once).
        stop: A :class:`~seqguide.design.interrupts.GracefulStop` (installed by the caller) to stop at an item
            boundary on SIGTERM / Ctrl-C; default: one that only :meth:`GracefulStop.request` triggers.
        charged_elsewhere: ``f() -> int``: real objective calls made outside the ledger so far, e.g. a campaign's
            look-ahead with ``value: oracle`` (counted from its persistent memo, so the count survives a crash);
            added to :attr:`budget_used`, so look-ahead and best-of-N evaluations of the true objective are paid
            from the same budget as the designs.
        feasibility: A :class:`~seqguide.design.feasibility.PairFeasibility` fitted on the designs of earlier rounds
            (feasible ones and those the objective refused for good): candidates with a learned banned pair of
            adjacent tokens are dropped before they are paid for (counted in the guidance note of the round).
        overdraw: Size each draw to fill the round after deduplication (:func:`~seqguide.design.candidates.draw_size`),
            so one ``sample()`` call usually fills a round; False: every draw samples ``candidates`` (before issue 23).
        anchor: An :class:`~seqguide.design.anchoring.EliteInfill`: once there are labels, rounds refill masked
            copies of the best designs so far (``sample(init=...)``, ``anchor.steps`` reverse steps) instead of
            sampling from the prior.
        finetune: A :class:`~seqguide.design.finetune.FineTune`: fine-tune the model in place before each round.
        skip_clean_rows: While proposing, a masked model runs its network only on rows that still hold a mask (the
            same designs; :func:`~seqguide.design.proposing.skipping_clean_rows`). None (default): on when the model
            is on the CPU (on a GPU it costs a host sync per step); False: the model's own setting (before issue 23).
        initial: A labelled file (:class:`~seqguide.design.initial.InitialData` or a path with columns ``sequence``
            and ``value``) imported as round 0 of a new run, never charged; the paid rounds follow it and learn from
            it like from paid designs. A resumed run keeps the import it made (a file whose bytes changed since is
            refused).

    The loop records a *session* (this process's work on the run) in the store; end it with :meth:`close`
    or use the loop as a context manager.

    Raises:
        ValueError: for a non-positive budget, candidates, score_batch or max_draws.
    """

    def __init__(self, model: Any, oracle: Oracle | Objective, guidance_factory: GuidanceFactory | None = None,
                 store: DesignStore | None = None, budget: int = 100, *, candidates: int = 32,
                 steps: int | None = None, seed: int = 0, score_batch: int = 16, max_draws: int = 4,
                 sample_batch_size: int | None = None, cond: int | None = None, run_id: int | None = None,
                 name: str = "design-loop", config: dict[str, Any] | None = None,
                 model_info: dict[str, Any] | None = None, alphabet: dict[str, Any] | None = None,
                 observer: LoopObserver | None = None,
                 code_version: tuple[str | None, str | None] = (None, None), argv: Sequence[str] = (),
                 key: Callable[[str], str] | None = None, stop: GracefulStop | None = None,
                 anchor: EliteInfill | None = None, charged_elsewhere: Callable[[], int] | None = None,
                 feasibility: PairFeasibility | None = None, overdraw: bool = True,
                 finetune: FineTune | None = None, skip_clean_rows: bool | None = None,
                 initial: InitialData | str | None = None) -> None:
        for arg, value in (("budget", budget), ("candidates", candidates), ("score_batch", score_batch),
                           ("max_draws", max_draws)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"DesignLoop: {arg} must be a positive integer, got {value!r}")
        self.model = model
        self.objective = Objective.of(oracle)
        self.guidance_factory = guidance_factory
        self.store = store if store is not None else DesignStore(None)
        self.budget = budget
        self.candidates = candidates
        self.steps = steps if steps is not None else getattr(model, "length", None)
        if self.steps is None:
            raise ValueError("DesignLoop: give steps= (the model has no .length)")
        self.seed = int(seed)
        self.score_batch = score_batch
        self.max_draws = max_draws
        self.sample_batch_size = sample_batch_size
        self.cond = cond
        self.model_info = dict(model_info or {})
        self.observer = observer or LoopObserver()
        self.key: Callable[[str], str] = key or _identity
        self.stop = stop if stop is not None else GracefulStop()
        self.anchor = anchor
        self.charged_elsewhere = charged_elsewhere
        self.overdraw = overdraw
        self.skip_clean_rows = skip_clean_rows
        resumed = run_id is not None
        if run_id is None:
            if alphabet is None and hasattr(model, "alphabet"):
                alphabet = model.alphabet.to_dict()
            run_id = self.store.create_run(
                name=name, config=config or {}, seed=self.seed, budget=budget, alphabet=alphabet,
                objective=self.objective.describe(), model=self.model_info, code_version=code_version[0],
                git_commit=code_version[1])
        else:
            self.store.get_run(run_id)  # raises for an unknown id
        self.run_id = run_id
        self._memory = RoundMemory(self.store, run_id, anchor=anchor, maximize=self.objective.maximize,
                                   feasibility=feasibility)
        self.session_id = self.store.start_session(run_id, argv=argv, resumed=resumed)
        self.round = self._next_round()
        self._tuner = None if finetune is None else finetune.attach(self)
        if initial is not None:
            self._import_initial(initial)

    def _import_initial(self, initial: InitialData | str) -> None:
        """Import ``initial`` as round 0, unless this run imported it before (a resume)."""
        rounds = self.store.rounds(self.run_id)
        if rounds and rounds[0].kind == "import":
            path = initial.path if isinstance(initial, InitialData) else str(initial)
            if rounds[0].source and rounds[0].source.get("sha256") != file_sha256(path):
                raise ValueError(f"{path}: the initial data file changed since this run imported it as round 0 "
                                 f"(sha256 {rounds[0].source.get('sha256')}); restore it or start a new run")
            return
        if any(r.kind == "design" for r in rounds):
            raise ValueError("initial data can only start a run: this run already has design rounds (import a later "
                             "batch with DesignLoop.import_file / seqguide design import)")
        import_into(self, initial)

    def import_file(self, data: InitialData | str) -> dict[str, Any]:
        """Import a labelled file (a wet-lab batch) as a new, uncharged round between rounds; see
        :func:`seqguide.design.initial.import_into` for what it returns."""
        return import_into(self, data)

    def imported(self, round: int) -> None:
        """An import round ``round`` was stored: the next round follows it, and the round memory rereads."""
        self.round = round + 1
        self._memory.reset()

    @property
    def rounds_done(self) -> int:
        """Design rounds (proposed and paid by the loop; import rounds not counted) before the current round."""
        return sum(r.kind == "design" and r.round < self.round for r in self.store.rounds(self.run_id))

    def close(self, status: str = "completed") -> None:
        """End this process's session in the store with ``status`` (the loop stays usable)."""
        if self.session_id is not None:
            self.store.end_session(self.session_id, status)
            self.session_id = None

    def __enter__(self) -> DesignLoop:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close("completed")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.close("interrupted")
        else:
            self.close(f"failed: {exc_type.__name__}: {exc}")

    # ------------------------------------------------------------------------------- state
    def _next_round(self) -> int:
        rounds = self.store.rounds(self.run_id)
        open_rounds = [r.round for r in rounds if r.status != "done"]
        if open_rounds:
            return min(open_rounds)
        return max((r.round for r in rounds), default=-1) + 1

    @property
    def feasibility(self) -> PairFeasibility | None:
        """The pair-feasibility filter, fitted on the designs of the finished rounds read so far (None: off)."""
        return self._memory.feasibility

    @feasibility.setter
    def feasibility(self, value: PairFeasibility | None) -> None:
        self._memory.feasibility = value

    @property
    def budget_used(self) -> int:
        """Real objective calls so far: the store's ledger (charged designs plus calls lost in a crash) and the
        calls made outside it (``charged_elsewhere``: the guidance's look-ahead on the true objective)."""
        extra = int(self.charged_elsewhere()) if self.charged_elsewhere is not None else 0
        return self.store.budget_used(self.run_id) + extra

    @property
    def budget_remaining(self) -> int:
        """``budget - budget_used`` (never negative)."""
        return max(0, self.budget - self.budget_used)

    @property
    def history(self) -> list[RoundRecord]:
        """Every round so far (seeds, counts, guidance calls, NFE, timings, best)."""
        return self.store.rounds(self.run_id)

    def designs(self) -> list[DesignRecord]:
        """Every stored design of this run, in scoring order."""
        return self.store.designs(self.run_id)

    def best(self, k: int = 10) -> list[DesignRecord]:
        """The ``k`` best valid designs so far (by the combined objective and its direction)."""
        return self.store.best(self.run_id, k, maximize=self.objective.maximize)

    def _best_value(self) -> float | None:
        top = self.best(1)
        return None if not top else top[0].objective

    # ------------------------------------------------------------------------------ propose
    def plan(self, round: int | None = None) -> GuidancePlan:
        """The guidance plan for a round (calls the factory with the labels of earlier rounds; fine-tunes first)."""
        r = self.round if round is None else round
        if self._tuner is not None:  # the round samples from the model fine-tuned on the designs of rounds < r
            self._tuner.sync(self, r)
        if self.guidance_factory is None:
            return GuidancePlan()
        earlier = self.store.designs(self.run_id, before_round=r)
        state = LoopState(r, derive_seed(self.seed, r, Purpose.SURROGATE), [d for d in earlier if d.valid],
                          self.objective.maximize, self.store, self.run_id,
                          [d for d in earlier if d.charged and not d.valid and not d.transient])
        start = time.perf_counter()
        out = self.guidance_factory(state)
        if isinstance(out, GuidancePlan):
            if not out.fit_seconds:
                out.fit_seconds = time.perf_counter() - start
            return out
        guiders = [out] if isinstance(out, Guider) else list(out)
        return GuidancePlan(guiders, "custom" if guiders else "none", None, time.perf_counter() - start)

    def propose(self, round: int | None = None, plan: GuidancePlan | None = None) -> Proposal:
        """Sample a round's candidates: new designs (not scored in earlier rounds), in sampling order, until
        ``candidates`` of them pass the objective's free checks (validation, hard constraints).

        The list also holds the designs that fail those checks (they are stored as rejected and not charged).
        Deterministic in (seed, round, the store's earlier rounds). Draws repeat (with new derived seeds) up
        to ``max_draws`` times while duplicates and rejections leave the quota short.

        Args:
            round: The round (default: the current one).
            plan: The guidance plan (default: :meth:`plan` for the round).
        """
        r = self.round if round is None else round
        return propose_round(self, r, self.plan(r) if plan is None else plan)

    def _held_out_spearman(self, plan: GuidancePlan, round: int) -> float | None:
        """Spearman rho of ``plan.predict`` against the objective on the round's valid designs (None: no
        prediction, fewer than 3 designs, or a constant side)."""
        if plan.predict is None:
            return None
        designs = self.store.designs(self.run_id, round=round, valid_only=True)
        if len(designs) < 3:
            return None
        rho = spearman(plan.predict([d.sequence for d in designs]), [float(d.objective) for d in designs])
        return rho if np.isfinite(rho) else None

    def _catch_up(self, round: int) -> None:
        """Fold the designs of rounds ``< round`` into the loop's :class:`RoundMemory` (each finished round read
        once)."""
        self._memory.catch_up(round, self.model.alphabet.tokenize if self.feasibility is not None else None)

    def _keys_before(self, round: int) -> set[str]:
        """Keys of the designs of rounds ``< round`` (a copy)."""
        self._catch_up(round)
        return set(self._memory.keys)

    def _parents(self, round: int) -> torch.Tensor | None:
        """Token ids of the elites of rounds ``< round`` (None: no anchor, or too few labels yet)."""
        if self._memory.pool is None:
            return None
        self._catch_up(round)
        seqs = self._memory.pool.parents()
        if seqs is None:
            return None
        device = getattr(self.model, "device", None)
        return self.model.alphabet.encode(seqs, length=getattr(self.model, "length", None), device=device)

    def _fit_feasibility(self, round: int) -> PairFeasibility | None:
        """The feasibility filter fitted on the designs of rounds ``< round``."""
        if self.feasibility is not None:
            self._catch_up(round)
        return self.feasibility

    # ----------------------------------------------------------------------------- evaluate
    def evaluate(self, sequences: Sequence[str], *, round: int | None = None,
                 proposal: Proposal | None = None) -> list[DesignRecord]:
        """Score designs under the budget and store each result as soon as the oracle returns it.

        Designs already in the store are skipped (never paid twice). Designs are taken in order while budget
        remains; a batch never holds more designs than the budget left, so the budget is never exceeded. Each
        design is recorded in the ledger just before it is sent (see the module docstring).

        Args:
            sequences: Designs to score (e.g. a :class:`Proposal`'s, or your own seeds / wild types).
            round: The round they belong to (default: the current one; the round row is created if needed).
            proposal: Where they came from (seeds, draws, guidance provenance).

        Returns:
            The records written by this call, in order.

        Raises:
            Interrupted: at an item boundary after SIGTERM / Ctrl-C (see ``stop``); what came back is stored.
            Exception: whatever the objective raises (nothing valid is expected to; ``Oracle`` isolates bad
                items). Results committed before the failure stay in the store.
        """
        r = self.round if round is None else round
        self.store.begin_round(self.run_id, r, derive_seed(self.seed, r, Purpose.SAMPLE, 0))
        stored = self._keys_before(r) | self.store.keys(self.run_id, from_round=r)
        where = {s: i for i, s in enumerate(proposal.sequences)} if proposal is not None else {}
        todo: list[str] = []
        for s in sequences:
            k = self.key(s)
            if k not in stored:
                stored.add(k)
                todo.append(s)
        first_idx = len(self.store.designs(self.run_id, round=r)) if proposal is None else 0
        if r < self._memory.upto:  # designs added to a round the memory holds: reread later
            self._memory.reset()
        written: list[DesignRecord] = []
        pos = 0
        while pos < len(todo):
            self.stop.check()
            room = self.budget_remaining
            if room <= 0:
                break
            batch = todo[pos : pos + min(self.score_batch, room)]
            written.extend(self._score_batch(batch, r, proposal, where, first_idx + pos))
            pos += len(batch)
        self.stop.check()
        return written

    def _score_batch(self, batch: list[str], r: int, proposal: Proposal | None, where: dict[str, int],
                     offset: int) -> list[DesignRecord]:
        """Announce, score and store one batch part by part (results committed as the oracle returns them)."""
        keys = [self.key(s) for s in batch]

        def on_send(index: list[int]) -> bool:
            if self.stop.stopping:  # a stop was requested: send nothing more
                return False
            self.store.record_sent(self.run_id, r, self.session_id, [(keys[i], batch[i]) for i in index])
            return True

        written: list[DesignRecord] = []
        start = time.perf_counter()
        with self.stop.critical():
            for index, part in self.objective.evaluate_stream(batch, on_send=on_send):
                now = time.perf_counter()
                records = self._records(part, r, proposal, where, [offset + i for i in index])
                self.store.add_designs(self.run_id, records, score_seconds=now - start)
                start = now
                written.extend(records)
                self.observer.batch_scored(self, records)
        return sorted(written, key=lambda d: d.idx)

    def _records(self, ev: Evaluation, r: int, proposal: Proposal | None, where: dict[str, int],
                 positions: list[int]) -> list[DesignRecord]:
        out = []
        for j, s in enumerate(ev.sequences):
            i = where.get(s)
            comps = {k: (None if not math.isfinite(v[j]) else float(v[j])) for k, v in ev.components.items()}
            obj = float(ev.objective[j]) if ev.valid[j] else None
            out.append(DesignRecord(
                sequence=s, key=self.key(s), round=r, idx=i if i is not None else positions[j], objective=obj,
                valid=bool(ev.valid[j]),
                reason=ev.errors[j], charged=bool(ev.charged[j]), transient=bool(ev.transient[j]), components=comps,
                guidance=proposal.guidance if proposal is not None else "user",
                model=self.model_info.get("id"),
                sample_seed=proposal.seeds[i] if proposal is not None and i is not None else None,
                draw=proposal.draws[i] if proposal is not None and i is not None else None,
                session=self.session_id, proposed_at=proposal.proposed_at if proposal is not None else None))
        return out

    # --------------------------------------------------------------------------------- rounds
    def step(self) -> RoundRecord:
        """Run (or finish, after a crash) the current round: plan, propose, score, store.

        Returns:
            The finished round's record.
        """
        r = self.round
        wall = time.perf_counter()
        self.store.begin_round(self.run_id, r, derive_seed(self.seed, r, Purpose.SAMPLE, 0))
        self.observer.round_started(self, r)
        plan = self.plan(r)
        proposal = self.propose(r, plan)
        done = self._keys_before(r) | self.store.keys(self.run_id, round=r)
        self.store.update_round(
            self.run_id, r, status="scoring", value_source=plan.value_source, value_state=plan.value_state,
            n_sampled=proposal.n_sampled, n_duplicates=proposal.n_duplicates, n_candidates=len(proposal.sequences),
            draws=proposal.draw_count, guidance_oracle_calls=proposal.guidance_oracle_calls,
            guidance_charged=proposal.guidance_charged, nfe=proposal.nfe,
            sample_seconds=proposal.seconds, fit_seconds=plan.fit_seconds)
        self.observer.proposed(self, proposal, sum(self.key(s) not in done for s in proposal.sequences))
        self.evaluate(proposal.sequences, round=r, proposal=proposal)
        previous = self.store.round(self.run_id, r).wall_seconds
        self.store.update_round(self.run_id, r, status="done", best=self._best_value(), ended_at=utc_now(),
                                wall_seconds=previous + time.perf_counter() - wall,
                                value_spearman=self._held_out_spearman(plan, r))
        record = self.store.round(self.run_id, r)
        self.round = r + 1
        self.observer.round_finished(self, record)
        return record

    def run(self, rounds: int) -> list[RoundRecord]:
        """Run rounds until ``rounds`` design rounds are done (import rounds not counted) or the budget is spent.

        A round whose candidate list comes back empty (the model keeps proposing known designs) ends the
        loop early rather than spinning.

        Returns:
            :attr:`history`.
        """
        while self.rounds_done < rounds and self.budget_remaining > 0:
            self.stop.check()
            record = self.step()
            if record.n_candidates == 0:
                break
        return self.history
