"""The Runtime interface: what the session asks of wherever steps really run.

A runtime runs one TaskRun with breakpoints and reports what happens as events, in order, through a
single listener callable. It never knows about DAP or the terminal; the session never knows which
runtime it drives. The events it reports are the vocabulary of ``tekton_debug.events``. Implementations:
``runtimes.local`` (processes on this host), ``runtimes.container`` (each step in its image, on
podman or docker) and ``runtimes.kubernetes`` (TaskRuns on a cluster).

Threading: ``start`` returns at once; events are delivered on the runtime's own threads, one at a
time and in order (a runtime serialises its listener calls). Every other method may be called from
any thread and blocks until done.
"""

from __future__ import annotations

from typing import Protocol, Sequence

from tekton_debug.events import DebugPlan, ExecResult, Listener, Release, StepEnvironment
from tekton_debug.tekton.model import TaskRun


class Runtime(Protocol):
    name: str  # "local", "container" or "kubernetes"

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

    def rerun(self, index: int, run: TaskRun) -> int:
        """Run step ``index`` of ``run`` (the Task as its file is now, substituted as for this
        TaskRun) in the environment of step ``index``, which is paused on failure: the same
        container, working directory, params, results and workspaces. Its output is reported as
        StepLog events; a non-zero exit is reported as StepPaused again, with that exit code. The
        step stays paused either way: the caller releases it. Returns the exit code.

        Raises WrongTime when the step is not paused on failure or is being retried already."""

    def cancel(self, reason: str = "TaskRunCancelled") -> None:
        """Stop the run: running and waiting steps end, a RunFinished event follows."""

    def close(self) -> None:
        """Release every resource; leaves no process behind. Idempotent."""
