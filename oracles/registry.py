"""Oracle registry: built-ins by name, runtime registrations, and third-party plugins.

Third-party packages register oracles through the ``seqguide.oracles`` entry-point group
(:mod:`importlib.metadata`), e.g. in their ``pyproject.toml``::

    [project.entry-points."seqguide.oracles"]
    my_docking = "my_package.oracles:DockingOracle"

The target is an :class:`~oracles.base.Oracle` subclass or any callable taking keyword arguments and
returning an Oracle. Built-in modules are imported only when their oracle is requested, so
``get_oracle("gc")`` does not import RDKit.
"""

from __future__ import annotations

import importlib
import inspect
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from oracles.base import Oracle

__all__ = ["ENTRY_POINT_GROUP", "describe_oracles", "get_oracle", "list_oracles", "register_oracle"]

ENTRY_POINT_GROUP = "seqguide.oracles"


@dataclass
class _Entry:
    target: Any  # "module:attr" (imported lazily), an importlib.metadata.EntryPoint, or the factory itself
    description: str | None = None
    source: str = "built-in"

    def load(self) -> Any:
        if isinstance(self.target, str):
            module, _, attr = self.target.partition(":")
            return getattr(importlib.import_module(module), attr)
        if not callable(self.target) and hasattr(self.target, "load"):  # an entry point
            return self.target.load()
        return self.target


_BUILTINS: dict[str, _Entry] = {
    "gc": _Entry("oracles.dna:GCContent", "GC fraction of a DNA/RNA sequence"),
    "window_gc": _Entry("oracles.dna:WindowGC", "statistic of GC content in sliding windows (default: range)"),
    "tm": _Entry("oracles.dna:MeltingTemp", "melting temperature in degrees C (Biopython nearest-neighbour)"),
    "restriction_sites": _Entry("oracles.dna:RestrictionSites",
                                "number of restriction sites (default EcoRI, BamHI) on both strands; 0 = clean"),
    "homopolymer": _Entry("oracles.dna:Homopolymer", "length of the longest homopolymer run"),
    "jaspar": _Entry("oracles.jaspar:JasparMotif",
                     "best JASPAR PWM match on either strand (vectorised conv1d scan), normalised to [0, 1]"),
    "protparam": _Entry("oracles.peptide:ProtParam",
                        "Biopython ProtParam properties (charge, pI, GRAVY, instability, aromaticity)"),
    "hydrophobic_moment": _Entry("oracles.peptide:HydrophobicMoment",
                                 "Eisenberg mean hydrophobic moment of a peptide as an ideal helix"),
    "amp": _Entry("oracles.amp:AMPClassifier",
                  "probability that a peptide is antimicrobial (MLP trained on modlAMP AMPvsUniProt)"),
    "amp_design": _Entry("oracles.peptide_design:AMPDesign",
                         "held-out AMP classifier credit x charge/GRAVY/moment windows x complexity; optimum 1.0"),
    "enhancer": _Entry("oracles.enhancer:EnhancerGrammar",
                       "DNA enhancer grammar: JASPAR sites at fixed spacings/strands, no repressor site, GC window; "
                       "optimum 1.0"),
    "qed": _Entry("oracles.molecule:QED", "RDKit QED drug-likeness of a SMILES/SELFIES molecule, in [0, 1]"),
    "logp": _Entry("oracles.molecule:LogP", "RDKit Wildman-Crippen logP of a SMILES/SELFIES molecule"),
    "sa": _Entry("oracles.molecule:SAScore", "synthetic accessibility score, 1 (easy) to 10 (hard)"),
    "similarity": _Entry("oracles.molecule:Similarity",
                         "Tanimoto similarity of Morgan fingerprints to a target molecule"),
    "pains": _Entry("oracles.molecule:pains", "number of PAINS substructure alerts; 0 = clean"),
    "brenk": _Entry("oracles.molecule:brenk", "number of Brenk unwanted-substructure alerts; 0 = clean"),
    "radicals": _Entry("oracles.molecule:RadicalElectrons",
                       "number of radical (unpaired) electrons of a molecule; 0 = closed shell"),
    "mpo": _Entry("oracles.molecule:mpo",
                  "GuacaMol-style molecule MPO: geometric mean of QED, logP and SA desirabilities"),
    "ehrlich": _Entry("oracles.ehrlich:Ehrlich",
                      "Ehrlich closed-form test function (Stanton et al. 2024); optimum 1.0"),
    "external": _Entry("oracles.external:External",
                       "an external program run without a shell: sequences in, JSON/CSV scores out"),
    "surrogate": _Entry("oracles.surrogate:load_surrogate",
                        "a trained ensemble surrogate loaded from a safetensors file (path=...)"),
    "poli": _Entry("oracles.poli:PoliOracle",
                   "a problem of poli's repository by name (problem=aloha, ehrlich_holo, rdkit_qed, ...; other "
                   'args go to poli) (pip install "seqguide[poli]")'),
    "ray": _Entry("oracles.ray:ray_oracle",
                  "another registered oracle (oracle=NAME, oracle_kwargs={...}) scored on a Ray cluster "
                  '(pip install "seqguide[ray]")'),
}

