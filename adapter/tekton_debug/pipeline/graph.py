"""The rules of a PipelineRun's graph, as Tekton's pipelinerun reconciler applies them; no I/O.

- ``decide(task, states, ctx)``: for a task whose dependencies have all ended, run it or skip it
  (and why: Tekton's skipping reasons);
- ``when_holds``: ``in`` / ``notin`` on substituted inputs and values;
- ``aggregate_status``: ``$(tasks.status)`` for finally tasks;
- ``pipeline_outcome``: the PipelineRun's condition (Succeeded, Completed, Failed, Cancelled,
  PipelineRunTimeout) and Tekton's "Tasks Completed: ..." message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from tekton_debug.tekton.model import ParamValue
from tekton_debug.tekton.pipeline import PipelineTask, WhenExpression

# Tekton's skipping reasons (pkg/apis/pipeline/v1/pipelinerun_types.go, TEP-0103)
WHEN_SKIP = "When Expressions evaluated to false"
PARENT_SKIP = "Parent Tasks were skipped"
STOPPING_SKIP = "PipelineRun was stopping"
GRACEFULLY_CANCELLED_SKIP = "PipelineRun was gracefully cancelled"
MISSING_RESULTS_SKIP = "Results were missing"
PIPELINE_TIMEOUT_SKIP = "PipelineRun timeout has been reached"
TASKS_TIMEOUT_SKIP = "PipelineRun Tasks timeout has been reached"
FINALLY_TIMEOUT_SKIP = "PipelineRun Finally timeout has been reached"

ENDED = ("succeeded", "failed", "skipped", "cancelled", "timedOut")


def task_status(succeeded: bool | None, reason: str) -> str:
    """A TaskRun's status in a PipelineRun from its outcome (None: still running) and reason."""
    if succeeded is None:
        return "running"
    if succeeded:
        return "succeeded"
    return {"TaskRunCancelled": "cancelled", "TaskRunTimeout": "timedOut"}.get(reason, "failed")


@dataclass
class TaskState:
    """What the pipeline knows of one pipeline task, or of one combination of a matrixed one
    (a TaskRun of its own: ``index``, ``params``, ``parent``)."""

    task: PipelineTask
    status: str = "waiting"  # waiting, running, then one of ENDED
    reason: str = ""  # Tekton's reason (the skipping reason for a skipped task)
    message: str = ""
    attempt: int = 0  # retries so far
    results: dict[str, ParamValue] = field(default_factory=dict)
    failure_ignored: bool = False  # failed with the pipeline task's onError: continue
    started_at: float | None = None
    finished_at: float | None = None
    index: int | None = None  # a matrix combination's index
    params: dict[str, str] = field(default_factory=dict)  # a matrix combination's params
    parent: TaskState | None = field(default=None, repr=False)  # a combination's pipeline task
    children: list[TaskState] = field(default_factory=list)  # a matrixed task's combinations
    task_run: str = ""  # the TaskRun's name, once it started

    @property
    def name(self) -> str:
        return self.task.name

    @property
    def key(self) -> str:
        """What names this TaskRun to the front ends: the pipeline task's name, ``name[i]`` for
        a matrix combination."""
        return self.name if self.index is None else f"{self.name}[{self.index}]"

    @property
    def units(self) -> list[TaskState]:
        """The states of this task's TaskRuns: its combinations once fanned out, else itself."""
        return self.children or [self]

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def execution_status(self) -> str:
        """``$(tasks.<name>.status)``: Succeeded, Failed or None (skipped or not run)."""
        if self.status == "succeeded":
            return "Succeeded"
        if self.status in ("failed", "cancelled", "timedOut"):
            return "Failed"
        return "None"

    @property
    def duration(self) -> float | None:
        if self.started_at is None or self.finished_at is None:
            return None
        return self.finished_at - self.started_at


