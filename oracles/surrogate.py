"""Learned, differentiable surrogate oracles with ensemble uncertainty.

A :class:`Surrogate` is a small 1-D CNN on one-hot sequences, trained with Lightning on
``(sequence, score)`` pairs. Uncertainty comes from a deep ensemble (Lakshminarayanan, Pritzel &
Blundell 2017, "Simple and Scalable Predictive Uncertainty Estimation using Deep Ensembles"): M members
with different initialisations, each trained on its own bootstrap re-weighting of the data; the
prediction is the member mean and the uncertainty their standard deviation.

It is an :class:`~oracles.base.Oracle` (``surrogate(xs)`` returns the ensemble mean) *and* a
differentiable function: :meth:`Surrogate.forward` takes one-hot or probability tensors
``(B, L, V)`` with ``V = alphabet.size`` (the regular tokens; a ``V = alphabet.vocab_size`` input is
accepted and its pad/mask columns ignored), so gradient-based guidance can differentiate the predicted
score with respect to token probabilities.

Each member: ``Conv1d(V, C, k) -> GELU -> [Conv1d(C, C, k) -> GELU] x (layers - 1)``, then masked mean
and max pooling over positions (padding, i.e. all-zero rows, is ignored), ``Linear(2C, C) -> GELU ->
Linear(C, K)``. Targets are standardised for training; predictions are in the original units.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from oracles.base import Oracle, OracleResult
from seqguide.alphabet import Alphabet, get_alphabet

__all__ = ["EnsembleCNN", "Surrogate", "load_surrogate"]

_FORMAT_VERSION = 1


class _Member(nn.Module):
    def __init__(self, n_tokens: int, n_outputs: int, channels: int, kernel_size: int, layers: int) -> None:
        super().__init__()
        convs: list[nn.Module] = []
        for i in range(layers):
            convs.append(nn.Conv1d(n_tokens if i == 0 else channels, channels, kernel_size, padding=kernel_size // 2))
        self.convs = nn.ModuleList(convs)
        self.head = nn.Sequential(nn.Linear(2 * channels, channels), nn.GELU(), nn.Linear(channels, n_outputs))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``x``: ``(B, V, L)``; ``mask``: ``(B, 1, L)`` in [0, 1]. Returns ``(B, K)``."""
        h = x
        for conv in self.convs:
            h = F.gelu(conv(h)) * mask  # keep padding at exactly zero between layers
        denom = mask.sum(dim=2).clamp_min(1e-6)
        mean = h.sum(dim=2) / denom
        neg = torch.finfo(h.dtype).min
        mx = h.masked_fill(mask <= 0, neg).amax(dim=2)
        return self.head(torch.cat([mean, mx], dim=1))


