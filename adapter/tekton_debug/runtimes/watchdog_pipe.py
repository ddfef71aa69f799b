"""The pipe to a watchdog process: a small process that acts when this one dies (SIGKILL included).

It reads instruction lines from a pipe held by this process; end of input (this process gone) is
its signal to clean up, ``q`` dismisses it. Started on the first line sent, in a session of its
own so that a signal to this process group spares it. The local runtime's watchdog ends step
processes; the container runtime's removes containers and directories.
"""

from __future__ import annotations

import subprocess
import threading
from typing import Sequence


class WatchdogPipe:
    def __init__(self, argv: Sequence[str], first: str = "") -> None:
        """``argv`` starts the watchdog; ``first`` is sent before anything else (e.g. a mark)."""
        self._argv = list(argv)
        self._first = first
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._closed = False

    def send(self, line: str) -> None:
        """Send one instruction (an empty line only starts the watchdog)."""
        with self._lock:
            if self._closed:
                return
            if self._proc is None:
                self._proc = subprocess.Popen(
                    self._argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL, start_new_session=True)
                if self._first:
                    line = self._first + (f"\n{line}" if line else "")
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(line.encode() + b"\n")
                self._proc.stdin.flush()
            except OSError:
                pass

    def dismiss(self) -> None:
        """Tell the watchdog its work is not needed (``q``) and wait for it to go."""
        self.send("q")
        with self._lock:
            self._closed = True
            proc, self._proc = self._proc, None
        if proc is not None:
            try:
                assert proc.stdin is not None
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
