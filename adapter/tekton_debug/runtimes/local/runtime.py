"""The local runtime: a TaskRun's steps as processes on this host, with Tekton's file protocol.

One run directory per run (``RunLayout``: ``tekton/run/<i>/out``, the debug scripts, results,
workspaces), kept until :meth:`LocalRuntime.close`; its ``/tekton`` files on a private tmpfs when
there is one (``rundir``). The step lifecycle runs in this process: a
driver thread runs step i's :class:`Entrypointer` once step i-1's post file exists, with a runner
that spawns only the step's own process. Pauses, continues and failures follow Tekton exactly
because they *are* Tekton's files: ``release`` runs the real debug script in the step's environment.

Threads: the driver (steps in order, reading their output), a dispatcher that hands events to
the listener one at a time in order; the TaskRun's timeout is a deadline of the
process's one timer thread (``runtimes.timers``).
"""

from __future__ import annotations

import itertools
import os
import queue
import re
import shlex
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from tekton_debug.entrypoint import lifecycle
from tekton_debug.entrypoint import scripts as debug_scripts
from tekton_debug.entrypoint.layout import RunLayout
from tekton_debug.entrypoint.lifecycle import Entrypointer, StepEnd
from tekton_debug.entrypoint.postwriter import FilePostWriter
from tekton_debug.entrypoint.waiter import CancelToken, FileWaiter
from tekton_debug.errors import RuntimeUnavailable, UserError, WrongTime
from tekton_debug.options import LaunchOptions
from tekton_debug.events import (
    DebugPlan, ExecResult, Listener, Notice, PauseKind, PythonUnavailable, Release, RunFinished,
    RuntimeEvent, SecretValues, StepEnvironment, StepFinished, StepLog, StepOutcome, StepPaused,
    StepResumed, StepStarted,
)
from tekton_debug.runtimes.local import rundir
from tekton_debug.runtimes.timers import TIMERS, Deadline
from tekton_debug.runtimes.urgency import URGENCY
from tekton_debug.runtimes.local.environment import LocalStep, host_secret_values, prepare_step
from tekton_debug.runtimes.local.process import (MARK_ENV, GroupReaper, StepProcess, mark_of,
                                                 run_captured)
from tekton_debug.python import unsupported as python_unsupported
from tekton_debug.python.host import HostPython, Launch, python_steps
from tekton_debug.tekton.duration import format_duration
from tekton_debug.tekton.model import ParamValue, TaskRun

DEFAULT_TIMEOUT = 3600.0  # Tekton's default TaskRun timeout
EVENT_BACKLOG = 256  # events (log chunks of up to 64 KB) waiting for a slow listener
RELEASE_ACK_TIMEOUT = 10.0  # seconds release() waits for the step to notice its release

_SCRIPTS = {
    (PauseKind.ON_FAILURE, Release.CONTINUE): debug_scripts.CONTINUE,
    (PauseKind.ON_FAILURE, Release.FAIL_CONTINUE): debug_scripts.FAIL_CONTINUE,
    (PauseKind.BEFORE_STEP, Release.CONTINUE): debug_scripts.BEFORE_STEP_CONTINUE,
    (PauseKind.BEFORE_STEP, Release.FAIL_CONTINUE): debug_scripts.BEFORE_STEP_FAIL_CONTINUE,
}
_STOP = object()
_URGENT = object()  # (_URGENT, event): see _emit_urgent
_SH_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by this user only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


@dataclass
class _StepState:
    local: LocalStep
    status: str = "waiting"  # waiting, running, paused, done
    paused: PauseKind | None = None
    resumed: threading.Event = field(default_factory=threading.Event)
    process: StepProcess | None = None
    retry: StepProcess | None = None  # the step's new definition, running while it is paused
    retrying: bool = False  # a retry is being prepared or runs (checked and set under the lock)
    retry_python: Any = None  # the retry's Python debugger (tekton_debug.python), if it has one


