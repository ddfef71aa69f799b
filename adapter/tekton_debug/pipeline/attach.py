"""Attaching to a PipelineRun that tekton-debug runs on a cluster, from another process.

No PipelineRun object exists there: its TaskRuns carry a group label with the run's id (and
Tekton's ``tekton.dev/pipelineRun`` label with its name). ``AttachedPipelineRun`` lists them, shows
their states, and attaches one session (``Session.attach``) to each TaskRun still running, so that
a paused step can be inspected and released from here, as a front end does for a launched
PipelineRun: it offers the same surface as ``PipelineSession`` (``sessions``, ``session_of``,
``paused``, ``states``, ``run``...), so the terminal and the DAP handlers serve both.

What it does not do: the process that runs the pipeline decides what starts next; the TaskRuns it
creates after the attach are not followed (attach again to see them). Leaving (Stop, disconnect,
Ctrl-C) leaves every TaskRun as it is.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Callable

from tekton_debug.errors import UserError
from tekton_debug.events import (Notice, PipelineEvent, PipelineRunFinished, RunFinished,
                                 TaskEnded, TaskEvent, TaskStarted, guarded)
from tekton_debug.options import LaunchOptions
from tekton_debug.pipeline.graph import TaskState, task_status
from tekton_debug.pipeline.run import PipelinePlan
from tekton_debug.session.masking import Masker
from tekton_debug.session.session import RuntimeFactory, Session
from tekton_debug.tekton.model import TaskSpec
from tekton_debug.tekton.pipeline import Pipeline, PipelineRun, PipelineTask


def member_state(member) -> str:
    """A TaskRun's state as an attach lists it (``member``: a ``GroupMember``): "Running (retry
    1), step build paused (onFailure)"."""
    state = member.status + (f" (retry {member.attempt})" if member.attempt else "")
    if member.paused_step:
        state += f", step {member.paused_step} paused ({member.paused_reason or 'onFailure'})"
    return state


