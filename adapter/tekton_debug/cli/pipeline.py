"""`tekton-debug run pipeline.yaml`: a PipelineRun from the terminal.

Every TaskRun's log lines are prefixed ``[task/step]`` (``[task[i]/step]`` for combination i of a
matrixed task, whose params are shown when it starts). A failed step pauses only its TaskRun: the
shell opens in that step while the other tasks go on (their output keeps coming, prefixed); a step
that pauses meanwhile is announced and queued, and its shell opens when the first one closes. At
the end, a table of the TaskRuns (status, duration, reason) and the exit status: 0 when the
PipelineRun Succeeded or Completed, 1 otherwise.
"""

from __future__ import annotations

import os
import queue
import time
from typing import Sequence

from tekton_debug.cli import endings
from tekton_debug.cli.run import (RETRY_LINE, EndsOnSignal, Printer, StepShell, _Ending,
                                  shell_until_decided)
from tekton_debug.errors import UserError, WrongTime
from tekton_debug.events import (
    Notice, PauseKind, PipelineRunFinished, Progress, Release, StepFinished, StepLog,
    StepOutcome, StepPaused, StepResumed, StepStarted, TaskEnded, TaskEvent, TaskStarted,
)
from tekton_debug.options import LaunchOptions
from tekton_debug.pipeline.attach import AttachedPipelineRun, member_state
from tekton_debug.pipeline.run import PipelineSession
from tekton_debug.tekton.matrix import combination
from tekton_debug.tekton.model import shown
from tekton_debug.tekton.pipeline import GROUP_LABEL

_MARKS = {"succeeded": "✓", "failed": "✗", "skipped": "-", "cancelled": "✗", "timedOut": "✗"}


