"""Reference values of the GuacaMol goal-directed tasks, computed by the ``guacamol`` package itself.

guacamol 0.5.5 imports ``scipy.histogram`` (removed in SciPy 1.12) and ``fcd`` (only its distribution-learning
benchmarks use it), so it runs in its own environment, not seqguide's. This script imports nothing from
seqguide; run it there::

    python3 -m venv /work/wt/guacamol-venv
    /work/wt/guacamol-venv/bin/pip install "scipy<1.12" "numpy<2" rdkit==2026.9.1 joblib tqdm
    /work/wt/guacamol-venv/bin/pip install --no-deps guacamol==0.5.5
    /work/wt/guacamol-venv/bin/python benchmarks/guacamol_reference.py \
        --out tests/oracles/data/guacamol_reference.json.gz

It scores a few hundred molecules (a seeded sample of RDKit's NCI set, every task's reference molecules, a few
hand-made molecules that hit the isomer and hop tasks, and invalid SMILES) with each task of GuacaMol's suite
v2 plus the C7H8N2O2 isomer task, and writes them to a small gzipped JSON file (``-1`` = guacamol's score
for an invalid molecule). ``tests/oracles/test_oracles_guacamol.py`` compares :mod:`oracles.guacamol` with it.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import types
from pathlib import Path

# guacamol.standard_benchmarks imports the FCD package for its distribution-learning benchmark only;
# the goal-directed scoring functions never touch it.
sys.modules.setdefault("fcd", types.ModuleType("fcd"))

#: guacamol's benchmark name -> seqguide's task name
NAMES = {
    "Celecoxib rediscovery": "celecoxib_rediscovery", "Troglitazone rediscovery": "troglitazone_rediscovery",
    "Thiothixene rediscovery": "thiothixene_rediscovery", "Aripiprazole similarity": "aripiprazole_similarity",
    "Albuterol similarity": "albuterol_similarity", "Mestranol similarity": "mestranol_similarity",
    "C11H24": "isomers_c11h24", "C9H10N2O2PF2Cl": "isomers_c9h10n2o2pf2cl", "Median molecules 1": "median1",
    "Median molecules 2": "median2", "Osimertinib MPO": "osimertinib_mpo", "Fexofenadine MPO": "fexofenadine_mpo",
    "Ranolazine MPO": "ranolazine_mpo", "Perindopril MPO": "perindopril_mpo", "Amlodipine MPO": "amlodipine_mpo",
    "Sitagliptin MPO": "sitagliptin_mpo", "Zaleplon MPO": "zaleplon_mpo", "Valsartan SMARTS": "valsartan_smarts",
    "Deco Hop": "deco_hop", "Scaffold Hop": "scaffold_hop", "C7H8N2O2": "isomers_c7h8n2o2",
}

#: molecules that reach the optimum or the rare branches of some tasks
EXTRA = [
    "CC1=CC=C(C=C1)C1=CC(=NN1C1=CC=C(C=C1)S(N)(=O)=O)C(F)(F)F",  # celecoxib
    "Cc1c(C)c2OC(C)(COc3ccc(CC4SC(=O)NC4=O)cc3)CCc2c(C)c1O",  # troglitazone
    "CN(C)S(=O)(=O)c1ccc2Sc3ccccc3C(=CCCN4CCN(C)CC4)c2c1",  # thiothixene
    "Clc4cccc(N3CCN(CCCCOc2ccc1c(NC(=O)CC1)c2)CC3)c4Cl",  # aripiprazole
    "CC(C)(C)NCC(O)c1ccc(O)c(CO)c1",  # albuterol
    "COc1ccc2[C@H]3CC[C@@]4(C)[C@@H](CC[C@@]4(O)C#C)[C@@H]3CCc2c1",  # mestranol
    "CC1(C)C2CCC1(C)C(=O)C2", "CC(C)C1CCC(C)CC1O",  # camphor, menthol
    "O=C1N(CC(N2C1CC3=C(C2C4=CC5=C(OCO5)C=C4)NC6=C3C=CC=C6)=O)C",  # tadalafil
    "CCCC1=NN(C2=C1N=C(NC2=O)C3=C(C=CC(=C3)S(=O)(=O)N4CCN(CC4)C)OCC)C",  # sildenafil
    "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc2nccc(n2)c3cn(C)c4ccccc34",  # osimertinib
    "CC(C)(C(=O)O)c1ccc(cc1)C(O)CCCN2CCC(CC2)C(O)(c3ccccc3)c4ccccc4",  # fexofenadine
    "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3C)CC2",  # ranolazine
    "COc1ccccc1OCC(O)CN2CCN(CC(=O)Nc3c(C)cccc3F)CC2",  # ranolazine with one fluorine
    "O=C(OCC)C(NC(C(=O)N1C(C(=O)O)CC2CCCCC12)C)CCC",  # perindopril
    r"Clc1ccccc1C2C(=C(/N/C(=C2/C(=O)OCC)COCCN)C)\C(=O)OC",  # amlodipine
    "Fc1cc(c(F)cc1F)CC(N)CC(=O)N3Cc2nnc(n2CC3)C(F)(F)F",  # sitagliptin
    "O=C(C)N(CC)C1=CC=CC(C2=CC=NC3=C(C=NN23)C#N)=C1",  # zaleplon
    "CCCOc1cc2ncnc(Nc3ccc4ncsc4c3)c2cc1S(=O)(=O)C(C)(C)C",  # the hop tasks' start
    "CCCOc1cc2ncnc(Nc3ccccc3)c2cc1O",  # its scaffold with other decorations
    "CCCOc1ccc(Nc2ccc3ncsc3c2)cc1",  # its decorations on another scaffold
    "CN(C=O)Cc1ccc(-c2ccccc2)cc1",  # the valsartan SMARTS itself, and four with sitagliptin-like properties
    "CN(C=O)Cc1ccc(-c2ccc(-c3nn[nH]n3)cc2)cc1", "OCCN(C=O)Cc1ccc(-c2ccc(C(=O)O)cc2)cc1",
    "CN(C=O)Cc1ccc(-c2ccc(NC(=O)CN)cc2)cc1", "CN(C=O)Cc1ccc(-c2cc(F)c(F)cc2C(N)=O)cc1",
    "CCCCCCCCCCC", "CC(C)CCCCCCCC", "CC(C)(C)CC(C)(C)CCC",  # C11H24 isomers
    "Cc1ccc(N)c([N+](=O)[O-])c1", "NC(=O)c1ccc(N)cc1O",  # C7H8N2O2 isomers
    "OC(=O)c1cc(Cl)c(F)c(F)c1NCCNP",  # near C9H10N2O2PF2Cl
    "c1ccccc1.Cl", "[Na+].[Cl-]", "C",  # small and salt-like
    "C1CC", "c1cccc1", "not a molecule", "C(C)(C)(C)(C)C",  # invalid: ring, aromaticity, text, valence
]


def molecules(n: int, seed: int) -> list[str]:
    """``n`` seeded NCI molecules (RDKit's Data/NCI/first_5K.smi) followed by :data:`EXTRA`."""
    from rdkit import RDConfig

    lines = Path(RDConfig.RDDataDir, "NCI", "first_5K.smi").read_text().splitlines()
    smiles = [ln.split()[0] for ln in lines if ln.strip()]
    return random.Random(seed).sample(smiles, n) + EXTRA


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="output .json.gz")
    parser.add_argument("--n", type=int, default=300, help="NCI molecules to score")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import guacamol
    import rdkit
    import scipy
    from guacamol.benchmark_suites import goal_directed_suite_v2
    from guacamol.standard_benchmarks import isomers_c7h8n2o2
    from rdkit import RDLogger

    RDLogger.DisableLog("rdApp.*")
    smiles = molecules(args.n, args.seed)
    scores = {}
    for bench in [*goal_directed_suite_v2(), isomers_c7h8n2o2()]:
        scores[NAMES[bench.name]] = [float(v) for v in bench.objective.score_list(smiles)]
    data = {"guacamol": getattr(guacamol, "__version__", "0.5.5"), "rdkit": rdkit.__version__,
            "scipy": scipy.__version__, "smiles": smiles, "scores": scores}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt") as fh:
        json.dump(data, fh)
    print(f"wrote {args.out}: {len(smiles)} molecules x {len(scores)} tasks")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