class EnsembleCNN(nn.Module):
    """M independent CNN members; ``forward(x (B, L, V)) -> (M, B, K)``."""

    def __init__(self, n_tokens: int, n_outputs: int = 1, *, members: int = 4, channels: int = 64,
                 kernel_size: int = 5, layers: int = 2) -> None:
        super().__init__()
        if members < 1 or channels < 1 or layers < 1 or kernel_size < 1:
            raise ValueError("EnsembleCNN: members, channels, layers and kernel_size must be >= 1")
        self.members = nn.ModuleList(
            [_Member(n_tokens, n_outputs, channels, kernel_size, layers) for _ in range(members)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mask = x.sum(dim=-1, keepdim=True).transpose(1, 2).clamp(0.0, 1.0)  # (B, 1, L): 0 on padding
        xt = x.transpose(1, 2)
        return torch.stack([m(xt, mask) for m in self.members])


def _lightning_module(net: EnsembleCNN, lr: float, weight_decay: float) -> Any:
    import lightning.pytorch as pl

    class _EnsembleRegression(pl.LightningModule):
        """Weighted MSE of every member on its bootstrap weights (the learning problem only)."""

        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
            x, y, w = batch  # (B, L, V), (B, K), (B, M)
            pred = self.net(x)  # (M, B, K)
            per_item = ((pred - y.unsqueeze(0)) ** 2).mean(dim=2)  # (M, B)
            loss = (per_item * w.T).sum() / w.sum().clamp_min(1.0)
            self.log("train_loss", loss, prog_bar=True, on_epoch=True, on_step=False, batch_size=len(x))
            return loss

        def configure_optimizers(self) -> torch.optim.Optimizer:
            return torch.optim.AdamW(self.parameters(), lr=lr, weight_decay=weight_decay)

    return _EnsembleRegression()


@contextlib.contextmanager
def _quiet_lightning(active: bool) -> Iterator[None]:
    """Silence Lightning's info banners and known-harmless warnings (restored afterwards)."""
    if not active:
        yield
        return
    loggers = [logging.getLogger(n) for n in list(logging.Logger.manager.loggerDict) if n.startswith("lightning")]
    loggers.append(logging.getLogger("lightning.pytorch.utilities.rank_zero"))
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for msg in (".*does not have many workers.*", ".*GPU available but not used.*", ".*LeafSpec.*",
                        ".*litlogger.*"):
                warnings.filterwarnings("ignore", message=msg)
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


class Surrogate(Oracle):
    """An ensemble CNN regressor usable as an oracle and as a differentiable reward.

    Args:
        alphabet: The alphabet of the sequences (``"dna"``, ``"protein"``, an :class:`Alphabet`, ...).
        n_objectives: K, number of scores per sequence.
        members: Ensemble size M (>= 2 for a meaningful std).
        channels: Width C of each member.
        kernel_size: Convolution width.
        layers: Convolution layers per member.
        lr: AdamW learning rate.
        weight_decay: AdamW weight decay.
        batch_size: Training batch size.
        bootstrap: Train each member on Poisson(1) bootstrap weights (more diverse members).
        name: Display name.
        maximize: Direction of the modelled score.
        device: Where the network lives for prediction.

    Example:
        >>> s = Surrogate("dna").fit(seqs, scores, epochs=20, seed=0)     # doctest: +SKIP
        >>> mean, std = s.predict(["ACGT..."])                           # doctest: +SKIP
        >>> x = torch.full((2, 30, 4), 0.25, requires_grad=True)
        >>> s.forward(x).sum().backward()                               # doctest: +SKIP
    """

    def __init__(self, alphabet: str | Alphabet, *, n_objectives: int = 1, members: int = 4,
                 channels: int = 64, kernel_size: int = 5, layers: int = 2, lr: float = 3e-3,
                 weight_decay: float = 1e-4, batch_size: int = 128, bootstrap: bool = True,
                 name: str = "surrogate", maximize: bool = True, device: str | torch.device = "cpu") -> None:
        self.alphabet = get_alphabet(alphabet)
        self.n_objectives = int(n_objectives)
        if self.n_objectives < 1:
            raise ValueError(f"Surrogate: n_objectives must be >= 1, got {n_objectives!r}")
        self.config = {"members": int(members), "channels": int(channels), "kernel_size": int(kernel_size),
                       "layers": int(layers)}
        self.lr, self.weight_decay, self.batch_size = float(lr), float(weight_decay), int(batch_size)
        self.bootstrap = bool(bootstrap)
        self.name = name
        self.maximize = bool(maximize)
        self.net = EnsembleCNN(self.alphabet.size, self.n_objectives, **self.config).to(device)
        self.y_mean = torch.zeros(self.n_objectives)
        self.y_std = torch.ones(self.n_objectives)
        self.fitted = False
        self.history: dict[str, Any] = {}

    # -- tensors -----------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def to(self, device: str | torch.device) -> Surrogate:
        """Move the network (returns self)."""
        self.net.to(device)
        return self

    def one_hot(self, sequences: Sequence[str], *, length: int | None = None) -> torch.Tensor:
        """One-hot encode: ``(B, L, V)`` float32 with ``V = alphabet.size``; padding rows are all zero."""
        ids = self.alphabet.encode(list(sequences), length=length)
        return F.one_hot(ids, self.alphabet.vocab_size)[..., : self.alphabet.size].float().to(self.device)

    def _check_input(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 3:
            raise ValueError(f"Surrogate.forward expects (B, L, V) one-hot/probabilities, got shape {tuple(x.shape)}")
        V = x.shape[-1]
        if V == self.alphabet.vocab_size:
            x = x[..., : self.alphabet.size]  # pad/mask probabilities carry no residue
        elif V != self.alphabet.size:
            raise ValueError(f"Surrogate.forward: last dimension {V} must be alphabet.size={self.alphabet.size} "
                             f"(or vocab_size={self.alphabet.vocab_size})")
        return x.to(device=self.device, dtype=torch.float32)

    def forward_members(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable per-member predictions in original units: ``(M, B, K)``."""
        out = self.net(self._check_input(x))
        return out * self.y_std.to(out.device) + self.y_mean.to(out.device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Differentiable ensemble mean: ``(B,)`` for one objective, else ``(B, K)``.

        Args:
            x: One-hot or probability tensor ``(B, L, V)``, ``V = alphabet.size`` (or ``vocab_size``).
        """
        mean = self.forward_members(x).mean(dim=0)
        return mean[:, 0] if self.n_objectives == 1 else mean

    def predict(self, sequences: Sequence[str], *, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
        """Ensemble mean and standard deviation (across members): two arrays ``(N,)`` or ``(N, K)``.

        Raises:
            ValueError: on a sequence outside the alphabet (naming it).
            RuntimeError: if the surrogate was never fitted or loaded.
        """
        self._require_fitted()
        means, stds = [], []
        self.net.eval()
        with torch.no_grad():
            for i in range(0, len(sequences), batch_size):
                members = self.forward_members(self.one_hot(sequences[i : i + batch_size]))
                means.append(members.mean(0).cpu().double().numpy())
                stds.append(members.std(0, unbiased=False).cpu().double().numpy())
        k = self.n_objectives
        mean = np.concatenate(means) if means else np.zeros((0, k))
        std = np.concatenate(stds) if stds else np.zeros((0, k))
        return (mean[:, 0], std[:, 0]) if k == 1 else (mean, std)

    def _require_fitted(self) -> None:
        if not self.fitted:
            raise RuntimeError(f"{self.name}: the surrogate has not been fitted; call fit() or Surrogate.load()")

    def __call__(self, xs: Sequence[str] | torch.Tensor) -> OracleResult:
        self._require_fitted()
        return super().__call__(xs)

    def _score(self, xs: list[str]) -> np.ndarray:
        return self.predict(xs)[0]

    # -- training ----------------------------------------------------------------------------
    def fit(self, sequences: Sequence[str], scores: Sequence[float] | np.ndarray, *, epochs: int = 30,
            seed: int = 0, verbose: bool = False, num_threads: int | None = None,
            accelerator: str = "cpu", warm_start: bool = False) -> Surrogate:
        """Train every member on ``(sequences, scores)`` with Lightning: from scratch, or with ``warm_start`` from
        the weights of the previous fit (or of :meth:`load`), as an active-learning loop refits between rounds.

        Deterministic for a given seed on a given machine; the global torch RNG is left untouched.

        Args:
            sequences: N strings over the alphabet.
            scores: ``(N,)`` or ``(N, K)`` finite floats.
            epochs: Passes over the data.
            seed: Seeds initialisation, bootstrap weights and shuffling.
            verbose: Show Lightning's progress bar.
            num_threads: torch CPU threads while training (restored afterwards); None keeps the current
                setting. Small models train fastest on 1 thread, especially on a busy machine.
            accelerator: Lightning accelerator for training (``"cpu"``, ``"gpu"``, ``"auto"``); the trained
                network then goes back to the surrogate's device.
            warm_start: Continue from the current weights (the surrogate must be fitted or loaded); the targets are
                re-standardised on the new data.

        Returns:
            self, fitted.
        """
        seqs = list(sequences)
        y = np.asarray(scores, dtype=np.float64)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[1] != self.n_objectives:
            raise ValueError(f"Surrogate.fit: scores must have shape (N,) or (N, {self.n_objectives}), got "
                             f"{np.asarray(scores).shape}")
        if len(seqs) != len(y):
            raise ValueError(f"Surrogate.fit: {len(seqs)} sequences but {len(y)} scores")
        if len(seqs) < 2:
            raise ValueError("Surrogate.fit: need at least 2 training pairs")
        bad = np.flatnonzero(~np.isfinite(y).all(axis=1))
        if len(bad):
            raise ValueError(f"Surrogate.fit: {len(bad)} non-finite scores (first at index {bad[0]}); drop "
                             "invalid oracle results before fitting")
        for i, s in enumerate(seqs):
            err = self.alphabet.validate(s)
            if err is not None:
                raise ValueError(f"Surrogate.fit: sequence {i}: {err}")
        if epochs < 1:
            raise ValueError(f"Surrogate.fit: epochs must be >= 1, got {epochs!r}")
        if warm_start and not self.fitted:
            raise RuntimeError(f"{self.name}: warm_start needs a fitted or loaded surrogate")

        self.y_mean = torch.tensor(y.mean(axis=0), dtype=torch.float32)
        self.y_std = torch.tensor(y.std(axis=0), dtype=torch.float32).clamp_min(1e-8)
        device = self.device
        previous_threads = torch.get_num_threads()
        if num_threads is not None:
            torch.set_num_threads(int(num_threads))
        try:
            self._train(seqs, y, epochs, seed, verbose, accelerator, warm_start)
        finally:
            torch.set_num_threads(previous_threads)
        self.net = self.net.to(device).eval()
        self.fitted = True
        return self

    def _train(self, seqs: list[str], y: np.ndarray, epochs: int, seed: int, verbose: bool,
               accelerator: str, warm_start: bool = False) -> None:
        import lightning.pytorch as pl

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if not warm_start:
                self.net = EnsembleCNN(self.alphabet.size, self.n_objectives, **self.config)
            self.net = self.net.cpu().train()
            gen = torch.Generator().manual_seed(seed)
            members = self.config["members"]
            weights = (torch.poisson(torch.ones(len(seqs), members), generator=gen) if self.bootstrap
                       else torch.ones(len(seqs), members))
            x = self.one_hot(seqs).cpu()
            target = (torch.tensor(y, dtype=torch.float32) - self.y_mean) / self.y_std
            data = torch.utils.data.TensorDataset(x, target, weights)
            loader = torch.utils.data.DataLoader(data, batch_size=self.batch_size, shuffle=True, generator=gen)
            module = _lightning_module(self.net, self.lr, self.weight_decay)
            with _quiet_lightning(not verbose):
                trainer = pl.Trainer(max_epochs=epochs, accelerator=accelerator, devices=1, logger=False,
                                     enable_checkpointing=False, enable_progress_bar=verbose,
                                     enable_model_summary=False)
            with _quiet_lightning(not verbose):
                trainer.fit(module, loader)
        self.net = module.net.cpu()
        loss = trainer.callback_metrics.get("train_loss")
        self.history = {"epochs": epochs, "seed": seed, "n_train": len(seqs), "warm_start": warm_start,
                        "final_train_loss": None if loss is None else float(loss)}

    # -- persistence ---------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write weights to ``path`` (safetensors) and the configuration to ``path`` with suffix ``.json``.

        Returns:
            The weights path.
        """
        from safetensors.torch import save_file

        self._require_fitted()
        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_suffix(".safetensors")
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {f"net.{k}": v.detach().cpu().contiguous() for k, v in self.net.state_dict().items()}
        tensors["y_mean"] = self.y_mean.cpu().contiguous()
        tensors["y_std"] = self.y_std.cpu().contiguous()
        save_file(tensors, str(path), metadata={"format": "seqguide.surrogate", "version": str(_FORMAT_VERSION)})
        sidecar = {
            "format": "seqguide.surrogate", "version": _FORMAT_VERSION, "name": self.name,
            "maximize": self.maximize, "n_objectives": self.n_objectives, "alphabet": self.alphabet.to_dict(),
            "config": self.config, "lr": self.lr, "weight_decay": self.weight_decay,
            "batch_size": self.batch_size, "bootstrap": self.bootstrap, "history": self.history,
            "input": "one-hot/probabilities (B, L, V) with V = alphabet.size",
        }
        path.with_suffix(".json").write_text(json.dumps(sidecar, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, device: str | torch.device = "cpu") -> Surrogate:
        """Rebuild a surrogate saved with :meth:`save` (weights via safetensors: no pickle)."""
        from safetensors.torch import load_file

        path = Path(path)
        if path.suffix != ".safetensors":
            path = path.with_suffix(".safetensors")
        sidecar = path.with_suffix(".json")
        if not path.exists() or not sidecar.exists():
            raise FileNotFoundError(f"Surrogate.load: need {path} and {sidecar}")
        meta = json.loads(sidecar.read_text())
        if meta.get("format") != "seqguide.surrogate" or meta.get("version") != _FORMAT_VERSION:
            raise ValueError(f"{sidecar} is not a seqguide surrogate (version {_FORMAT_VERSION}) file")
        s = cls(Alphabet.from_dict(meta["alphabet"]), n_objectives=meta["n_objectives"], **meta["config"],
                lr=meta["lr"], weight_decay=meta["weight_decay"], batch_size=meta["batch_size"],
                bootstrap=meta["bootstrap"], name=meta["name"], maximize=meta["maximize"])
        tensors = load_file(str(path))
        s.net.load_state_dict({k[4:]: v for k, v in tensors.items() if k.startswith("net.")}, strict=True)
        s.y_mean, s.y_std = tensors["y_mean"], tensors["y_std"]
        s.history = meta.get("history", {})
        s.fitted = True
        s.net.eval()
        return s.to(device)

    def _repr_params(self) -> dict[str, Any]:
        return {"name": self.name, "alphabet": self.alphabet.name, "n_objectives": self.n_objectives,
                **self.config, "fitted": self.fitted}


def load_surrogate(*, path: str, device: str = "cpu") -> Surrogate:
    """Load a saved :class:`Surrogate` (registry factory: ``get_oracle("surrogate", path=...)``)."""
    return Surrogate.load(path, device=device)
