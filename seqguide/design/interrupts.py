"""Stop a design run cleanly on SIGTERM or Ctrl-C: at the next item boundary, leaving a resumable run.

While a :class:`GracefulStop` is installed, the first SIGINT/SIGTERM does one of two things:

* if oracle work is in flight (inside :meth:`GracefulStop.critical`), it only records the request: nothing
  more is sent to the oracle, the items already sent are awaited and stored, and the loop then raises
  :class:`Interrupted` at the next item boundary (:meth:`GracefulStop.check`);
* otherwise (sampling, fitting a value model, bookkeeping) it raises :class:`Interrupted` at once: nothing
  is in flight, so nothing is lost (store writes are single transactions and roll back).

A second signal always stops at once. :class:`Interrupted` is a ``KeyboardInterrupt``, so code that already
handles Ctrl-C handles it; ``exit_code`` is ``128 + signal`` (130 for SIGINT, 143 for SIGTERM).

Example:
    >>> with GracefulStop() as stop:                                  # doctest: +SKIP
    ...     loop = DesignLoop(..., stop=stop); loop.run(rounds=4)
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["GracefulStop", "Interrupted"]

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The run stopped on a signal; every design whose result came back is stored.

    Attributes:
        signum: The signal number.
        exit_code: ``128 + signum``, the conventional exit status.
    """

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(f"stopped by {signal.Signals(self.signum).name}")

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class GracefulStop:
    """SIGINT/SIGTERM handling for a design loop (see the module docstring).

    Handlers are installed only in the main thread (elsewhere the object still works as a flag that
    :meth:`request` sets). Use it as a context manager; the previous handlers are restored on exit.

    Attributes:
        requested: The signal asking to stop, or None.
    """

    def __init__(self) -> None:
        self.requested: int | None = None
        self._depth = 0
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in _SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        first = self.requested is None
        self.requested = signum
        if not first or self._depth == 0:
            raise Interrupted(signum)

    def request(self, signum: int = signal.SIGTERM) -> None:
        """Ask to stop at the next item boundary (what a signal does while oracle work is in flight)."""
        self.requested = signum

    @property
    def stopping(self) -> bool:
        """True once a stop was requested: send nothing more to the oracle."""
        return self.requested is not None

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """Oracle work in flight: a signal now waits for the next item boundary."""
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1

    def check(self) -> None:
        """An item boundary: raise :class:`Interrupted` if a stop was requested."""
        if self.requested is not None:
            raise Interrupted(self.requested)
