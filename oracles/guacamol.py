"""GuacaMol goal-directed tasks as oracles (RDKit only): rediscovery, similarity, isomers, median molecules,
multi-property objectives and scaffold/decoration hops.

The task definitions (target molecules, fingerprints, modifiers, SMARTS, means) are those of GuacaMol's
goal-directed suite v2 (Brown et al. 2019, J. Chem. Inf. Model. 59:1096, Table 2 and supplementary
section 1), plus the C7H8N2O2 isomer task that PMO uses (Gao et al. 2022, arXiv 2206.12411). Each is
registered as ``guacamol_<task>`` (``get_oracle("guacamol_celecoxib_rediscovery")``); values are in [0, 1]
(1 = the task's optimum); molecules RDKit cannot read are invalid with its reason (GuacaMol scores them -1).
The values agree with the ``guacamol`` package's scoring functions (checked against a committed reference
file written by guacamol 0.5.5 in its own environment: ``tests/oracles/data/guacamol_reference.json.gz``).

Example:
    >>> from oracles import get_oracle
    >>> f = get_oracle("guacamol_celecoxib_rediscovery")
    >>> f(["CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"]).values      # doctest: +SKIP
    array([1.])
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oracles.guacamol_scoring import (
    Clipped,
    DescriptorScore,
    Gaussian,
    IsomerScore,
    MaxGaussian,
    MeanScore,
    MinGaussian,
    Score,
    SmartsScore,
    TanimotoScore,
    descriptor,
)
from oracles.molecule import MoleculeOracle, parse_molecule
from seqguide.alphabet import Alphabet

__all__ = ["PMO_TASKS", "TASKS", "GuacaMolTask", "guacamol_task"]

_CELECOXIB = "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F"
_TROGLITAZONE = "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O"
_THIOTHIXENE = "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1"
_ARIPIPRAZOLE = "Clc4cccc(N3CCN(CCCCOc2ccc1c(NC(=O)CC1)c2)CC3)c4Cl"
_ALBUTEROL = "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1"
_MESTRANOL = "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1"
_CAMPHOR = "CC1(C)C2CCC1(C)C(=O)C2"
_MENTHOL = "CC(C)C1CCC(C)CC1O"
_TADALAFIL = "O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C"
_SILDENAFIL = "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C"
_OSIMERTINIB = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34"
_FEXOFENADINE = "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4"
_RANOLAZINE = "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2"
_PERINDOPRIL = "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC"
_AMLODIPINE = r"Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\C(=O)OC"
_SITAGLIPTIN = "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F"
_SITAGLIPTIN_VALSARTAN = "NC(CC(=O)N1CCn2c(nnc2C(F)(F)F)C1)Cc1cc(F)c(F)cc1F"  # as written in the valsartan task
_ZALEPLON = "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1"
_HOP_START = "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C"
_HOP_SCAFFOLD = "[#7]-c1n[c;h1]nc2[c;h1]c(-[#8])[c;h0][c;h1]c12"


def _value(smiles: str, name: str) -> float:
    """A descriptor of a reference molecule (the targets of the sitagliptin and valsartan tasks)."""
    mol, err = parse_molecule(smiles, "smiles")
    if err is not None:  # pragma: no cover - the references are fixed
        raise RuntimeError(err)
    return float(descriptor(name)(mol))


def _rediscovery(target: str) -> Score:
    return TanimotoScore(target, "ECFP4", Clipped(1.0))


def _similarity(target: str, fp: str) -> Score:
    return TanimotoScore(target, fp, Clipped(0.75))


def _sitagliptin() -> Score:
    return MeanScore([TanimotoScore(_SITAGLIPTIN, "ECFP4", Gaussian(0.0, 0.1)),
                      DescriptorScore("logp", Gaussian(_value(_SITAGLIPTIN, "logp"), 0.2)),
                      DescriptorScore("tpsa", Gaussian(_value(_SITAGLIPTIN, "tpsa"), 5.0)),
                      IsomerScore("C16H15F6N5O")])


def _valsartan() -> Score:
    ref = _SITAGLIPTIN_VALSARTAN
    return MeanScore([SmartsScore("CN(C=O)Cc1ccc(c2ccccc2)cc1"),
                      DescriptorScore("logp", Gaussian(_value(ref, "logp"), 0.2)),
                      DescriptorScore("tpsa", Gaussian(_value(ref, "tpsa"), 5.0)),
                      DescriptorScore("bertz", Gaussian(_value(ref, "bertz"), 30.0))])


#: task -> (description, builder of its score)
TASKS: dict[str, tuple[str, Callable[[], Score]]] = {
    "celecoxib_rediscovery": ("ECFP4 Tanimoto to celecoxib", lambda: _rediscovery(_CELECOXIB)),
    "troglitazone_rediscovery": ("ECFP4 Tanimoto to troglitazone", lambda: _rediscovery(_TROGLITAZONE)),
    "thiothixene_rediscovery": ("ECFP4 Tanimoto to thiothixene", lambda: _rediscovery(_THIOTHIXENE)),
    "aripiprazole_similarity": ("ECFP4 similarity to aripiprazole, full score at 0.75",
                                lambda: _similarity(_ARIPIPRAZOLE, "ECFP4")),
    "albuterol_similarity": ("FCFP4 similarity to albuterol, full score at 0.75",
                             lambda: _similarity(_ALBUTEROL, "FCFP4")),
    "mestranol_similarity": ("atom-pair similarity to mestranol, full score at 0.75",
                             lambda: _similarity(_MESTRANOL, "AP")),
    "isomers_c11h24": ("isomers of C11H24", lambda: IsomerScore("C11H24")),
    "isomers_c9h10n2o2pf2cl": ("isomers of C9H10N2O2PF2Cl", lambda: IsomerScore("C9H10N2O2PF2Cl")),
    "isomers_c7h8n2o2": ("isomers of C7H8N2O2 (PMO)", lambda: IsomerScore("C7H8N2O2")),
    "median1": ("geometric mean of ECFP4 similarity to camphor and menthol",
                lambda: MeanScore([TanimotoScore(_MENTHOL, "ECFP4"), TanimotoScore(_CAMPHOR, "ECFP4")])),
    "median2": ("geometric mean of ECFP6 similarity to tadalafil and sildenafil",
                lambda: MeanScore([TanimotoScore(_TADALAFIL, "ECFP6"), TanimotoScore(_SILDENAFIL, "ECFP6")])),
    "osimertinib_mpo": ("similar to osimertinib (FCFP4) but not too similar (ECFP6), TPSA > 100, logP < 1",
                        lambda: MeanScore([TanimotoScore(_OSIMERTINIB, "FCFP4", Clipped(0.8)),
                                           TanimotoScore(_OSIMERTINIB, "ECFP6", MinGaussian(0.85, 0.1)),
                                           DescriptorScore("tpsa", MaxGaussian(100.0, 10.0)),
                                           DescriptorScore("logp", MinGaussian(1.0, 1.0))])),
    "fexofenadine_mpo": ("similar to fexofenadine (AP), TPSA > 90, logP < 4",
                         lambda: MeanScore([TanimotoScore(_FEXOFENADINE, "AP", Clipped(0.8)),
                                            DescriptorScore("tpsa", MaxGaussian(90.0, 10.0)),
                                            DescriptorScore("logp", MinGaussian(4.0, 1.0))])),
    "ranolazine_mpo": ("similar to ranolazine (AP), logP > 7, TPSA > 95, one fluorine",
                       lambda: MeanScore([TanimotoScore(_RANOLAZINE, "AP", Clipped(0.7)),
                                          DescriptorScore("logp", MaxGaussian(7.0, 1.0)),
                                          DescriptorScore("count_F", Gaussian(1.0, 1.0)),
                                          DescriptorScore("tpsa", MaxGaussian(95.0, 20.0))])),
    "perindopril_mpo": ("similar to perindopril (ECFP4) with two aromatic rings",
                        lambda: MeanScore([TanimotoScore(_PERINDOPRIL, "ECFP4"),
                                           DescriptorScore("aromatic_rings", Gaussian(2.0, 0.5))])),
    "amlodipine_mpo": ("similar to amlodipine (ECFP4) with three rings",
                       lambda: MeanScore([TanimotoScore(_AMLODIPINE, "ECFP4"),
                                          DescriptorScore("rings", Gaussian(3.0, 0.5))])),
    "sitagliptin_mpo": ("unlike sitagliptin (ECFP4) with its logP, TPSA and formula", _sitagliptin),
    "zaleplon_mpo": ("similar to zaleplon (ECFP4) with the formula C19H17N3O2",
                     lambda: MeanScore([TanimotoScore(_ZALEPLON, "ECFP4"), IsomerScore("C19H17N3O2")])),
    "valsartan_smarts": ("valsartan's SMARTS with sitagliptin's logP, TPSA and Bertz complexity", _valsartan),
    "deco_hop": ("keep the scaffold, change the decorations (pharmacophore similarity >= 0.85)",
                 lambda: MeanScore([TanimotoScore(_HOP_START, "PHCO", Clipped(0.85)),
                                    SmartsScore("CS([#6])(=O)=O", inverse=True),
                                    SmartsScore("[#7]-c1ccc2ncsc2c1", inverse=True),
                                    SmartsScore(_HOP_SCAFFOLD)], kind="arithmetic")),
    "scaffold_hop": ("keep the decorations, change the scaffold (pharmacophore similarity >= 0.75)",
                     lambda: MeanScore([TanimotoScore(_HOP_START, "PHCO", Clipped(0.75)),
                                        SmartsScore("[#6]-[#6]-[#6]-[#8]-[#6]~[#6]~[#6]~[#6]~[#6]-[#7]-c1ccc2ncsc2c1"),
                                        SmartsScore(_HOP_SCAFFOLD, inverse=True)], kind="arithmetic")),
}

#: PMO's RDKit-only tasks (its 23 oracles minus the DRD2, GSK3B and JNK3 classifiers), by registry name;
#: ``qed`` is the existing QED oracle.
PMO_TASKS: tuple[str, ...] = (
    "guacamol_albuterol_similarity", "guacamol_amlodipine_mpo", "guacamol_celecoxib_rediscovery",
    "guacamol_deco_hop", "guacamol_fexofenadine_mpo", "guacamol_isomers_c7h8n2o2", "guacamol_isomers_c9h10n2o2pf2cl",
    "guacamol_median1", "guacamol_median2", "guacamol_mestranol_similarity", "guacamol_osimertinib_mpo",
    "guacamol_perindopril_mpo", "qed", "guacamol_ranolazine_mpo", "guacamol_scaffold_hop",
    "guacamol_sitagliptin_mpo", "guacamol_thiothixene_rediscovery", "guacamol_troglitazone_rediscovery",
    "guacamol_valsartan_smarts", "guacamol_zaleplon_mpo",
)


class GuacaMolTask(MoleculeOracle):
    """One GuacaMol goal-directed task: a score in [0, 1] of a SMILES or SELFIES molecule.

    Args:
        task: A key of :data:`TASKS` (e.g. ``"celecoxib_rediscovery"``).
        input_format: ``"auto"``, ``"smiles"`` or ``"selfies"``.
        alphabet: Optional SELFIES alphabet to validate tokens against.
    """

    maximize = True
    optimal_value = 1.0

    def __init__(self, task: str, *, input_format: str = "auto", alphabet: Alphabet | None = None) -> None:
        if task not in TASKS:
            import difflib

            close = difflib.get_close_matches(task, list(TASKS), n=3)
            raise ValueError(f"GuacaMolTask: unknown task {task!r}"
                             + (f"; did you mean {', '.join(close)}?" if close else f"; tasks: {sorted(TASKS)}"))
        super().__init__(input_format=input_format, alphabet=alphabet)
        self.task = task
        self.name = f"guacamol_{task}"
        self.description = TASKS[task][0]
        self.score = TASKS[task][1]()

    def _score_mol(self, mol: Any) -> float:
        return self.score(mol)

    def _repr_params(self) -> dict[str, Any]:
        return {"task": self.task, "input_format": self.input_format}


def guacamol_task(task: str) -> Callable[..., GuacaMolTask]:
    """The registry factory of one task: ``factory(input_format="auto", alphabet=None) -> GuacaMolTask``."""

    def factory(*, input_format: str = "auto", alphabet: Alphabet | None = None) -> GuacaMolTask:
        return GuacaMolTask(task, input_format=input_format, alphabet=alphabet)

    factory.__doc__ = f"GuacaMol task {task}: {TASKS[task][0]} (in [0, 1])"
    factory.__name__ = f"guacamol_{task}"
    return factory


def __getattr__(name: str) -> Any:  # ``oracles.guacamol:guacamol_<task>`` targets of the registry
    if name.startswith("guacamol_") and name[len("guacamol_"):] in TASKS:
        return guacamol_task(name[len("guacamol_"):])
    raise AttributeError(f"module 'oracles.guacamol' has no attribute {name!r}")
