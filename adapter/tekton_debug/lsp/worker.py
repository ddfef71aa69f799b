"""Analyses run here, off the language server's event loop, so that the server answers while a
large document is analysed; so do the requests that read other files (a ``taskRef`` followed into
the YAML files next to the document).

The threads are daemons: the server's exit never waits for an analysis still running (a
``concurrent.futures`` pool, pygls' included, is joined when the interpreter exits). An analysis
is pure Python, so the threads share the interpreter lock with the loop; the loop still gets its
turn every few milliseconds, which is all a hover or a completion needs.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from typing import Any, Callable

#: Analyses at once: one large document does not hold up the analysis of a small one.
THREADS = 2


class Superseded(Exception):
    """The job was dropped before it ran (a newer text of the document is analysed instead)."""


class Job:
    """A call submitted to the :class:`Worker`: ``future`` is awaited on the submitting loop."""

    def __init__(self, future: asyncio.Future, fn: Callable[..., Any], args: tuple) -> None:
        self.future = future
        self.fn = fn
        self.args = args
        self.dropped = False

    def drop(self) -> None:
        """Not to be run if it has not started; its future then fails with Superseded. (A job
        already running ends; whoever awaits it decides whether the result is still wanted.)"""
        self.dropped = True


class Worker:
    """Runs functions on daemon threads."""

    def __init__(self, threads: int = THREADS, name: str = "analysis") -> None:
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._count = threads
        self._name = name
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Job:
        loop = asyncio.get_running_loop()
        job = Job(loop.create_future(), fn, args)
        with self._lock:
            if not self._threads:
                self._threads = [threading.Thread(target=self._run, name=f"{self._name} {n}",
                                                  daemon=True) for n in range(self._count)]
                for thread in self._threads:
                    thread.start()
        self._jobs.put((loop, job))
        return job

    def _run(self) -> None:
        while True:
            loop, job = self._jobs.get()
            if job.dropped:
                result, error = None, Superseded()
            else:
                try:
                    result, error = job.fn(*job.args), None
                except Exception as exc:  # noqa: BLE001 - handed to the awaiting coroutine
                    result, error = None, exc
            try:
                loop.call_soon_threadsafe(_settle, job.future, result, error)
            except RuntimeError:  # the loop is closed: the server is exiting
                return


def _settle(future: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
