"""Small-molecule oracles on SMILES or SELFIES, computed with RDKit.

* :class:`QED`: quantitative estimate of drug-likeness (Bickerton et al. 2012, Nat. Chem. 4:90),
  ``rdkit.Chem.QED.qed``.
* :class:`LogP`: Wildman-Crippen logP (1999, J. Chem. Inf. Comput. Sci. 39:868), ``Crippen.MolLogP``.
* :class:`SAScore`: synthetic accessibility (Ertl & Schuffenhauer 2009, J. Cheminform. 1:8), 1 (easy) to
  10 (hard), from RDKit Contrib ``SA_Score/sascorer.py`` and its ``fpscores.pkl.gz``.
* :class:`Similarity`: Tanimoto similarity of Morgan fingerprints (radius 2, 2048 bits: ECFP4-like;
  Rogers & Hahn 2010) to a target molecule.
* :class:`StructuralAlerts`: the number of PAINS (Baell & Holloway 2010) or Brenk (Brenk et al. 2008)
  substructure alerts, from RDKit's ``FilterCatalog``; a constraint oracle (``default_bounds = (None, 0)``).
* :func:`mpo`: a GuacaMol-style multi-property objective (Brown et al. 2019, J. Chem. Inf. Model.
  59:1096): the weighted geometric mean of desirability-transformed scores (:class:`Gaussian`,
  :class:`Sigmoid`, ...), optionally with PAINS/Brenk filters as hard constraints.

Input is auto-detected: a string made only of bracketed tokens (``[C][=O]...``) is read as SELFIES,
anything else as SMILES; pass ``input_format="smiles"`` or ``"selfies"`` to force one. A molecule RDKit
cannot read is invalid with RDKit's own message (e.g. ``SMILES Parse Error: unclosed ring``). Inputs
longer than ``max_length`` characters (default :data:`DEFAULT_MAX_LENGTH`) are invalid before RDKit sees
them: RDKit's parsing and ring perception on a pathological megabyte string can take minutes.
"""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from oracles.base import Oracle, OracleResult
from oracles.wrappers import Composite, Constraint, Transform
from seqguide.alphabet import Alphabet

__all__ = [
    "DEFAULT_MAX_LENGTH",
    "QED",
    "Gaussian",
    "LogP",
    "MaxGaussian",
    "MinGaussian",
    "MoleculeOracle",
    "ReverseSigmoid",
    "SAScore",
    "Sigmoid",
    "Similarity",
    "StructuralAlerts",
    "mpo",
    "parse_molecule",
]

_FORMATS = ("auto", "smiles", "selfies")
#: Longest molecule string (characters) an RDKit-based oracle accepts by default; drug-like SMILES are
#: well under 200 characters and their SELFIES under 1,000.
DEFAULT_MAX_LENGTH = 2000
_SELFIES_PATTERN = re.compile(r"(\[[^\[\]]+\])+")
_LOG_STAMP = re.compile(r"^\[\d\d:\d\d:\d\d\]\s*")