#: GuacaMol goal-directed tasks (keys of ``oracles.guacamol.TASKS``; a test checks that the two agree).
_GUACAMOL_TASKS = (
    "celecoxib_rediscovery", "troglitazone_rediscovery", "thiothixene_rediscovery", "aripiprazole_similarity",
    "albuterol_similarity", "mestranol_similarity", "isomers_c11h24", "isomers_c9h10n2o2pf2cl", "isomers_c7h8n2o2",
    "median1", "median2", "osimertinib_mpo", "fexofenadine_mpo", "ranolazine_mpo", "perindopril_mpo",
    "amlodipine_mpo", "sitagliptin_mpo", "zaleplon_mpo", "valsartan_smarts", "deco_hop", "scaffold_hop",
)
_BUILTINS.update({f"guacamol_{t}": _Entry(f"oracles.guacamol:guacamol_{t}",
                                          f"GuacaMol goal-directed task {t.replace('_', ' ')} (RDKit), in [0, 1]")
                  for t in _GUACAMOL_TASKS})

_RUNTIME: dict[str, _Entry] = {}


def _entry_points() -> dict[str, _Entry]:
    found: dict[str, _Entry] = {}
    try:
        eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as err:  # a broken distribution must not break the registry
        warnings.warn(f"could not read {ENTRY_POINT_GROUP!r} entry points: {err}", stacklevel=3)
        return found
    for ep in eps:
        if ep.name in _BUILTINS or ep.name in _RUNTIME:
            warnings.warn(f"entry point {ep.name!r} ({ep.value}) is shadowed by a built-in/registered oracle "
                          "of the same name", stacklevel=3)
            continue
        found[ep.name] = _Entry(ep, None, f"entry point {ep.value}")
    return found


def _all_entries() -> dict[str, _Entry]:
    return {**_entry_points(), **_BUILTINS, **_RUNTIME}


def register_oracle(name: str, factory: Callable[..., Oracle], *, description: str | None = None,
                    overwrite: bool = False) -> None:
    """Register ``factory`` (an Oracle subclass or a callable returning an Oracle) under ``name``.

    Raises:
        ValueError: if ``name`` is taken (built-in or registered) and ``overwrite`` is False.
    """
    if not name or not isinstance(name, str):
        raise ValueError(f"oracle name must be a non-empty string, got {name!r}")
    if not callable(factory):
        raise TypeError(f"factory for {name!r} must be callable, got {type(factory).__name__}")
    if not overwrite and (name in _BUILTINS or name in _RUNTIME):
        raise ValueError(f"an oracle named {name!r} is already registered; pass overwrite=True to replace it")
    _RUNTIME[name] = _Entry(factory, description, "registered")


def list_oracles() -> list[str]:
    """Names of every available oracle: built-ins, registered ones and entry-point plugins, sorted."""
    return sorted(_all_entries())


def _first_doc_line(obj: Any) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else "(no description)"


def describe_oracles() -> dict[str, str]:
    """``{name: one-line description}`` for every available oracle (plugins are imported to read it)."""
    out: dict[str, str] = {}
    for name, entry in sorted(_all_entries().items()):
        if entry.description:
            out[name] = entry.description
            continue
        try:
            out[name] = _first_doc_line(entry.load())
        except Exception as err:
            out[name] = f"(failed to load {entry.source}: {type(err).__name__}: {err})"
    return out


def _resolve(name: str) -> tuple[Callable[..., Any], str]:
    entries = _all_entries()
    if name not in entries:
        import difflib

        close = difflib.get_close_matches(name, list(entries), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise KeyError(f"unknown oracle {name!r}{hint} Available: {', '.join(sorted(entries))}")
    entry = entries[name]
    try:
        target = entry.load()
    except Exception as err:
        raise ImportError(f"could not load oracle {name!r} from {entry.source}: {type(err).__name__}: {err}") \
            from err
    return target, entry.source


def get_oracle(name: str, /, **kwargs: Any) -> Oracle:
    """Build the oracle registered as ``name`` with keyword arguments ``kwargs``.

    Example:
        >>> get_oracle("gc")(["GGCA"]).values      # doctest: +SKIP
        array([0.75])
        >>> get_oracle("jaspar", motif="CTCF", normalize=True)   # doctest: +SKIP

    Raises:
        KeyError: for an unknown name (with close matches and the list of names).
        TypeError: for keyword arguments the oracle does not take (naming the ones it does), or a
            factory that does not return an Oracle.
        ImportError: if a plugin's entry point cannot be imported.
    """
    factory, source = _resolve(name)
    if isinstance(factory, Oracle):  # a plugin may expose a ready instance
        if kwargs:
            raise TypeError(f"oracle {name!r} ({source}) is a fixed instance and takes no arguments, got "
                            f"{sorted(kwargs)}")
        return factory
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        sig = None
    if sig is not None and not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
        accepted = [p for p, v in sig.parameters.items() if v.kind in (v.KEYWORD_ONLY, v.POSITIONAL_OR_KEYWORD)
                    and p != "self"]
        unknown = sorted(set(kwargs) - set(accepted))
        if unknown:
            raise TypeError(f"oracle {name!r} does not take {unknown}; it accepts {accepted}")
    oracle = factory(**kwargs)
    if not isinstance(oracle, Oracle):
        raise TypeError(f"oracle {name!r} ({source}) returned a {type(oracle).__name__}, not an Oracle")
    return oracle
