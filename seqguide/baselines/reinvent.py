"""REINVENT: a SMILES RNN agent fine-tuned by policy gradient on an augmented likelihood, with experience replay.

Olivecrona, Blaschke, Engkvist & Chen (2017), "Molecular de-novo design through deep reinforcement learning",
J. Cheminf. 9:48, section "Reinforcement learning" (eq. for the augmented likelihood), in the setting PMO runs it
(Gao et al. 2022, arXiv 2206.12411; mol_opt's ``reinvent``: sigma 500, 64 samples per step, Adam at 5e-4, a
memory of the 100 best molecules of which 24 are replayed per step). One step:

1. the agent (initialised as a copy of the prior) samples ``batch_size`` token sequences; repeated rows are kept
   once;
2. each decoded SMILES that RDKit reads is scored by its canonical SMILES through the
   :class:`~seqguide.baselines.BudgetedObjective` (a new molecule costs one call, one met before is free);
   an unreadable one scores 0 without a call (as mol_opt's oracle wrapper; ``charge_invalid=True`` pays for it);
3. loss per sequence ``(log P_prior(x) + sigma * S(x) - log P_agent(x))^2`` (:func:`augmented_likelihood_loss`),
   over the new samples and ``replay`` sequences drawn from the memory with probability proportional to their
   score (their stored prior likelihood and score; replay never calls the objective);
4. the new samples join the memory (distinct SMILES, best ``memory`` kept), and the mean loss plus
   ``likelihood_penalty * mean(-1 / log P_agent)`` over new and replayed sequences (mol_opt's regulariser against
   sequences of very high likelihood) takes one Adam step.

The run stops when the budget is spent (the batch that spends it is scored up to the budget and not learned from),
or after ``max_stalled`` steps in a row that paid no new call.

Example:
    >>> from oracles import get_oracle
    >>> run = Reinvent().run(prior, get_oracle("qed"), budget=1000, seed=0)             # doctest: +SKIP
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from oracles import Oracle
from seqguide.baselines.history import BudgetedObjective, DesignHistory, budgeted
from seqguide.baselines.smiles_rnn import PAD, SmilesRNN

__all__ = ["ExperienceReplay", "Reinvent", "ReinventRun", "augmented_likelihood_loss"]


def augmented_likelihood_loss(agent_ll: torch.Tensor, prior_ll: torch.Tensor, score: torch.Tensor,
                              sigma: float) -> torch.Tensor:
    """REINVENT's per-sequence loss ``(prior_ll + sigma * score - agent_ll)^2`` (Olivecrona et al. 2017, the
    augmented likelihood ``log P_prior + sigma * S``); all ``(N,)``, log-likelihoods in nats (negative)."""
    return (prior_ll + sigma * score - agent_ll) ** 2


class ExperienceReplay:
    """The best-scoring sequences seen so far (mol_opt's ``Experience``): at most ``size`` distinct SMILES, each
    with its token ids, score and prior log-likelihood; :meth:`sample` draws without replacement with probability
    proportional to ``score + 1e-10``. Sequences are told apart by their tokens (mol_opt: by the decoded string)."""

    def __init__(self, size: int = 100) -> None:
        if size < 1:
            raise ValueError(f"ExperienceReplay: size must be >= 1, got {size}")
        self.size = int(size)
        self.items: list[tuple[str | None, list[int], float, float]] = []  # (smiles, ids, score, prior log-likelihood)

    def __len__(self) -> int:
        return len(self.items)

    def add(self, smiles: list[str | None], ids: torch.Tensor, scores: np.ndarray, prior_ll: np.ndarray) -> None:
        """Add scored sequences (decoded SMILES or None, ``(N, T)`` ids, finite scores, prior log-likelihoods); keep
        the best ``size`` distinct token sequences."""
        scores = np.asarray(scores, dtype=np.float64)
        if not np.all(np.isfinite(scores)):
            raise ValueError("ExperienceReplay.add: every added sequence needs a finite score")
        seen = {tuple(it[1]) for it in self.items}
        for s, row, v, p in zip(smiles, ids.tolist(), scores, np.asarray(prior_ll, dtype=np.float64)):
            row = [t for t in row if t != PAD]
            if tuple(row) not in seen:
                seen.add(tuple(row))
                self.items.append((s, row, float(v), float(p)))
        self.items.sort(key=lambda it: it[2], reverse=True)
        del self.items[self.size:]

    def sample(self, n: int, rng: np.random.Generator) -> tuple[list[list[int]], np.ndarray, np.ndarray]:
        """``n`` items: their token ids (unpadded), scores and prior log-likelihoods."""
        if n > len(self.items):
            raise ValueError(f"ExperienceReplay.sample: {n} requested, {len(self.items)} in memory")
        p = np.array([it[2] for it in self.items]) + 1e-10
        p = np.clip(p, 1e-10, None)
        pick = rng.choice(len(self.items), size=n, replace=False, p=p / p.sum())
        chosen = [self.items[i] for i in pick]
        return [c[1] for c in chosen], np.array([c[2] for c in chosen]), np.array([c[3] for c in chosen])


def _pad(rows: list[list[int]], device: torch.device) -> torch.Tensor:
    out = torch.full((len(rows), max(len(r) for r in rows)), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out.to(device)


@dataclass
class ReinventRun:
    """The result of :meth:`Reinvent.run`: the history, agent steps, samples drawn, samples RDKit could not read,
    why it stopped (``"budget"`` or ``"stalled"``), the mean score of each step's new samples, and the final replay
    memory as ``(decoded SMILES or None, score)``, best first."""

    history: DesignHistory
    steps: int
    sampled: int
    invalid: int
    stopped: str
    step_scores: list[float]
    memory: list[tuple[str | None, float]]


class Reinvent:
    """REINVENT (Olivecrona et al. 2017, J. Cheminf. 9:48) with mol_opt's PMO setting as defaults.

    Args:
        sigma: Weight of the score in the augmented likelihood (mol_opt: 500).
        batch_size: Sequences sampled per step (64).
        lr: Adam learning rate of the agent (5e-4).
        replay: Sequences replayed from memory per step (24; 0 turns replay off).
        memory: Size of the memory of best sequences (100).
        likelihood_penalty: Weight of ``mean(-1 / log P_agent)`` (mol_opt: 5e3).
        max_stalled: Stop after this many steps in a row without a new paid call.
        charge_invalid: Send SMILES RDKit cannot read to the objective (charged) instead of scoring them 0 free.
    """

    paper = "Olivecrona et al. 2017, J. Cheminf. 9:48 (REINVENT); PMO setting, Gao et al. 2022, arXiv 2206.12411"

    def __init__(self, *, sigma: float = 500.0, batch_size: int = 64, lr: float = 5e-4, replay: int = 24,
                 memory: int = 100, likelihood_penalty: float = 5e3, max_stalled: int = 50,
                 charge_invalid: bool = False) -> None:
        if batch_size < 1 or replay < 0 or memory < 1 or max_stalled < 1 or lr <= 0:
            raise ValueError(f"Reinvent: batch_size, memory, max_stalled >= 1, replay >= 0 and lr > 0 needed, got "
                             f"{batch_size}, {memory}, {max_stalled}, {replay}, {lr}")
        self.sigma, self.batch_size, self.lr = float(sigma), int(batch_size), float(lr)
        self.replay, self.memory = int(replay), int(memory)
        self.likelihood_penalty = float(likelihood_penalty)
        self.max_stalled = int(max_stalled)
        self.charge_invalid = bool(charge_invalid)

    def _score(self, objective: BudgetedObjective, smiles: list[str | None]) -> tuple[np.ndarray, int]:
        """Scores (0 where unreadable or invalid) and the number of unreadable samples."""
        from rdkit import Chem

        canon: list[str | None] = []
        for s in smiles:
            mol = Chem.MolFromSmiles(s) if s else None
            canon.append(Chem.MolToSmiles(mol) if mol is not None else None)
        send = [i for i, c in enumerate(canon) if c is not None or (self.charge_invalid and smiles[i])]
        scores = np.zeros(len(smiles))
        if send:
            values = objective.values([canon[i] if canon[i] is not None else smiles[i] for i in send])
            scores[send] = np.nan_to_num(values, nan=0.0)
        return scores, sum(c is None for c in canon)

    def run(self, prior: SmilesRNN, oracle: Oracle | BudgetedObjective, *, budget: int | None = None, seed: int = 0,
            callback: Callable[[int, BudgetedObjective], Any] | None = None) -> ReinventRun:
        """Fine-tune a copy of ``prior`` against the objective until the budget is spent.

        Args:
            prior: The pretrained :class:`SmilesRNN` (left unchanged).
            oracle: A maximised objective on SMILES with scores in about [0, 1] (PMO's tasks); a bare oracle is
                wrapped in a :class:`BudgetedObjective`.
            budget: Unique paid calls (required for a bare oracle).
            seed: Seeds the sampling and the replay draws.
            callback: Called as ``callback(step, objective)`` after each step.
        """
        from rdkit import RDLogger

        objective = budgeted(oracle, budget, "Reinvent.run")
        if not objective.maximize:
            raise ValueError("Reinvent.run: the objective must be maximised (a score in about [0, 1])")
        prior = prior.eval()
        agent = copy.deepcopy(prior).train()  # the prior is only read under no_grad; the caller's copy is untouched
        for p in agent.parameters():
            p.requires_grad_(True)
        opt = torch.optim.Adam(agent.parameters(), lr=self.lr)
        gen = torch.Generator(device=prior.device).manual_seed(int(seed))
        rng = np.random.default_rng(seed)
        memory = ExperienceReplay(self.memory)
        steps = sampled = invalid = stalled = 0
        step_scores: list[float] = []
        stopped = "budget"
        RDLogger.DisableLog("rdApp.*")
        try:
            while not objective.exhausted:
                ids = torch.unique(agent.sample(self.batch_size, generator=gen), dim=0)
                ids = ids[torch.randperm(len(ids), generator=gen, device=ids.device)]
                ids = ids[:, : int((ids != PAD).sum(1).max())]
                smiles = agent.decode(ids)
                used = objective.used
                scores, bad = self._score(objective, smiles)
                sampled += len(ids)
                invalid += bad
                step_scores.append(float(scores.mean()))
                if objective.exhausted:
                    break  # the batch that spent the budget may hold unpaid items: nothing is learned from it
                stalled = stalled + 1 if objective.used == used else 0
                self._update(agent, prior, opt, memory, ids, smiles, scores, rng)
                steps += 1
                if callback is not None:
                    callback(steps, objective)
                if stalled >= self.max_stalled:
                    stopped = "stalled"
                    break
        finally:
            RDLogger.EnableLog("rdApp.*")
        return ReinventRun(objective.history, steps, sampled, invalid, stopped, step_scores,
                           [(it[0], it[2]) for it in memory.items])

    def _update(self, agent: SmilesRNN, prior: SmilesRNN, opt: torch.optim.Optimizer, memory: ExperienceReplay,
                ids: torch.Tensor, smiles: list[str | None], scores: np.ndarray, rng: np.random.Generator) -> None:
        dev = ids.device
        with torch.no_grad():
            prior_ll = prior.log_likelihood(ids)
        agent_ll = agent.log_likelihood(ids)
        loss = augmented_likelihood_loss(agent_ll, prior_ll, torch.as_tensor(scores, dtype=agent_ll.dtype, device=dev),
                                         self.sigma)
        all_ll = agent_ll
        if self.replay and len(memory) > self.replay:
            rows, r_scores, r_prior = memory.sample(self.replay, rng)
            r_ll = agent.log_likelihood(_pad(rows, dev))
            r_loss = augmented_likelihood_loss(r_ll, torch.as_tensor(r_prior, dtype=r_ll.dtype, device=dev),
                                               torch.as_tensor(r_scores, dtype=r_ll.dtype, device=dev), self.sigma)
            loss, all_ll = torch.cat([loss, r_loss]), torch.cat([all_ll, r_ll])
        memory.add(smiles, ids, scores, prior_ll.cpu().numpy())
        total = loss.mean() + self.likelihood_penalty * (-1.0 / all_ll).mean()
        opt.zero_grad()
        total.backward()
        opt.step()
