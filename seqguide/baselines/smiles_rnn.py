"""A recurrent language model over SMILES tokens: REINVENT's prior and agent (Olivecrona et al. 2017).

* :func:`tokenize_smiles` splits a SMILES string with a regular expression (bracket atoms, two-letter organic
  atoms ``Br``/``Cl``, ring-closure labels ``%nn``, one character otherwise) and refuses a string the tokens do not
  spell out exactly;
* :class:`SmilesRNN` is a GRU language model over those tokens (an embedding, a stacked ``torch.nn.GRU`` and a
  linear read-out, the shape of REINVENT's prior), with :meth:`~SmilesRNN.log_likelihood` of padded token
  batches in one forward pass, seeded ancestral :meth:`~SmilesRNN.sample`, and a safetensors file holding
  weights, vocabulary and sizes (:meth:`~SmilesRNN.save` / :meth:`~SmilesRNN.load`);
* :func:`train_smiles_rnn` fits one by maximum likelihood (teacher forcing, Adam) in a plain torch loop, so that
  this light package never loads Lightning.

Token ids: 0 is padding (after the end), 1 begin, 2 end, then the data's tokens in sorted order.

Example:
    >>> tokenize_smiles("CC(=O)Nc1ccc(Br)cc1[N+](=O)[O-]")[:8]
    ['C', 'C', '(', '=', 'O', ')', 'N', 'c']
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

__all__ = ["SmilesRNN", "SmilesRNNFit", "fit_info", "tokenize_smiles", "train_smiles_rnn"]

PAD, BOS, EOS = 0, 1, 2
_SPECIALS = ("<pad>", "<bos>", "<eos>")
_TOKEN = re.compile(r"\[[^\[\]]+\]|Br|Cl|%\d{2}|.")
_FORMAT = "seqguide.SmilesRNN/1"


def tokenize_smiles(smiles: str) -> list[str]:
    """The tokens of one SMILES string (bracket atoms whole, ``Br``, ``Cl``, ``%nn`` ring labels).

    Raises:
        ValueError: for an empty string, whitespace or an unclosed bracket (naming the position).
    """
    if not smiles:
        raise ValueError("tokenize_smiles: empty SMILES")
    tokens = _TOKEN.findall(smiles)
    for i, t in enumerate(tokens):
        if t in "[] \t\n" or t.isspace():
            pos = sum(len(x) for x in tokens[:i])
            raise ValueError(f"tokenize_smiles: {smiles!r}: unexpected {t!r} at character {pos}")
    return tokens


class SmilesRNN(nn.Module):
    """A GRU language model over SMILES tokens, REINVENT's prior/agent network (Olivecrona, Blaschke, Engkvist &
    Chen 2017, "Molecular de-novo design through deep reinforcement learning", J. Cheminf. 9:48, section
    "Recurrent neural networks": an embedding, three stacked GRU layers and a linear read-out; theirs is 128/512
    wide).

    Args:
        tokens: The vocabulary's data tokens (the three special tokens are prepended).
        embedding: Embedding width.
        hidden: GRU width.
        layers: Stacked GRU layers.
        max_length: Most tokens a sample may have before its end token (longer samples are cut, invalid).
    """

    paper = "Olivecrona et al. 2017, J. Cheminf. 9:48 (REINVENT prior)"

    def __init__(self, tokens: Sequence[str], *, embedding: int = 128, hidden: int = 256, layers: int = 3,
                 max_length: int = 100) -> None:
        super().__init__()
        tokens = list(tokens)
        if len(set(tokens)) != len(tokens) or any(t in _SPECIALS for t in tokens) or not tokens:
            raise ValueError("SmilesRNN: tokens must be distinct, non-empty and exclude the special tokens")
        self.vocab = [*_SPECIALS, *tokens]
        self.index = {t: i for i, t in enumerate(self.vocab)}
        self.config = {"embedding": int(embedding), "hidden": int(hidden), "layers": int(layers),
                       "max_length": int(max_length)}
        self.max_length = int(max_length)
        self.embed = nn.Embedding(len(self.vocab), embedding)
        self.gru = nn.GRU(embedding, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, len(self.vocab))

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    # ------------------------------------------------------------------ tokens
    def encode(self, smiles: Sequence[str]) -> torch.Tensor:
        """``(N, T)`` long tensor: each SMILES's token ids, its end token, then padding.

        Raises:
            ValueError: a token outside the vocabulary or a SMILES longer than ``max_length`` (naming which).
        """
        rows = []
        for i, s in enumerate(smiles):
            toks = tokenize_smiles(s)
            if len(toks) > self.max_length:
                raise ValueError(f"SmilesRNN.encode: SMILES {i} ({s!r}) has {len(toks)} tokens, more than "
                                 f"max_length={self.max_length}")
            bad = [t for t in toks if t not in self.index]
            if bad:
                raise ValueError(f"SmilesRNN.encode: SMILES {i} ({s!r}) has token {bad[0]!r} outside the vocabulary")
            rows.append([self.index[t] for t in toks] + [EOS])
        width = max((len(r) for r in rows), default=1)
        out = torch.full((len(rows), width), PAD, dtype=torch.long)
        for i, r in enumerate(rows):
            out[i, : len(r)] = torch.tensor(r)
        return out.to(self.device)

    def decode(self, ids: torch.Tensor) -> list[str | None]:
        """SMILES strings of ``(N, T)`` token ids up to each end token (None where a row never ends)."""
        out: list[str | None] = []
        for row in ids.tolist():
            if EOS not in row:
                out.append(None)
                continue
            out.append("".join(self.vocab[t] for t in row[: row.index(EOS)] if t > EOS))
        return out

    # ------------------------------------------------------------------ probabilities
    def logits(self, ids: torch.Tensor) -> torch.Tensor:
        """``(N, T, V)`` next-token logits for teacher-forced ``ids`` (the input is begin + ``ids[:, :-1]``)."""
        start = torch.full((ids.shape[0], 1), BOS, dtype=torch.long, device=ids.device)
        out, _ = self.gru(self.embed(torch.cat([start, ids[:, :-1]], dim=1)))
        return self.head(out)

    def log_likelihood(self, ids: torch.Tensor) -> torch.Tensor:
        """``(N,)`` log-probability of each row of ``ids`` (tokens up to and including its end token; padding
        after it contributes nothing), in one forward pass."""
        logp = F.log_softmax(self.logits(ids), dim=-1).gather(-1, ids.unsqueeze(-1)).squeeze(-1)
        return (logp * (ids != PAD)).sum(dim=1)

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, max_length: int | None = None
               ) -> torch.Tensor:
        """``(n, T)`` token ids drawn token by token (ancestral sampling), padding after each end token; a row
        without an end token was cut at ``max_length``."""
        limit = int(max_length or self.max_length) + 1
        x = torch.full((n,), BOS, dtype=torch.long, device=self.device)
        h = None
        done = torch.zeros(n, dtype=torch.bool, device=self.device)
        steps = []
        for _ in range(limit):
            out, h = self.gru(self.embed(x).unsqueeze(1), h)
            probs = F.softmax(self.head(out[:, 0]), dim=-1)
            x = torch.multinomial(probs, 1, generator=generator).squeeze(1)
            x = torch.where(done, torch.full_like(x, PAD), x)
            steps.append(x)
            done = done | (x == EOS)
            if bool(done.all()):
                break
        return torch.stack(steps, dim=1)

    # ------------------------------------------------------------------ files
    def save(self, path: str | Path) -> None:
        """Weights, vocabulary and sizes in one safetensors file (written to a temporary name, then renamed)."""
        from safetensors.torch import save_file

        path = Path(path)
        tmp = path.with_name(path.name + ".partial")
        meta = {"format": _FORMAT, "tokens": json.dumps(self.vocab[len(_SPECIALS):]), "config": json.dumps(self.config)}
        save_file({k: v.detach().cpu().contiguous() for k, v in self.state_dict().items()}, str(tmp), metadata=meta)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path, *, device: str | torch.device = "cpu") -> SmilesRNN:
        """A model saved by :meth:`save` (no pickle is read)."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        if meta.get("format") != _FORMAT:
            raise ValueError(f"{path}: not a SmilesRNN file (format {meta.get('format')!r}, expected {_FORMAT!r})")
        model = cls(json.loads(meta["tokens"]), **json.loads(meta["config"]))
        model.load_state_dict(load_file(str(path)))
        return model.to(device).eval()

    def n_parameters(self) -> int:
        """The number of trainable parameters."""
        return sum(p.numel() for p in self.parameters())


