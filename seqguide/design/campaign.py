"""Campaign: run a YAML design campaign end to end, and resume it after any crash.

    from seqguide.design import Campaign
    result = Campaign.from_yaml("configs/campaigns/dna_motif.yaml", quick=True).run()
    result.best[:5], result.store          # ranked designs, the SQLite store

A run lives in ``run_dir`` (default ``runs/campaigns/<name>/``)::

    campaign.sqlite          the store: run, sessions, rounds, designs, the oracle-call ledger (+ the guidance
                             look-ahead cache)
    campaign.lock            held by the one process writing the run (pid, host, start time)
    model/model.ckpt         the trained model (training spec only; reused by --resume)
    finetune/                the model fine-tuned between rounds (model.finetune): reference.safetensors and the
                             last rounds' round_NNNN.safetensors + round_NNNN.optim.pt (a resume continues from them)
    data/ehrlich_dmp.fasta   training data drawn from an Ehrlich function (ehrlich_samples only)
    surrogates/round_NNN/    each round's surrogate (value: surrogate only)
    logs/<logger>/session_N/ each round's metrics through Lightning's loggers (``loggers:``, default csv:
                             logs/csv/session_N/metrics.csv; :mod:`seqguide.design.trackers`)
    report/                  written by ``seqguide report``

One process writes a run at a time: a second ``run`` on a run directory or a store whose lock is held (both
keyed by resolved paths, so two working directories with ``run_dir: run`` and one ``store:`` collide on the
store's lock) is refused at once with a :class:`~seqguide.design.lock.LockError` naming the holder; a lock left
by a dead process is taken over, and that process's sessions are marked ``interrupted`` (never a session whose
process is still alive on this host: that is refused too). A store outside its run directory remembers the
resolved run directory that wrote it, and a ``--resume`` from another one is refused. SIGTERM and Ctrl-C stop
the run at the next item boundary (:mod:`seqguide.design.interrupts`): the run is ``interrupted`` and resumable.

``run(resume=True)`` continues the run recorded in the store: finished rounds are kept, the open round's
candidate list is rebuilt (it is deterministic) and only its unscored designs are scored. The resolved
configuration must match the stored one, except ``loop.rounds``, ``loop.budget``, ``description`` and
``report`` (so a finished campaign can be extended); a resume with a store but no run in it starts afresh,
and so does ``--resume`` with no store at all. For bit-identical refits of a surrogate or value model after a
crash, resume with the same number of torch threads (``seqguide design run --threads``, default 1).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seqguide.design.anchoring import EliteInfill
from seqguide.design.config_io import ConfigError, LoadedCampaign, load_campaign
from seqguide.design.console import ConsoleObserver, make_console, print_top
from seqguide.design.feasibility import PairFeasibility
from seqguide.design.finetune import FineTune
from seqguide.design.guidance_stack import CampaignGuidance
from seqguide.design.initial import InitialData
from seqguide.design.interrupts import GracefulStop, Interrupted
from seqguide.design.keys import design_key
from seqguide.design.lock import LockError, RunLock, holder_alive
from seqguide.design.loop import DesignLoop
from seqguide.design.model_source import prepare_model, resumed_model
from seqguide.design.objective import Objective, build_objective
from seqguide.design.schema import CampaignConfig
from seqguide.design.store import DesignStore
from seqguide.design.store.records import DesignRecord, RoundRecord, utc_now
from seqguide.design.trackers import TrackerObserver

__all__ = ["Campaign", "CampaignError", "CampaignResult", "code_version"]

#: Keys whose value may differ between the stored run and a --resume.
_MAY_CHANGE = ("loop.rounds", "loop.budget", "description", "report", "devices", "loggers")


class CampaignError(RuntimeError):
    """A campaign cannot start or continue (existing store without --resume, changed config, ...)."""


@dataclass
class CampaignResult:
    """What :meth:`Campaign.run` returns.

    Attributes:
        name: The campaign name.
        run_dir: The run directory.
        store: The SQLite store.
        run_id: The run in the store.
        status: ``completed`` (every round ran), ``budget exhausted`` (stopped early: no budget left) or
            ``stopped: ...`` (a round found no new design).
        budget: The oracle budget.
        budget_used: Real objective calls (designs charged, calls whose result a crash lost, and the look-ahead's
            real calls with ``value: oracle``).
        rounds: Every round's record.
        best: The best designs (``report.top_k`` of them), best first.
    """

    name: str
    run_dir: Path
    store: Path
    run_id: int
    status: str
    budget: int
    budget_used: int
    rounds: list[RoundRecord]
    best: list[DesignRecord]

    @property
    def report_dir(self) -> Path:
        """Where ``seqguide report`` writes for this run."""
        return self.run_dir / "report"


def code_version() -> tuple[str, str | None]:
    """``(seqguide.__version__, git commit)``; the commit gets ``-dirty`` for a modified tree, None without git."""
    from seqguide import __version__

    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return __version__, None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5)
        commit = head.stdout.strip()
        return __version__, commit + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return __version__, None


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": [1]}}`` -> ``{"a.b[0]": 1}`` (the key paths of error messages)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict) and data:
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(data, list) and data:
        for i, v in enumerate(data):
            out.update(_flatten(v, f"{prefix}[{i}]"))
    else:
        out[prefix] = data
    return out


def _config_changes(stored: dict[str, Any], now: dict[str, Any]) -> list[str]:
    try:  # read the stored config through the current schema: keys added since take their defaults
        stored = CampaignConfig.model_validate(stored).model_dump(mode="json")
    except ValueError:  # a config the current schema refuses: compare as stored
        pass
    a, b = _flatten(stored), _flatten(now)
    changed = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) != b.get(key) and not any(key == m or key.startswith(m + ".") for m in _MAY_CHANGE):
            changed.append(f"{key}: {a.get(key)!r} -> {b.get(key)!r}")
    return changed


class Campaign:
    """A validated campaign, ready to run.

    Args:
        loaded: The validated campaign (see :func:`seqguide.design.config_io.load_campaign`).
        console: A rich Console for the live summary (default: stdout).
    """

    def __init__(self, loaded: LoadedCampaign, *, console: Any = None) -> None:
        self.loaded = loaded
        self.config: CampaignConfig = loaded.config
        self.console = console or make_console()

    @classmethod
    def from_yaml(cls, path: str | Path, overrides: Sequence[str] = (), quick: bool = False, *,
                  console: Any = None) -> Campaign:
        """Read and validate a campaign file (raises :class:`~seqguide.design.config_io.ConfigError`)."""
        return cls(load_campaign(path, overrides, quick=quick), console=console)

    # ------------------------------------------------------------------------------ paths
    @property
    def run_dir(self) -> Path:
        """``run_dir`` or ``runs/campaigns/<name>``."""
        return Path(self.config.run_dir or Path("runs") / "campaigns" / self.config.name)

    @property
    def store_path(self) -> Path:
        """``store`` or ``<run_dir>/campaign.sqlite``."""
        return Path(self.config.store) if self.config.store else self.run_dir / "campaign.sqlite"

    def resolved(self) -> dict[str, Any]:
        """The resolved configuration as plain data (what the store keeps)."""
        return self.config.model_dump(mode="json")

    def build_objective(self) -> Objective:
        """The objective (raises ConfigError naming the key of a bad oracle argument)."""
        return build_objective(self.config.objective, file=str(self.loaded.source))

    # -------------------------------------------------------------------------------- run
    def _existing_run(self, store: DesignStore, resume: bool) -> dict[str, Any] | None:
        run = store.latest_run()
        if run is None:
            return None
        if not resume:
            raise CampaignError(f"{self.store_path} already holds run {run['name']!r} (status {run['status']}): "
                                "pass --resume to continue it, or set run_dir=... / delete the directory to start over")
        changes = _config_changes(run["config"], self.resolved())
        if changes:
            raise CampaignError(
                f"cannot resume {self.store_path}: the configuration differs from the stored run (use the same file, "
                "--quick and overrides; only loop.rounds, loop.budget, description, report, devices and loggers may "
                "change):\n  "
                + "\n  ".join(changes))
        return run

    def run(self, resume: bool = False, *, progress: bool | None = None, argv: Sequence[str] = ()) -> CampaignResult:
        """Run the campaign (or continue it with ``resume=True``).

        Args:
            resume: Continue the run stored in the run directory (start afresh if there is none).
            progress: Animated progress bars (default: when stdout is a terminal).
            argv: The command line, recorded with the session.

        Returns:
            The :class:`CampaignResult`.

        Raises:
            CampaignError: existing store without ``resume``, or a changed configuration.
            ConfigError: an oracle argument the oracle rejects, a model file that cannot be loaded.
            LockError: another live process is writing the run directory.
            StoreError: the store cannot be opened or written (not a store, full disk, read-only).
            Interrupted: SIGTERM / Ctrl-C; the run is left ``interrupted`` and resumable.
        """
        cfg = self.config
        console = self.console
        animate = console.is_terminal if progress is None else progress
        lock = self._lock(argv)
        store: DesignStore | None = None
        guidance: CampaignGuidance | None = None
        try:
            store = DesignStore(self.store_path)
            latest = store.latest_run()
            if latest is not None:  # before anything else: a live writer, a store of another run directory
                self._check_owner(store, latest["id"])
            run = self._existing_run(store, resume)
            if run is not None:
                stale = store.mark_interrupted(run["id"])
                if stale or lock.previous is not None:
                    who = f" (the lock of {lock.previous.describe()})" if lock.previous is not None else ""
                    console.print(f"taking over run {run['name']!r}: {stale} session(s) of a process that is no "
                                  f"longer running marked interrupted{who}")
            console.print(f"campaign {cfg.name!r}: {'resuming' if run else 'starting'} in {self.run_dir} "
                          f"(store {self.store_path})")
            objective = self.build_objective()
            if cfg.model.train is not None and not (self.run_dir / "model" / "model.ckpt").is_file():
                console.print(f"training the model ({cfg.model.train.steps} steps) -> {self.run_dir / 'model'}")
            model, model_info = self._model(objective, animate)
            if run is not None:  # the same weights as the stored run's (its digest), or an old record migrated
                try:
                    migrated = resumed_model(run.get("model"), model_info)
                except ValueError as err:
                    raise CampaignError(f"cannot resume {self.store_path}: {err}") from None
                if migrated:
                    console.print(migrated)
                    store.update_run(run["id"], model=model_info)
            self._check_memory(model)
            console.print(f"model: {model_info['id']} ({model_info['kind']}, length {model_info['length']})")
            guidance = CampaignGuidance(cfg.guidance, objective, model, run_dir=self.run_dir,
                                        store_path=self.store_path, surrogate=cfg.surrogate,
                                        value_model=cfg.value_model, progress=animate, device=cfg.devices.device)
            observer = TrackerObserver(inner=ConsoleObserver(cfg.loop.rounds, console, progress=animate),
                                       top_k=cfg.report.top_k)
            loop = self._loop(
                model, objective, guidance, store, budget=cfg.budget, candidates=cfg.loop.candidates,
                steps=cfg.sampling.steps, seed=cfg.seed, score_batch=cfg.loop.score_batch,
                max_draws=cfg.loop.max_draws, sample_batch_size=cfg.sampling.batch_size, cond=cfg.sampling.cond,
                run_id=None if run is None else run["id"], name=cfg.name, config=self.resolved(),
                model_info=model_info, observer=observer, code_version=code_version(), argv=argv or sys.argv,
                key=design_key(getattr(model, "alphabet", None)), stop=GracefulStop(), anchor=_anchor(cfg, model),
                charged_elsewhere=guidance.lookahead_calls if guidance.uses_objective else None,
                feasibility=None if cfg.loop.feasibility is None else PairFeasibility(cfg.loop.feasibility),
                finetune=None if cfg.model.finetune is None else FineTune(**cfg.model.finetune.model_dump(),
                                                                          directory=self.run_dir / "finetune"),
                initial=None if cfg.data.initial is None else InitialData(**cfg.data.initial.model_dump()))
            if run is not None:
                store.update_run(loop.run_id, config=self.resolved(), budget=cfg.budget, status="running",
                                 ended_at=None)
            store.set_meta(f"run_dir.{loop.run_id}", str(self.run_dir.resolve()))
            self._trackers(observer, loop)
            try:
                with loop.stop:
                    loop.run(cfg.loop.rounds)
            except BaseException as err:
                observer.close("failed")
                if isinstance(err, KeyboardInterrupt) or loop.stop.requested is not None:
                    # Ctrl-C / SIGTERM; also when Lightning (fitting a surrogate) turned the signal into SystemExit.
                    loop.close("interrupted")
                    store.update_run(loop.run_id, status="interrupted")
                    if isinstance(err, Interrupted):
                        raise
                    raise Interrupted(loop.stop.requested or signal.SIGINT) from None
                loop.close(f"failed: {type(err).__name__}: {err}")
                store.update_run(loop.run_id, status="failed")
                raise
            if loop.rounds_done >= cfg.loop.rounds:
                status = "completed"
            elif loop.budget_remaining == 0:
                status = "budget exhausted"
            else:
                status = "stopped: the model proposed no new designs"
            loop.close(status)
            observer.close("success")
            store.update_run(loop.run_id, status=status, ended_at=utc_now())
            best = loop.best(cfg.report.top_k)
            result = CampaignResult(cfg.name, self.run_dir, self.store_path, loop.run_id, status, loop.budget,
                                    loop.budget_used, loop.history, best)
            if best:
                print_top(console, best, objective.labels)
            lost = store.lost_calls(loop.run_id)
            repaid = f" ({lost} re-paid after interruptions)" if lost else ""
            console.print(f"{status}: {store.count(loop.run_id)} designs over {len(result.rounds)} rounds, "
                          f"{result.budget_used}/{result.budget} oracle calls{repaid}")
            console.print(f"store:  {self.store_path}")
            console.print(f"report: seqguide report {self.run_dir}   (writes {result.report_dir})")
            return result
        finally:
            if guidance is not None:
                guidance.close()
            if store is not None:
                store.close()
            lock.release()

    def _loop(self, *args: Any, **kwargs: Any) -> DesignLoop:
        """The :class:`DesignLoop`; a bad ``data.initial`` file (it is imported when the loop starts) becomes a
        :class:`ConfigError` on that key."""
        try:
            return DesignLoop(*args, **kwargs)
        except (ValueError, FileNotFoundError) as err:
            if kwargs.get("initial") is None:
                raise
            raise ConfigError(str(self.loaded.source), [("data.initial", str(err))]) from None

    def _trackers(self, observer: TrackerObserver, loop: DesignLoop) -> None:
        """Attach the ``loggers:`` (a version per session under ``<run_dir>/logs/``) and log the import rounds."""
        if not self.config.loggers:
            return
        from seqguide.design.trackers import make_loggers

        specs = [(spec.name, spec.args) for spec in self.config.loggers]
        try:
            loggers = make_loggers(specs, self.run_dir / "logs", run_name=self.config.name,
                                   version=f"session_{loop.session_id}")
        except (ValueError, TypeError) as err:
            raise ConfigError(str(self.loaded.source), [("loggers", str(err))]) from None
        observer.attach(loggers, {"campaign": self.config.name, "seed": self.config.seed,
                                  "budget": self.config.budget, "rounds": self.config.loop.rounds})
        observer.log_imports(loop)

    def _lock(self, argv: Sequence[str]) -> RunLock:
        """Create the run directory and take its lock and the store's; an unwritable directory is a
        :class:`CampaignError` naming it (nothing was written, so there is nothing to resume)."""
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            return RunLock(self.run_dir, argv=list(argv) or None, store=self.store_path).acquire()
        except PermissionError as err:
            where = err.filename or self.run_dir
            raise CampaignError(f"{where}: permission denied: the run directory (and the store's directory) must "
                                f"be writable; choose another run_dir/store or fix the permissions") from None
        except (FileExistsError, NotADirectoryError) as err:
            raise CampaignError(f"{err.filename or self.run_dir}: not a directory; run_dir must name a "
                                "directory") from None

    def _check_memory(self, model: Any) -> None:
        """Refuse, before the first sample, a draw whose logits alone cannot fit in the device's memory
        (:mod:`seqguide.sampling.memory`); a :class:`ConfigError` on the key to lower."""
        from seqguide.sampling.memory import MemoryEstimateError, check_forward_memory, guider_rows

        cfg = self.config
        batch = min(cfg.loop.candidates, cfg.sampling.batch_size or cfg.loop.candidates)
        key = "sampling.batch_size" if cfg.sampling.batch_size is not None else "loop.candidates"
        factor = 1
        for i, spec in enumerate(cfg.guidance):
            rows, arg = guider_rows(spec.arguments())
            if rows > factor:
                factor, key = rows, f"guidance[{i}].{arg}"
        alphabet = getattr(model, "alphabet", None)
        length = getattr(model, "length", None)
        if alphabet is None or not isinstance(length, int):
            return
        device = getattr(model, "device", None) or next(model.parameters()).device
        try:
            check_forward_memory(batch * factor, length, alphabet.vocab_size, device, where=key)
        except MemoryEstimateError as err:
            raise ConfigError(str(self.loaded.source), [(key, str(err).partition(": ")[2])]) from None

    def _check_owner(self, store: DesignStore, run_id: int) -> None:
        """Refuse to continue a run that a live process on this host still writes (one that bypassed the lock),
        or a store outside the run directory that another (resolved) run directory wrote."""
        here = socket.gethostname()  # a session of another host: the lock (released when it died) decides
        for sess in store.sessions(run_id):
            if sess["status"] == "running" and sess.get("host") == here and sess.get("pid") != os.getpid() and \
                    holder_alive(sess.get("pid"), here, sess.get("started_at")):
                raise LockError(f"{self.store_path} is being written by pid {sess['pid']} on host {here} (session "
                                f"{sess['id']}, since {sess['started_at']}); a store takes one writer at a time")
        recorded = store.meta(f"run_dir.{run_id}")
        mine = str(self.run_dir.resolve())
        inside = self.store_path.resolve().parent == self.run_dir.resolve()
        if recorded is not None and recorded != mine and not inside:
            raise CampaignError(f"cannot resume {self.store_path}: it was written from run directory {recorded}, "
                                f"and run_dir {self.config.run_dir or self.run_dir!s} resolves to {mine} here (a "
                                "relative run_dir follows the working directory; give an absolute one)")

    def _model(self, objective: Objective, animate: bool) -> tuple[Any, dict[str, Any]]:
        """Load or train the model; a problem with a model file becomes a ConfigError on its key, and a SIGTERM
        during training (Lightning saves the last checkpoint first) an :class:`Interrupted`."""
        from lightning.pytorch.utilities.exceptions import SIGTERMException

        from seqguide.models.checkpoints import CheckpointError

        source = str(self.loaded.source)
        try:
            return prepare_model(self.config, self.run_dir, objective, progress=animate)
        except SIGTERMException:
            raise Interrupted(signal.SIGTERM) from None
        except CheckpointError as err:
            key = "model.checkpoint" if self.config.model.checkpoint is not None else "model.train"
            raise ConfigError(source, [(key, str(err))]) from None
        except ValueError as err:
            key, _, msg = str(err).partition(": ")
            if key.startswith("model"):
                raise ConfigError(source, [(key, msg)]) from None
            if self.config.model.train is not None:  # the training data: a reader's error names file and line
                raise ConfigError(source, [("model.train.data", str(err))]) from None
            raise


def _anchor(cfg: Any, model: Any) -> EliteInfill | None:
    """``sampling.anchor`` as an :class:`EliteInfill` (masked models only: the refill starts from masked copies)."""
    spec = cfg.sampling.anchor
    if spec is None:
        return None
    if not hasattr(model, "mask_id"):
        raise CampaignError(f"sampling.anchor: elite infilling needs a masked-diffusion model; "
                            f"{type(model).__name__} has no mask token")
    return EliteInfill(**spec.model_dump())
