"""One thread for the deadlines of every run of this process (a heap of them), instead of a
``threading.Timer`` thread started and cancelled for each: a PipelineRun's twenty TaskRuns would
start twenty threads, each taking the interpreter lock from the steps' start for a moment, to set
timeouts that almost never expire.

A deadline's function runs on a thread of its own (it may wait, as a run's cancel does, and the
others' deadlines must not wait for it), or, when no thread can be started (a fork bomb in a step
reached the process limit: exactly when timeouts matter), on the timer thread itself. A deadline
cancelled after it was taken from the heap, before its function began, does not run. The timer
thread ends once no deadline has been waiting for ``IDLE`` seconds; one that could not be started
is started by the next deadline set.
"""

from __future__ import annotations

import heapq
import itertools
import os
import sys
import threading
import time
from typing import Callable

IDLE = 1.0  # seconds the timer thread waits for a new deadline before it ends


class Deadline:
    """A function to call at a time (``time.monotonic``), unless cancelled first."""

    def __init__(self, when: float, function: Callable[[], None], name: str,
                 timers: "Timers | None" = None) -> None:
        self.when = when
        self.function = function
        self.name = name
        self.cancelled = False
        self._timers = timers

    def cancel(self) -> None:
        self.cancelled = True
        if self._timers is not None:
            self._timers._discard(self)


class Timers:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._heap: list[tuple[float, int, Deadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._pid = 0  # the process the thread runs in (a forked child starts its own)

    def call_later(self, delay: float, function: Callable[[], None], *,
                   name: str = "deadline") -> Deadline:
        """Call ``function`` in ``delay`` seconds (on a thread named ``name``)."""
        deadline = Deadline(time.monotonic() + max(0.0, delay), function, name, self)
        with self._lock:
            heapq.heappush(self._heap, (deadline.when, next(self._order), deadline))
            if self._heap[0][2] is deadline:
                self._wake.notify()
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="timers", daemon=True)
                try:
                    self._thread.start()
                except RuntimeError:  # no thread to be had now: the next deadline tries again
                    self._thread = None
        return deadline

    def _discard(self, deadline: Deadline) -> None:
        """Forget a cancelled deadline now (a TaskRun's is an hour away): the thread can end."""
        with self._lock:
            heap = self._heap
            if heap and heap[0][2] is deadline:
                heapq.heappop(heap)
                self._wake.notify()  # the next due changed: the thread waits for another time
                return
            for i, entry in enumerate(heap):
                if entry[2] is deadline:  # not the next due: the thread sleeps on undisturbed
                    last = heap.pop()
                    if i < len(heap):
                        heap[i] = last
                        heapq.heapify(heap)
                    return

    def _run(self) -> None:
        try:
            self._loop()
        finally:  # however it ends, the next deadline starts another
            with self._lock:
                if self._thread is threading.current_thread():
                    self._thread = None

    def _loop(self) -> None:
        while True:
            with self._lock:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    if not self._wake.wait(IDLE) and not self._heap:
                        self._thread = None
                        return
                    continue
                when, _, deadline = self._heap[0]
                now = time.monotonic()
                if when > now:
                    # capped: Go's longest durations are past what a wait takes
                    self._wake.wait(min(when - now, threading.TIMEOUT_MAX))
                    continue
                heapq.heappop(self._heap)
            try:
                threading.Thread(target=_fire, args=(deadline,), name=deadline.name,
                                 daemon=True).start()
            except RuntimeError:  # no new thread now: run it here, the others after it
                try:
                    _fire(deadline)
                except Exception:
                    threading.excepthook(threading.ExceptHookArgs(
                        (*sys.exc_info(), threading.current_thread())))


def _fire(deadline: Deadline) -> None:
    if not deadline.cancelled:  # cancelled since it was taken from the heap: it does not run
        deadline.function()


TIMERS = Timers()