def decide(task: PipelineTask, states: Mapping[str, TaskState],
           when: list[tuple[WhenExpression, str, list[str]]] | None) -> str | None:
    """None to run the task, or the reason it is skipped. Its dependencies have all ended.

    ``when`` holds its expressions with input and values substituted (None when a reference in
    them could not be resolved: a result that is missing); a CEL expression's input is what it
    gave ("true" or "false"), its values ``["true"]``."""
    for dep in task.dependencies:
        parent = states.get(dep)
        # when-expressions guard the task only (TEP-0059): a task ordered after a task skipped
        # by its when-expressions still runs; any other skip is passed down
        if parent is not None and parent.status == "skipped" and parent.reason != WHEN_SKIP \
                and not task.is_finally:
            return PARENT_SKIP
    for ref in task.references:
        if ref.what != "results":
            continue
        parent = states.get(ref.task)
        if parent is None or ref.result not in parent.results:
            return MISSING_RESULTS_SKIP
    if when is None:
        return MISSING_RESULTS_SKIP
    if not all(when_holds(w.operator if w.cel is None else "in", value, values)
               for w, value, values in when):
        return WHEN_SKIP
    return None


def when_holds(operator: str, value: str, values: list[str]) -> bool:
    return (value in values) if operator == "in" else (value not in values)


def matrix_outcome(children: list[TaskState]) -> tuple[str, str, str, dict[str, list[str]]]:
    """(status, reason, message, results) of a matrixed task once all its TaskRuns ended: it
    succeeded when every one did, else it takes the first failure's reason. Each string
    result is gathered into an array of every TaskRun's value, ordered by TaskRun name, as
    Tekton orders them."""
    failed = [c for c in children if c.status != "succeeded"]
    results: dict[str, list[str]] = {}
    for c in sorted(children, key=lambda c: c.task_run):
        for name, value in c.results.items():
            if isinstance(value, str):
                results.setdefault(name, []).append(value)
    if not failed:
        return "succeeded", "Succeeded", f"All {len(children)} TaskRuns succeeded", results
    order = ("failed", "timedOut", "cancelled")
    worst = min((c.status for c in failed), key=lambda s: order.index(s) if s in order else 3)
    first = failed[0]
    return worst, first.reason, (f"{len(failed)} of {len(children)} TaskRuns did not succeed; "
                                 f"{first.key}: {first.message or first.reason}"), results


def aggregate_status(states: list[TaskState]) -> str:
    """``$(tasks.status)``: Failed (one failed), Completed (all succeeded, one or more skipped),
    Succeeded (all succeeded), None (some did not end)."""
    if any(s.status in ("failed", "cancelled", "timedOut") and not s.failure_ignored
           for s in states):
        return "Failed"
    if any(not s.ended for s in states):
        return "None"
    if any(s.status == "skipped" for s in states):
        return "Completed"
    return "Succeeded"


def pipeline_outcome(states: list[TaskState], stopped: str | None) -> tuple[bool, str, str]:
    """(succeeded, reason, message) of the PipelineRun once every task has ended. ``stopped`` is
    "Cancelled" or "PipelineRunTimeout" when the run was stopped so."""
    failed = sum(1 for s in states if s.status in ("failed", "timedOut") and not s.failure_ignored)
    ignored = sum(1 for s in states if s.failure_ignored)
    cancelled = sum(1 for s in states if s.status == "cancelled")
    skipped = sum(1 for s in states if s.status == "skipped")
    completed = sum(1 for s in states if s.status in ("succeeded", "failed", "timedOut",
                                                      "cancelled"))
    message = (f"Tasks Completed: {completed} (Failed: {failed}, Cancelled {cancelled}), "
               f"Skipped: {skipped}")
    if ignored:
        message += f" ({ignored} failure{'s' if ignored > 1 else ''} ignored: onError continue)"
    if stopped == "PipelineRunTimeout":
        return False, stopped, message
    if stopped:
        return False, "Cancelled", message
    if failed or cancelled:
        return False, "Failed", message
    if skipped:
        return True, "Completed", message
    return True, "Succeeded", message