class TerminalPipelineRun(EndsOnSignal):
    """One `tekton-debug run` of a Pipeline or PipelineRun file."""

    def __init__(self, options: LaunchOptions, *, on_failure: str, break_before: Sequence[str],
                 printer: Printer, stdin_is_tty: bool) -> None:
        self.options = options
        self.on_failure = on_failure
        self.break_before = list(break_before)
        self.printer = printer
        self.tty = stdin_is_tty
        self.events: queue.Queue = queue.Queue()
        self.pipeline = self._pipeline(options)
        printer.mask = self.pipeline.masker.mask
        self.shell = StepShell(stdin_is_tty)
        self._ending: int | None = None  # the signal that ends the run

    def _pipeline(self, options: LaunchOptions):
        return PipelineSession(options, self._on_event)

    # ---- events (runtime and scheduler threads) ------------------------------------------------

    def _on_event(self, ev) -> None:
        p = self.printer
        if isinstance(ev, TaskEvent):
            self._task_event(ev.task, ev.event)
        elif isinstance(ev, TaskStarted):
            again = f" (retry {ev.attempt})" if ev.attempt else ""
            p.header(f"▶ task {ev.task}{again}: TaskRun {ev.task_run}{combination(ev.params)}")
        elif isinstance(ev, TaskEnded):
            mark = _MARKS.get(ev.status, "?")
            text = f"{mark} task {ev.task} {ev.status}" + (
                f": {ev.reason}" if ev.status == "skipped" else
                f" ({ev.message})" if ev.status != "succeeded" and ev.message else "")
            {"succeeded": p.good, "skipped": p.line}.get(ev.status, p.bad)(text)
        elif isinstance(ev, Notice):
            (p.warn if ev.level != "info" else p.line)(
                ("warning: " if ev.level == "warning" else "") + ev.message)
        elif isinstance(ev, PipelineRunFinished):
            self.shell.end()
            self.events.put(ev)

    def _task_event(self, task: str, ev) -> None:
        p = self.printer
        session = self.pipeline.sessions.get(task)
        if session is None:
            return
        if isinstance(ev, StepLog):
            st = session.steps[ev.index]
            p.log(f"{task}/{st.name}", (task, ev.index), ev.stream, st.last_text)
        elif isinstance(ev, StepStarted):
            p.line(f"  ▶ {task}/{session.steps[ev.index].name}")
        elif isinstance(ev, StepFinished):
            st = session.steps[ev.index]
            p.flush(f"{task}/{st.name}", (task, ev.index))
            if ev.outcome is StepOutcome.FAILED:
                code = f" (exit code {ev.exit_code})" if ev.exit_code is not None else ""
                p.bad(f"  ✗ {task}/{st.name} failed{code}")
        elif isinstance(ev, StepPaused):
            st = session.steps[ev.index]
            p.flush(f"{task}/{st.name}", (task, ev.index))
            busy = self.shell.owner
            if busy is not None and busy != task:
                p.warn(f"⏸ {task}/{st.name} paused too "
                       f"({'failed' if ev.kind is PauseKind.ON_FAILURE else 'before it starts'}): "
                       f"queued, its shell opens when you leave the shell in {busy}")
            self.events.put((task, ev))
        elif isinstance(ev, StepResumed):
            self.shell.end(task)
        elif isinstance(ev, Progress) and ev.message and not ev.done:
            p.line(f"… {task}: {ev.message}")
        elif isinstance(ev, Notice) and ev.level != "info" and \
                not ev.message.startswith("images are not run locally"):
            p.warn(f"{task}: {ev.message}")

    # ---- the main thread -------------------------------------------------------------------------

    def execute(self) -> int:
        ps = self.pipeline
        run = ps.load()
        names = {t.name: t for t in run.pipeline.all_tasks}
        for entry in self.break_before:
            task, _, step = entry.partition("/")
            if task not in names:
                raise UserError(f"--break-before {entry}: the Pipeline has no task {task!r}",
                                fix="use one of: " + ", ".join(names))
            if step and names[task].task.step_named(step) is None:
                steps = ", ".join(s.debug_name for s in names[task].task.steps)
                raise UserError(f"--break-before {entry}: task {task!r} has no step {step!r}",
                                fix=f"use one of: {steps}")
            (ps.plan.before_steps if step else ps.plan.before_tasks).add(entry)
        ps.plan.on_failure = self.on_failure != "stop"
        p = self.printer
        p.header(f"PipelineRun {run.name}: {len(run.pipeline.tasks)} tasks"
                 + (f" + {len(run.pipeline.finally_tasks)} finally"
                    if run.pipeline.finally_tasks else "") + f" ({self.options.runtime})")
        if self.options.runtime == "kubernetes":  # (locally, there is no cluster to look in)
            p.warn("note: no PipelineRun object is created: tekton-debug runs the pipeline "
                   "itself and creates each TaskRun, following the Pipeline's graph")
        started = time.monotonic()
        ps.start()
        if self.options.runtime == "kubernetes":
            ns = f" -n {self.options.namespace}" if self.options.namespace else ""
            p.line(f"  its TaskRuns are labelled {GROUP_LABEL}={ps.uid}; attach from elsewhere "
                   f"with: tekton-debug run --attach-pipeline {ps.uid} --runtime kubernetes{ns}")
        return self._until_finished(run.name, started)

    def _until_finished(self, name: str, started: float) -> int:
        p = self.printer
        while True:
            ev = self.events.get()
            if isinstance(ev, _Ending):
                raise endings.Ended(ev.signum)
            if isinstance(ev, PipelineRunFinished):
                self._table()
                took = time.monotonic() - started
                text = f"PipelineRun {name} {ev.reason} in {took:.2f} s: {ev.message}"
                (p.good if ev.succeeded else p.bad)(text)
                for name, value in ev.results.items():
                    p.line(f"  result {name}: {shown(value)}")
                return 0 if ev.succeeded else 1
            task, paused = ev
            self._paused(task, paused)

    def _table(self) -> None:
        states = self.pipeline.rows()
        width = max([len(s.key) for s in states] + [4])
        p = self.printer
        p.line("")
        p.line(f"  {'TASK':<{width}}  {'STATUS':<10}  {'DURATION':>8}  REASON")
        for s in states:
            took = f"{s.duration:.2f}s" if s.duration is not None else "-"
            p.line(f"  {s.key:<{width}}  {s.status:<10}  {took:>8}  {s.reason}"
                   + combination(s.params))

    def _paused(self, task: str, ev: StepPaused) -> None:
        session = self.pipeline.sessions.get(task)
        if session is None or session.steps[ev.index].status != "paused":
            return  # released meanwhile (a script, the run's end)
        st = session.steps[ev.index]
        step = session.run.task.steps[ev.index] if session.run else None
        where = ""
        if session.run and session.run.source and session.run.source.file and step and step.pos:
            where = f"  {os.path.relpath(session.run.source.file)}:{step.pos.line}"
        p = self.printer
        failure = ev.kind is PauseKind.ON_FAILURE
        name = f"{task}/{st.name}"
        if failure:
            p.bad(f"⏸ {name} {st.failure}: paused (onFailure breakpoint){where}")
            tail = st.last_lines(10)
            if tail:
                p.line("  last output:")
                for line in tail:
                    p.line(f"  | {session.masker.mask(line)}")
            p.line("  the other tasks go on; their output keeps coming, prefixed")
        else:
            p.header(f"⏸ paused before {name}{where}")
        action = self.on_failure if failure else "shell"
        if action in ("continue", "fail"):
            release = Release.CONTINUE if action == "continue" else Release.FAIL_CONTINUE
            p.line(f"  --on-failure {action}: marking {name} "
                   f"{'passed' if action == 'continue' else 'failed'}")
            self._release(task, release)
            return
        self._shell_in(task, ev.index, failure)

    def _release(self, task: str, release: Release) -> None:
        try:
            self.pipeline.session_of(task).release(release)
        except WrongTime:
            pass  # a script released it meanwhile

    def _shell_in(self, task: str, index: int, failure: bool) -> None:
        p, session = self.printer, self.pipeline.session_of(task)
        if failure:
            p.line(f"  A shell in {task}/{session.steps[index].name}'s environment:")
            p.line("    debug-continue        mark the step passed and go on")
            p.line("    debug-fail-continue   mark the step failed and go on")
            if session.retry_script_available:
                p.line(RETRY_LINE)
            p.line("    exit                  leave without deciding: the step is marked failed")
        else:
            p.line("    debug-beforestep-continue       run the step")
            p.line("    debug-beforestep-fail-continue  skip it and mark it failed")
            p.line("    exit                            leave without deciding: the step runs")
        release = shell_until_decided(
            p, session, index, f"{task}/{session.steps[index].name}", failure,
            lambda: self.shell.run(session.shell_command(index), task),
            lambda: self._ending is not None)
        if release is not None:
            p.line("  shell closed without a decision: "
                   + ("marking the step failed" if failure else "running the step"))
            self._release(task, release)


