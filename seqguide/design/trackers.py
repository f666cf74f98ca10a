"""Experiment trackers for campaigns: each finished round's metrics through Lightning's loggers (CSV by default;
TensorBoard, MLflow, W&B offline when installed), named in the campaign's ``loggers:`` list.

Metrics per round (the logger's ``step`` is the round number, from 0; import rounds are logged too, with
``imported = 1``): ``best`` (best valid design so far), ``top_k_mean`` (mean of the ``report.top_k`` best so far),
``calls`` (paid objective calls so far), ``round_calls`` (charged in the round), ``validity`` (valid / scored
designs of the round), ``diversity`` (mean pairwise Hamming distance of the round's valid designs, by model
tokens), ``surrogate_spearman`` (held-out Spearman rho of the round's value source, when there is one),
``guidance_calls`` (real look-ahead calls), ``wall_seconds`` and ``nfe`` (the round's cost). Values that do not
exist (no valid design yet, no value source) are left out of that step.

Logs go under ``<run_dir>/logs/<logger>/``, one version per session (``session_<id>``), so a resumed run adds a
version holding the rounds it finished. Lightning is imported only when loggers are built (a campaign run), never
by importing this module. Training runs keep LightningCLI's own ``--trainer.logger`` flags.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqguide.design.logger_names import LOGGERS, missing_package
from seqguide.design.loop import DesignLoop, LoopObserver
from seqguide.design.store.records import DesignRecord, RoundRecord

__all__ = ["LOGGERS", "TrackerObserver", "make_loggers", "missing_package", "round_metrics"]

def make_loggers(specs: Sequence[tuple[str, dict[str, Any]]], log_dir: str | Path, *, run_name: str,
                 version: str) -> list[Any]:
    """Lightning loggers for ``(name, args)`` pairs, writing under ``log_dir/<name>/`` (``args`` are passed on).

    Raises:
        ValueError: ``<name>: ...`` for an unknown logger or one whose package is missing.
    """
    from lightning.pytorch import loggers as pl_loggers

    out = []
    root = Path(log_dir)
    for name, args in specs:
        if name not in LOGGERS:
            raise ValueError(f"{name}: unknown logger (known: {', '.join(LOGGERS)})")
        missing = missing_package(name)
        if missing is not None:
            raise ValueError(f"{name}: the {missing} package is not installed (pip install {missing})")
        cls = getattr(pl_loggers, LOGGERS[name][1])
        if name == "mlflow":
            kw = {"experiment_name": run_name, "run_name": version,
                  "tracking_uri": f"file:{(root / 'mlflow').resolve()}", **args}
        elif name == "wandb":
            kw = {"name": f"{run_name}-{version}", "save_dir": str(root / "wandb"), "offline": True,
                  "project": run_name, **args}
        else:
            kw = {"save_dir": str(root), "name": name, "version": version, **args}
        out.append(cls(**kw))
    return out


def _diversity(designs: list[DesignRecord], tokenize: Any) -> float | None:
    from seqguide.design.report.metrics import hamming_diversity, spread_subset

    if len(designs) < 2:
        return None
    value = hamming_diversity([tokenize(d.sequence) for d in spread_subset(designs)])
    return value if math.isfinite(value) else None


def round_metrics(loop: DesignLoop, record: RoundRecord, *, top_k: int = 10) -> dict[str, float]:
    """The metrics of a finished round (see the module docstring), only those that exist."""
    top = loop.best(top_k)
    valid = loop.store.designs(loop.run_id, round=record.round, valid_only=True)
    tokenize = getattr(getattr(loop.model, "alphabet", None), "tokenize", list)
    values: dict[str, float | None] = {
        "best": record.best, "top_k_mean": sum(d.objective for d in top) / len(top) if top else None,
        "calls": loop.budget_used, "round_calls": record.n_charged,
        "validity": record.n_valid / record.n_scored if record.n_scored else None,
        "diversity": _diversity(valid, tokenize), "surrogate_spearman": record.value_spearman,
        "guidance_calls": record.guidance_charged, "wall_seconds": record.wall_seconds, "nfe": record.nfe,
        "imported": float(record.kind == "import")}
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(float(v))}


class TrackerObserver(LoopObserver):
    """Log each finished round's :func:`round_metrics` to Lightning loggers, and pass every hook on to ``inner``.

    Args:
        loggers: Lightning loggers (:func:`make_loggers`).
        inner: Another observer (the console's) that gets every hook too.
        top_k: Designs in ``top_k_mean``.
        hyperparams: Logged once, before the first round (the resolved campaign, flattened by the loggers).
    """

    def __init__(self, loggers: Sequence[Any] = (), inner: LoopObserver | None = None, *, top_k: int = 10,
                 hyperparams: dict[str, Any] | None = None) -> None:
        self.loggers: list[Any] = []
        self.inner = inner or LoopObserver()
        self.top_k = top_k
        self.logged: list[int] = []
        self.attach(loggers, hyperparams)

    def attach(self, loggers: Sequence[Any], hyperparams: dict[str, Any] | None = None) -> None:
        """Add loggers (e.g. once the loop's session, which names their version, is known)."""
        for lg in loggers:
            if hyperparams:
                lg.log_hyperparams(hyperparams)
            self.loggers.append(lg)

    def log_imports(self, loop: DesignLoop) -> None:
        """Log the import rounds made since the run's last design round (round 0, or batches imported between
        sessions by ``seqguide design import``): the loop stores them without a round hook."""
        rounds = loop.history
        last_design = max((r.round for r in rounds if r.kind == "design" and r.status == "done"), default=-1)
        for r in rounds:
            if r.kind == "import" and r.round > last_design and r.round not in self.logged:
                self.log_round(loop, r)

    def log_round(self, loop: DesignLoop, record: RoundRecord) -> None:
        """Log one round (its number is the step) and flush, so the files hold it even if the run dies next."""
        metrics = round_metrics(loop, record, top_k=self.top_k)
        for lg in self.loggers:
            lg.log_metrics(metrics, step=record.round)
            lg.save()
        self.logged.append(record.round)

    def round_started(self, loop: DesignLoop, round: int) -> None:
        self.inner.round_started(loop, round)

    def proposed(self, loop: DesignLoop, proposal: Any, to_score: int) -> None:
        self.inner.proposed(loop, proposal, to_score)

    def batch_scored(self, loop: DesignLoop, records: list[DesignRecord]) -> None:
        self.inner.batch_scored(loop, records)

    def round_finished(self, loop: DesignLoop, record: RoundRecord) -> None:
        self.log_round(loop, record)
        self.inner.round_finished(loop, record)

    def close(self, status: str = "success") -> None:
        """Finish every logger (``finalize``) and close the inner observer if it has ``close``."""
        for lg in self.loggers:
            lg.finalize(status)
        if hasattr(self.inner, "close"):
            self.inner.close()
