"""Reports of a campaign run: ranked tables and plots, from the SQLite store alone.

``write_report(run)`` (``seqguide report RUN``) reads a run directory or a store file and writes, in
``<run_dir>/report/`` by default:

* ``top_designs.csv`` / ``top_designs.md``: the top-k valid designs with every component value (in the
  Markdown table, components recorded with weight 0 are marked ``(recorded)``: they are not optimised);
* ``best_so_far.png``: the best objective so far against real oracle calls (the store's ledger, in call order:
  calls whose result an interruption lost are counted where they happened);
* ``scores_by_round.png``: the objective's distribution in every round;
* ``diversity_by_round.png``: mean pairwise distance of each round's valid designs: Hamming distance for
  sequences (positions that differ plus the length difference), Tanimoto distance of Morgan fingerprints
  (radius 2, 2048 bits) for molecules (SELFIES decoded with ``selfies.decoder``);
* ``pareto.png``: with two or more *optimised* components (non-zero weight), the first two and their Pareto
  front, each axis marked with the direction the campaign pushes it (from the sign of its weight and the
  objective's direction); recorded (weight-0) properties never appear as objectives;
* ``logo.png`` (sequences, logomaker, top-k) or ``molecules.png`` (SELFIES, RDKit grid, top-k);
* ``report.md``: the run (a run or session still marked ``running`` whose process is gone is shown as
  ``interrupted``), the objective (optimised terms with their weights, recorded ones apart), the oracle calls
  (designs charged plus calls re-paid after interruptions), its rounds, the top table and the figures.

Figures are drawn on :class:`matplotlib.figure.Figure` objects with the Agg canvas: no global pyplot state.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from seqguide.alphabet import Alphabet
from seqguide.design.lock import lock_holder
from seqguide.design.store import DesignStore
from seqguide.design.store_records import DesignRecord, RoundRecord

__all__ = [
    "Report",
    "RunData",
    "find_store",
    "hamming_diversity",
    "load_run",
    "pareto_mask",
    "tanimoto_diversity",
    "write_report",
]

_MAX_DIVERSITY = 400  # designs per round used for the O(n^2) diversity (evenly spaced subset beyond this)


@dataclass
class RunData:
    """One run read back from a store.

    Attributes:
        store: The store file.
        run: The run row (config, alphabet, objective, model, code version, status, times).
        rounds: The round rows.
        designs: Every design, in scoring order.
        labels: The objective's component labels.
        maximize: Direction of the combined objective.
        alphabet: The model's alphabet, if recorded.
        sessions: The run's sessions (``status`` of a dead ``running`` one shown as ``interrupted``).
        calls: The ledger of real oracle calls, in call order (``design`` None: the result was lost).
        writing: True while a live process holds the run directory's lock.
    """

    store: Path
    run: dict[str, Any]
    rounds: list[RoundRecord]
    designs: list[DesignRecord]
    labels: list[str]
    maximize: bool
    alphabet: Alphabet | None
    sessions: list[dict[str, Any]] = field(default_factory=list)
    calls: list[dict[str, Any]] = field(default_factory=list)
    writing: bool = False

    @property
    def kind(self) -> str:
        """``dna``, ``rna``, ``protein``, ``selfies`` or ``custom``."""
        return self.alphabet.kind if self.alphabet is not None else "custom"

    @property
    def valid(self) -> list[DesignRecord]:
        """Valid designs in scoring order."""
        return [d for d in self.designs if d.valid]

    def ranked(self) -> list[DesignRecord]:
        """Valid designs, best first (ties: earlier first)."""
        sign = -1.0 if self.maximize else 1.0
        return sorted(self.valid, key=lambda d: (sign * float(d.objective), d.round, d.idx))

    @property
    def components(self) -> list[dict[str, Any]]:
        """The objective's components as stored (label, weight, ...)."""
        return list((self.run.get("objective") or {}).get("components", []))

    @property
    def optimised(self) -> list[str]:
        """Labels of the components with a non-zero weight (what the campaign optimises)."""
        return [c["label"] for c in self.components if c.get("weight", 1) != 0]

    @property
    def recorded(self) -> list[str]:
        """Labels of the weight-0 components (recorded, not optimised)."""
        return [c["label"] for c in self.components if c.get("weight", 1) == 0]

    def pushes_up(self, label: str) -> bool:
        """Whether the campaign pushes component ``label`` up: weight sign times the objective's direction."""
        weight = next((c.get("weight", 1) for c in self.components if c["label"] == label), 1)
        return (weight > 0) == self.maximize

    @property
    def status(self) -> str:
        """The run's status; ``running`` only while a live process writes it (else ``interrupted``)."""
        status = str(self.run.get("status"))
        return "interrupted" if status == "running" and not self.writing else status

    @property
    def lost_calls(self) -> int:
        """Calls whose result never reached the store (re-paid after an interruption, or about to be)."""
        return sum(c["design"] is None for c in self.calls)


