"""Our Ehrlich against poli's ``ehrlich_holo``, value for value, and the fixture the tests check without poli.

For each instance (size, seed): create poli's ``ehrlich_holo`` problem (``objective_factory.create``), plant its
holo parameters into our :class:`~oracles.ehrlich.Ehrlich` over poli's alphabet
(:func:`oracles.poli.ehrlich_from_poli`), draw the sequences of :func:`benchmarks.holo_fidelity.fidelity_sequences`
(uniform, DMP samples, mutants of the optimum, motifs at their first and last start), score them through poli's
black box and through our oracle, and count exact agreements (value, and validity where poli says ``-inf``).

    python -m benchmarks.poli_fidelity                    # writes benchmarks/results/poli_fidelity.json
    python -m benchmarks.poli_fidelity --write-fixture tests/oracles/data/poli_ehrlich_holo_values.npz

Needs poli with pytorch-holo (``pip install "seqguide[poli,holo]"``, or ``pip install --no-deps poli-core
pytorch-holo botorch gpytorch linear_operator`` to keep NumPy 2). poli 1.3.1 does not pass ``epistasis_factor``
on to holo, so every instance here has epistasis 0 (the module docstring of :mod:`oracles.poli`).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.holo_fidelity import fidelity_sequences

__all__ = ["INSTANCES", "compare", "poli_instance", "write_fixture"]

#: (sequence_length, motif_length, n_motifs, quantization), seed: three seeds of the campaign size, one larger.
INSTANCES: tuple[tuple[tuple[int, int, int, int], int], ...] = (
    ((32, 4, 2, 4), 1),
    ((32, 4, 2, 4), 2),
    ((32, 4, 2, 4), 3),
    ((64, 4, 4, 2), 4),
)
RESULTS = Path(__file__).parent / "results" / "poli_fidelity.json"


def poli_instance(size: tuple[int, int, int, int], seed: int, n: int = 340) -> tuple[Any, Any, list[str], np.ndarray]:
    """poli's black box, our planted Ehrlich, ``>= 3 n`` test strings in poli's alphabet and poli's values."""
    from oracles.poli import PoliOracle, ehrlich_from_poli

    L, k, c, q = size
    poli = PoliOracle("ehrlich_holo", sequence_length=L, motif_length=k, n_motifs=c, quantization=q, seed=seed)
    ours = ehrlich_from_poli(poli)
    dmp = np.stack([[ours.alphabet.tokens.index(ch) for ch in s] for s in ours.sample_feasible(n, seed=seed)])
    X = fidelity_sequences(ours, dmp, n, np.random.default_rng([seed, 13]))
    strings = ["".join(ours.alphabet.tokens[i] for i in row) for row in X]
    values = poli.black_box(np.array([list(s) for s in strings]))[:, 0].astype(np.float64)
    return poli, ours, strings, values


def compare(size: tuple[int, int, int, int], seed: int, n: int = 340) -> dict[str, Any]:
    """One instance: how many of poli's values (and feasibilities) ours reproduces exactly."""
    start = time.perf_counter()
    _, ours, strings, theirs = poli_instance(size, seed, n)
    res = ours(strings)
    feasible = np.isfinite(theirs)
    same = (res.valid == feasible) & np.where(feasible, res.values == theirs, True)
    return {"size": list(size), "seed": seed, "sequences": len(strings), "agree": int(same.sum()),
            "feasible": int(feasible.sum()), "distinct_values": len(np.unique(theirs[feasible])),
            "seconds": round(time.perf_counter() - start, 2)}


def write_fixture(path: str | Path, n: int = 340) -> Path:
    """Per instance ``i``: ``i_size`` (L, k, c, q), ``i_seed``, holo's ``i_transition_matrix``, ``i_motifs``,
    ``i_spacings``, poli's ``i_alphabet``, the ``i_sequences`` (strings) and poli's ``i_values``."""
    arrays: dict[str, np.ndarray] = {}
    for i, (size, seed) in enumerate(INSTANCES[:3]):
        poli, _, strings, values = poli_instance(size, seed, n)
        holo = poli.black_box.inner_function.inner_ehrlich
        arrays.update({f"{i}_size": np.array(size), f"{i}_seed": np.array(seed),
                       f"{i}_transition_matrix": holo.transition_matrix.double().cpu().numpy(),
                       f"{i}_motifs": np.stack([m.cpu().numpy() for m in holo.motifs]),
                       f"{i}_spacings": np.stack([s.cpu().numpy() for s in holo.spacings]),
                       f"{i}_alphabet": np.array(list(poli.black_box.alphabet)),
                       f"{i}_sequences": np.array(strings), f"{i}_values": values})
    from importlib.metadata import version

    arrays["versions"] = np.array([f"poli-core {version('poli-core')}", f"pytorch-holo {version('pytorch-holo')}"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="compare our Ehrlich with poli's ehrlich_holo")
    parser.add_argument("--write-fixture", type=Path, help="write the test fixture (.npz) instead")
    parser.add_argument("--n", type=int, default=340, help="sequences of each kind per instance")
    args = parser.parse_args(argv)
    if args.write_fixture is not None:
        out = write_fixture(args.write_fixture, args.n)
        print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
        return 0
    rows = [compare(size, seed, args.n) for size, seed in INSTANCES]
    from importlib.metadata import version

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"command": "python -m benchmarks.poli_fidelity", "poli_core": version("poli-core"),
                                   "pytorch_holo": version("pytorch-holo"), "instances": rows}, indent=1) + "\n")
    for r in rows:
        print(f"{r['size']} seed {r['seed']}: {r['agree']}/{r['sequences']} agree ({r['feasible']} feasible, "
              f"{r['distinct_values']} distinct values)")
    print(f"wrote {RESULTS}")
    return 0 if all(r["agree"] == r["sequences"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
