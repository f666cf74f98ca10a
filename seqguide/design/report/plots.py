"""The figures of a report, drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas (no global
pyplot state): best so far against oracle calls, scores and diversity per round, the Pareto front of two
components, and a sequence logo or a molecule grid of the top designs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqguide.design.report.metrics import hamming_diversity, molecule, pareto_mask, spread_subset, tanimoto_diversity
from seqguide.design.report.run_data import RunData

__all__ = ["BestSoFar", "best_so_far_curve", "molecule_grid", "plot_best_so_far", "plot_diversity", "plot_logo",
           "plot_pareto", "plot_scores"]


def _figure(width: float = 6.0, height: float = 4.0) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110)
    return fig, fig.subplots()


def _save(fig: Any, path: Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    fig.tight_layout()
    fig.savefig(path)
    return path


@dataclass
class BestSoFar:
    """The best-so-far curve of a run against the real calls it paid.

    Attributes:
        calls: x of each point: real calls to the objective paid so far (the ledger's design calls, re-paid ones
            included, plus the guidance's paid look-ahead calls, counted before the scoring of their round); the
            last one is the run's total paid calls.
        best: y of each point: the best valid objective so far.
        round_ends: Paid calls at the end of each round (round numbers from 1, as shown everywhere).
        total: The run's paid calls (what ``report.md`` states).
        baseline: The best objective of the run's unguided designs when the run also has guided ones, else None.
        baseline_n: How many unguided valid designs that baseline is the best of.
    """

    calls: list[int]
    best: list[float]
    round_ends: dict[int, int]
    total: int
    baseline: float | None = None
    baseline_n: int = 0


def best_so_far_curve(data: RunData) -> BestSoFar:
    """The :class:`BestSoFar` curve of ``data`` (see there for what is counted)."""
    by_id = {d.id: d for d in data.designs}
    lookahead = {r.round: r.guidance_charged for r in data.rounds}
    pick = max if data.maximize else min
    calls, best, cur = [], [], None
    round_ends: dict[int, int] = {}
    paid, seen = 0, set()
    for call in data.calls:
        r = int(call["round"])
        if r not in seen:  # the guidance paid its look-ahead while proposing the round, before its scoring
            seen.add(r)
            paid += lookahead.get(r, 0)
        paid += 1
        d = by_id.get(call["design"])
        if d is not None and d.valid:
            cur = float(d.objective) if cur is None else pick(cur, float(d.objective))
        round_ends[r + 1] = paid
        if cur is not None:
            calls.append(paid)
            best.append(cur)
    total = len(data.calls) + sum(r.guidance_charged for r in data.rounds)
    if cur is not None and calls[-1] != total:  # look-ahead of rounds without a scored call: the curve goes on
        calls.append(total)
        best.append(cur)
    unguided = [float(d.objective) for d in data.valid if d.guidance == "unguided"]
    guided = any(d.guidance not in (None, "unguided") for d in data.designs)
    baseline = pick(unguided) if unguided and guided else None
    return BestSoFar(calls, best, round_ends, total, baseline, len(unguided) if baseline is not None else 0)


def plot_best_so_far(data: RunData, path: Path) -> Path:
    """The best objective so far against real oracle calls (round ends marked, the unguided baseline dashed)."""
    fig, ax = _figure()
    curve = best_so_far_curve(data)
    ax.step(curve.calls, curve.best, where="post", color="C0", label="best so far")
    for e in sorted(curve.round_ends.values())[:-1]:
        ax.axvline(e, color="0.85", lw=0.8, zorder=0)
    if curve.baseline is not None:
        ax.axhline(curve.baseline, color="C3", ls="--", lw=1.0,
                   label=f"unguided baseline (best of {curve.baseline_n} unguided designs)")
        ax.legend(loc="best", fontsize=8)
    ax.set_xlim(0, max(curve.total, 1))
    ax.set_xlabel("real calls to the objective (designs, re-paid, look-ahead)")
    ax.set_ylabel("best objective so far")
    ax.set_title(f"{data.run['name']}: best so far ({curve.total} of the budget of {data.run['budget']} calls)")
    return _save(fig, path)


def plot_scores(data: RunData, path: Path) -> Path:
    """Box plots (with jittered points) of the valid designs' objective per round."""
    fig, ax = _figure()
    rounds = [r.round for r in data.rounds]
    per = [[float(d.objective) for d in data.valid if d.round == r] for r in rounds]
    shown = [(r + 1, v) for r, v in zip(rounds, per) if v]  # rounds numbered from 1, as everywhere
    if shown:
        ax.boxplot([v for _, v in shown], positions=[r for r, _ in shown], widths=0.6, showfliers=False)
        rng = np.random.default_rng(0)
        for r, v in shown:
            ax.scatter(r + rng.uniform(-0.15, 0.15, len(v)), v, s=6, alpha=0.5, color="C0")
    ax.set_xlabel("round")
    ax.set_ylabel("objective (valid designs)")
    ax.set_title("score distribution per round")
    return _save(fig, path)


def plot_diversity(data: RunData, path: Path) -> Path:
    """Mean pairwise diversity of each round's valid designs (Tanimoto for SELFIES, else Hamming)."""
    fig, ax = _figure()
    rounds, values = [], []
    for r in data.rounds:
        seqs = spread_subset([d.sequence for d in data.valid if d.round == r.round])
        if data.kind == "selfies":
            v = tanimoto_diversity(seqs)
        else:
            tok = data.alphabet.tokenize if data.alphabet is not None else list
            v = hamming_diversity([tok(s) for s in seqs])
        rounds.append(r.round + 1)  # rounds numbered from 1, as everywhere
        values.append(v)
    ax.plot(rounds, values, marker="o")
    metric = "mean pairwise Tanimoto distance" if data.kind == "selfies" else "mean pairwise Hamming distance"
    ax.set_xlabel("round")
    ax.set_ylabel(metric)
    ax.set_title("diversity of valid designs per round")
    return _save(fig, path)

def plot_pareto(data: RunData, pair: list[str], path: Path) -> Path:
    """The valid designs on two components, their Pareto front, each axis marked with its direction."""
    pts = np.array([[d.components.get(pair[0]), d.components.get(pair[1])] for d in data.valid], dtype=np.float64)
    pts = pts[np.isfinite(pts).all(axis=1)] if len(pts) else np.zeros((0, 2))
    dirs = [data.pushes_up(p) for p in pair]
    fig, ax = _figure()
    if len(pts):
        front = pareto_mask(pts, dirs)
        ax.scatter(pts[~front, 0], pts[~front, 1], s=8, alpha=0.4, color="0.5", label="designs")
        f = pts[front][np.argsort(pts[front, 0])]
        ax.plot(f[:, 0], f[:, 1], marker="o", color="C3", label=f"Pareto front ({len(f)})")
        ax.legend(loc="best")
    arrows = ["(max)" if up else "(min)" for up in dirs]
    ax.set_xlabel(f"{pair[0]} {arrows[0]}")
    ax.set_ylabel(f"{pair[1]} {arrows[1]}")
    ax.set_title("objective trade-off of valid designs")
    return _save(fig, path)


def plot_logo(data: RunData, seqs: list[str], path: Path) -> Path:
    """A sequence logo (logomaker) of ``seqs``' per-position token frequencies."""
    import logomaker
    import pandas as pd

    L = max(len(s) for s in seqs)
    chars = sorted({c for s in seqs for c in s})
    counts = np.zeros((L, len(chars)))
    col = {c: j for j, c in enumerate(chars)}
    for s in seqs:
        for i, c in enumerate(s):
            counts[i, col[c]] += 1
    probs = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    frame = pd.DataFrame(probs, columns=chars)
    frame.index.name = "pos"
    fig, ax = _figure(width=min(24.0, max(6.0, 0.3 * L)), height=3.0)
    scheme = {"dna": "classic", "rna": "classic", "protein": "chemistry"}.get(data.kind, "dmslogo_funcgroup")
    try:
        logomaker.Logo(frame, ax=ax, color_scheme=scheme)
    except Exception:  # an unknown character for the colour scheme: fall back to one colour
        logomaker.Logo(frame, ax=ax, color_scheme="gray")
    ax.set_xlabel("position")
    ax.set_ylabel("probability")
    ax.set_title(f"top {len(seqs)} designs")
    return _save(fig, path)


def molecule_grid(rows: list[dict[str, Any]], path: Path) -> Path | None:
    """An RDKit grid of the top rows' molecules with rank and objective (None: none could be drawn)."""
    from rdkit.Chem import Draw

    mols, legends = [], []
    for r in rows:
        m = molecule(r["sequence"])
        if m is not None:
            mols.append(m)
            legends.append(f"#{r['rank']}  {r['objective']:.3f}")
    if not mols:
        return None
    img = Draw.MolsToGridImage(mols, molsPerRow=min(5, len(mols)), subImgSize=(260, 220), legends=legends)
    img.save(str(path))
    return path
