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

References (frame ids, variables references) of a Python stop are numbers from ``REF_BASE`` up,
so the DAP handlers tell them from the step's own frames and scopes at a glance.
"""

from __future__ import annotations

from typing import Any

#: Frame ids and variables references of Python stops start here (the steps' own stay below).
REF_BASE = 1 << 30

#: The exception filter id the DAP server offers for Python's uncaught exceptions.
EXCEPTION_FILTER = "python"


def is_python_ref(value: Any) -> bool:
    """A frame id or variables reference handed out for a Python stop."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= REF_BASE


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
