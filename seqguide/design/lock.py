"""One writer per campaign: lock files, keyed by resolved paths, that name their holder.

``<run_dir>/campaign.lock`` (the run directory resolved, so ``run_dir: run`` started from two working
directories names two directories) and the store's own lock, :func:`store_lock_path` (``campaign.lock`` beside
``campaign.sqlite``, the same file for the default store inside the run directory), are locked with
``fcntl.flock`` for as long as a ``seqguide design run`` works on the run, and hold the holder's pid, host,
start time and command line as JSON. Keying the lock by the store too means two runs with different run
directories and one ``store:`` cannot both write it. A second writer is refused at
once with a message naming the holder. The kernel releases the lock when its process dies, however it dies
(SIGKILL included), so a lock left by a dead process is simply taken over by the next writer, which is then
told whose it was. Readers (``seqguide report``) never take the lock; :func:`lock_holder` tells them whether
a live process is writing, so a session recorded as ``running`` whose process is gone can be shown as
``interrupted``.

Where ``fcntl`` is missing (Windows), the file is created exclusively and a holder counts as dead when it is
on this host and its pid no longer exists.

Example:
    >>> with RunLock("runs/campaigns/demo") as lock:          # doctest: +SKIP
    ...     ...                                                # write the store
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from seqguide.design.store.records import utc_now

__all__ = ["LOCK_NAME", "LockError", "LockHolder", "RunLock", "holder_alive", "lock_holder", "store_lock_path"]

#: The lock file's name inside the run directory.
LOCK_NAME = "campaign.lock"


class LockError(RuntimeError):
    """Another live process is writing this run (the message names it)."""


@dataclass
class LockHolder:
    """Who holds (or last held) a run's lock."""

    pid: int
    host: str
    started_at: str
    argv: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """``pid 123 on host h since 2024-...`` (and the command line when known)."""
        cmd = f" ({' '.join(self.argv)[:120]})" if self.argv else ""
        return f"pid {self.pid} on host {self.host} since {self.started_at}{cmd}"

    @staticmethod
    def parse(text: str) -> LockHolder | None:
        """The holder written in a lock file, or None for an empty or unreadable one."""
        try:
            data = json.loads(text)
            return LockHolder(int(data["pid"]), str(data["host"]), str(data["started_at"]),
                              [str(a) for a in data.get("argv", [])])
        except (ValueError, KeyError, TypeError):
            return None


def _me(argv: list[str] | None) -> LockHolder:
    return LockHolder(os.getpid(), socket.gethostname(), utc_now(), list(sys.argv if argv is None else argv))


#: Lock file descriptors held by this process. A forked child (a process pool worker) closes its copies, so a
#: child that outlives its parent never keeps the parent's run locked.
_HELD: set[int] = set()


def _close_held_in_child() -> None:
    for fd in list(_HELD):
        with contextlib.suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_close_held_in_child)


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


