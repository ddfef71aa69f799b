"""Step ends before step output: a pause must reach the front end while other TaskRuns of the
process relay output at full speed.

Every runtime relays output on its own threads, all sharing one interpreter lock: with ten
TaskRuns logging, the thread that turns a step's exit into an event waits for the lock behind
twenty busy threads at each system call (the lock is not handed over in any order). While a
step's end is on its way (``urgent``), the output of the other runs waits, at most
``MAX_WAIT`` seconds per chunk, so a stream of output can neither starve an end nor be held up
by one for long.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

MAX_WAIT = 0.05  # seconds a chunk of output waits for ends under way


class Urgency:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0
        self._clear = threading.Event()
        self._clear.set()
        self._local = threading.local()

    def begin(self) -> None:
        with self._lock:
            self._count += 1
            self._clear.clear()

    def end(self) -> None:
        with self._lock:
            self._count = max(0, self._count - 1)
            if self._count == 0:
                self._clear.set()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Urgent work on this thread (whose own output does not give way meanwhile)."""
        self.begin()
        self._local.urgent = True
        try:
            yield
        finally:
            self._local.urgent = False
            self.end()

    def give_way(self) -> None:
        """Output: wait (briefly) while an end is on its way."""
        if not self._clear.is_set() and not getattr(self._local, "urgent", False):
            self._clear.wait(MAX_WAIT)


URGENCY = Urgency()