class AttachedPipelineRun:
    """The running TaskRuns of a PipelineRun on a cluster, attached to by its id or name
    (``options.pipeline_run``). Thread-safe; events reach ``listener`` on the sessions' threads."""

    attached = True
    cancelling = False

    def __init__(self, options: LaunchOptions, listener: Callable[[PipelineEvent], None], *,
                 runtime_factory: RuntimeFactory | None = None) -> None:
        self.options = options
        self._tell = guarded(listener)
        self._runtime_factory = runtime_factory
        self.plan = PipelinePlan()  # where TaskRuns pause is fixed on the cluster already
        self.masker = Masker()
        self.group = None  # runtimes.kubernetes.group.Group, once loaded
        self.run: PipelineRun | None = None
        self.uid = ""
        self.states: dict[str, TaskState] = {}
        self.sessions: dict[str, Session] = {}
        self.finished: PipelineRunFinished | None = None
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._started = False
        self._members: list = []  # the latest TaskRun of each pipeline task (GroupMember)

    def load(self) -> PipelineRun:
        """Find the run's TaskRuns. Raises UserError when none carries the id or name given."""
        from tekton_debug.runtimes import pipeline_group

        wanted = self.options.pipeline_run or ""
        group = self.group = pipeline_group(self.options, wanted)
        self.uid = group.uid
        # a retried task (or combination) has several TaskRuns: its latest one stands for it
        latest: dict = {}
        for m in group.members:  # oldest first
            if m.key not in latest or m.attempt >= latest[m.key].attempt:
                latest[m.key] = m
        first: dict[str, int] = {}
        for i, m in enumerate(group.members):
            first.setdefault(m.task, i)
        self._members = sorted(latest.values(), key=lambda m: (first[m.task], m.index or 0))
        tasks = {m.task: PipelineTask(name=m.task, task=TaskSpec(steps=[]),
                                      is_finally=m.is_finally) for m in self._members}
        self.run = PipelineRun(name=group.pipeline_run, namespace=group.namespace,
                               pipeline=Pipeline(
                                   name=group.pipeline,
                                   tasks=[t for t in tasks.values() if not t.is_finally],
                                   finally_tasks=[t for t in tasks.values() if t.is_finally]))
        for m in self._members:
            self.states[m.key] = TaskState(tasks[m.task], status=task_status(
                m.succeeded, m.status) if m.finished else "running", reason=m.status,
                attempt=m.attempt, started_at=m.started_at, finished_at=m.finished_at,
                index=m.index, task_run=m.task_run)
        return self.run

    @property
    def following(self) -> list[str]:
        """The tasks whose TaskRuns are attached to (those still running when listed)."""
        return [m.key for m in self._members if not m.finished]

    @property
    def following_note(self) -> str:
        """What an attach says it follows, once its TaskRuns are listed."""
        following = self.following
        if not following:
            return "None of its TaskRuns is running: nothing to attach to"
        return ("Attaching to the TaskRuns still running: " + ", ".join(following)
                + " (TaskRuns the run creates later are not followed)")

    def start(self) -> None:
        """Attach to every TaskRun still running; a paused step is reported at once."""
        with self._lock:
            if self.group is None:
                self.load()
            if self._started:
                raise UserError("already attached to this PipelineRun")
            self._started = True
        members = [m for m in self._members if not m.finished]
        for m in members:
            options = dataclasses.replace(self.options, task_file=None, task_run=m.task_run,
                                          pipeline_run=None, params={}, workspaces={})
            session = Session(options, lambda ev, t=m.key: self._on_event(t, ev),
                              runtime_factory=self._runtime_factory, masker=self.masker)
            with self._lock:
                self.sessions[m.key] = session
            self._tell(TaskStarted(m.key, m.task_run, m.attempt))
            try:
                model = session.attach()
            except UserError as exc:
                self._tell(Notice(f"task {m.key}: could not attach to TaskRun {m.task_run}: "
                                  f"{exc.first.message}", "warning"))
                self._ended(m.key, RunFinished(False, "NotAttached", exc.first.message))
                continue
            st = self.states[m.key]
            st.task.task = model.task
        if not members:
            self._finish()

    def _on_event(self, task: str, ev) -> None:
        self._tell(TaskEvent(task, ev))
        if isinstance(ev, RunFinished):
            self._ended(task, ev)

    def _ended(self, task: str, ev: RunFinished) -> None:
        with self._lock:
            st = self.states[task]
            if st.status != "running":
                return
            st.status, st.reason, st.message = task_status(ev.succeeded, ev.reason), ev.reason, \
                ev.message
            st.finished_at = time.time()
            done = all(self.states[t].status != "running" for t in self.following)
        self._tell(TaskEnded(task, st.status, st.reason, st.message))
        if done:
            self._finish()

    def _finish(self) -> None:
        with self._lock:
            if self.finished is not None:
                return
            states = list(self.states.values())
            ok = all(s.status == "succeeded" for s in states)
            self.finished = PipelineRunFinished(
                ok, "Succeeded" if ok else "Failed",
                (f"the TaskRuns attached to have ended ({', '.join(self.following)}); "
                 if self.following else "no TaskRun was running; ")
                + "TaskRuns the run creates later are not followed here (attach again to see "
                  "them)")
        self._tell(self.finished)
        self._done.set()

    # ---- what front ends call, as on a PipelineSession -----------------------------------------

    @property
    def units(self) -> dict[str, TaskState]:
        """Each TaskRun's state by its key (``TaskState.key``): a pipeline task's, or each
        combination's of a matrixed one (``task[i]``); the latest attempt of a retried one."""
        return self.states

    def rows(self) -> list[TaskState]:
        with self._lock:
            return list(self.states.values())

    def session_of(self, task: str) -> Session:
        """The session of ``task``'s TaskRun. Raises UserError."""
        with self._lock:
            session = self.sessions.get(task)
        if session is None:
            if task not in self.states:
                raise UserError(f"the PipelineRun has no task {task!r}",
                                fix="use one of: " + ", ".join(self.states))
            raise UserError(f"task {task!r} is not attached to: its TaskRun had ended "
                            f"({self.states[task].reason})")
        return session

    def paused(self) -> list[tuple[str, Session, int]]:
        """Every paused step: (task, its session, step index)."""
        with self._lock:
            sessions = [(t, self.sessions.get(t)) for t in self.states]
        return [(t, s, s.paused.index) for t, s in sessions
                if s is not None and s.paused is not None]

    def update_breakpoints(self) -> None:
        """Nothing to push: the TaskRuns' breakpoints were fixed when they were created."""

    def terminate(self) -> None:
        """Leave: every TaskRun goes on as it is (it belongs to the process that runs the
        pipeline)."""
        self.close()
        self._finish()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def close(self) -> None:
        with self._lock:
            sessions = list(self.sessions.values())
        for s in sessions:
            s.close(terminate=False)
