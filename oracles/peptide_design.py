"""A peptide design objective: a held-out antimicrobial classifier inside charge, hydrophobicity and amphipathicity
windows, with a complexity limit.

The data are modlAMP's ``AMPvsUniProt`` peptides (Müller et al. 2017, Bioinformatics 33:2753; deduplicated as
:func:`oracles.amp.load_amp_dataset` does). They are split in two halves by a hash of the sequence
(:func:`amp_halves`): the **design half** is all a generator, a surrogate or a GA may be given (the benchmark trains
its model on its AMPs and starts the GA from them); the **oracle half** trains the objective's classifier
(:func:`train_holdout_classifier`, 80 % of the half; the other 20 % and the whole design half measure it). No row
of the design half is ever seen by the classifier, so a design method cannot learn the scorer from its data.

The classifier is separate from the ``amp`` oracle's: 29 composition and physico-chemical features
(:func:`oracles.amp.amp_features`) plus the 49 dipeptide frequencies over 7 residue classes, standardised, a
one-hidden-layer MLP trained full-batch (deterministic; a few seconds, trained on first use and kept in memory).

:class:`AMPDesign` scores a peptide as the product of

* ``P``, the classifier's credit ``clip((p - 0.5) / (p_full - 0.5), 0, 1)`` of its probability ``p``;
* a window factor for each of net charge at pH 7 (``charge``), GRAVY (``gravy``) and the Eisenberg hydrophobic
  moment (``moment``): 1 inside ``[low, high]``, falling linearly to 0 at ``tolerance`` outside;
* a complexity factor: 1 when no residue makes up more than ``max_fraction`` of the peptide, falling linearly to 0
  at ``max_fraction + 0.15`` (repeats such as ``KLLKKLL...`` are what a composition classifier rewards most and
  what a designer does not want);

so the optimum is 1.0 (every window holds, no residue too frequent, ``p >= p_full``). Peptides outside the length
window are invalid (a GA's gap tokens make any length below its particle length).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from oracles.amp import amp_features, fit_early_stopped_mlp, load_amp_dataset
from oracles.base import Oracle
from oracles.peptide import hydrophobic_moment
from seqguide.alphabet import PROTEIN

__all__ = ["DEFAULT_WINDOWS", "AMPDesign", "HoldoutClassifier", "amp_halves", "holdout_features",
           "train_holdout_classifier"]

_CLASSES = ("AVLIM", "FWY", "KRH", "DE", "STNQ", "GP", "C")
_CLASS_OF = {a: i for i, group in enumerate(_CLASSES) for a in group}
#: Property -> (low, high, tolerance): the windows of :class:`AMPDesign`.
DEFAULT_WINDOWS: dict[str, tuple[float, float, float]] = {
    "charge": (2.0, 4.0, 2.0), "gravy": (-0.4, 0.1, 0.4), "moment": (0.45, 1.5, 0.25)}
_HIDDEN, _EPOCHS, _LR, _WD = 64, 600, 3e-3, 1e-2  # validation loss checked every 25 epochs (amp's _EVAL_EVERY)


def amp_halves() -> dict[str, tuple[list[str], np.ndarray]]:
    """``{"design": (sequences, labels), "oracle": (sequences, labels)}``: the deduplicated AMPvsUniProt rows split
    by the parity of the first byte of each sequence's SHA-256 (stable across files and orderings)."""
    seqs, labels = load_amp_dataset()
    parity = np.array([hashlib.sha256(s.encode()).digest()[0] % 2 for s in seqs])
    return {name: ([s for s, p in zip(seqs, parity) if p == side], labels[parity == side])
            for name, side in (("design", 0), ("oracle", 1))}


