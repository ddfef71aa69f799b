"""The pipe to a watchdog process: a small process that acts when this one dies (SIGKILL included).

It reads instruction lines from a pipe held by this process; end of input (this process gone) is
its signal to clean up, ``q`` dismisses it. Started on the first line sent, in a session of its
own so that a signal to this process group spares it. The local runtime's watchdog ends step
processes; the container runtime's removes containers and directories.

Runs that overlap (a PipelineRun's TaskRuns) share one watchdog (:class:`SharedWatchdog`): a
process started per TaskRun would cost more than the TaskRun's own step. It stays ``LINGER``
seconds after the last run left, for the runs that follow (a debugging session runs one after
another); told to forget what the runs left it (a group whose number may be reused soon), it has
nothing to do then, and ends with this process at the latest.
"""

from __future__ import annotations

import os
import subprocess
import threading
from typing import Sequence

from tekton_debug.runtimes.timers import TIMERS, Deadline

LINGER = 10.0  # seconds a shared watchdog waits for another run after the last one left


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


class SharedWatchdog:
    """One watchdog process for the runs of this process that overlap: started with the first
    run that joins; when the last one leaves, it is told ``reset`` (forget every run's
    instructions) and dismissed ``LINGER`` seconds later unless another run joins meanwhile (a
    later run starts another)."""

    def __init__(self, argv: Sequence[str], reset: str) -> None:
        self._argv = list(argv)
        self._reset = reset
        self._lock = threading.Lock()
        self._pipe: WatchdogPipe | None = None
        self._users = 0
        self._pid = 0  # the process the watchdog serves (a forked child starts its own)
        self._idle: Deadline | None = None  # when the watchdog goes, no run having joined

    def join(self, first: str) -> WatchdogPipe:
        """Count one more user, and send it ``first`` (its instructions) before returning."""
        with self._lock:
            if self._pipe is None or self._pid != os.getpid():
                self._pipe, self._pid, self._users = WatchdogPipe(self._argv), os.getpid(), 0
            self._users += 1
            if self._idle is not None:
                self._idle.cancel()
                self._idle = None
            pipe = self._pipe
            pipe.send(first)  # under the lock: the pipe cannot be dismissed before it arrives
        return pipe

    def leave(self, pipe: WatchdogPipe, last: str = "") -> None:
        """Send ``last`` (what the watchdog should forget), then count one user less; after the
        last one, the watchdog forgets everything and goes ``LINGER`` seconds later, unless
        another joins."""
        with self._lock:
            if last:
                pipe.send(last)
            if pipe is not self._pipe:
                return
            self._users -= 1
            if self._users > 0:
                return
            pipe.send(self._reset)  # nothing of a run is left to act on, should this process die
            if self._idle is not None:
                self._idle.cancel()
            self._idle = TIMERS.call_later(LINGER, lambda: self._dismiss(pipe),
                                           name="watchdog-idle")

    def _dismiss(self, pipe: WatchdogPipe) -> None:
        with self._lock:
            if pipe is not self._pipe or self._users > 0:
                return
            self._pipe, self._idle = None, None
        pipe.dismiss()