@dataclass
class Report:
    """What :func:`write_report` wrote: ``files`` maps a short name to its path; ``skipped`` says why not."""

    out_dir: Path
    files: dict[str, Path] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------- reading
def find_store(source: str | Path) -> Path:
    """The store of a run directory (``campaign.sqlite``, else its only ``*.sqlite``) or a store file.

    Raises:
        FileNotFoundError: if there is no store there.
    """
    path = Path(source)
    if path.is_file():
        return path
    if path.is_dir():
        default = path / "campaign.sqlite"
        if default.is_file():
            return default
        found = sorted(path.glob("*.sqlite"))
        if len(found) == 1:
            return found[0]
        raise FileNotFoundError(f"{path}: no campaign store (campaign.sqlite) in this directory")
    raise FileNotFoundError(f"{path}: no such run directory or store file")


def load_run(source: str | Path, run_id: int | None = None) -> RunData:
    """Read a run (the latest one by default) from a run directory or a store file."""
    store_path = find_store(source)
    with DesignStore(store_path, readonly=True) as store:
        run = store.get_run(run_id) if run_id is not None else store.latest_run()
        if run is None:
            raise ValueError(f"{store_path}: the store holds no run yet")
        rounds = store.rounds(run["id"])
        designs = store.designs(run["id"])
        sessions = store.sessions(run["id"])
        calls = store.oracle_calls(run["id"])
    objective = run.get("objective") or {}
    labels = [c["label"] for c in objective.get("components", [])]
    if not labels and designs:
        labels = list(designs[0].components)
    alphabet = Alphabet.from_dict(run["alphabet"]) if run.get("alphabet") else None
    run_dir = ((run.get("config") or {}).get("run_dir")) or store_path.parent
    writing = any(lock_holder(d) is not None for d in {Path(run_dir), store_path.parent})
    if not writing:  # nobody holds the lock: what still says "running" belongs to a process that died
        for sess in sessions:
            if sess.get("status") == "running":
                sess["status"] = "interrupted"
    return RunData(store_path, run, rounds, designs, labels, bool(objective.get("maximize", True)), alphabet,
                   sessions, calls, writing)


# --------------------------------------------------------------------------------------------- metrics
def _subset(items: Sequence[Any], limit: int = _MAX_DIVERSITY) -> list[Any]:
    if len(items) <= limit:
        return list(items)
    idx = np.linspace(0, len(items) - 1, limit).round().astype(int)
    return [items[i] for i in idx]


def hamming_diversity(tokens: Sequence[Sequence[str]]) -> float:
    """Mean pairwise Hamming distance; sequences of unequal length also differ by their length difference.

    Returns:
        The mean over all pairs (NaN for fewer than two sequences).
    """
    if len(tokens) < 2:
        return float("nan")
    vocab: dict[str, int] = {}
    L = max(len(t) for t in tokens)
    ids = np.full((len(tokens), L), -1, dtype=np.int64)
    for i, t in enumerate(tokens):
        ids[i, : len(t)] = [vocab.setdefault(x, len(vocab)) for x in t]
    total, pairs = 0.0, 0
    for i in range(len(ids) - 1):
        diff = (ids[i + 1 :] != ids[i]).sum(axis=1)
        total += float(diff.sum())
        pairs += len(diff)
    return total / pairs


