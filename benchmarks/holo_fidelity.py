"""Fidelity to pytorch-holo: our Ehrlich gives holo's values, our GA behaves like holo's GA.

Needs the optional extra ``pip install -e ".[holo]"`` (pytorch-holo, which pins ``numpy<2`` in its metadata;
``pip install --no-deps pytorch-holo botorch`` keeps NumPy 2 and works as well). Two kinds of cells:

* ``values`` (task = an Ehrlich size, one cell per seed): build holo's ``Ehrlich`` with ``random_seed =
  seed``, plant its transition matrix, motifs and spacings into :class:`oracles.ehrlich.Ehrlich`
  (:meth:`~oracles.ehrlich.Ehrlich.from_parameters`) and compare the two on uniform random sequences,
  samples of the function's DMP, mutants of the optimum (1-4 substitutions) and every motif placed at the
  first and last start position. Holo scores infeasible sequences ``-inf``; ours marks them invalid. The
  cell counts exact agreements (value and feasibility).
* ``ga_seqguide`` / ``ga_holo`` (task = an Ehrlich size, one cell per seed): the same GA setting run by
  :class:`seqguide.baselines.GeneticAlgorithm` on the planted function and by ``holo.optim.DiscreteEvolution``
  on holo's function, from holo's ``initial_solution()``, for a fixed number of generations; each records the
  best-so-far value after every generation (holo's accounting: particles x generations evaluations). The
  report compares the two across seeds at several generations (Mann-Whitney U and Kolmogorov-Smirnov
  tests, mean +- standard error): same semantics means statistically indistinguishable curves.

``python -m benchmarks.holo_fidelity --write-fixture PATH`` writes the small compressed file of holo values
the test suite checks without holo (``tests/oracles/data/holo_ehrlich_values.npz``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.reporting import group_records, mean_sem, save_figure
from benchmarks.runner import Cell, CellBenchmark, CellRecord, Report, RunContext, RunOptions
from oracles.ehrlich import Ehrlich

__all__ = ["BENCHMARK", "HoloFidelity", "fidelity_sequences", "planted", "write_fixture"]

#: Ehrlich sizes (num_states, dim, num_motifs, motif_length, quantization), as in design_ehrlich.
SIZES: dict[str, tuple[int, int, int, int, int]] = {
    "ehrlich_v32_L32_c4_k4": (32, 32, 4, 4, 4),
    "ehrlich_v32_L128_c4_k4": (32, 128, 4, 4, 4),
    "ehrlich_v32_L128_c8_k4": (32, 128, 8, 4, 4),
}
_GA = {"num_particles": 128, "survivors": 12}  # the GA's best setting (design-loop measurements)
_CHECK_GENERATIONS = (10, 25, 50, 100, 200, 400)


def _holo() -> Any:
    try:
        import holo.optim
        import holo.test_functions.closed_form
    except ImportError as err:  # pragma: no cover - depends on the optional extra
        raise RuntimeError("holo_fidelity needs pytorch-holo: pip install -e \".[holo]\" (or "
                           "pip install --no-deps pytorch-holo botorch)") from err
    return holo


def holo_function(size: tuple[int, ...], seed: int, epistasis: float = 0.0) -> Any:
    """holo's ``Ehrlich`` of ``size`` with ``random_seed = seed``."""
    holo = _holo()
    v, L, c, k, q = size
    return holo.test_functions.closed_form.Ehrlich(num_states=v, dim=L, num_motifs=c, motif_length=k,
                                                   quantization=q, epistasis_factor=epistasis, noise_std=0.0,
                                                   negate=False, random_seed=seed)


def planted(h: Any, quantization: int | None, epistasis: float = 0.0) -> Ehrlich:
    """Our :class:`Ehrlich` with holo's parameters."""
    return Ehrlich.from_parameters(dim=h.dim, transition_matrix=h.transition_matrix, motifs=h.motifs,
                                   spacings=h.spacings, quantization=quantization, epistasis_factor=epistasis)


