"""The shells a session opened in the editor's terminal (``tekton/openShell``): they end with it.

The client starts them (``runInTerminal``) and tells their ``processId``; a step's shell must not
outlive the session, as ``kubectl exec`` does not outlive its container. Each process is known by
its pid and start time, so that a pid the system reused is never signalled.
"""

from __future__ import annotations

import os
import signal
import threading
import time

GRACE = 1.0  # seconds between SIGHUP (the terminal's hang-up) and SIGKILL


class Terminals:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._shells: list[tuple[int, str | None]] = []

    def opened(self, pid: object) -> None:
        """The client started a shell as process ``pid`` (its runInTerminal answer). The client is
        the user's editor and knows what it started; this process and its parent (the client,
        on stdio) are never taken for it."""
        if isinstance(pid, int) and not isinstance(pid, bool) and pid > 1 and \
                pid not in (os.getpid(), os.getppid()):
            with self._lock:
                self._shells.append((pid, _start_time(pid)))

    def end_all(self) -> None:
        """Hang up every shell still running (SIGHUP), then kill what is left."""
        with self._lock:
            shells, self._shells = self._shells, []
        alive = [(pid, start) for pid, start in shells if _same(pid, start)]
        for pid, _ in alive:
            _signal(pid, signal.SIGHUP)
        deadline = time.monotonic() + GRACE
        while alive and time.monotonic() < deadline:
            alive = [(pid, start) for pid, start in alive if _same(pid, start)]
            time.sleep(0.02)
        for pid, _ in alive:
            _signal(pid, signal.SIGKILL)


def _start_time(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return None if fields[0] == b"Z" else fields[19].decode()
    except (OSError, IndexError):
        return None


def _same(pid: int, start: str | None) -> bool:
    """Whether ``pid`` is still the process that was opened (not a zombie, not a reused pid)."""
    if start is None:  # no /proc: the pid alone
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False
    return _start_time(pid) == start


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except OSError:
        pass