def holdout_features(sequences: Sequence[str]) -> np.ndarray:
    """``(N, 78)``: the ``amp`` oracle's 29 features and the 49 class-dipeptide frequencies."""
    out = np.zeros((len(sequences), 49))
    for r, s in enumerate(sequences):
        c = [_CLASS_OF[a] for a in s.upper()]
        if len(c) > 1:
            pairs = np.bincount(np.array(c[:-1]) * 7 + np.array(c[1:]), minlength=49)
            out[r] = pairs / (len(c) - 1)
    return np.concatenate([amp_features(list(sequences)), out], axis=1)


class HoldoutClassifier:
    """The objective's classifier (numpy inference): feature standardisation and a one-hidden-layer MLP.

    Attributes:
        metrics: held-out accuracy and AUROC (``test_*``: the oracle half's 20 % test split; ``design_half_*``: the
            whole design half), sizes, and ``train_sequences``, the hash of the rows it was trained on.
        train_set: The training sequences (so a test can check the design half never met them).
    """

    def __init__(self, net: torch.nn.Sequential, mean: np.ndarray, std: np.ndarray, metrics: dict[str, Any],
                 train_set: frozenset[str]) -> None:
        self.net, self.mean, self.std, self.metrics, self.train_set = net, mean, std, metrics, train_set

    def predict_proba(self, sequences: Sequence[str]) -> np.ndarray:
        z = torch.tensor((holdout_features(sequences) - self.mean) / self.std, dtype=torch.float32)
        with torch.no_grad():
            return torch.sigmoid(self.net(z)[:, 0]).double().numpy()