def fidelity_sequences(f: Ehrlich, dmp: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Test sequences ``(M, L)`` int64: ``n`` uniform, the DMP samples ``dmp``, ``n`` mutants of the optimum
    and every motif at its first and last start position inside DMP-sample backgrounds."""
    v, L = f.num_states, f.dim
    uniform = rng.integers(0, v, size=(n, L))
    opt = np.array([f.alphabet.tokens.index(ch) for ch in f.optimal_solution()], dtype=np.int64)
    mutants = np.repeat(opt[None], n, axis=0)
    for row in mutants:
        pos = rng.choice(L, size=int(rng.integers(1, 5)), replace=False)
        row[pos] = rng.integers(0, v, size=len(pos))
    placed = []
    for motif, off in zip(f.motifs, f.offsets):
        span = int(off[-1])
        for start in (0, L - 1 - span):
            for _ in range(max(1, n // (10 * f.num_motifs))):
                bg = dmp[rng.integers(0, len(dmp))].copy()
                bg[start + off] = motif
                placed.append(bg)
    return np.concatenate([uniform, dmp, mutants, np.array(placed, dtype=np.int64)])


def _scored_by_holo(size: tuple[int, ...], seed: int, epistasis: float, n: int, stream: int
                    ) -> tuple[Any, Ehrlich, np.ndarray, np.ndarray]:
    """One instance: holo's function, our Ehrlich with its parameters, the :func:`fidelity_sequences` (drawn from
    ``n`` DMP samples with the random stream ``[seed, stream]``) and holo's values of them (``-inf`` = infeasible)."""
    import torch

    h = holo_function(size, seed, epistasis)
    f = planted(h, size[4], epistasis)
    dmp = h.initial_solution(n).cpu().numpy().astype(np.int64)
    X = fidelity_sequences(f, dmp, n, np.random.default_rng([seed, stream]))
    with torch.no_grad():
        values = h(torch.as_tensor(X)).double().cpu().numpy()
    return h, f, X, values


def _compare(size: tuple[int, ...], seed: int, n: int, epistasis: float = 0.0) -> dict[str, Any]:
    h, f, X, hv = _scored_by_holo(size, seed, epistasis, n, stream=7)
    values, feasible = f.score_ids(X)
    ours = np.where(feasible, values, -np.inf)
    same = ours == hv
    finite = np.isfinite(ours) & np.isfinite(hv)
    diff = np.zeros_like(ours)
    diff[finite] = np.abs(ours[finite] - hv[finite])
    return {"sequences": len(X), "equal": int(same.sum()), "feasible": int(feasible.sum()),
            "feasible_agree": int(((hv > -np.inf) == feasible).sum()),
            "max_abs_diff": float(diff.max()) if len(diff) else 0.0,
            "optimum_equal": bool(f.optimal_solution() == "".join(f.alphabet.tokens[i] for i in h.optimal_solution()))}


def _ga_curve(method: str, size: tuple[int, ...], seed: int, generations: int) -> dict[str, Any]:
    import torch

    from seqguide.baselines import GeneticAlgorithm

    h = holo_function(size, seed)
    v, L = size[0], size[1]
    quantile = _GA["survivors"] / _GA["num_particles"]
    init = h.initial_solution()
    if method == "ga_seqguide":
        f = planted(h, size[4])
        ga = GeneticAlgorithm(f.alphabet.tokens, length=L, num_particles=_GA["num_particles"],
                              survival_quantile=quantile, stop_at_optimum=False)
        run = ga.run(f, budget=_GA["num_particles"] * generations, seed=seed, initial=init.cpu().numpy()[None],
                     max_generations=generations)
        per_gen = np.nan_to_num(run.best_per_generation, nan=-np.inf)
    else:
        holo = _holo()
        torch.manual_seed(seed)
        param = torch.nn.Parameter(init.clone().float(), requires_grad=False)
        opt = holo.optim.DiscreteEvolution([param], vocab=list(range(v)), mutation_prob=1.0 / L,
                                           recombine_prob=1.0 / L, num_particles=_GA["num_particles"],
                                           survival_quantile=quantile)
        per_gen = []
        for _ in range(generations):
            loss = opt.step(lambda particles: -h(particles[0].long()))
            per_gen.append(-float(loss))
        per_gen = np.asarray(per_gen)
    best = np.maximum.accumulate(per_gen)
    return {"final_best": float(best[-1]), "solved": bool(best[-1] >= 1.0),
            "curve": {"generation": list(range(1, generations + 1)),
                      "best": [float(b) if np.isfinite(b) else 0.0 for b in best]}}


