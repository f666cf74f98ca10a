"""A campaign run read back from its SQLite store (:class:`RunData`, :func:`load_run`): the run, its rounds,
designs, sessions and oracle-call ledger, and whether a live process still writes it; what reports are made of."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seqguide.alphabet import Alphabet
from seqguide.design.lock import lock_holder, store_lock_path
from seqguide.design.store import DesignStore
from seqguide.design.store.records import DesignRecord, RoundRecord

__all__ = ["RunData", "find_store", "load_run"]


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
        recorded_dir = store.meta(f"run_dir.{run['id']}")
    objective = run.get("objective") or {}
    labels = [c["label"] for c in objective.get("components", [])]
    if not labels and designs:
        labels = list(designs[0].components)
    alphabet = Alphabet.from_dict(run["alphabet"]) if run.get("alphabet") else None
    run_dir = ((run.get("config") or {}).get("run_dir")) or store_path.parent
    places = {Path(run_dir), store_path.parent, store_lock_path(store_path)} | ({Path(recorded_dir)} if recorded_dir
                                                                              else set())
    writing = any(lock_holder(d) is not None for d in places)
    if not writing:  # nobody holds the lock: what still says "running" belongs to a process that died
        for sess in sessions:
            if sess.get("status") == "running":
                sess["status"] = "interrupted"
    return RunData(store_path, run, rounds, designs, labels, bool(objective.get("maximize", True)), alphabet,
                   sessions, calls, writing)
