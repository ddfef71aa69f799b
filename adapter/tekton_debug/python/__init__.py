"""Python steps at source level: the adapter as debugpy's client inside a step whose script is
Python.

- ``script``: which steps are Python, and the map between lines of the Task YAML and lines of the
  script file the step really runs (it survives ``$(params.x)`` substitution that adds lines).
- ``debugpy_cli``: the one module that knows how debugpy is found, started and which Pythons it
  supports (its documented command line; nothing private).
- ``debugger``: the DAP client of debugpy inside one step: breakpoints, stops, frames, variables,
  evaluate and stepping, translated to the Task YAML's lines and to ids of the adapter's own.
- ``host``: starting a Python step under debugpy on this host (the local runtime).
- ``container``: the same in a step's container (the container runtime): debugpy mounted into
  it, its Python checked, and a relay back to the adapter that needs no network.

References (frame ids, variables references, source references) of Python steps are numbers
from ``REF_BASE`` up, so the DAP handlers tell them from the step's own frames and scopes at a
glance. They come from one counter for the whole process (``References``): a number never names
two things, whichever step, retry or run handed it out.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any

from tekton_debug.errors import UserError

#: Python references (frames, variables, sources) start here (the steps' own stay below).
REF_BASE = 1 << 30

#: The exception filter id the DAP server offers for Python's uncaught exceptions.
EXCEPTION_FILTER = "python"


def is_python_ref(value: Any) -> bool:
    """A frame id, variables reference or source reference handed out for a Python step."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= REF_BASE


#: Every Python reference of this process (``next`` on it is atomic).
_NUMBERS = itertools.count(REF_BASE)


class References:
    """The Python references of one run (its plan holds them): new numbers for every debugger of
    its steps and retries, and which debugger answers for each source reference, for the run's
    life (an editor may ask for a file's text again long after the frame that showed it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sources: dict[int, Any] = {}  # source reference -> its debugger

    @staticmethod
    def new() -> int:
        """A number no other Python reference has."""
        return next(_NUMBERS)

    def new_source(self, debugger: Any) -> int:
        """A source reference whose text ``debugger`` serves (``source_text``)."""
        ref = self.new()
        with self._lock:
            self._sources[ref] = debugger
        return ref

    def source_text(self, ref: int) -> str:
        """The text behind source reference ``ref``, from the debugger that handed it out.
        Raises UserError."""
        with self._lock:
            debugger = self._sources.get(ref)
        if debugger is None:
            raise UserError(f"unknown source reference {ref!r}")
        return debugger.source_text(ref)


def unsupported(runtime: str) -> str | None:
    """Why Python breakpoints cannot be served on ``runtime``; None where they can."""
    if runtime == "kubernetes":
        return ("on a cluster the step's pod would need debugpy before it starts (a volume "
                "holding it, the step's command run under debugpy, and a way from the pod back "
                "to the adapter, such as a port-forward), which this version does not set up; "
                "the line pauses nothing there. Run the Task with the local or the container "
                "runtime to stop in its Python")
    return None


#: Thread ids of a step's other Python threads: (step index + 1) * THREAD_STRIDE + debugpy's id
#: (the thread that stopped shows as the step's own thread, id = step index + 1).
THREAD_STRIDE = 100_000


def thread_id(index: int, python_thread: int) -> int:
    return (index + 1) * THREAD_STRIDE + python_thread


def split_thread(value: Any) -> tuple[int, int] | None:
    """(step index, debugpy's thread id) of a Python thread's id; None for other ids."""
    if not isinstance(value, int) or isinstance(value, bool) or value < THREAD_STRIDE:
        return None
    return value // THREAD_STRIDE - 1, value % THREAD_STRIDE