class HoloFidelity(CellBenchmark):
    """Values of our Ehrlich vs holo's, and our GA's best-so-far curves vs holo's GA."""

    name = "holo_fidelity"
    title = "Fidelity to pytorch-holo: Ehrlich values and GA curves"
    version = 1
    default_seeds = tuple(range(32))

    def cells(self, options: RunOptions) -> list[Cell]:
        seeds = self.seeds(options) if options.seeds is not None else list(range(4 if options.quick else 32))
        n = 200 if options.quick else 7000
        generations = 60 if options.quick else 400
        out = [Cell("values", task, s, None, {"size": list(size), "n": n})
               for task, size in SIZES.items() for s in seeds[:5]]
        ga_tasks = ["ehrlich_v32_L32_c4_k4"]
        out += [Cell(m, task, s, None, {"size": list(SIZES[task]), "generations": generations, **_GA})
                for task in ga_tasks for m in ("ga_seqguide", "ga_holo") for s in seeds]
        return out

    def run_cell(self, cell: Cell, ctx: RunContext) -> dict[str, Any]:
        size = tuple(cell.settings["size"])
        if cell.method == "values":
            return _compare(size, cell.seed, int(cell.settings["n"]))
        return _ga_curve(cell.method, size, cell.seed, int(cell.settings["generations"]))

    def report(self, records: list[CellRecord], ctx: RunContext) -> Report:
        rows: list[dict[str, Any]] = []
        for (task,), recs in group_records([r for r in records if r.cell.method == "values"], "task").items():
            rows.append({"check": "values", "task": task, "seeds": " ".join(str(r.cell.seed) for r in recs),
                         "sequences": sum(r.result["sequences"] for r in recs),
                         "equal": sum(r.result["equal"] for r in recs),
                         "feasible": sum(r.result["feasible"] for r in recs),
                         "optimum_equal": all(r.result["optimum_equal"] for r in recs),
                         "max_abs_diff": max(r.result["max_abs_diff"] for r in recs)})
        sections: list[tuple[str, str]] = []
        figures: list[Path] = []
        ga = [r for r in records if r.cell.method.startswith("ga_")]
        if ga:
            ga_rows, fig = self._ga_comparison(ga, ctx)
            rows += ga_rows
            if fig is not None:
                figures.append(fig)
                sections.append(("GA best-so-far curves", f"![GA curves]({fig.name})"))
        notes = ("`values` rows: holo's Ehrlich (random_seed = seed) against ours planted with its parameters; "
                 "`equal` counts sequences with the same value and feasibility (holo: -inf when infeasible). "
                 "`ga` rows: best-so-far after G generations of the GA (128 particles, 12 survivors, "
                 "mutation = recombination = 1/L, from holo's initial solution) on holo's instance for each seed; "
                 "ours on the planted function, holo's `DiscreteEvolution` on holo's. `p_mannwhitney` / `p_ks` "
                 "test whether the two samples of seeds differ (large p: no detectable difference).")
        return Report(rows, notes=notes, sections=sections, figures=figures)

    def _ga_comparison(self, ga: list[CellRecord], ctx: RunContext) -> tuple[list[dict[str, Any]], Path | None]:
        from scipy.stats import ks_2samp, mannwhitneyu

        rows = []
        by = group_records(ga, "task", "method")
        for task in dict.fromkeys(r.cell.task for r in ga):
            ours = by.get((task, "ga_seqguide"), [])
            theirs = by.get((task, "ga_holo"), [])
            if not ours or not theirs:
                continue
            gens = len(ours[0].result["curve"]["best"])
            for g in [g for g in _CHECK_GENERATIONS if g <= gens] or [gens]:
                a = np.array([r.result["curve"]["best"][g - 1] for r in ours])
                b = np.array([r.result["curve"]["best"][g - 1] for r in theirs])
                ma, sa, _ = mean_sem(a)
                mb, sb, _ = mean_sem(b)
                same = np.array_equal(np.sort(a), np.sort(b))
                rows.append({"check": "ga", "task": task, "generation": g, "evaluations": g * _GA["num_particles"],
                             "seeds": f"{len(a)} vs {len(b)}", "seqguide_mean": ma, "seqguide_sem": sa,
                             "holo_mean": mb, "holo_sem": sb,
                             "p_mannwhitney": 1.0 if same else float(mannwhitneyu(a, b).pvalue),
                             "p_ks": 1.0 if same else float(ks_2samp(a, b).pvalue)})
        return rows, self._plot(ga, ctx)

    def _plot(self, ga: list[CellRecord], ctx: RunContext) -> Path | None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5.5, 3.8))
        for (task, method), recs in group_records(ga, "task", "method").items():
            arr = np.array([r.result["curve"]["best"] for r in recs])
            x = np.arange(1, arr.shape[1] + 1) * _GA["num_particles"]
            mean = arr.mean(axis=0)
            sem = arr.std(axis=0, ddof=1) / np.sqrt(len(arr)) if len(arr) > 1 else np.zeros_like(mean)
            line = ax.plot(x, mean, label=f"{method} on {task} (n={len(arr)})")[0]
            ax.fill_between(x, mean - sem, mean + sem, alpha=0.2, color=line.get_color(), lw=0)
        ax.set_xscale("log")
        ax.set_xlabel("evaluations (particles x generations)")
        ax.set_ylabel("best value so far")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout(rect=(0, 0.04, 1, 1))
        return save_figure(fig, ctx.figure_path("ga"), ctx.env)


