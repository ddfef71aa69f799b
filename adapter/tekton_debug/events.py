"""The vocabulary that runtimes report and front ends show: pauses, releases, outcomes, the events
of a run, and what a paused step looks like from inside.

Runtimes (``runtimes/``) produce these; the session, the pipeline layer, the DAP handlers and the
terminal consume them. Nothing here does I/O, so every layer may import it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, TypeVar, Union

log = logging.getLogger(__name__)

from tekton_debug.python import References


class PauseKind(str, enum.Enum):
    ON_FAILURE = "onFailure"  # the step failed; released with debug-continue / debug-fail-continue
    BEFORE_STEP = "beforeStep"  # the step has not started; debug-beforestep-[fail-]continue
    PYTHON = "python"  # the step's Python is stopped in its script (tekton_debug.python)


class Release(str, enum.Enum):
    CONTINUE = "continue"  # debug-continue, or debug-beforestep-continue before a step
    FAIL_CONTINUE = "failContinue"  # debug-fail-continue, or debug-beforestep-fail-continue


class StepOutcome(str, enum.Enum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"  # a previous step failed and no breakpoint let this one run
    CANCELLED = "cancelled"
    TIMED_OUT = "timedOut"


@dataclass
class DebugPlan:
    """Where the run may pause. The session owns it; the runtime consults it live.

    ``before_steps`` holds step names (``unnamed-<i>`` for unnamed steps). A runtime that can only
    fix breakpoints when the run is created (a cluster) reads it once, at ``start``; the local
    runtime reads it each time a step is about to run, so breakpoints set while running apply.
    """

    on_failure: bool = True
    before_steps: set[str] = field(default_factory=set)
    # One-shot pause before the next step to run (DAP "next"); the runtime clears it when used.
    pause_before_next: bool = False
    # Start no further step: set by "Stop" just before it fail-continues the paused step, so that
    # the steps after it do not start in the moment before the run is cancelled.
    halt: bool = False
    # Steps before this index are not run: shown as skipped, they count as succeeded for the steps
    # after them ("--from-step"; the host and container runtimes).
    start_at: int = 0
    # Python steps (tekton_debug.python): breakpoints inside a Python step's script, as YAML lines
    # by step name, and whether Python's uncaught exceptions stop. The local runtime reads them
    # when a step starts; a step with neither runs as it would without a debugger.
    python_lines: dict[str, set[int]] = field(default_factory=dict)
    python_exceptions: bool = False
    # The references the Python debuggers of the run's steps hand out, and which of them
    # answers for each source reference (the DAP handlers ask it, whichever step is paused).
    python_refs: References = field(default_factory=References)


# ---- events (runtime -> session) -------------------------------------------------------------

@dataclass(frozen=True)
class Progress:
    """Something slow before steps run: waiting for a pod, pulling images. ``done`` ends it."""

    message: str
    done: bool = False


@dataclass(frozen=True)
class Notice:
    """A message for the user that is neither a step's log nor an error of theirs.

    ``level`` is "info", "warning" (e.g. "images are not run locally") or "important" (e.g. "the
    TaskRun times out in 5 minutes")."""

    message: str
    level: str = "info"


@dataclass(frozen=True)
class SecretValues:
    """Values the run's steps get from Secrets (or that are otherwise secret), to be masked
    wherever text reaches the user. A runtime reports them before the first step starts (and
    again if it learns more); the values themselves are never shown."""

    values: frozenset[str]

    def __repr__(self) -> str:  # never the values, not even in a log
        return f"SecretValues({len(self.values)} values)"


@dataclass(frozen=True)
class StepStarted:
    index: int  # 0-based step index


@dataclass(frozen=True)
class StepLog:
    index: int
    stream: str  # "stdout" or "stderr"
    data: bytes  # raw bytes as the step wrote them, in chunks (not necessarily whole lines)


@dataclass(frozen=True)
class StepPaused:
    index: int
    kind: PauseKind
    exit_code: int | None = None  # for ON_FAILURE: the step's real exit code


@dataclass(frozen=True)
class StepResumed:
    index: int
    release: Release


@dataclass(frozen=True)
class StepRetrying:
    """A step paused on failure runs again, as its file defines it now, in its own environment
    (``restartFrame``, ``debug-retry``). Its output follows as StepLog events; then the step is
    released (the retry exited 0) or paused again (StepPaused with the retry's exit code)."""

    index: int


@dataclass(frozen=True)
class StepFinished:
    index: int
    outcome: StepOutcome
    exit_code: int | None = None
    message: str | None = None  # e.g. the termination message or why it was skipped


@dataclass(frozen=True)
class PythonStarted:
    """Step ``index`` runs its Python under a debugger (``tekton_debug.python.debugger``), which
    answers for the step's Python frames, variables and stepping while it is stopped."""

    index: int
    debugger: Any


@dataclass(frozen=True)
class PythonStopped:
    """The Python of step ``index`` stopped in its script (the step keeps running for Tekton)."""

    index: int
    reason: str  # DAP's: "breakpoint", "step", "exception", "pause"...
    lines: tuple[int, ...] = ()  # the YAML lines of the breakpoints hit
    text: str = ""  # for an exception: its type, as debugpy says it


@dataclass(frozen=True)
class PythonResumed:
    index: int


@dataclass(frozen=True)
class PythonUnavailable:
    """Step ``index``'s Python breakpoints cannot be served (``reason``, a sentence for the user);
    the step runs plainly."""

    index: int
    reason: str


@dataclass(frozen=True)
class RunFinished:
    succeeded: bool
    reason: str  # Tekton's condition reason: Succeeded, Failed, TaskRunCancelled, TaskRunTimeout...
    message: str = ""
    # the TaskRun's results (name -> value as written), where the runtime can read them
    results: Mapping[str, str] = field(default_factory=dict)


RuntimeEvent = Union[Progress, Notice, SecretValues, StepStarted, StepLog, StepPaused, StepResumed,
                     StepRetrying, StepFinished, RunFinished, PythonStarted, PythonStopped,
                     PythonResumed, PythonUnavailable]
Listener = Callable[[RuntimeEvent], None]


# ---- exec ------------------------------------------------------------------------------------

#: Bytes of output a runtime keeps from one exec (stdout and stderr together); a command that
#: writes more is stopped and its result marked ``truncated``.
MAX_EXEC_OUTPUT = 1024 * 1024


@dataclass(frozen=True)
class ExecResult:
    exit_code: int  # not the command's own when truncated: it was stopped
    stdout: bytes
    stderr: bytes
    truncated: bool = False  # the output went over MAX_EXEC_OUTPUT: what is here is its start


@dataclass(frozen=True)
class StepEnvironment:
    """What a paused step's shell sees: shown as variables, used by exec and shells."""

    env: Mapping[str, str]  # the step's environment (values from secrets included: mask them)
    secret_env: frozenset[str]  # names of env vars whose values come from secrets
    working_dir: str
    command: Sequence[str]  # the substituted command the step ran (argv)
    container: str  # "step-<name>" / "step-unnamed-<i>"
    results_dir: str  # where $(results.x.path) points, as the step sees it
    workspaces: Mapping[str, str]  # workspace name -> path as the step sees it
    # where the step runs, beyond its container's name (shown with the step): for a container
    # runtime the engine, the image's digest, the engine's container
    details: Mapping[str, str] = field(default_factory=dict)


# ---- pipeline events (pipeline layer -> front ends) --------------------------------------------

@dataclass(frozen=True)
class TaskEvent:
    """An event of the TaskRun of pipeline task ``task`` (its session has applied it already);
    ``task`` is "<task>[<i>]" for combination i of a matrixed task."""

    task: str
    event: RuntimeEvent


@dataclass(frozen=True)
class TaskStarted:
    task: str  # the pipeline task's name; "<task>[<i>]" for combination i of a matrix
    task_run: str  # the TaskRun's name, <pipelinerun>-<task> (-<i> for a combination)
    attempt: int = 0  # retries so far
    params: Mapping[str, str] = field(default_factory=dict)  # a combination's matrix params


@dataclass(frozen=True)
class TaskEnded:
    """A pipeline task ended: ran to its end, or skipped without running; or one combination
    of a matrixed task ("<task>[<i>]") ended, before the task itself."""

    task: str
    status: str  # "succeeded", "failed", "skipped", "cancelled", "timedOut"
    reason: str  # Tekton's: Succeeded, Failed, TaskRunTimeout..., or the skipping reason
    message: str = ""


@dataclass(frozen=True)
class PipelineRunFinished:
    succeeded: bool
    reason: str  # Succeeded, Completed, Failed, Cancelled, PipelineRunTimeout
    message: str = ""
    results: Mapping[str, object] = field(default_factory=dict)


PipelineEvent = Union[TaskEvent, TaskStarted, TaskEnded, PipelineRunFinished, Notice]


E = TypeVar("E")


def guarded(listener: Callable[[E], None]) -> Callable[[E], None]:
    """``listener`` as a run calls it: what it raises (a front end's bug) is logged and goes no
    further, so that it stops neither the run's event flow nor the other front ends."""
    def tell(ev: E) -> None:
        try:
            listener(ev)
        except Exception:
            log.exception("listener failed on %r", ev)
    return tell
