"""How a front end's process ends on a signal: cleanly, once.

SIGTERM, SIGHUP and SIGINT end a session the way its client going away does: the run is stopped
and the run directory removed. No KeyboardInterrupt is raised into whatever the main thread was
doing (nvim-dap closes the adapter's stdin and sends SIGINT at once: an exception landing inside
the runtime's close() left the directory behind). Instead, each signal is handed to a watcher
thread, through ``signal.set_wakeup_fd``: the kernel may deliver a signal to any thread, and a
main thread blocked in a lock or a poll would never run a Python handler.
"""

from __future__ import annotations

import os
import signal
import threading
from typing import Callable

END_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, name))


class Ended(BaseException):
    """Raised by a front end's main thread once an end signal came."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(exc: BaseException) -> int:
    """The shell's convention: 128 + the signal's number."""
    return 128 + (exc.signum if isinstance(exc, Ended) else signal.SIGINT)


def _absorb(signum: int, frame: object) -> None:
    """The Python-level handler: nothing (the watcher thread acts). Unlike SIG_IGN, processes
    started later do not inherit it."""


def call_on_end_signals(end: Callable[[int], None]) -> None:
    """Every end signal calls ``end(signum)`` on the watcher thread. Call from the main thread,
    once."""
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)
    for sig in END_SIGNALS:
        signal.signal(sig, _absorb)
    signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def watch() -> None:
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in END_SIGNALS:
                    try:
                        end(signum)
                    except Exception:  # the next signal gets its turn all the same
                        import logging
                        logging.getLogger(__name__).exception("ending on a signal failed")

    threading.Thread(target=watch, name="end signals", daemon=True).start()