def _mol(selfies_or_smiles: str) -> Any:
    from rdkit import Chem, rdBase

    text = selfies_or_smiles
    if text.startswith("["):
        import selfies as sf

        try:
            text = sf.decoder(text)
        except Exception:  # an undecodable string is simply not drawn / not counted
            return None
    if not text:
        return None
    with rdBase.BlockLogs():
        return Chem.MolFromSmiles(text)


def tanimoto_diversity(molecules: Sequence[str]) -> float:
    """Mean pairwise Tanimoto distance (1 - similarity) of Morgan fingerprints (radius 2, 2048 bits).

    Args:
        molecules: SELFIES or SMILES strings (unparsable ones are left out).

    Returns:
        The mean over pairs of parsable molecules (NaN for fewer than two).
    """
    from rdkit import DataStructs
    from rdkit.Chem import rdFingerprintGenerator

    gen = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    fps = [gen.GetFingerprint(m) for m in (_mol(x) for x in molecules) if m is not None]
    if len(fps) < 2:
        return float("nan")
    total, pairs = 0.0, 0
    for i in range(len(fps) - 1):
        sims = DataStructs.BulkTanimotoSimilarity(fps[i], fps[i + 1 :])
        total += float(len(sims) - sum(sims))
        pairs += len(sims)
    return total / pairs


def pareto_mask(points: np.ndarray, maximize: Sequence[bool]) -> np.ndarray:
    """Non-dominated rows of ``points (N, K)`` given each column's direction. Returns ``(N,)`` bool."""
    x = np.asarray(points, dtype=np.float64) * np.where(np.asarray(maximize), 1.0, -1.0)
    keep = np.ones(len(x), dtype=bool)
    for i in range(len(x)):
        dominated = (x >= x[i]).all(axis=1) & (x > x[i]).any(axis=1)
        keep[i] = not dominated.any()
    return keep


# ---------------------------------------------------------------------------------------------- tables
def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not math.isfinite(v) else f"{v:.6g}"
    return str(v)


def _shown(data: RunData, column: str) -> str:
    """A table header: recorded (weight-0) components are marked as such."""
    return f"{column} (recorded)" if column in data.recorded else column


def _top_rows(data: RunData, k: int) -> list[dict[str, Any]]:
    rows = []
    for rank, d in enumerate(data.ranked()[:k], start=1):
        row: dict[str, Any] = {"rank": rank, "round": d.round, "objective": d.objective}
        for label in data.labels:
            row[label] = d.components.get(label)
        row["sequence"] = d.sequence
        if data.kind == "selfies":  # the key is the canonical SMILES when the SELFIES decodes
            row["smiles"] = "" if d.key.startswith("selfies:") else d.key
        row["id"] = d.id
        rows.append(row)
    return rows


def _markdown_table(rows: list[dict[str, Any]], columns: list[str], data: RunData | None = None) -> str:
    def cell(v: Any) -> str:
        return _fmt(v).replace("|", "\\|")

    header = [_shown(data, c) for c in columns] if data is not None else columns
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c)) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        for r in rows:
            w.writerow({c: _fmt(r.get(c)) for c in columns})


# ----------------------------------------------------------------------------------------------- plots
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


def _plot_best_so_far(data: RunData, path: Path) -> Path:
    fig, ax = _figure()
    by_id = {d.id: d for d in data.designs}
    calls, best, cur = [], [], None
    rounds_end: dict[int, int] = {}
    for n, call in enumerate(data.calls, start=1):
        d = by_id.get(call["design"])
        if d is not None and d.valid:
            v = float(d.objective)
            cur = v if cur is None else (max(cur, v) if data.maximize else min(cur, v))
        rounds_end[int(call["round"])] = n
        if cur is not None:
            calls.append(n)
            best.append(cur)
    ax.step(calls, best, where="post", color="C0")
    for e in sorted(rounds_end.values())[:-1]:
        ax.axvline(e, color="0.85", lw=0.8, zorder=0)
    ax.set_xlabel("oracle calls (real calls to the objective, re-paid ones included)")
    ax.set_ylabel("best objective so far")
    ax.set_title(f"{data.run['name']}: best so far (budget {data.run['budget']})")
    return _save(fig, path)