class LocalRuntime:
    """Runs one TaskRun on this host. Implements ``runtimes.base.Runtime``.

    ``params`` are the user's overrides (``-p name=value``, launch ``params``); ``start`` resolves
    them against the TaskRun with ``tekton.params.resolve_params``. ``workspaces`` binds workspace
    names to host directories; an unbound workspace is an empty directory in the run directory.
    The run directory is created under ``run_root`` (default: the system's temp dir, and the
    ``/tekton`` files in ``control_dir`` on a private tmpfs: ``rundir``) and removed by ``close``
    unless ``keep_run_dir``. ``host_env`` (default ``os.environ``) is what steps
    inherit."""

    name = "local"

    def __init__(self, run_root: Path | str | None = None, *,
                 workspaces: Mapping[str, str] | None = None,
                 params: Mapping[str, object] | None = None, keep_run_dir: bool = False,
                 host_env: Mapping[str, str] | None = None,
                 not_in_images: str | None = None) -> None:
        self._run_root = Path(run_root) if run_root else None
        self._workspace_bindings = dict(workspaces or {})
        self._param_overrides = dict(params or {})
        self._keep = keep_run_dir
        self._not_in_images = not_in_images  # why the steps do not run in their images
        self._host_env = dict(os.environ if host_env is None else host_env)
        self.run_dir: Path | None = None
        self.control_dir: Path | None = None  # the run's /tekton files, when not in run_dir
        self.layout: RunLayout | None = None
        self.params: dict[str, ParamValue] = {}
        self.workspaces: dict[str, str] = {}  # name -> host path (bound ones)
        self._run: TaskRun | None = None
        self._plan = DebugPlan()
        self._listener: Listener | None = None
        self._steps: list[_StepState] = []
        self._python: HostPython | None = None  # the run's Python steps, if it has any
        self._scripts_written = False  # the debug scripts (see _debug_view)
        self._urgent = 0  # urgent events not yet handed on (this run's output goes on meanwhile)
        self._views: set[int] = set()
        self._lock = threading.RLock()
        self._starting = threading.Lock()
        # bounded: a client that reads slowly slows the steps' output down (their pipes fill up),
        # instead of the adapter buffering it all
        self._events: queue.Queue = queue.Queue(maxsize=EVENT_BACKLOG)
        self._token = CancelToken()
        self._run_id = uuid.uuid4().hex[:12]  # marks the environment of every step process
        self._retry_marks = itertools.count(1)  # each retry's processes carry a mark of their own
        self._reaper = GroupReaper(mark_of(self._run_id))
        self._cancel_reason: str | None = None
        self._driver: threading.Thread | None = None
        self._dispatcher: threading.Thread | None = None
        self._timer: Deadline | None = None
        self._deadline: float | None = None
        self._uid = str(uuid.uuid4())  # the TaskRun's metadata.uid, as $(context.taskRun.uid)
        self._closed = False
        self.finished: RunFinished | None = None

    @classmethod
    def from_options(cls, options: LaunchOptions) -> "LocalRuntime":
        return cls(workspaces=options.workspaces, params=options.params)

    # ---- start -----------------------------------------------------------------------------
    def start(self, run: TaskRun, plan: DebugPlan, listener: Listener) -> None:
        # close() from another thread (the client went away) waits until the run is set up:
        # removing the run directory under the preparation would fail it with a traceback
        with self._starting:
            self._start(run, plan, listener)

    def _start(self, run: TaskRun, plan: DebugPlan, listener: Listener) -> None:
        from tekton_debug.tekton.params import resolve_params

        with self._lock:
            if self._run is not None or self._closed:
                raise WrongTime("this runtime has already run a TaskRun",
                                fix="create a new runtime for each run")
            self._run = run
        self.params = resolve_params(run, self._param_overrides)
        steps = run.task.steps
        if not steps:
            raise UserError("the Task has no steps", file=run.source.file if run.source else None,
                            fix="add at least one step under spec.steps")
        self._check_bindings(run)
        self.run_dir = rundir.create(self._run_root, run.name, keep=self._keep)
        try:
            notices = self._prepare(run, steps)
        except BaseException:
            self._remove_run_dir()
            raise
        self._plan = plan
        self._listener = listener
        # every secret is known before the first step runs: an earlier step may print it
        self._emit(SecretValues(host_secret_values(self._host_env) | frozenset(
            st.local.env[name] for st in self._steps for name in st.local.secret_env
            if name in st.local.env)))
        for message, level in notices:
            self._emit(Notice(message, level))
        self._dispatcher = threading.Thread(target=self._dispatch, name="local-events",
                                            daemon=True)
        self._dispatcher.start()
        timeout = DEFAULT_TIMEOUT if run.timeout is None else run.timeout
        self._deadline = time.time() + timeout if timeout else None
        if timeout and timeout > 0:
            self._timer = TIMERS.call_later(timeout, lambda: self._time_out(timeout),
                                            name="local-timeout")
        # removed by the watchdog should this process die (SIGKILL) before close removes them
        self._reaper.directories(self.control_dir, None if self._keep else self.run_dir)
        self._reaper.arm()
        self._driver = threading.Thread(target=self._drive, name="local-steps", daemon=True)
        self._driver.start()

    def attach(self, task_run: str, plan: DebugPlan, listener: Listener) -> TaskRun:
        raise RuntimeUnavailable(
            f"cannot attach to {task_run!r}: local runs live inside the process that launched them",
            fix="attach with the kubernetes runtime, or launch the Task again")

    def _check_bindings(self, run: TaskRun) -> None:
        declared = {w.name for w in run.task.workspaces}
        file = run.source.file if run.source else None
        for name, directory in self._workspace_bindings.items():
            if name not in declared:
                raise UserError(f"workspace {name!r} is not declared by the Task "
                                f"(it declares {', '.join(sorted(declared)) or 'none'})",
                                file=file, fix="bind one of the declared workspaces")
            if not os.path.isdir(directory):
                raise UserError(f"workspace {name!r}: {directory} is not a directory",
                                fix=f"create it or bind {name} to an existing directory")

    def _prepare(self, run: TaskRun, steps) -> list[tuple[str, str]]:
        assert self.run_dir is not None
        self.control_dir = rundir.create_control(self._run_root, run.name, keep=self._keep)
        layout = self.layout = RunLayout(self.run_dir, len(steps), self.control_dir)
        # the debug scripts come with the first command run in a step
        layout.create_base(results=bool(run.task.results), scripts=any(s.script for s in steps))
        notices: list[tuple[str, str]] = []
        no_tmpfs = rundir.take_notice()  # once a process: the /tekton files are on disk
        if no_tmpfs:
            notices.append((no_tmpfs, "warning"))
        images = sorted({s.image for s in steps if s.image})
        ignored = f" (ignored: {', '.join(images)})" if images else ""
        if self._not_in_images:
            notices.append((f"steps run as processes on this host, not in their images{ignored}:"
                            f" {self._not_in_images}", "warning"))
        else:
            notices.append((
                "images are not run locally: steps run as processes on this host, with its tools "
                f"and files{ignored}. Use the container or kubernetes runtime to run them in "
                "their images.", "warning"))
        bound = {w.get("name"): w for w in run.workspaces if isinstance(w, dict)}
        for w in run.task.workspaces:
            if w.name in self._workspace_bindings:
                self.workspaces[w.name] = os.path.abspath(self._workspace_bindings[w.name])
            elif w.name in bound or not w.optional:
                path = layout.workspace(w.name)
                path.mkdir(parents=True, exist_ok=True)
                self.workspaces[w.name] = str(path)
                kinds = [k for k in (bound.get(w.name) or {}) if k not in ("name", "subPath",
                                                                           "emptyDir")]
                if kinds:
                    notices.append((f"workspace {w.name!r} ({kinds[0]}) is an empty directory "
                                    f"locally; bind a host directory to use real files", "info"))
        self._python = python_steps(run, steps, self.run_dir, self._context(run, self.params))
        self._steps = []
        for step in steps:
            local = self._prepare_step(run, self.params, step)
            notices += [(n, "warning") for n in local.notices]
            local.env[MARK_ENV] = f"{self._run_id}/{local.index}"
            self._steps.append(_StepState(local))
        return notices

    def _context(self, run: TaskRun, params: Mapping[str, ParamValue]):
        """The substitutions of this TaskRun (a ``tekton.substitution.Context``)."""
        from tekton_debug.tekton.substitution import substitution_context

        assert self.layout is not None and self._run is not None
        layout = self.layout
        return substitution_context(run, params, results_dir=str(layout.results_dir),
                                    workspaces=self.workspaces, task_run_name=self._run.name,
                                    namespace=self._run.namespace or "default", uid=self._uid,
                                    steps_dir=str(layout.steps_dir))

    def _prepare_step(self, run: TaskRun, params: Mapping[str, ParamValue], step) -> LocalStep:
        """Step ``step`` of ``run`` substituted for this TaskRun and ready to run here."""
        from tekton_debug.tekton.substitution import substitute_step

        assert self.layout is not None and self._run is not None
        layout, name = self.layout, self._run.name
        namespace = self._run.namespace or "default"
        ctx = self._context(run, params)
        return prepare_step(substitute_step(step, ctx), layout, host_env=self._host_env,
                            workspaces=self.workspaces, pod_name=f"{name}-pod",
                            namespace=namespace)

    # ---- events ----------------------------------------------------------------------------
    def _emit(self, event: RuntimeEvent) -> None:
        if isinstance(event, StepLog) and not self._urgent:
            # another run's step end goes first: the thread that reads the output waits (once
            # per chunk), not to take the interpreter from the end's thread
            URGENCY.give_way()
        self._events.put(event)

    def _emit_urgent(self, event: RuntimeEvent) -> None:
        """Emit an event the front end waits for (a pause): other runs' output gives way until
        it has been handed on."""
        with self._lock:
            self._urgent += 1
        URGENCY.begin()
        self._events.put((_URGENT, event))

    def _dispatch(self) -> None:
        while True:
            event = self._events.get()
            if event is _STOP:
                return
            urgent = isinstance(event, tuple) and event[0] is _URGENT
            if urgent:
                event = event[1]
            listener = self._listener
            try:
                if listener is not None:
                    listener(event)
            except Exception:  # a listener's bug must not stop the run's events
                import logging
                logging.getLogger(__name__).exception("runtime listener failed")
            finally:
                if urgent:
                    self._urgent_done()
            if isinstance(event, RunFinished):
                return

    def _urgent_done(self, count: int = 1) -> None:
        with self._lock:
            count = min(count, self._urgent)
            self._urgent -= count
        for _ in range(count):
            URGENCY.end()

    # ---- the driver ------------------------------------------------------------------------
    def _drive(self) -> None:
        assert self.layout is not None and self._run is not None
        layout, run = self.layout, self._run
        waiter = FileWaiter(self._token)
        ends: list[StepEnd | None] = [None] * len(self._steps)
        for i, st in enumerate(self._steps):
            try:
                if i == 0:  # the run is set up: Tekton's downward "ready" is this call
                    if self._token.cancelled:
                        break
                    previous_failed = False
                else:
                    found = waiter.wait_any([str(layout.post_file(i - 1)),
                                             str(layout.err_file(i - 1))])
                    previous_failed = found == str(layout.err_file(i - 1))
            except lifecycle.WaitCancelled:
                break
            if self._plan.halt:  # "Stop": the cancel that follows must find no new step running
                with self._lock:
                    self._cancel_reason = self._cancel_reason or "TaskRunCancelled"
                break
            if i < self._plan.start_at:  # --from-step: as if it had succeeded, without running
                FilePostWriter().write(str(layout.post_file(i)), "")
                ends[i] = StepEnd(0, "Succeeded", message="skipped by --from-step")
                name = self._steps[self._plan.start_at].local.step.debug_name
                self._emit(StepFinished(i, StepOutcome.SKIPPED, None,
                                        f"not run: the run starts from step {name}"))
                continue
            on_failure = bool(self._plan.on_failure)
            skipped = previous_failed and not on_failure
            before = False
            if not skipped:
                if self._plan.pause_before_next:
                    self._plan.pause_before_next = False
                    before = True
                before = before or st.local.step.debug_name in self._plan.before_steps
            ends[i] = self._run_step(i, st, waiter, on_failure, before, skipped)
            if self._cancel_reason:
                break
        self._finish(run, ends)
        waiter.close()

    def _run_step(self, i: int, st: _StepState, waiter: FileWaiter, on_failure: bool,
                  before: bool, skipped: bool) -> StepEnd:
        assert self.layout is not None
        layout, local = self.layout, st.local

        def on_output(stream: str, data: bytes) -> None:
            self._emit(StepLog(i, stream, data))

        launch = Launch(local.argv, local.env) if skipped else self._launch_of(local, self._python)
        self._step_dirs(i, st)
        process = self._step_runner(i, st, on_output, launch)
        with self._lock:
            st.process = process
            st.status = "running"
            cancelled = self._cancel_reason is not None
        if cancelled:
            process.cancel()
        if not skipped:
            self._emit(StepStarted(i))
        ep = Entrypointer(
            waiter=waiter, runner=process, post_writer=FilePostWriter(),
            wait_files=[str(layout.wait_file(i))] if i else [],
            post_file=str(layout.post_file(i)), termination_path=str(layout.termination_path(i)),
            step_metadata_dir=str(layout.step_metadata_dir(i)),
            breakpoint_on_failure=on_failure, debug_before_step=before,
            on_error=local.step.on_error or "", timeout=local.step.timeout,
            results=[r.name for r in self._run.task.results] if self._run else [],
            results_dir=str(layout.results_dir),
            log=lambda line: self._emit(StepLog(i, "stderr", (line + "\n").encode())),
            on_pause=lambda kind, code: self._paused(i, kind, code),
            on_resume=lambda kind, how: self._resumed(i, kind, how),
            debug_scripts_dir=self._debug_scripts_shown())
        try:
            ep.go()
            process.end()
        finally:
            if launch.debugger is not None:
                launch.debugger.close()
        end = ep.end
        assert end is not None
        with self._lock:
            st.status = "done"
            st.paused = None
            st.resumed.set()
        self._emit(self._finished_event(i, end))
        return end

    def _launch_of(self, local: LocalStep, python: HostPython | None) -> Launch:
        """How step ``local`` starts: under its Python debugger when ``python`` (the Python
        steps of its run) decides so for the breakpoints and filters of now."""
        if python is not None:
            return python.launch(local.step, local.argv, local.env, self._plan, self._emit)
        if self._plan.python_lines.get(local.step.debug_name):
            why = python_unsupported(self.name)  # a runtime of steps elsewhere (containers)
            if why:
                self._emit(PythonUnavailable(local.index, why))
        return Launch(local.argv, local.env)

    # ---- what a runtime of steps elsewhere (containers) replaces -----------------------------
    def _step_dirs(self, i: int, st: _StepState) -> None:
        """Step i's directories, made as it starts (most runs need few of them)."""
        assert self.layout is not None
        step = st.local.step
        self.layout.create_step(i, step.container, results=bool(step.results))

    def _debug_view(self, index: int) -> None:
        """The debug scripts and step ``index``'s view for them, before a command runs in the
        step (a release, a shell, an evaluation): written once, when first needed."""
        assert self.layout is not None
        with self._lock:
            if not self._scripts_written:
                debug_scripts.write_debug_scripts(
                    self.layout.debug_scripts_dir, tekton_root=str(self.layout.tekton),
                    step_count=len(self._steps))
                self._scripts_written = True
            if index not in self._views:
                self.layout.create_debug_view(index)
                self._views.add(index)

    def _step_runner(self, i: int, st: _StepState, on_output, launch: Launch) -> StepProcess:
        """Step i's ``lifecycle.Runner``: here, its process on this host (``launch``: its argv and
        environment, a debugger's included)."""
        return StepProcess(launch.argv, env=launch.env, cwd=st.local.working_dir,
                           on_output=on_output, reaper=self._reaper, mark=mark_of(self._run_id, i),
                           steps_dir=str(self.layout.steps_dir) if self.layout else None)

    def _debug_scripts_shown(self) -> str:
        """Where the steps find the debug scripts (named in banners, run by ``release``)."""
        assert self.layout is not None
        return str(self.layout.debug_scripts_dir)

    def _paused(self, i: int, kind: lifecycle.PauseKind, code: int | None) -> None:
        st = self._steps[i]
        with self._lock:
            st.status = "paused"
            st.paused = PauseKind(kind.value)
            st.resumed.clear()
        self._emit_urgent(StepPaused(i, PauseKind(kind.value), code))

    def _resumed(self, i: int, kind: lifecycle.PauseKind, how: str) -> None:
        st = self._steps[i]
        with self._lock:
            st.status = "running"
            st.paused = None
            st.resumed.set()
        self._emit(StepResumed(i, Release(how)))

    def _finished_event(self, i: int, end: StepEnd) -> StepFinished:
        r = end.reason
        if r == "Succeeded":
            return StepFinished(i, StepOutcome.SUCCEEDED, 0)
        if r == "ReleasedFromBreakpoint":
            how = "marked passed with debug-continue" if end.exit_code == 0 else \
                "marked failed with debug-fail-continue"
            outcome = StepOutcome.SUCCEEDED if end.exit_code == 0 else StepOutcome.FAILED
            return StepFinished(i, outcome, end.exit_code, f"{end.message}; {how}")
        if r == "Skipped":
            return StepFinished(i, StepOutcome.SKIPPED, end.exit_code,
                                "not run: a previous step failed")
        if r == "Cancelled":
            if self._cancel_reason == "TaskRunTimeout":
                return StepFinished(i, StepOutcome.TIMED_OUT, None,
                                    "the TaskRun's timeout expired")
            return StepFinished(i, StepOutcome.CANCELLED, None, "the TaskRun was cancelled")
        if r == "TimeoutExceeded":
            return StepFinished(i, StepOutcome.TIMED_OUT, end.exit_code, end.message)
        if r == "ContinuedOnError":
            return StepFinished(i, StepOutcome.FAILED, end.command_exit_code, end.message)
        return StepFinished(i, StepOutcome.FAILED, end.exit_code, end.message)

    def _finish(self, run: TaskRun, ends: list[StepEnd | None]) -> None:
        reason = self._cancel_reason
        for i, end in enumerate(ends):
            if end is None:
                why = "the TaskRun timed out" if reason == "TaskRunTimeout" else \
                    "the TaskRun was cancelled"
                self._emit(StepFinished(i, StepOutcome.SKIPPED, None, f"not run: {why}"))
        if self._timer:
            self._timer.cancel()
        if reason == "TaskRunTimeout":
            timeout = DEFAULT_TIMEOUT if run.timeout is None else run.timeout
            finished = RunFinished(False, reason, f'TaskRun "{run.name}" failed to finish within '
                                                  f'"{format_duration(timeout)}"')
        elif reason:
            finished = RunFinished(False, reason, f'TaskRun "{run.name}" was cancelled')
        else:
            failed = next(((i, e) for i, e in enumerate(ends) if e and e.exit_code != 0), None)
            if failed:
                i, e = failed
                name = self._steps[i].local.step.container
                finished = RunFinished(False, "Failed",
                                       f'"{name}" exited with code {e.exit_code}')
            else:
                finished = RunFinished(True, "Succeeded", "All Steps have completed executing",
                                       self._results(run))
        self.finished = finished
        self._emit(finished)

    def _results(self, run: TaskRun) -> dict[str, str]:
        """The results the steps wrote, as written (a trailing newline stays, as in Tekton)."""
        assert self.layout is not None
        out: dict[str, str] = {}
        for r in run.task.results:
            try:
                out[r.name] = (self.layout.results_dir / r.name).read_text(
                    encoding="utf-8", errors="replace")
            except OSError:
                continue  # not written: left out, as Tekton does
        return out

    # ---- requests --------------------------------------------------------------------------
    def _state(self, index: int) -> _StepState:
        if not self._steps:
            raise WrongTime("the TaskRun has not started", fix="start it first")
        if not 0 <= index < len(self._steps):
            raise UserError(f"there is no step {index}: the Task has {len(self._steps)} steps")
        return self._steps[index]

    def deadline(self) -> float | None:
        return self._deadline

    def step_environment(self, index: int) -> StepEnvironment:
        st = self._state(index)
        local = st.local
        assert self.layout is not None
        return StepEnvironment(env=dict(local.env), secret_env=local.secret_env,
                               working_dir=local.working_dir, command=list(local.argv),
                               container=local.step.container,
                               results_dir=str(self.layout.results_dir),
                               workspaces=dict(self.workspaces))

    def exec(self, index: int, argv: Sequence[str], *, stdin: bytes | None = None,
             timeout: float | None = 30.0) -> ExecResult:
        local = self._state(index).local
        if self._closed:
            raise WrongTime("the run is closed")
        self._debug_view(index)
        os.makedirs(local.working_dir, exist_ok=True)
        try:
            code, out, err, timed_out, cut = run_captured(
                argv, env=self._exec_env(local), cwd=local.working_dir, stdin=stdin,
                timeout=timeout, reaper=self._reaper)
        except (OSError, ValueError) as e:  # ValueError: a NUL byte in the command
            return ExecResult(127, b"", f"{argv[0] if argv else ''}: "
                              f"{getattr(e, 'strerror', None) or e}\n".encode())
        if timed_out:
            raise UserError(f"the command did not finish within {timeout:g}s and was stopped",
                            fix="run long commands in a shell (open a shell in the step)")
        return ExecResult(code, out, err, truncated=cut)

    def _exec_env(self, local: LocalStep) -> dict[str, str]:
        """The step's environment for a command run in it (exec, a shell): marked as the run's but
        not as the step's, so that a debug script that ends the step is not ended by it."""
        return {**local.env, MARK_ENV: f"{self._run_id}/{local.index}/exec"}

    def shell_command(self, index: int) -> list[str]:
        """A script in the run directory that opens ``sh`` in the step's environment; its arguments
        go to that ``sh`` (``-i`` for an interactive one). A file rather than a long ``env`` argv:
        short to show and to type, and the step's secret values stay out of command lines."""
        local = self._state(index).local
        assert self.layout is not None
        self._debug_view(index)
        env = {**self._exec_env(local), "PS1": f"[{local.step.container}] $ "}
        self._reaper.unswept()  # started by someone else, ended with the run
        # the values are sourced from a file of their own (readable by the user only), never put
        # on a command line (`env -i K=V ...` shows them to every user of the host for a moment);
        # names sh cannot assign (Kubernetes allows "-" and ".") never reach a sh shell anyway
        plain = {k: v for k, v in env.items() if _SH_NAME.fullmatch(k)}
        path = self.layout.step_view_dir(index) / "shell"
        env_file = path.with_name("shell-env")
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_private(env_file, "".join(f"{k}={shlex.quote(v)}\n" for k, v in plain.items()))
        text = (f"#!/bin/sh\n# a shell in step {local.step.debug_name!r}'s environment\n"
                f"cd -- {shlex.quote(local.working_dir)} || exit 1\n"
                f"exec env -i sh -c 'set -a; . \"$0\"; set +a; exec sh \"$@\"' "
                f"{shlex.quote(str(env_file))} \"$@\"\n")
        _write_private(path, text)
        # read by sh, not executed: a file just written cannot be executed while a process forked
        # meanwhile by another thread (a Pipeline's other TaskRuns) still holds it open (ETXTBSY)
        return ["sh", str(path), "-i"]

    def release(self, index: int, release: Release) -> None:
        st = self._state(index)
        with self._lock:
            kind = st.paused
            if kind is None:
                raise WrongTime(f"step {st.local.step.debug_name!r} is not paused ({st.status})",
                                fix="wait for it to fail or to reach a breakpoint")
            resumed = st.resumed
        script = _SCRIPTS[(kind, Release(release))]
        assert self.layout is not None
        if self._released_already(index, kind):
            resumed.wait(RELEASE_ACK_TIMEOUT)
            raise WrongTime(f"step {st.local.step.debug_name!r} is not paused: a debug script "
                            f"has already released it")
        result = self.exec(index, [f"{self._debug_scripts_shown()}/{script}"])
        if result.exit_code != 0:
            detail = (result.stderr or result.stdout).decode(errors="replace").strip()
            raise UserError(f"{script} failed in step {st.local.step.debug_name!r} "
                            f"(exit code {result.exit_code}): {detail}",
                            fix=f"run {script} by hand in a shell in the step to see why")
        if not resumed.wait(RELEASE_ACK_TIMEOUT):
            raise UserError(f"step {st.local.step.debug_name!r} did not resume after {script}",
                            fix=f"check {self.layout.run_dir(index)}")

    def rerun(self, index: int, run: TaskRun) -> int:
        from tekton_debug.tekton.params import resolve_params

        st = self._state(index)
        name = st.local.step.debug_name
        with self._lock:
            if st.paused is not PauseKind.ON_FAILURE or self._closed:
                raise WrongTime(f"step {name!r} is not paused on a failure ({st.status})",
                                fix="retry a step while it is paused after failing")
            if st.retrying:
                raise WrongTime(f"step {name!r} is being retried already",
                                fix="wait for that retry to end")
            st.retrying = True
        # prepared outside the lock: a container's Python step is probed by exec (seconds), and
        # the run's other requests (status, exec, close) must not wait for it
        process = None
        try:
            process, local = self._retry_process(index, run,
                                                 resolve_params(run, self._param_overrides))
            with self._lock:
                closed = self._closed
                if not closed:
                    st.retry = process
            if closed:
                raise WrongTime(f"the TaskRun ended while step {name!r} was being retried")
            # the edited step may reference another Secret: known before it prints anything
            self._emit(SecretValues(frozenset(local.env[n] for n in local.secret_env
                                              if n in local.env)))
            for notice in local.notices:
                self._emit(Notice(notice, "warning"))
            code = process.run(local.step.timeout)
        except lifecycle.StepTimedOut:
            self._emit(StepLog(index, "stderr", f"step {name!r} timed out after "
                               f"{format_duration(local.step.timeout or 0)}\n".encode()))
            code = 1
        except lifecycle.CommandError as e:
            self._emit(StepLog(index, "stderr", f"{e}\n".encode()))
            code = 127
        except lifecycle.StepCancelled:
            raise WrongTime(f"the TaskRun ended while step {name!r} was being retried") from None
        finally:
            if process is not None:
                process.end()
            with self._lock:
                st.retry, st.retrying = None, False
                python, st.retry_python = st.retry_python, None
            if python is not None:
                python.close()
        if code != 0:
            self._emit(StepPaused(index, PauseKind.ON_FAILURE, code))
        return code

    def _retry_process(self, index: int, run: TaskRun, params: Mapping[str, ParamValue]
                       ) -> tuple[StepProcess, LocalStep]:
        """The process that runs step ``index`` of ``run`` where the paused step runs, and the
        step as prepared for it. A Python step runs under its debugger as a first run would
        (its script's lines mapped from the edited file)."""
        assert self.layout is not None
        self.layout.create_base()  # the edited Task may have results or a script now
        step = run.task.steps[index]
        local = self._prepare_step(run, params, step)
        # what the retry leaves (setsid) ends with the retry, as what a step leaves with the step
        retry_id = f"{self._run_id}/{index}/retry{next(self._retry_marks)}"
        local.env[MARK_ENV] = retry_id
        python = python_steps(run, [step], self.run_dir, self._context(run, params))
        launch = self._launch_of(local, python)
        self._steps[index].retry_python = launch.debugger
        return StepProcess(launch.argv, env=launch.env, cwd=local.working_dir,
                           reaper=self._reaper, mark=f"{MARK_ENV}={retry_id}\0".encode(),
                           on_output=lambda stream, data: self._emit(StepLog(index, stream, data))
                           ), local

    def _released_already(self, index: int, kind: PauseKind) -> bool:
        """A debug script (run in a shell, say) wrote the pause's exit file; the step is about to
        notice."""
        assert self.layout is not None
        if kind == PauseKind.ON_FAILURE:
            files = [self.layout.breakpoint_exit_file(index)]
        else:
            files = [self.layout.before_step_exit_file(index),
                     self.layout.before_step_exit_err_file(index)]
        return any(f.exists() for f in files)

    def cancel(self, reason: str = "TaskRunCancelled") -> None:
        with self._lock:
            if self._cancel_reason is None and self.finished is None:
                self._cancel_reason = reason
            processes = [p for st in self._steps for p in (st.process, st.retry) if p]
        self._token.cancel()
        for p in processes:
            p.cancel()
        driver = self._driver
        if driver and driver is not threading.current_thread():
            driver.join()

    def _time_out(self, timeout: float) -> None:
        with self._lock:
            if self._closed or self.finished is not None:
                return  # the deadline was cancelled as it came: the run ended meanwhile
        self._emit(Notice(f"the TaskRun's timeout ({format_duration(timeout)}) expired: "
                          f"stopping it", "important"))
        self.cancel("TaskRunTimeout")

    def close(self) -> None:
        with self._starting:  # a start under way finishes first
            pass
        with self._lock:
            if self._closed:
                return
            self._closed = True
        if self._timer:
            self._timer.cancel()
        if self._driver and self._driver.is_alive():
            self.cancel("TaskRunCancelled")
        for st in self._steps:
            for process in (st.process, st.retry):
                if process:
                    process.end()
        if self._dispatcher and self._dispatcher is not threading.current_thread():
            self._events.put(_STOP)
            self._dispatcher.join(5)
        self._urgent_done(self._urgent)  # never handed on: other runs' output waits no more
        self._reaper.close()
        self._token.cancel()
        if not (self._driver and self._driver.is_alive()):
            self._token.close()
        self._remove_run_dir()

    def _remove_run_dir(self) -> None:
        rundir.remove(self.control_dir)  # the secret values first
        if not self._keep:
            rundir.remove(self.run_dir)

    def __repr__(self) -> str:
        return f"LocalRuntime(run_dir={shlex.quote(str(self.run_dir))})"
