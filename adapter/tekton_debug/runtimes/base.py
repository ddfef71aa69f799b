"""The Runtime interface: what the session asks of wherever steps really run.

A runtime runs one TaskRun with breakpoints and reports what happens as events, in order, through a
single listener callable. It never knows about DAP or the terminal; the session never knows which
runtime it drives. Two implementations: ``runtimes.local`` (processes on this host) and
``runtimes.kubernetes`` (TaskRuns on a cluster).

Threading: ``start`` returns at once; events are delivered on the runtime's own threads, one at a
time and in order (a runtime serialises its listener calls). Every other method may be called from
any thread and blocks until done.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence, Union

from tekton_debug.tekton.model import TaskRun


class PauseKind(str, enum.Enum):
    ON_FAILURE = "onFailure"  # the step failed; released with debug-continue / debug-fail-continue
    BEFORE_STEP = "beforeStep"  # the step has not started; debug-beforestep-[fail-]continue


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
class StepFinished:
    index: int
    outcome: StepOutcome
    exit_code: int | None = None
    message: str | None = None  # e.g. the termination message or why it was skipped


@dataclass(frozen=True)
class RunFinished:
    succeeded: bool
    reason: str  # Tekton's condition reason: Succeeded, Failed, TaskRunCancelled, TaskRunTimeout...
    message: str = ""


RuntimeEvent = Union[Progress, Notice, StepStarted, StepLog, StepPaused, StepResumed,
                     StepFinished, RunFinished]
Listener = Callable[[RuntimeEvent], None]


# ---- exec ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    stdout: bytes
    stderr: bytes


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


class Runtime(Protocol):
    name: str  # "local" or "kubernetes"

    def start(self, run: TaskRun, plan: DebugPlan, listener: Listener) -> None:
        """Create and start the run. Raises UserError (bad input, no permission) before any event."""

    def attach(self, task_run: str, plan: DebugPlan, listener: Listener) -> TaskRun:
        """Connect to an existing TaskRun by name and report its state as events (a step already
        paused is reported with StepPaused at once). Returns the TaskRun as the model sees it.
        Raises UserError where the runtime cannot attach (the local runtime's runs live inside the
        process that launched them)."""

    def deadline(self) -> float | None:
        """When the TaskRun times out (a ``time.time()`` value), or None when it has no timeout.
        It keeps running while a step is paused."""

    def step_environment(self, index: int) -> StepEnvironment:
        """The environment of step ``index`` (any step that has started or is paused before)."""

    def exec(self, index: int, argv: Sequence[str], *, stdin: bytes | None = None,
             timeout: float | None = 30.0) -> ExecResult:
        """Run ``argv`` in step ``index``'s environment (its container on a cluster)."""

    def shell_command(self, index: int) -> list[str]:
        """An argv that opens an interactive shell in step ``index`` from a user's terminal."""

    def release(self, index: int, release: Release) -> None:
        """End the pause of step ``index`` by running the matching debug script in it.

        Raises WrongTime when the step is not paused, UserError when the script fails."""

    def cancel(self, reason: str = "TaskRunCancelled") -> None:
        """Stop the run: running and waiting steps end, a RunFinished event follows."""

    def close(self) -> None:
        """Release every resource; leaves no process behind. Idempotent."""


@dataclass(frozen=True)
class LaunchOptions:
    """What the user asked for, shared by the CLI and the DAP launch request."""

    task_file: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    workspaces: Mapping[str, str] = field(default_factory=dict)  # name -> host dir
    runtime: str = "local"
    namespace: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    timeout: str | None = None  # a Go duration ("1h", "30m", "0s" for none)
    task_run: str | None = None  # attach: an existing TaskRun's name
    secrets: tuple[str, ...] = ()  # params and env vars whose values are masked, as from Secrets