@functools.lru_cache(maxsize=2)
def train_holdout_classifier(seed: int = 0) -> HoldoutClassifier:
    """Train the classifier on 80 % of the oracle half (early stopping on a tenth of that), measure it on the
    other 20 % and on the design half. Deterministic for a seed on a given machine; cached per process."""
    from sklearn.metrics import accuracy_score, roc_auc_score

    halves = amp_halves()
    seqs, labels = halves["oracle"]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(seqs))
    n_test = len(seqs) // 5
    test_idx, rest = np.sort(order[:n_test]), order[n_test:]
    val_idx, fit_idx = np.sort(rest[: len(rest) // 10]), np.sort(rest[len(rest) // 10:])
    X = holdout_features(seqs)
    mean, std = X[fit_idx].mean(axis=0), X[fit_idx].std(axis=0) + 1e-8
    Z = torch.tensor((X - mean) / std, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.float32)
    net, best_epoch = fit_early_stopped_mlp(Z, y, fit_idx, val_idx, seed=seed, hidden=_HIDDEN, epochs=_EPOCHS, lr=_LR,
                                            weight_decay=_WD)
    train_set = frozenset(seqs[i] for i in np.concatenate([fit_idx, val_idx]))
    model = HoldoutClassifier(net, mean, std, {}, train_set)
    d_seqs, d_labels = halves["design"]
    p_test, p_design = model.predict_proba([seqs[i] for i in test_idx]), model.predict_proba(d_seqs)
    model.metrics = {
        "n_train": len(fit_idx), "n_validation": len(val_idx), "n_test": len(test_idx), "n_design_half": len(d_seqs),
        "best_epoch": best_epoch,
        "test_accuracy": round(float(accuracy_score(labels[test_idx], p_test > 0.5)), 4),
        "test_auroc": round(float(roc_auc_score(labels[test_idx], p_test)), 4),
        "design_half_accuracy": round(float(accuracy_score(d_labels, p_design > 0.5)), 4),
        "design_half_auroc": round(float(roc_auc_score(d_labels, p_design)), 4),
        "train_sequences": hashlib.sha256("\n".join(sorted(train_set)).encode()).hexdigest()[:16]}
    return model


def _window(x: np.ndarray, low: float, high: float, tol: float) -> np.ndarray:
    outside = np.clip(low - x, 0.0, None) + np.clip(x - high, 0.0, None)
    return np.clip(1.0 - outside / tol, 0.0, 1.0)


class AMPDesign(Oracle):
    """Held-out AMP classifier credit times property windows and a complexity limit, in [0, 1]; optimum 1.0.

    Args:
        p_full: Classifier probability that earns full credit (``0.5`` earns none).
        windows: ``{property: (low, high, tolerance)}`` for ``charge``, ``gravy``, ``moment`` (default
            :data:`DEFAULT_WINDOWS`; a property left out has no window).
        max_fraction: The largest fraction of the peptide one residue may take without penalty.
        min_length, max_length: The lengths that can be scored.
        seed: The classifier's training seed.
    """

    def __init__(self, *, p_full: float = 0.99, windows: Mapping[str, Sequence[float]] | None = None,
                 max_fraction: float = 0.2, min_length: int = 12, max_length: int = 36, seed: int = 0) -> None:
        if not 0.5 < p_full <= 1.0:
            raise ValueError(f"AMPDesign: p_full must be in (0.5, 1], got {p_full!r}")
        windows = dict(DEFAULT_WINDOWS if windows is None else windows)
        for key, w in windows.items():
            if key not in DEFAULT_WINDOWS:
                raise ValueError(f"AMPDesign: unknown window {key!r}; use some of {sorted(DEFAULT_WINDOWS)}")
            if len(w) != 3 or not w[0] <= w[1] or w[2] <= 0:
                raise ValueError(f"AMPDesign: window {key!r} must be (low, high, tolerance) with low <= high and "
                                 f"tolerance > 0, got {tuple(w)!r}")
        if not 0.0 < max_fraction <= 1.0:
            raise ValueError(f"AMPDesign: max_fraction must be in (0, 1], got {max_fraction!r}")
        if not 1 <= min_length <= max_length:
            raise ValueError(f"AMPDesign: need 1 <= min_length <= max_length, got {min_length}, {max_length}")
        self.p_full = float(p_full)
        self.windows = {k: tuple(float(v) for v in w) for k, w in windows.items()}
        self.max_fraction = float(max_fraction)
        self.min_length, self.max_length = int(min_length), int(max_length)
        self.seed = int(seed)
        self.classifier = train_holdout_classifier(self.seed)
        self.alphabet = PROTEIN
        self.name = "amp_design"
        self.maximize = True
        self.optimal_value = 1.0

    @property
    def metrics(self) -> dict[str, Any]:
        """The classifier's held-out accuracy and AUROC (see :class:`HoldoutClassifier`)."""
        return self.classifier.metrics

    def validate(self, x: Any) -> str | None:
        err = super().validate(x)
        if err is None and not self.min_length <= len(x) <= self.max_length:
            return f"peptide of length {len(x)}; this task scores lengths {self.min_length}-{self.max_length}"
        return err

    def terms(self, xs: Sequence[str]) -> dict[str, np.ndarray]:
        """Each factor per peptide (``p`` is the raw probability, ``classifier`` its credit)."""
        from Bio.SeqUtils.ProtParam import ProteinAnalysis

        xs = [s.upper() for s in xs]
        p = self.classifier.predict_proba(xs)
        out = {"p": p, "classifier": np.clip((p - 0.5) / (self.p_full - 0.5), 0.0, 1.0)}
        props = {"charge": lambda s: ProteinAnalysis(s).charge_at_pH(7.0),
                 "gravy": lambda s: ProteinAnalysis(s).gravy(), "moment": hydrophobic_moment}
        for key, (low, high, tol) in self.windows.items():
            out[key] = _window(np.array([props[key](s) for s in xs], dtype=np.float64), low, high, tol)
        top = np.array([max(s.count(a) for a in set(s)) / len(s) for s in xs])
        out["complexity"] = np.clip(1.0 - (top - self.max_fraction) / 0.15, 0.0, 1.0)
        return out

    def _score(self, xs: list[str]) -> np.ndarray:
        t = self.terms(xs)
        return np.prod([v for k, v in t.items() if k != "p"], axis=0)

    def _repr_params(self) -> dict[str, Any]:
        return {"p_full": self.p_full, "windows": self.windows, "max_fraction": self.max_fraction,
                "min_length": self.min_length, "max_length": self.max_length, "seed": self.seed}