BENCHMARK = HoloFidelity()


# ---------------------------------------------------------------------------------------- fixture
#: Instances of the committed fixture: (size, seed, epistasis factor).
FIXTURE_INSTANCES: tuple[tuple[tuple[int, int, int, int, int], int, float], ...] = (
    ((32, 32, 4, 4, 4), 0, 0.0),
    ((32, 128, 4, 4, 4), 1, 0.0),
    ((20, 64, 2, 8, 4), 2, 0.5),
)


def write_fixture(path: str | Path, n: int = 300) -> Path:
    """Write holo's parameters and values for a few thousand sequences to a compressed ``.npz``.

    Per instance ``i``: ``i_size`` (v, L, c, k, q), ``i_epistasis``, ``i_transition_matrix``, ``i_motifs``,
    ``i_spacings``, ``i_sequences`` (uint8) and ``i_values`` (holo's, ``-inf`` = infeasible).
    """
    arrays: dict[str, np.ndarray] = {}
    for i, (size, seed, epistasis) in enumerate(FIXTURE_INSTANCES):
        h, _, X, values = _scored_by_holo(size, seed, epistasis, n, stream=11)
        arrays.update({f"{i}_size": np.array(size), f"{i}_epistasis": np.array(epistasis),
                       f"{i}_transition_matrix": h.transition_matrix.double().cpu().numpy(),
                       f"{i}_motifs": np.stack([m.cpu().numpy() for m in h.motifs]),
                       f"{i}_spacings": np.stack([s.cpu().numpy() for s in h.spacings]),
                       f"{i}_sequences": X.astype(np.uint8), f"{i}_values": values})
    import holo

    arrays["holo_version"] = np.array(getattr(holo, "__version__", "0.0.5"))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="write the holo Ehrlich fixture (run the checks with "
                                                 "`python -m benchmarks run holo_fidelity`)")
    parser.add_argument("--write-fixture", type=Path, required=True, help="output .npz path")
    parser.add_argument("--n", type=int, default=300, help="sequences of each kind per instance")
    args = parser.parse_args(argv)
    out = write_fixture(args.write_fixture, args.n)
    print(f"wrote {out} ({out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