def _plot_scores(data: RunData, path: Path) -> Path:
    fig, ax = _figure()
    rounds = [r.round for r in data.rounds]
    per = [[float(d.objective) for d in data.valid if d.round == r] for r in rounds]
    shown = [(r, v) for r, v in zip(rounds, per) if v]
    if shown:
        ax.boxplot([v for _, v in shown], positions=[r for r, _ in shown], widths=0.6, showfliers=False)
        rng = np.random.default_rng(0)
        for r, v in shown:
            ax.scatter(r + rng.uniform(-0.15, 0.15, len(v)), v, s=6, alpha=0.5, color="C0")
    ax.set_xlabel("round")
    ax.set_ylabel("objective (valid designs)")
    ax.set_title("score distribution per round")
    return _save(fig, path)


def _plot_diversity(data: RunData, path: Path) -> Path:
    fig, ax = _figure()
    rounds, values = [], []
    for r in data.rounds:
        seqs = _subset([d.sequence for d in data.valid if d.round == r.round])
        if data.kind == "selfies":
            v = tanimoto_diversity(seqs)
        else:
            tok = data.alphabet.tokenize if data.alphabet is not None else list
            v = hamming_diversity([tok(s) for s in seqs])
        rounds.append(r.round)
        values.append(v)
    ax.plot(rounds, values, marker="o")
    metric = "mean pairwise Tanimoto distance" if data.kind == "selfies" else "mean pairwise Hamming distance"
    ax.set_xlabel("round")
    ax.set_ylabel(metric)
    ax.set_title("diversity of valid designs per round")
    return _save(fig, path)


def _pareto_pair(data: RunData) -> list[str]:
    """The first two optimised components (recorded, weight-0 ones are not objectives); [] if fewer."""
    return data.optimised[:2] if len(data.optimised) >= 2 else []


def _plot_pareto(data: RunData, pair: list[str], path: Path) -> Path:
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


def _plot_logo(data: RunData, seqs: list[str], path: Path) -> Path:
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


def _molecule_grid(rows: list[dict[str, Any]], path: Path) -> Path | None:
    from rdkit.Chem import Draw

    mols, legends = [], []
    for r in rows:
        m = _mol(r["sequence"])
        if m is not None:
            mols.append(m)
            legends.append(f"#{r['rank']}  {r['objective']:.3f}")
    if not mols:
        return None
    img = Draw.MolsToGridImage(mols, molsPerRow=min(5, len(mols)), subImgSize=(260, 220), legends=legends)
    img.save(str(path))
    return path


# ---------------------------------------------------------------------------------------------- public
def write_report(source: str | Path, out_dir: str | Path | None = None, *, top_k: int | None = None,
                 run_id: int | None = None) -> Report:
    """Write the tables and figures of a run.

    Args:
        source: A run directory or a store file.
        out_dir: Output directory (default: ``report/`` next to the store).
        top_k: Designs in the top table and the logo / molecule grid (default: the run's ``report.top_k``).
        run_id: Which run of the store (default: the latest).

    Returns:
        The :class:`Report` (files written, figures skipped and why).
    """
    data = load_run(source, run_id)
    out = Path(out_dir) if out_dir is not None else data.store.parent / "report"
    out.mkdir(parents=True, exist_ok=True)
    k = top_k or int(((data.run.get("config") or {}).get("report") or {}).get("top_k", 20))
    rep = Report(out)
    rows = _top_rows(data, k)
    columns = ["rank", "round", "objective", *data.labels, "sequence"]
    if data.kind == "selfies":
        columns.append("smiles")
    columns.append("id")
    _write_csv(out / "top_designs.csv", rows, columns)
    rep.files["top_csv"] = out / "top_designs.csv"
    (out / "top_designs.md").write_text(_markdown_table(rows, columns, data))
    rep.files["top_md"] = out / "top_designs.md"
    rep.files["best_so_far"] = _plot_best_so_far(data, out / "best_so_far.png")
    rep.files["scores_by_round"] = _plot_scores(data, out / "scores_by_round.png")
    rep.files["diversity_by_round"] = _plot_diversity(data, out / "diversity_by_round.png")
    pair = _pareto_pair(data)
    if pair:
        rep.files["pareto"] = _plot_pareto(data, pair, out / "pareto.png")
    elif data.recorded:
        rep.skipped["pareto"] = (f"fewer than two optimised components ({', '.join(data.recorded)} recorded with "
                                 "weight 0, not optimised)")
    else:
        rep.skipped["pareto"] = "a single objective component"
    if not rows:
        rep.skipped["designs"] = "no valid designs"
    elif data.kind == "selfies":
        grid = _molecule_grid(rows, out / "molecules.png")
        if grid is not None:
            rep.files["molecules"] = grid
        else:
            rep.skipped["molecules"] = "no top design could be drawn"
    else:
        rep.files["logo"] = _plot_logo(data, [r["sequence"] for r in rows], out / "logo.png")
    rep.files["summary"] = _write_summary(data, rep, rows, columns, out / "report.md")
    return rep