class TerminalPipelineAttach(TerminalPipelineRun):
    """`tekton-debug run --attach-pipeline RUN`: the TaskRuns of a PipelineRun that tekton-debug
    runs on a cluster (found by its id or name), their states, and the running ones attached to,
    a paused step's shell as in a launched run. Leaving leaves every TaskRun as it is."""

    def _pipeline(self, options: LaunchOptions):
        return AttachedPipelineRun(options, self._on_event)

    def execute(self) -> int:
        ps = self.pipeline
        ps.load()
        g, p = ps.group, self.printer
        p.header(f"PipelineRun {g.pipeline_run} (Pipeline {g.pipeline}) in namespace "
                 f"{g.namespace}: {len(g.members)} TaskRuns, id {g.uid}")
        if g.other_runs:
            p.warn(f"note: {g.pipeline_run} was run {g.other_runs + 1} times here; this is the "
                   f"latest run (attach to another by its id, the {GROUP_LABEL} label)")
        width = max([len(m.key) for m in g.members] + [4])
        run_width = max([len(m.task_run) for m in g.members] + [7])
        p.line(f"  {'TASK':<{width}}  {'TASKRUN':<{run_width}}  STATUS")
        for m in g.members:
            p.line(f"  {m.key:<{width}}  {m.task_run:<{run_width}}  {member_state(m)}")
        p.line(ps.following_note)
        started = time.monotonic()
        ps.start()
        return self._until_finished(g.pipeline_run, started)


def pipeline_main(options: LaunchOptions, *, on_failure: str, break_before: Sequence[str],
                  printer: Printer, stdin_is_tty: bool) -> int:
    kind = TerminalPipelineAttach if options.pipeline_run else TerminalPipelineRun
    run = kind(options, on_failure=on_failure, break_before=break_before,
               printer=printer, stdin_is_tty=stdin_is_tty)
    endings.call_on_end_signals(run.signalled)  # nothing is raised into the cleanup below
    try:
        return run.execute()
    except UserError as exc:  # reported by main(): masked, as everything else printed
        raise run.pipeline.masker.mask_error(exc) from None
    except (KeyboardInterrupt, endings.Ended) as exc:
        printer.warn(f"{'interrupted' if exc.args[:1] in ((), ('SIGINT',)) else exc}: "
                     + ("leaving its TaskRuns as they are" if options.pipeline_run else
                        "cancelling the PipelineRun"))
        return endings.exit_code(exc)
    finally:
        run.pipeline.close()
