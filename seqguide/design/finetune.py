"""Online fine-tuning of the generator between the rounds of a :class:`~seqguide.design.DesignLoop`.

``DesignLoop(model, ..., finetune=FineTune(...))`` (campaign key ``model.finetune``): before round ``r`` the model
(a ``MaskedDiffusion`` or ``GumbelSoftmaxFlow``) takes a few optimizer steps on the valid designs of rounds ``< r``,
weighted by their advantages (:mod:`seqguide.design.finetune_losses`: rank-weighted retraining, reward-weighted
ELBO or REINVENT's augmented likelihood), with a KL anchor to the frozen pretrained model evaluated on replay
samples that the pretrained model drew, a small learning rate, gradient clipping and no weight decay (the trust
region). The loop then samples round ``r`` from the fine-tuned weights, so elite infilling and every guider
work on the fine-tuned prior unchanged (the model is updated in place).

Properties:

* **No reward differences, no change.** With every reward equal the advantages are zero and the update is
  skipped; the anchor has zero gradient at the pretrained weights, and AdamW runs without weight decay.
* **Warm start.** One AdamW optimizer lives across rounds (its moments carry over).
* **Exact resume.** Update ``r`` is a function of the weights after update ``r - 1``, the designs of rounds
  ``< r`` and a generator seeded from ``(seed, r)``; it runs in eval mode (no dropout, no global RNG). After each
  update the weights (safetensors) and the optimizer state (``torch.save``, read back with ``weights_only=True``)
  are written to ``directory`` as ``round_NNNN.*``, each through a temporary file and ``os.replace``, so a kill
  leaves the previous round's files whole. A resumed loop loads the latest checkpoint at or before its round and
  replays the updates after it, ending on the weights an uninterrupted run has (same device and thread count).
  The pretrained weights are kept as ``reference.safetensors``.
* **Cost in the round record** (``RoundRecord.finetune``): optimizer steps, rows trained, wall seconds, the last
  losses, and the validity / uniqueness of ``probe`` unguided samples of the fine-tuned model under the objective's
  free checks (``Objective.precheck``; e.g. SELFIES that decode to no valid molecule).
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from seqguide.design.finetune_losses import advantages, anchor_kl, noised, sequence_nll
from seqguide.design.finetune_settings import FINETUNE_SETTINGS as _D
from seqguide.design.finetune_settings import check_finetune
from seqguide.design.loop_types import Purpose, derive_seed

__all__ = ["FineTune", "FineTuner"]

_ROUND_FILE = re.compile(r"^round_(\d{4,})\.safetensors$")


@dataclass
class FineTune:
    """Settings of online generator fine-tuning (see the module docstring).

    Attributes:
        objective: ``rank`` (weighted retraining, Tripp et al. 2020), ``reward`` (reward-weighted ELBO) or
            ``augmented`` (REINVENT's augmented likelihood on the ELBO).
        steps: Optimizer steps per update.
        every: Update before every ``every``-th round only (rounds ``every``, ``2 every``, ...; 1: every round), on
            all designs paid so far: the cost falls by that factor (a 1e5-call Ehrlich run has about 400 rounds).
        batch_size: Designs per step (and replay samples per step for the anchor).
        lr: AdamW learning rate (no weight decay).
        clip: Gradient-norm clip.
        anchor: Weight of the KL anchor to the pretrained model.
        replay: Samples of the pretrained model the anchor is evaluated on (drawn once, seeded); 0 evaluates it on
            the designs being trained on.
        rank_k: ``k`` of the rank weights ``1 / (k N + rank)``.
        alpha: Temperature of the ``reward`` weights, in standard deviations of the rewards.
        sigma: Reward scale of ``augmented`` (nats of log-likelihood per standard deviation of reward).
        min_labels: Valid designs needed before the first update.
        probe: Unguided samples of the fine-tuned model drawn per update to report validity and uniqueness (0: none).
        sample_steps: Reverse steps of the replay and probe samples (default: the loop's ``steps``).
        directory: Where the per-round checkpoints go (None: kept in memory only, no resume).
        keep: Round checkpoints kept on disk (older ones are deleted).
    """

    objective: str = _D["objective"].default
    steps: int = _D["steps"].default
    every: int = _D["every"].default
    batch_size: int = _D["batch_size"].default
    lr: float = _D["lr"].default
    clip: float = _D["clip"].default
    anchor: float = _D["anchor"].default
    replay: int = _D["replay"].default
    rank_k: float = _D["rank_k"].default
    alpha: float = _D["alpha"].default
    sigma: float = _D["sigma"].default
    min_labels: int = _D["min_labels"].default
    probe: int = _D["probe"].default
    sample_steps: int | None = _D["sample_steps"].default
    directory: str | Path | None = None
    keep: int = 2

    def __post_init__(self) -> None:  # defaults and bounds: the table in seqguide.design.finetune_settings
        check_finetune({name: getattr(self, name) for name in _D})
        if not isinstance(self.keep, int) or self.keep < 1:
            raise ValueError(f"FineTune: keep must be a positive integer, got {self.keep!r}")

    def attach(self, loop: Any) -> FineTuner:
        """The :class:`FineTuner` of a :class:`~seqguide.design.DesignLoop`: it updates ``loop.model`` (whose weights
        now are the pretrained reference), seeded from ``loop.seed``, sampling with ``loop.steps`` and ``loop.cond``,
        probing with the objective's free checks and the loop's design key."""
        return FineTuner(self, loop.model, seed=loop.seed, steps=self.sample_steps or loop.steps, cond=loop.cond,
                         check=loop.objective.precheck, key=loop.key)


@dataclass
class _Stats:
    steps: int = 0
    rows: int = 0
    loss: float = 0.0
    kl: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class FineTuner:
    """The fine-tuning state of one loop: the model it updates, the frozen reference, the optimizer, the replay
    samples and the round the weights belong to. Made by :meth:`FineTune.attach`; the loop calls
    :meth:`before_round`."""

    def __init__(self, settings: FineTune, model: Any, *, seed: int, steps: int, cond: int | None = None,
                 check: Callable[[Sequence[str]], list[str | None]] | None = None,
                 key: Callable[[str], str] | None = None) -> None:
        import copy

        if not (hasattr(model, "q_xt") or hasattr(model, "noisy")):
            raise TypeError(f"fine-tuning needs a MaskedDiffusion or GumbelSoftmaxFlow model, not "
                            f"{type(model).__name__}")
        self.settings = settings
        self.model = model
        self.seed = int(seed)
        self.steps = int(steps)
        self.cond = cond
        self.check = check
        self.key = key or (lambda s: s)
        self.directory = None if settings.directory is None else Path(settings.directory)
        if self.directory is not None:
            self.directory.mkdir(parents=True, exist_ok=True)
            ref_file = self.directory / "reference.safetensors"
            if ref_file.is_file():  # a resumed run: the reference is what the first process started from
                self.model.load_state_dict(self._read_weights(ref_file))
            else:
                _atomic(ref_file, lambda tmp: _write_weights(self.model, tmp))
        self.reference = copy.deepcopy(model).eval()
        for p in self.reference.parameters():
            p.requires_grad_(False)
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.lr,
                                           weight_decay=0.0)
        self.at: int | None = None  # the round whose update the weights hold (None: not restored yet)
        self._replay: torch.Tensor | None = None
        self.records: dict[int, dict[str, Any]] = {}

    # ------------------------------------------------------------------------------ rounds
    def sync(self, loop: Any, round: int) -> None:
        """Bring the weights to ``round`` for a loop (its store's designs of earlier rounds) and store the update's
        record in the round's row (``RoundRecord.finetune``); nothing when the weights are there already."""
        if self.at == round:
            return
        rec = self.before_round(round, loop.store.designs(loop.run_id, before_round=round), loop.objective.maximize)
        if rec is not None:
            loop.store.update_round(loop.run_id, round, finetune=rec)

    def before_round(self, round: int, designs: Sequence[Any], maximize: bool = True) -> dict[str, Any] | None:
        """Bring the weights to round ``round``: restore the latest checkpoint at or before it, then run the updates
        after it, each on the designs of the rounds before it (``designs`` of rounds ``< round``: records with
        ``round``, ``sequence``, ``valid``, ``objective``).

        Returns:
            The record of update ``round`` (None when round ``round`` makes no update: too few labels).
        """
        if self.at is None:
            self.at = self._restore(round)
        for j in range(self.at + 1, round + 1):
            rec = self._update(j, [d for d in designs if d.round < j], maximize)
            if rec is not None:
                self.records[j] = rec
            self.at = j
        return self.records.get(round)

    def _update(self, j: int, designs: Sequence[Any], maximize: bool) -> dict[str, Any] | None:
        s = self.settings
        if j % s.every:  # not an update round: the weights stay those of the last update
            return None
        rows = [d for d in designs if d.valid and d.objective is not None and math.isfinite(d.objective)]
        if len(rows) < s.min_labels:
            return None
        start = time.perf_counter()
        rewards = np.array([d.objective if maximize else -d.objective for d in rows], dtype=np.float64)
        adv = advantages(rewards, s.objective, rank_k=s.rank_k, alpha=s.alpha)
        rec: dict[str, Any] = {"objective": s.objective, "designs": len(rows), "optimizer_steps": 0,
                               "rows_trained": 0}
        if not adv.any():
            rec.update(skipped="every reward is equal", seconds=time.perf_counter() - start)
            self._save(j, rec)
            return rec
        model = self.model
        device = _device(model)
        x = model.alphabet.encode([d.sequence for d in rows], length=model.length, device=device)
        gen = torch.Generator(device=device).manual_seed(derive_seed(self.seed, j, Purpose.FINETUNE))
        replay = self._replay_tokens() if s.replay > 0 and s.anchor > 0 else None
        a = torch.as_tensor(adv, dtype=torch.float32, device=device)
        probs = torch.ones_like(a) if s.objective == "augmented" else a.abs()
        stats = _Stats()
        was_training = model.training
        model.eval()  # no dropout: the update is a function of the generator alone
        try:
            with torch.enable_grad():
                for _ in range(s.steps):
                    idx = torch.multinomial(probs, s.batch_size, replacement=True, generator=gen)
                    loss, kl = self._loss(x[idx], a[idx], replay, gen)
                    self.optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), s.clip)
                    self.optimizer.step()
                    stats.steps += 1
                    stats.rows += int(idx.numel())
                    stats.loss, stats.kl = float(loss.detach()), kl
        finally:
            model.train(was_training)
        rec.update(optimizer_steps=stats.steps, rows_trained=stats.rows, loss=stats.loss, anchor_kl=stats.kl,
                   seconds=time.perf_counter() - start)
        rec.update(self._probe(j))
        self._save(j, rec)
        return rec

    def _loss(self, x0: torch.Tensor, a: torch.Tensor, replay: torch.Tensor | None,
              gen: torch.Generator) -> tuple[torch.Tensor, float]:
        s = self.settings
        labels = self._labels(x0.shape[0], x0.device)
        xt, t, w = noised(self.model, x0, gen)
        logp = self.model(xt, t, labels)
        nll = sequence_nll(logp, x0, w)
        if s.objective == "augmented":
            with torch.no_grad():
                nll_ref = sequence_nll(self.reference(xt, t, labels), x0, w)
            L = x0.shape[1]  # per-sequence log-likelihoods (nats): REINVENT's (log p_ref + sigma z - log p)^2
            loss = ((nll - nll_ref) * L + s.sigma * a).pow(2).mean()
        else:  # rows drawn with probability |a|: E[sign(a) NLL] is sum_i a_i NLL_i over sum |a|
            loss = (torch.sign(a) * nll).mean()
        kl_value = 0.0
        if s.anchor > 0:
            if replay is not None:
                pick = torch.randint(0, replay.shape[0], (x0.shape[0],), device=x0.device, generator=gen)
                xt, t, w = noised(self.model, replay[pick], gen)
                logp = self.model(xt, t, labels)
            with torch.no_grad():
                logp_ref = self.reference(xt, t, labels)
            kl = anchor_kl(logp, logp_ref, w).mean()
            loss = loss + s.anchor * kl
            kl_value = float(kl.detach())
        return loss, kl_value

    def _labels(self, n: int, device: torch.device) -> torch.Tensor | None:
        if self.cond is None or not getattr(self.model, "num_classes", 0):
            return None
        return torch.full((n,), int(self.cond), dtype=torch.long, device=device)

    # ----------------------------------------------------------------------------- samples
    def _draw(self, model: Any, n: int, seed: int) -> Any:
        from seqguide.sampling import sample

        return sample(model, n, steps=self.steps, cond=self.cond, seed=seed, progress=False)

    def _replay_tokens(self) -> torch.Tensor:
        """The pretrained model's replay samples (drawn once from a seed of the loop seed)."""
        if self._replay is None:
            out = self._draw(self.reference, self.settings.replay, derive_seed(self.seed, Purpose.FINETUNE, 1))
            self._replay = self.model.alphabet.encode(list(out.sequences), length=self.model.length,
                                                      device=_device(self.model))
        return self._replay

    def _probe(self, j: int) -> dict[str, Any]:
        """Validity and uniqueness of ``probe`` unguided samples of the fine-tuned model."""
        n = self.settings.probe
        if n == 0:
            return {}
        seqs = list(self._draw(self.model, n, derive_seed(self.seed, j, Purpose.FINETUNE, 2)).sequences)
        out: dict[str, Any] = {"probe_samples": n, "probe_unique": len({self.key(x) for x in seqs}) / n}
        if self.check is not None:
            out["probe_valid"] = sum(r is None for r in self.check(seqs)) / n
        return out

    # --------------------------------------------------------------------------- checkpoints
    def _paths(self, j: int) -> tuple[Path, Path]:
        assert self.directory is not None
        return self.directory / f"round_{j:04d}.safetensors", self.directory / f"round_{j:04d}.optim.pt"

    def _save(self, j: int, rec: dict[str, Any]) -> None:
        if self.directory is None:
            return
        import json

        weights, optim = self._paths(j)
        state = {"optimizer": self.optimizer.state_dict(), "record": json.dumps(rec, sort_keys=True)}
        _atomic(optim, lambda tmp: torch.save(state, tmp))
        _atomic(weights, lambda tmp: _write_weights(self.model, tmp))  # last: its presence marks the round done
        for old in self._rounds():
            if old <= j - self.settings.keep * self.settings.every:  # the last `keep` updates stay
                for p in self._paths(old):
                    p.unlink(missing_ok=True)

    def _rounds(self) -> list[int]:
        if self.directory is None:
            return []
        return sorted(int(m.group(1)) for p in self.directory.iterdir() if (m := _ROUND_FILE.match(p.name)))

    def _restore(self, round: int) -> int:
        """Load the latest round checkpoint at or before ``round``; the round it holds (0: the reference)."""
        import json

        done = [j for j in self._rounds() if j <= round]
        if not done:
            return 0
        j = done[-1]
        weights, optim = self._paths(j)
        self.model.load_state_dict(self._read_weights(weights))
        state = torch.load(optim, map_location=_device(self.model), weights_only=True)
        self.optimizer.load_state_dict(state["optimizer"])
        self.records[j] = json.loads(state["record"])
        return j

    def _read_weights(self, path: Path) -> dict[str, torch.Tensor]:
        from safetensors.torch import load_file

        return load_file(str(path), device=str(_device(self.model)))


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def _write_weights(model: Any, path: Path) -> None:
    from safetensors.torch import save_file

    save_file({k: v.detach().cpu().clone().contiguous() for k, v in model.state_dict().items()}, str(path))


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write ``path`` through a temporary file in its directory and ``os.replace`` (never a half-written file)."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