def _describe_objective(data: RunData) -> str:
    """``maximize sum of 2 x a, -1 x b; recorded (weight 0, not optimised): c`` from the stored description."""
    objective = data.run.get("objective") or {}
    comps = data.components
    if not comps:
        return f"{', '.join(data.labels)} ({'maximize' if data.maximize else 'minimize'})"
    terms = ", ".join(f"{c.get('weight', 1):g} x {c['label']}" for c in comps if c.get("weight", 1) != 0)
    text = f"{'maximize' if data.maximize else 'minimize'} the {objective.get('combine', 'sum')} of {terms}"
    if data.recorded:
        text += f"; recorded (weight 0, not optimised): {', '.join(data.recorded)}"
    return text


def _write_summary(data: RunData, rep: Report, rows: list[dict[str, Any]], columns: list[str], path: Path) -> Path:
    run = data.run
    charged = sum(d.charged for d in data.designs)
    lookahead = sum(r.guidance_charged for r in data.rounds)
    calls = len(data.calls) + lookahead
    interrupted = sum(s.get("status") == "interrupted" for s in data.sessions)
    lines = [
        f"# Campaign report: {run['name']}",
        "",
        f"- status: {data.status} (started {run['started_at']}, ended {run.get('ended_at') or '-'}; "
        f"{len(data.sessions)} session(s), {interrupted} interrupted)",
        f"- designs scored: {len(data.designs)} ({len(data.valid)} valid)",
        f"- oracle calls: {calls} of the budget of {run['budget']} = {charged} designs charged + {data.lost_calls} "
        "re-paid (results lost in flight at an interruption, scored again after the resume) + "
        f"{lookahead} look-ahead calls of the guidance (value: oracle)",
        f"- objective: {_describe_objective(data)}",
        f"- model: {(run.get('model') or {}).get('id', '-')}",
        f"- code: seqguide {run.get('code_version') or '?'} (git {run.get('git_commit') or 'n/a'})",
        f"- store: {data.store}",
        "",
        "## Rounds",
        "",
    ]
    per_round: dict[int, list[int]] = {}
    for c in data.calls:
        per_round.setdefault(int(c["round"]), [0, 0])[0] += 1
        per_round[int(c["round"])][1] += c["design"] is None
    round_rows = [{"round": r.round, "status": r.status, "candidates": r.n_candidates, "duplicates": r.n_duplicates,
                   "scored": r.n_scored, "valid": r.n_valid, "charged": r.n_charged,
                   "oracle calls": per_round.get(r.round, [r.n_charged, 0])[0],
                   "re-paid": per_round.get(r.round, [0, 0])[1],
                   "guidance calls": r.guidance_oracle_calls, "guidance paid": r.guidance_charged,
                   "value": r.value_source, "value rho": r.value_spearman, "best so far": r.best,
                   "seconds": round(r.wall_seconds, 1)} for r in data.rounds]
    lines.append(_markdown_table(round_rows, list(round_rows[0]) if round_rows else ["round"]))
    lines += ["## Top designs", "", _markdown_table(rows, columns, data), "## Figures", ""]
    for key, file in rep.files.items():
        if file.suffix == ".png":
            lines.append(f"![{key}]({file.name})")
    for key, why in rep.skipped.items():
        lines.append(f"- {key}: not drawn ({why})")
    path.write_text("\n".join(lines) + "\n")
    return path