def _process_start_epoch(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch, from ``/proc``), None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22: start time in clock ticks after boot
        btime = next(int(ln.split()[1]) for ln in Path("/proc/stat").read_text().splitlines()
                     if ln.startswith("btime "))
        return btime + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def holder_alive(pid: int | None, host: str | None, started_at: str | None = None) -> bool:
    """Whether the process that recorded ``pid``/``host`` (at ``started_at``, ISO time) may still be running.

    A process on another host cannot be checked and counts as alive. On this host the pid must exist, and where
    ``/proc`` says when it started, it must have started before ``started_at`` (a pid reused by a later process
    is not the holder).
    """
    if pid is None:
        return False
    if host is not None and host != socket.gethostname():
        return True
    if int(pid) == os.getpid():
        return True
    if not _pid_alive(int(pid)):
        return False
    began = _process_start_epoch(int(pid))
    if began is None or not started_at:
        return True
    from datetime import datetime

    try:
        recorded = datetime.fromisoformat(str(started_at).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return True
    return began <= recorded + 2.0  # clock ticks and the ISO text's rounding


def store_lock_path(store: str | os.PathLike[str]) -> Path:
    """The lock file of a store: ``<dir>/<stem>.lock`` beside it (``campaign.sqlite`` -> ``campaign.lock``),
    with the store's directory resolved (symbolic links and ``..`` followed)."""
    path = Path(store).absolute()
    path = path.parent.resolve() / path.name
    lock = path.with_suffix(".lock")
    return lock if lock != path else path.with_name(path.name + ".lock")


class RunLock:
    """The exclusive writer lock of a run directory (and of its store, with ``store=``).

    Args:
        run_dir: The run directory (created if missing; its lock is ``<resolved run_dir>/campaign.lock``).
        argv: The command line recorded for the holder (default ``sys.argv``).
        store: The store the run writes; its lock (:func:`store_lock_path`) is taken too, after the run
            directory's, unless it is the same file.

    Attributes:
        path: The run directory's lock file.
        previous: After :meth:`acquire`, the dead holder whose lock was taken over (None if the lock was free).
    """

    def __init__(self, run_dir: str | os.PathLike[str], *, argv: list[str] | None = None,
                 store: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(run_dir).resolve() / LOCK_NAME
        self.argv = argv
        self.what = str(self.path.parent)
        self.store_lock: RunLock | None = None
        if store is not None and store_lock_path(store) != self.path:
            self.store_lock = RunLock(self.path.parent, argv=argv)
            self.store_lock.path = store_lock_path(store)  # the same lock, on the store's file
            self.store_lock.what = f"the store {store}"
        self.previous: LockHolder | None = None
        self._fd: int | None = None

    def acquire(self) -> RunLock:
        """Take the lock or raise :class:`LockError` naming the live holder.

        Returns:
            self (``previous`` says whose dead lock was taken over).
        """
        if self._fd is not None:
            return self
        self._acquire_one()
        if self.store_lock is not None:
            try:
                self.store_lock._acquire_one()
            except BaseException:
                self.release()
                raise
            self.previous = self.previous or self.store_lock.previous
        return self

    def _acquire_one(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover - Windows
            return self._acquire_exclusive_file()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = LockHolder.parse(_read_fd(fd))
            os.close(fd)
            who = holder.describe() if holder is not None else "another process"
            raise LockError(f"{self.what} is being written by {who}; a run directory and its store take one writer "
                            f"at a time (wait for it to finish or stop it, then continue with --resume)") from None
        self.previous = LockHolder.parse(_read_fd(fd))
        _write_fd(fd, json.dumps(asdict(_me(self.argv))))
        self._fd = fd
        _HELD.add(fd)
        return self

    def _acquire_exclusive_file(self) -> RunLock:  # pragma: no cover - Windows
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                holder = LockHolder.parse(self.path.read_text(errors="replace"))
                if holder is not None and (holder.host != socket.gethostname() or _pid_alive(holder.pid)):
                    raise LockError(f"{self.path.parent} is being written by {holder.describe()}") from None
                self.previous = holder
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
                continue
            _write_fd(fd, json.dumps(asdict(_me(self.argv))))
            self._fd = fd
            return self
        raise LockError(f"{self.path}: could not take the lock")

    def release(self) -> None:
        """Give the lock up (the file stays, emptied, so a waiting writer never locks a deleted file)."""
        if self.store_lock is not None:
            self.store_lock.release()
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        except OSError:  # pragma: no cover - a read-only or full disk: the kernel lock still goes
            pass
        if fcntl is None:  # pragma: no cover - Windows
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
            return
        _HELD.discard(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: Any) -> None:
        self.release()


def lock_holder(run_dir: str | os.PathLike[str]) -> LockHolder | None:
    """The live process writing ``run_dir`` (a run directory, or a lock file such as :func:`store_lock_path`),
    or None when nobody holds its lock (never blocks, never writes)."""
    path = Path(run_dir)
    path = path if path.suffix == ".lock" else path / LOCK_NAME
    if not path.is_file():
        return None
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        if fcntl is None:  # pragma: no cover - Windows
            holder = LockHolder.parse(_read_fd(fd))
            alive = holder is not None and (holder.host != socket.gethostname() or _pid_alive(holder.pid))
            return holder if alive else None
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return LockHolder.parse(_read_fd(fd)) or LockHolder(-1, "?", "?")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_fd(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


def _write_fd(fd: int, text: str) -> None:
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, text.encode())
    os.fsync(fd)
