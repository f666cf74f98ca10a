"""``seqguide design import RUN FILE``: a wet-lab batch (a labelled file) into a stopped campaign, between rounds.

The run's lock is taken (a run another process is writing is refused, naming it), the file is read and validated
against the run's stored alphabet and model length, and its designs are stored as one uncharged import round
(:func:`seqguide.design.initial.import_labelled`: one transaction, so a killed import left nothing and running
it again imports the file; a file imported before is a no-op). ``seqguide design run ... --resume`` then
continues with rounds that learn from it (raise ``loop.rounds`` to add rounds to a finished campaign).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqguide.alphabet import Alphabet
from seqguide.design.initial import InitialData, import_labelled
from seqguide.design.keys import design_key
from seqguide.design.lock import RunLock
from seqguide.design.store import DesignStore

__all__ = ["find_store", "import_batch"]


def find_store(run: str | Path) -> Path:
    """The store of a run directory (``campaign.sqlite``) or a store file.

    Raises:
        FileNotFoundError: if there is none.
    """
    path = Path(run)
    if path.is_file():
        return path
    if (path / "campaign.sqlite").is_file():
        return path / "campaign.sqlite"
    raise FileNotFoundError(f"{path}: no campaign store (a run directory with campaign.sqlite, or a .sqlite file)")


def import_batch(run: str | Path, spec: InitialData, *, argv: Sequence[str] = ()) -> dict[str, Any]:
    """Import ``spec`` into the latest run of ``run`` (a run directory or its store) under the run's lock.

    Returns:
        What :func:`~seqguide.design.initial.import_labelled` returns.

    Raises:
        FileNotFoundError: no store at ``run``, or no file ``spec.path``.
        LockError: another live process is writing the run.
        ValueError: a bad file (one line naming file, line, column, character), no run, or a round still open.
    """
    store_path = find_store(run)
    with DesignStore(store_path, readonly=True) as peek:
        latest = peek.latest_run()
        if latest is None:
            raise ValueError(f"{store_path}: the store holds no run to import into")
        run_dir = Path(peek.meta(f"run_dir.{latest['id']}") or store_path.parent)
    with RunLock(run_dir, argv=list(argv) or None, store=store_path), DesignStore(store_path) as store:
        run_id = int(latest["id"])
        store.mark_interrupted(run_id)  # sessions of a process that died (we hold the lock)
        alphabet = Alphabet.from_dict(latest["alphabet"]) if latest.get("alphabet") else None
        length = (latest.get("model") or {}).get("length")
        objective = latest.get("objective") or {}
        session = store.start_session(run_id, argv=argv, resumed=True)
        try:
            out = import_labelled(store, run_id, spec, alphabet=alphabet,
                                  length=length if isinstance(length, int) else None, key=design_key(alphabet),
                                  seed=int(latest["seed"]), maximize=bool(objective.get("maximize", True)),
                                  session=session)
        except BaseException as err:
            store.end_session(session, f"failed: {type(err).__name__}: {err}")
            raise
        store.end_session(session, "imported" if out["imported"] else "completed")
    return out