@dataclass
class SmilesRNNFit:
    """What :func:`train_smiles_rnn` returns: the model (eval mode), steps, train/validation NLL per molecule
    (nats; validation on the held-out molecules at the end), seconds, and the SMILES it could not encode."""

    model: SmilesRNN
    steps: int
    train_nll: float
    val_nll: float
    seconds: float
    skipped: int


def train_smiles_rnn(smiles: Sequence[str], *, steps: int = 3000, batch_size: int = 64, lr: float = 1e-3,
                     val_fraction: float = 0.02, seed: int = 0, embedding: int = 128, hidden: int = 256,
                     layers: int = 3, max_length: int = 100, clip: float = 1.0,
                     device: str | torch.device = "cpu") -> SmilesRNNFit:
    """Fit a :class:`SmilesRNN` to ``smiles`` by maximum likelihood.

    The vocabulary is every token of the training molecules; molecules longer than ``max_length`` tokens are
    skipped (counted in ``skipped``); a seeded ``val_fraction`` is held out. Each step draws a batch uniformly
    from the training molecules (seeded) and takes one Adam step on the mean NLL, gradients clipped to norm
    ``clip``.
    """
    if steps < 1 or batch_size < 1 or not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"train_smiles_rnn: steps and batch_size must be >= 1 and val_fraction in [0, 1), got "
                         f"{steps}, {batch_size}, {val_fraction}")
    t0 = time.perf_counter()
    tokenized, skipped = [], 0
    for s in smiles:
        toks = tokenize_smiles(s)
        if len(toks) > max_length:
            skipped += 1
            continue
        tokenized.append(s)
    if len(tokenized) < 2:
        raise ValueError(f"train_smiles_rnn: {len(tokenized)} usable molecules; need at least 2")
    vocab = sorted({t for s in tokenized for t in tokenize_smiles(s)})
    torch.manual_seed(seed)
    model = SmilesRNN(vocab, embedding=embedding, hidden=hidden, layers=layers, max_length=max_length).to(device)
    ids = model.encode(tokenized)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    n_val = round(val_fraction * len(ids))
    val, train = ids[order[:n_val]], ids[order[n_val:]]
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    recent: list[float] = []
    for _ in range(steps):
        batch = train[torch.as_tensor(rng.integers(0, len(train), size=batch_size), device=train.device)]
        batch = batch[:, : int((batch != PAD).sum(1).max())]  # drop all-padding columns
        loss = -model.log_likelihood(batch).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        recent = [*recent[-99:], float(loss.detach())]
    model.eval()
    val_nll = float("nan")
    if len(val):
        with torch.no_grad():
            val_nll = float(torch.cat([-model.log_likelihood(val[i: i + 512]) for i in range(0, len(val), 512)]).mean())
    return SmilesRNNFit(model, steps, float(np.mean(recent)), val_nll, time.perf_counter() - t0, skipped)


def fit_info(fit: SmilesRNNFit) -> dict[str, Any]:
    """The JSON-able record of a fit (for a cache's metadata file)."""
    return {"steps": fit.steps, "train_nll": round(fit.train_nll, 4), "val_nll": round(fit.val_nll, 4),
            "train_seconds": round(fit.seconds, 1), "skipped": fit.skipped, "parameters": fit.model.n_parameters(),
            "vocab_size": len(fit.model.vocab), "config": fit.model.config}
