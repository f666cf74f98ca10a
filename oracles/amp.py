"""Antimicrobial-peptide (AMP) classifier: probability that a peptide is antimicrobial.

Trained on the ``AMPvsUniProt`` set shipped with modlAMP (Müller, Gabernet, Hiss & Schneider 2017,
Bioinformatics 33:2753): 2,600 AMPs against 2,600 UniProt peptides (``modlamp/data/AMPvsUniProt.csv``).
Repeated sequences are merged and the 22 sequences listed with both labels are dropped before a
stratified 80/20 train/test split (fixed seed), so no test sequence is seen in training.

Features (29 per peptide): amino-acid composition (20) and 9 physico-chemical descriptors: log length,
net charge at pH 7.4 (total and per residue), isoelectric point, GRAVY, aromaticity, instability index
(Biopython ProtParam), Eisenberg hydrophobic moment (100 degrees) and mean Eisenberg hydrophobicity.
Model: standardised features -> Linear(29, 64) -> GELU -> Linear(64, 1), trained full-batch with AdamW,
keeping the epoch with the lowest loss on a validation tenth of the training set (deterministic, a few
seconds on a CPU). Weights live in ``oracles/data/amp_classifier.safetensors``
with metrics in ``amp_classifier.json``; ``scripts/train_amp_classifier.py`` rebuilds them, and the
oracle retrains in memory (and tries to save) when the file is missing.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from oracles.base import Oracle
from oracles.peptide import EISENBERG_CONSENSUS, hydrophobic_moment
from seqguide.alphabet import PROTEIN

__all__ = [
    "DEFAULT_WEIGHTS",
    "AMPClassifier",
    "AMPModel",
    "amp_features",
    "load_amp_dataset",
    "load_amp_model",
    "train_amp_classifier",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
DEFAULT_WEIGHTS = DATA_DIR / "amp_classifier.safetensors"
FEATURE_VERSION = "aac20+phys9/v1"
_AA = PROTEIN.tokens
_AA_INDEX = {a: i for i, a in enumerate(_AA)}
N_FEATURES = 29

# Training hyperparameters (fixed; changing them changes the shipped model).
_HIDDEN = 64
_EPOCHS = 500
_EVAL_EVERY = 25
_LR = 3e-3
_WEIGHT_DECAY = 1e-2
_TEST_FRACTION = 0.2


def amp_features(sequences: list[str]) -> np.ndarray:
    """The 29 features of each peptide: ``(N, 29)`` float64 (see the module docstring)."""
    from Bio.SeqUtils.ProtParam import ProteinAnalysis

    out = np.empty((len(sequences), N_FEATURES))
    for r, seq in enumerate(sequences):
        s = seq.upper()
        n = len(s)
        comp = np.bincount([_AA_INDEX[c] for c in s], minlength=20) / n
        pa = ProteinAnalysis(s)
        charge = pa.charge_at_pH(7.4)
        hyd = np.array([EISENBERG_CONSENSUS[c] for c in s])
        phys = [math.log(n), charge, charge / n, pa.isoelectric_point(), pa.gravy(), pa.aromaticity(),
                pa.instability_index(), hydrophobic_moment(s), hyd.mean()]
        out[r, :20] = comp
        out[r, 20:] = phys
    return out


def load_amp_dataset() -> tuple[list[str], np.ndarray]:
    """The deduplicated AMPvsUniProt sequences and labels (1 = AMP), in file order of first appearance."""
    import modlamp
    import pandas as pd

    path = Path(modlamp.__file__).resolve().parent / "data" / "AMPvsUniProt.csv"
    # First line is a scikit-learn style header "5200,1,UniProt,AMP"; rows are "sequence, label".
    df = pd.read_csv(path, skiprows=1, header=None, names=["sequence", "label"], skipinitialspace=True)
    df["sequence"] = df["sequence"].astype(str).str.strip().str.upper()
    conflicting = df.groupby("sequence")["label"].nunique()
    conflicting = set(conflicting[conflicting > 1].index)
    df = df[~df["sequence"].isin(conflicting)].drop_duplicates("sequence")
    df = df[df["sequence"].map(lambda s: PROTEIN.validate(s) is None)]
    return df["sequence"].tolist(), df["label"].to_numpy(dtype=np.int64)


@dataclass
class AMPModel:
    """The trained classifier: feature standardisation plus a one-hidden-layer MLP (numpy inference)."""

    mean: np.ndarray
    std: np.ndarray
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray
    metrics: dict[str, Any]

    def logits(self, features: np.ndarray) -> np.ndarray:
        """``(N,)`` logits of ``(N, 29)`` features."""
        z = (features - self.mean) / self.std
        h = z @ self.w1.T + self.b1
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))  # exact GELU, as torch.nn.GELU()
        return (h @ self.w2.T + self.b2)[:, 0]

    def predict_proba(self, sequences: list[str]) -> np.ndarray:
        """P(AMP) of each peptide, ``(N,)``."""
        return 1.0 / (1.0 + np.exp(-self.logits(amp_features(sequences))))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Weights to ``path`` (safetensors) and metrics to ``path`` with suffix ``.json``."""
        from safetensors.numpy import save_file

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tensors = {k: np.ascontiguousarray(getattr(self, k), dtype=np.float32)
                   for k in ("mean", "std", "w1", "b1", "w2", "b2")}
        save_file(tensors, str(path), metadata={"feature_version": FEATURE_VERSION})
        path.with_suffix(".json").write_text(json.dumps(self.metrics, indent=2) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AMPModel:
        from safetensors import safe_open

        path = Path(path)
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            if meta.get("feature_version") != FEATURE_VERSION:
                raise ValueError(f"{path}: feature version {meta.get('feature_version')!r} does not match "
                                 f"this code ({FEATURE_VERSION!r}); retrain with scripts/train_amp_classifier.py")
            t = {k: f.get_tensor(k).astype(np.float64) for k in f.keys()}
        sidecar = path.with_suffix(".json")
        metrics = json.loads(sidecar.read_text()) if sidecar.exists() else {}
        return cls(t["mean"], t["std"], t["w1"], t["b1"], t["w2"], t["b2"], metrics)


def _erf(x: np.ndarray) -> np.ndarray:
    return torch.erf(torch.from_numpy(np.asarray(x, dtype=np.float64))).numpy()


def _split(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/test indices."""
    rng = np.random.default_rng(seed)
    test = []
    for c in (0, 1):
        idx = np.flatnonzero(labels == c)
        rng.shuffle(idx)
        test.append(idx[: round(len(idx) * _TEST_FRACTION)])
    test_idx = np.sort(np.concatenate(test))
    train_idx = np.setdiff1d(np.arange(len(labels)), test_idx)
    return train_idx, test_idx


def fit_early_stopped_mlp(Z: torch.Tensor, y: torch.Tensor, fit_idx: np.ndarray, val_idx: np.ndarray, *, seed: int,
                          hidden: int, epochs: int, lr: float, weight_decay: float,
                          on_eval: Callable[[int, float, float], None] | None = None) -> tuple[torch.nn.Module, int]:
    """A one-hidden-layer GELU classifier of standardised features ``Z`` (logits for labels ``y``), trained full-batch
    with AdamW on the rows ``fit_idx`` and kept at the epoch (checked every ``_EVAL_EVERY``) of lowest validation loss
    on ``val_idx``; returns the network (eval mode) and that epoch. Initialised from ``seed`` without touching the
    global random state; one thread (a tiny model: threads only add overhead). ``on_eval(epoch, train, val)`` sees
    each check's losses."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = torch.nn.Sequential(torch.nn.Linear(Z.shape[1], hidden), torch.nn.GELU(), torch.nn.Linear(hidden, 1))
        opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        zt, yt = Z[fit_idx], y[fit_idx]
        best = (float("inf"), 0, copy.deepcopy(net.state_dict()))
        for epoch in range(1, epochs + 1):
            opt.zero_grad()
            loss = loss_fn(net(zt)[:, 0], yt)
            loss.backward()
            opt.step()
            if epoch % _EVAL_EVERY == 0:
                with torch.no_grad():
                    val = loss_fn(net(Z[val_idx])[:, 0], y[val_idx]).item()
                if val < best[0]:
                    best = (val, epoch, copy.deepcopy(net.state_dict()))
                if on_eval is not None:
                    on_eval(epoch, loss.item(), val)
        net.load_state_dict(best[2])
    finally:
        torch.set_num_threads(threads)
    return net.eval(), best[1]


def train_amp_classifier(*, seed: int = 0, epochs: int = _EPOCHS, verbose: bool = False) -> AMPModel:
    """Train the classifier on AMPvsUniProt and measure it on the held-out 20 %.

    Deterministic for a given seed on a given machine (full-batch training, no data-loader randomness).
    Returns the model with ``metrics`` holding test accuracy and AUROC, sizes and the data checksum.
    """
    from sklearn.metrics import accuracy_score, roc_auc_score

    sequences, labels = load_amp_dataset()
    X = amp_features(sequences)
    train_idx, test_idx = _split(labels, seed)
    # Early stopping on a validation tenth of the training set; the test set is only used for the metrics.
    rng = np.random.default_rng(seed + 1)
    val_idx = np.sort(rng.choice(train_idx, size=len(train_idx) // 10, replace=False))
    fit_idx = np.setdiff1d(train_idx, val_idx)
    mean = X[fit_idx].mean(axis=0)
    std = X[fit_idx].std(axis=0) + 1e-8
    Z = torch.tensor((X - mean) / std, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.float32)
    on_eval = (lambda epoch, train, val: print(f"epoch {epoch}: train loss {train:.4f}, validation loss {val:.4f}")) \
        if verbose else None
    net, best_epoch = fit_early_stopped_mlp(Z, y, fit_idx, val_idx, seed=seed, hidden=_HIDDEN, epochs=epochs, lr=_LR,
                                            weight_decay=_WEIGHT_DECAY, on_eval=on_eval)
    with torch.no_grad():
        p_test = torch.sigmoid(net(Z[test_idx])[:, 0]).numpy()
        p_train = torch.sigmoid(net(Z[train_idx])[:, 0]).numpy()
    digest = hashlib.sha256("\n".join(f"{s},{c}" for s, c in zip(sequences, labels)).encode()).hexdigest()
    metrics = {
        "dataset": "modlamp AMPvsUniProt.csv (deduplicated, conflicting labels dropped)",
        "dataset_sha256": digest,
        "n_sequences": len(sequences),
        "n_train": len(fit_idx),
        "n_validation": len(val_idx),
        "n_test": len(test_idx),
        "test_accuracy": round(float(accuracy_score(labels[test_idx], p_test > 0.5)), 4),
        "test_auroc": round(float(roc_auc_score(labels[test_idx], p_test)), 4),
        "train_accuracy": round(float(accuracy_score(labels[train_idx], p_train > 0.5)), 4),
        "features": FEATURE_VERSION,
        "model": f"standardise -> Linear({N_FEATURES}, {_HIDDEN}) -> GELU -> Linear({_HIDDEN}, 1)",
        "training": {"seed": seed, "max_epochs": epochs, "best_epoch": best_epoch, "optimizer": "AdamW", "lr": _LR,
                     "weight_decay": _WEIGHT_DECAY, "full_batch": True, "test_fraction": _TEST_FRACTION},
    }
    lin1, lin2 = net[0], net[2]
    return AMPModel(mean, std, lin1.weight.detach().double().numpy(), lin1.bias.detach().double().numpy(),
                    lin2.weight.detach().double().numpy(), lin2.bias.detach().double().numpy(), metrics)


def _cache_weights() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return root / "seqguide" / "amp_classifier.safetensors"


def load_amp_model(path: str | os.PathLike[str] | None = None) -> AMPModel:
    """Load the shipped classifier, or rebuild it if the weight file is missing.

    Looks at ``path`` (if given), else the package file, else the user cache
    (``~/.cache/seqguide``). If none exists, trains (seconds), saves to the package data folder or,
    if that is read-only, to the user cache, and returns the model.
    """
    candidates = [Path(path)] if path is not None else [DEFAULT_WEIGHTS, _cache_weights()]
    for p in candidates:
        if p.exists():
            return AMPModel.load(p)
    warnings.warn(f"AMP classifier weights not found at {candidates[0]}; retraining (a few seconds)",
                  stacklevel=2)
    model = train_amp_classifier()
    for target in candidates if path is not None else [DEFAULT_WEIGHTS, _cache_weights()]:
        try:
            model.save(target)
            break
        except OSError:
            continue
    return model


class AMPClassifier(Oracle):
    """Probability in [0, 1] that a peptide is antimicrobial (see the module docstring for the model).

    Held-out accuracy and AUROC are in :attr:`metrics` (and ``oracles/data/amp_classifier.json``).

    Args:
        weights: A safetensors file written by :meth:`AMPModel.save`; default: the shipped model.
        logit: Return the logit instead of the probability.
    """

    def __init__(self, *, weights: str | os.PathLike[str] | None = None, logit: bool = False) -> None:
        self.model = load_amp_model(weights)
        self.weights = None if weights is None else str(weights)
        self.logit = bool(logit)
        self.alphabet = PROTEIN
        self.name = "amp"
        self.maximize = True
        self.optimal_value = None if logit else 1.0

    @property
    def metrics(self) -> dict[str, Any]:
        return self.model.metrics

    def _score(self, xs: list[str]) -> np.ndarray:
        z = self.model.logits(amp_features(xs))
        return z if self.logit else 1.0 / (1.0 + np.exp(-z))

    def _repr_params(self) -> dict[str, Any]:
        return {"weights": self.weights, "logit": self.logit}
