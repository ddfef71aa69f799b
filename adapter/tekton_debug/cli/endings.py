"""How a front end's process ends on a signal: cleanly, once.

SIGTERM, SIGHUP and SIGINT end a session the way its client going away does: the run is stopped
and the run directory removed. The first of them starts that ending; the ones that follow (nvim-dap
closes the adapter's stdin and sends SIGINT at once; an impatient user presses Ctrl-C twice) are
absorbed, so that no KeyboardInterrupt lands inside the cleanup and leaves the directory behind.
"""

from __future__ import annotations

import signal
import threading
from typing import Callable

END_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                    if hasattr(signal, name))


class Ended(BaseException):
    """Raised in the main thread by SIGTERM or SIGHUP (SIGINT raises KeyboardInterrupt)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(exc: BaseException) -> int:
    """The shell's convention: 128 + the signal's number."""
    return 128 + (exc.signum if isinstance(exc, Ended) else signal.SIGINT)


def _absorb(signum: int, frame: object) -> None:
    """A handler that does nothing: unlike SIG_IGN, processes started later do not inherit it."""


def shield() -> None:
    """From here on the end signals no longer interrupt this process: it is ending already."""
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in END_SIGNALS:
        signal.signal(sig, _absorb)


def raise_on_end_signals(*, sigint: bool = True) -> None:
    """The first end signal raises in the main thread (KeyboardInterrupt for SIGINT, Ended for the
    others) and shields the process from the rest. ``sigint=False`` keeps Python's own SIGINT
    handling (Ctrl-C at a shell the process waits for is the shell's, not an ending)."""
    def handler(signum: int, frame: object) -> None:
        shield()
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Ended(signum)

    for sig in END_SIGNALS:
        if sig != signal.SIGINT or sigint:
            signal.signal(sig, handler)


def call_on_end_signals(end: Callable[[], None]) -> None:
    """Every end signal calls ``end`` on a thread of its own (it may take locks the interrupted
    main thread holds); nothing is raised."""
    def handler(signum: int, frame: object) -> None:
        threading.Thread(target=end, name=f"end on {signal.Signals(signum).name}",
                         daemon=True).start()

    for sig in END_SIGNALS:
        signal.signal(sig, handler)