def _rdkit_messages(text: str, source: str = "") -> str:
    """RDKit's log lines as one reason: timestamps, caret markers, echoes of the input and the final
    generic "Failed parsing SMILES" line dropped, duplicates removed."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = _LOG_STAMP.sub("", raw).strip().rstrip(":")
        if (not line or line in lines or set(line) <= {"~", "^", " "} or "Failed parsing SMILES" in line
                or (source and source.startswith(line))):
            continue
        lines.append(line)
    return "; ".join(lines)


def _from_smiles(smiles: str) -> tuple[Any, str | None]:
    from rdkit import Chem, rdBase

    capture = getattr(rdBase, "CaptureErrorLog", None)
    if capture is not None:
        with capture() as cap:
            mol = Chem.MolFromSmiles(smiles)
        log = _rdkit_messages(cap.messages, smiles)
    else:  # older RDKit: no capture, keep the console quiet and give a generic reason
        with rdBase.BlockLogs():
            mol = Chem.MolFromSmiles(smiles)
        log = ""
    if mol is None:
        return None, f"could not parse SMILES {smiles!r}" + (f": {log}" if log else "")
    if mol.GetNumAtoms() == 0:
        return None, f"SMILES {smiles!r} has no atoms"
    return mol, None


def parse_molecule(text: str, input_format: str = "auto") -> tuple[Any, str | None]:
    """Parse SMILES or SELFIES into an RDKit molecule.

    Returns:
        ``(mol, None)`` on success, ``(None, reason)`` otherwise; the reason quotes the input and RDKit's
        (or the SELFIES decoder's) message.
    """
    if input_format not in _FORMATS:
        raise ValueError(f"input_format must be one of {_FORMATS}, got {input_format!r}")
    text = text.strip()
    if not text:
        return None, "empty molecule string"
    fmt = input_format
    if fmt == "auto":
        fmt = "selfies" if _SELFIES_PATTERN.fullmatch(text) else "smiles"
    if fmt == "selfies":
        import selfies as sf

        try:
            smiles = sf.decoder(text)
        except Exception as err:  # selfies.DecoderError and friends
            return None, f"could not decode SELFIES {text!r}: {err}".replace("\n", " ").replace("\t", "")
        if not smiles:
            return None, f"SELFIES {text!r} decodes to an empty molecule"
        mol, err = _from_smiles(smiles)
        return mol, None if err is None else f"SELFIES {text!r} -> {err}"
    return _from_smiles(text)


class MoleculeOracle(Oracle):
    """Base class: parses each input, scores parsed molecules with :meth:`_score_mol`.

    Args:
        input_format: ``"auto"``, ``"smiles"`` or ``"selfies"``.
        alphabet: Optional SELFIES :class:`~seqguide.alphabet.Alphabet` to validate tokens against
            (None accepts any string).
        max_length: Longest input in characters (longer ones are invalid, uncharged); None: no limit.
    """

    def __init__(self, *, input_format: str = "auto", alphabet: Alphabet | None = None,
                 max_length: int | None = DEFAULT_MAX_LENGTH) -> None:
        if input_format not in _FORMATS:
            raise ValueError(f"{type(self).__name__}: input_format must be one of {_FORMATS}, "
                             f"got {input_format!r}")
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length < 1):
            raise ValueError(f"{type(self).__name__}: max_length must be a positive integer or None, "
                             f"got {max_length!r}")
        self.input_format = input_format
        self.alphabet = alphabet
        self.max_length = max_length

    def validate(self, x: Any) -> str | None:
        if not isinstance(x, str):
            return f"expected a SMILES/SELFIES string, got {type(x).__name__}"
        limit = getattr(self, "max_length", DEFAULT_MAX_LENGTH)
        if limit is not None and len(x) > limit:
            return (f"{len(x)} characters, longer than max_length={limit} (RDKit-based oracles bound their input; "
                    "pass a larger max_length to score it)")
        return super().validate(x)

    def _score_mol(self, mol: Any) -> float:
        raise NotImplementedError

    def _score(self, xs: list[str]) -> OracleResult:
        values = np.full(len(xs), np.nan)
        errors: list[str | None] = []
        for i, x in enumerate(xs):
            mol, err = parse_molecule(x, self.input_format)
            if err is None:
                try:
                    values[i] = self._score_mol(mol)
                except Exception as exc:  # an RDKit descriptor failure loses only this molecule
                    err = f"{self.name} failed on {x!r}: {type(exc).__name__}: {exc}"
            errors.append(err)
        valid = np.array([e is None for e in errors]) & np.isfinite(values)
        return OracleResult(values, valid, [e or (None if v else f"{self.name} gave a non-finite value")
                                            for e, v in zip(errors, valid)])

    def _repr_params(self) -> dict[str, Any]:
        return {"input_format": self.input_format}


class QED(MoleculeOracle):
    """Quantitative estimate of drug-likeness in [0, 1] (RDKit ``QED.qed``)."""

    name = "qed"
    maximize = True
    optimal_value = 1.0

    def _score_mol(self, mol: Any) -> float:
        from rdkit.Chem import QED as _QED

        return float(_QED.qed(mol))


class LogP(MoleculeOracle):
    """Wildman-Crippen octanol/water logP (RDKit ``Crippen.MolLogP``)."""

    name = "logp"
    maximize = True

    def _score_mol(self, mol: Any) -> float:
        from rdkit.Chem import Crippen

        return float(Crippen.MolLogP(mol))


_SASCORER: Any = None


def _sascorer() -> Any:
    """RDKit Contrib's sascorer, imported from its file (no sys.path change); loads fpscores once."""
    global _SASCORER
    if _SASCORER is None:
        from rdkit import RDConfig

        path = os.path.join(RDConfig.RDContribDir, "SA_Score", "sascorer.py")
        if not os.path.exists(path):
            raise RuntimeError(f"RDKit Contrib SA_Score not found at {path}; this RDKit build lacks Contrib")
        spec = importlib.util.spec_from_file_location("_rdkit_contrib_sascorer", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        if not os.path.exists(os.path.join(os.path.dirname(path), "fpscores.pkl.gz")):
            raise RuntimeError(f"SA_Score fragment scores (fpscores.pkl.gz) missing next to {path}")
        module.readFragmentScores()  # RDKit's own data file, read once by RDKit's own code
        _SASCORER = module
    return _SASCORER


class SAScore(MoleculeOracle):
    """Synthetic accessibility score, 1 (easy to make) to 10 (hard); lower is better."""

    name = "sa"
    maximize = False
    optimal_value = 1.0

    def _score_mol(self, mol: Any) -> float:
        return float(_sascorer().calculateScore(mol))


class Similarity(MoleculeOracle):
    """Tanimoto similarity in [0, 1] of Morgan fingerprints to a target molecule.

    Args:
        target: The target as SMILES or SELFIES.
        radius: Morgan radius (2 = ECFP4-like).
        n_bits: Fingerprint length.
        input_format: How to read inputs (and the target).
    """

    name = "similarity"
    maximize = True
    optimal_value = 1.0

    def __init__(self, *, target: str = "CC(=O)Oc1ccccc1C(=O)O", radius: int = 2, n_bits: int = 2048,
                 input_format: str = "auto", alphabet: Alphabet | None = None,
                 max_length: int | None = DEFAULT_MAX_LENGTH) -> None:
        super().__init__(input_format=input_format, alphabet=alphabet, max_length=max_length)
        mol, err = parse_molecule(target, input_format)
        if err is not None:
            raise ValueError(f"Similarity: bad target: {err}")
        self.target = target
        self.radius = int(radius)
        self.n_bits = int(n_bits)
        self._target_fp = self._fingerprint(mol)

    def _fingerprint(self, mol: Any) -> Any:
        gen = self.__dict__.get("_generator")
        if gen is None:  # built once per process (RDKit generators do not pickle)
            from rdkit.Chem import rdFingerprintGenerator

            gen = self._generator = rdFingerprintGenerator.GetMorganGenerator(radius=self.radius,
                                                                              fpSize=self.n_bits)
        return gen.GetFingerprint(mol)

    def _score_mol(self, mol: Any) -> float:
        from rdkit import DataStructs

        return float(DataStructs.TanimotoSimilarity(self._fingerprint(mol), self._target_fp))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_target_fp")
        state.pop("_generator", None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._target_fp = self._fingerprint(parse_molecule(self.target, self.input_format)[0])

    def _repr_params(self) -> dict[str, Any]:
        return {"target": self.target, "radius": self.radius, "n_bits": self.n_bits,
                "input_format": self.input_format}


_CATALOGS = ("PAINS", "PAINS_A", "PAINS_B", "PAINS_C", "BRENK", "NIH", "ZINC")


class StructuralAlerts(MoleculeOracle):
    """Number of substructure alerts from RDKit FilterCatalogs (0 = clean; a constraint oracle).

    Args:
        catalogs: Catalog names (``"PAINS"``, ``"PAINS_A"``/``_B``/``_C``, ``"BRENK"``, ``"NIH"``, ``"ZINC"``).
        name: Display name (registered as ``"pains"`` and ``"brenk"``).
    """

    maximize = False
    optimal_value = 0.0
    default_bounds = (None, 0.0)

    def __init__(self, *, catalogs: str | Sequence[str] = ("PAINS",), name: str = "alerts",
                 input_format: str = "auto", alphabet: Alphabet | None = None,
                 max_length: int | None = DEFAULT_MAX_LENGTH) -> None:
        super().__init__(input_format=input_format, alphabet=alphabet, max_length=max_length)
        cats = [c.strip().upper() for c in catalogs.split(",")] if isinstance(catalogs, str) else \
            [str(c).upper() for c in catalogs]
        bad = [c for c in cats if c not in _CATALOGS]
        if not cats or bad:
            raise ValueError(f"StructuralAlerts: unknown catalogs {bad or cats!r}; use some of {_CATALOGS}")
        self.catalogs = cats
        self.name = name
        self._catalog = self._build()

    def _build(self) -> Any:
        from rdkit.Chem.FilterCatalog import FilterCatalog, FilterCatalogParams

        params = FilterCatalogParams()
        for c in self.catalogs:
            params.AddCatalog(getattr(FilterCatalogParams.FilterCatalogs, c))
        return FilterCatalog(params)

    def alerts(self, molecule: str) -> list[str]:
        """Descriptions of the alerts matched by one molecule (empty if clean or unparsable)."""
        mol, err = parse_molecule(molecule, self.input_format)
        return [] if err else [m.GetDescription() for m in self._catalog.GetMatches(mol)]

    def describe(self, molecule: str) -> str:
        found = self.alerts(molecule)
        return ", ".join(found) if found else "no alerts"

    def _score_mol(self, mol: Any) -> float:
        return float(len(self._catalog.GetMatches(mol)))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.pop("_catalog")
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._catalog = self._build()

    def _repr_params(self) -> dict[str, Any]:
        return {"catalogs": self.catalogs, "input_format": self.input_format}


class RadicalElectrons(MoleculeOracle):
    """Number of unpaired (radical) electrons; a constraint oracle (0 = closed shell).

    Generative models on SELFIES can emit under-saturated atoms (``[CH2]`` with one bond, say) that RDKit
    reads as radicals; QED and SA do not penalise them, so a design campaign should rule them out.
    """

    name = "radicals"
    maximize = False
    optimal_value = 0.0
    default_bounds = (None, 0.0)

    def _score_mol(self, mol: Any) -> float:
        from rdkit.Chem import Descriptors

        return float(Descriptors.NumRadicalElectrons(mol))


# ------------------------------------------------------------------------------ desirability
class _Desirability:
    """A picklable map from raw scores to [0, 1] (GuacaMol 'score modifiers')."""

    def __call__(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({args})"

    @property
    def __name__(self) -> str:  # shown by Transform's repr
        return repr(self)


class Gaussian(_Desirability):
    """``exp(-((x - mu) / sigma)^2 / 2)``: 1 at ``mu``, falling off on both sides."""

    def __init__(self, mu: float, sigma: float) -> None:
        if sigma <= 0:
            raise ValueError(f"Gaussian: sigma must be > 0, got {sigma!r}")
        self.mu, self.sigma = float(mu), float(sigma)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.exp(-0.5 * ((np.asarray(x, dtype=np.float64) - self.mu) / self.sigma) ** 2)


class MinGaussian(Gaussian):
    """1 for ``x <= mu``, a Gaussian decay above (prefer small values)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return np.where(x <= self.mu, 1.0, super().__call__(x))


class MaxGaussian(Gaussian):
    """1 for ``x >= mu``, a Gaussian decay below (prefer large values)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return np.where(x >= self.mu, 1.0, super().__call__(x))


class Sigmoid(_Desirability):
    """``1 / (1 + exp(-(x - center) / scale))``: increasing, 0.5 at ``center``."""

    def __init__(self, center: float, scale: float) -> None:
        if scale <= 0:
            raise ValueError(f"{type(self).__name__}: scale must be > 0, got {scale!r}")
        self.center, self.scale = float(center), float(scale)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        z = (np.asarray(x, dtype=np.float64) - self.center) / self.scale
        return 0.5 * (1.0 + np.tanh(0.5 * z))  # the logistic function, overflow-free


class ReverseSigmoid(Sigmoid):
    """``1 - Sigmoid``: decreasing, 0.5 at ``center`` (e.g. for SA score, lower is better)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return 1.0 - super().__call__(x)


def mpo(*, target: str | None = None, qed_weight: float = 1.0, logp_mu: float = 2.5, logp_sigma: float = 1.5,
        logp_weight: float = 1.0, sa_center: float = 4.5, sa_scale: float = 1.0, sa_weight: float = 1.0,
        similarity_weight: float = 1.0, filters: Sequence[str] = (), input_format: str = "auto",
        alphabet: Alphabet | None = None, max_length: int | None = DEFAULT_MAX_LENGTH) -> Composite:
    """A drug-likeness multi-property objective in [0, 1] (GuacaMol-style weighted geometric mean).

    Components (each a desirability in [0, 1]):

    * QED as is;
    * Crippen logP through ``Gaussian(logp_mu, logp_sigma)``;
    * SA score through ``ReverseSigmoid(sa_center, sa_scale)`` (easy to make -> near 1);
    * if ``target`` is given, Tanimoto similarity to it (ECFP4-like), as is.

    Args:
        target: Optional target molecule (SMILES/SELFIES) for a similarity term.
        filters: Structural-alert catalogs used as hard constraints (e.g. ``("PAINS", "BRENK")``): a
            molecule with any alert is invalid, naming the alert.
        *_weight: Weights of the geometric mean (0 drops a term).

    Returns:
        A :class:`~oracles.wrappers.Composite` named ``"mpo"`` (maximise, optimum 1.0).
    """
    kw = {"input_format": input_format, "alphabet": alphabet, "max_length": max_length}
    parts: list[tuple[Oracle, float]] = [
        (QED(**kw), qed_weight),
        (Transform(LogP(**kw), Gaussian(logp_mu, logp_sigma), name="logp_desirability", maximize=True,
                   optimal_value=1.0), logp_weight),
        (Transform(SAScore(**kw), ReverseSigmoid(sa_center, sa_scale), name="sa_desirability",
                   maximize=True, optimal_value=1.0), sa_weight),
    ]
    if target is not None:
        parts.append((Similarity(target=target, **kw), similarity_weight))
    parts = [(o, w) for o, w in parts if w > 0]
    if not parts:
        raise ValueError("mpo: every component has weight 0")
    if isinstance(filters, str):
        filters = [f for f in filters.split(",") if f.strip()]
    constraints = [Constraint(StructuralAlerts(catalogs=[f], name=str(f).strip().lower(), **kw)) for f in filters]
    comp = Composite([o for o, _ in parts], weights=[w for _, w in parts], mode="geometric",
                     constraints=constraints, name="mpo", maximize=True)
    comp.optimal_value = 1.0
    return comp


def pains(*, input_format: str = "auto", alphabet: Alphabet | None = None,
          max_length: int | None = DEFAULT_MAX_LENGTH) -> StructuralAlerts:
    """Number of PAINS alerts (families A, B and C); a constraint oracle (0 = clean)."""
    return StructuralAlerts(catalogs=("PAINS",), name="pains", input_format=input_format, alphabet=alphabet,
                            max_length=max_length)


def brenk(*, input_format: str = "auto", alphabet: Alphabet | None = None,
          max_length: int | None = DEFAULT_MAX_LENGTH) -> StructuralAlerts:
    """Number of Brenk unwanted-substructure alerts; a constraint oracle (0 = clean)."""
    return StructuralAlerts(catalogs=("BRENK",), name="brenk", input_format=input_format, alphabet=alphabet,
                            max_length=max_length)
