"""A PipelineRun being debugged: the graph of its pipeline tasks, each run as one TaskRun session.

The pipeline layer composes sessions (``session.Session``, one per TaskRun attempt) and never
drives a runtime itself: each session creates its runtime by name (``options.runtime``), so a
pipeline runs wherever a TaskRun can. One scheduler thread applies Tekton's rules: ready tasks
(every ``runAfter`` and result-referenced task ended) start together; ``when`` skips a task; a
failed task stops new ``tasks`` entries from starting (unless its ``onError`` is ``continue``) and
is retried first when it has ``retries`` left; ``finally`` tasks start once every ``tasks`` entry
has ended; timeouts (``timeouts.pipeline/tasks/finally`` and a task's own) cancel what runs.
The scheduler only marks a TaskRun running: a few start threads make and start the TaskRuns
(``_Starts``: at most ``START_THREADS`` at once, 4 on this host, 16 on a container engine or a
cluster). The pipeline's timeouts are kept by the process's timer thread (``runtimes.timers``).

A matrixed task fans out into one TaskRun per combination of its params, started together; each
is retried on its own, and the task ends once they all have (failed if one did), its string
results gathered into arrays. Front ends know each TaskRun by its key: the pipeline task's name,
``name[i]`` for combination i (``TaskState.key``).

A failed step pauses only its own TaskRun (on-failure breakpoints apply to every TaskRun): the
other sessions go on, and several steps may be paused at once. Front ends act on one paused step
through its TaskRun's session (``session_of``).
"""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from tekton_debug.errors import UserError
from tekton_debug.events import (
    Notice, PipelineEvent, PipelineRunFinished, RunFinished, RuntimeEvent, TaskEnded, TaskEvent,
    TaskStarted, guarded,
)
from tekton_debug.options import LaunchOptions
from tekton_debug.pipeline import graph
from tekton_debug.pipeline.graph import TaskState, task_status
from tekton_debug.pipeline.resolve import (MissingResult, PipelineContext, ResolvedTask,
                                           matrix_combinations, pipeline_context, resolve_task,
                                           resolve_value, task_run_for, typed_results)
from tekton_debug.runtimes.timers import TIMERS, Deadline
from tekton_debug.session.masking import Masker, secret_strings
from tekton_debug.session.session import RuntimeFactory, Session
from tekton_debug.tekton import cel
from tekton_debug.tekton.matrix import EMPTY_ARRAY_SKIP
from tekton_debug.tekton.model import ParamValue, TaskRun, TaskSpec
from tekton_debug.tekton.params import resolve_params
from tekton_debug.tekton.pipeline import PipelineRun, PipelineTask

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3600.0  # Tekton's default timeouts.pipeline
CLOSE_WAIT = 30.0  # how long close() waits for the cancelled TaskRuns to end
STOP_WAIT = 30.0  # how long a failed scheduler waits for the TaskRuns it stopped to end
#: how many TaskRuns are made and started at once (``_Starts``), by runtime: on this host a start
#: is this process's own work (files, processes), which more at once only contend for; a
#: container engine or a cluster mostly has a start wait for it, and more at once wait together
START_THREADS = {"local": 4}
START_THREADS_ELSEWHERE = 16
PipelineListener = Callable[[PipelineEvent], None]


@dataclass
class PipelinePlan:
    """Where the TaskRuns of the run may pause; read when each TaskRun starts (and pushed to the
    running ones by ``PipelineSession.update_breakpoints``)."""

    on_failure: bool = True
    before_tasks: set[str] = field(default_factory=set)  # pause before the task's first step
    before_steps: set[str] = field(default_factory=set)  # "task/step"

    def steps_for(self, task: PipelineTask) -> set[str]:
        out = {entry.split("/", 1)[1] for entry in self.before_steps
               if entry.split("/", 1)[0] == task.name and "/" in entry}
        if task.name in self.before_tasks and task.task.steps:
            out.add(task.task.steps[0].debug_name)
        return out


class _Starts:
    """Runs the starts of TaskRuns on up to ``size`` threads of its own, made as they are needed
    and ended when nothing is left to start: the scheduler hands a start over and goes on, without
    waiting for a thread of its own to be made for each TaskRun, and the starts of many ready
    tasks do not all contend at once for this process."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._waiting: deque = deque()
        self._threads = 0

    def submit(self, fn: Callable[..., None], *args) -> None:
        with self._lock:
            self._waiting.append((fn, args))
            if self._threads >= self._size:
                return
            self._threads += 1
        threading.Thread(target=self._work, daemon=True, name="pipeline-start").start()

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._waiting:
                    self._threads -= 1
                    return
                fn, args = self._waiting.popleft()
            try:
                fn(*args)
            except Exception:  # a bug in one start must not take the thread the others need
                log.exception("a TaskRun's start failed")


class PipelineSession:
    """A PipelineRun being debugged. Thread-safe; events reach ``listener`` on the sessions', the
    scheduler's and the start threads."""

    attached = False  # this process runs the PipelineRun (see attach.AttachedPipelineRun)

    def __init__(self, options: LaunchOptions, listener: PipelineListener, *,
                 runtime_factory: RuntimeFactory | None = None) -> None:
        self.options = options
        self._tell = guarded(listener)
        self._runtime_factory = runtime_factory
        self.plan = PipelinePlan()
        self.run: PipelineRun | None = None
        self.params: dict[str, ParamValue] = {}
        self.states: dict[str, TaskState] = {}  # pipeline task -> its state
        self.units: dict[str, TaskState] = {}  # TaskRun key -> its state (TaskState.key)
        self.sessions: dict[str, Session] = {}  # TaskRun key -> its latest attempt's session
        self._attempts: dict[str, int] = {}  # TaskRun key -> the attempt its session runs
        self.workspaces: dict[str, str] = {}  # pipeline workspace -> host directory
        # on a cluster: pipeline workspace -> the TaskRuns' binding (its claim made), and what
        # makes and deletes the claims (runtimes.pipeline_claims)
        self.bindings: dict[str, dict] | None = None
        self._claims = None
        self.finished: PipelineRunFinished | None = None
        self.started_at: float | None = None
        self.uid = str(uuid.uuid4())
        # what each TaskRun's session is given of the options (its workspaces: host directories)
        self._task_options = dataclasses.replace(options, task_file=None, params={},
                                                 workspaces={}, timeout=None, task_run=None)
        # one masker for every TaskRun of the run: a secret one task holds may show in another's
        # output (they share workspaces); the front ends mask what they show with it
        self.masker = Masker()
        self.masker.add_secrets(v for name, value in options.params.items()
                                if name in options.secrets for v in secret_strings(value))
        self._lock = threading.RLock()
        self._inbox: queue.Queue = queue.Queue()
        self._done = threading.Event()
        self._scheduler: threading.Thread | None = None
        self._run_dir: str | None = None
        self._shared = None  # runtimes.SharedStart, once started
        self._old_sessions: list[Session] = []
        self._starts = _Starts(START_THREADS.get(options.runtime, START_THREADS_ELSEWHERE))
        # (TaskRun key, attempt) of each TaskRun handed to a start thread and not started yet ->
        # the reason to cancel it with once it has (None: none)
        self._starting: dict[tuple[str, int], str | None] = {}
        # the tasks' variables for a scheduling round (``_context_for``): whatever changes what
        # ``pipeline_context`` reads (a task's status, reason, results, matrix children) sets it
        # back to None: ``_end``, ``_skip``, ``_start_task``'s fan-out
        self._context: PipelineContext | None = None
        self._resolved: dict[str, ResolvedTask] = {}  # pipeline task -> what its TaskRuns share
        self._stopping: str | None = None  # why no new `tasks` entry starts: a skipping reason
        self._stopped: str | None = None  # "Cancelled" or "PipelineRunTimeout"
        self._hard_stop = False  # finally tasks are cancelled too
        self._finally_started = False
        self._closed = False
        self._timers: list[Deadline] = []
        self._tasks_deadline: float | None = None
        self._deadline: float | None = None
        self._finally_deadline: float | None = None

    # ---- setting up --------------------------------------------------------------------------

    def load(self) -> PipelineRun:
        """Read and check the Pipeline or PipelineRun file and the params. Raises UserError."""
        from tekton_debug.resolution import remote_resolver
        from tekton_debug.tekton.pipeline_loader import load_pipeline_file

        path = self.options.task_file
        if not path:
            raise UserError("no Pipeline file given",
                            fix="name a Pipeline or PipelineRun YAML file")
        o = self.options
        resolver = remote_resolver(offline=o.offline, kubeconfig=o.kubeconfig, context=o.context,
                                   namespace=o.namespace)
        run = load_pipeline_file(path, given_params=o.params, bound_workspaces=o.workspaces,
                                 resolver=resolver)
        declared = {w.name for w in run.pipeline.workspaces}
        for name in self.options.workspaces:
            if name not in declared:
                raise UserError(f"-w {name}: the Pipeline declares no workspace {name!r} "
                                f"(it declares {', '.join(sorted(declared)) or 'none'})",
                                file=path, fix="bind one of the Pipeline's workspaces")
        # the pipeline's params are read as a Task's are: same types, overrides and errors
        shape = TaskRun(name=run.name, task=TaskSpec(steps=[], params=run.pipeline.params),
                        params=run.params, source=run.pipeline.source)
        self.masker.add_secrets(v for name, value in run.params.items()
                                if name in self.options.secrets for v in secret_strings(value))
        self.params = resolve_params(shape, self.options.params)
        self.masker.add_secrets(v for name, value in self.params.items()
                                if name in self.options.secrets for v in secret_strings(value))
        if self.options.timeout is not None:
            from tekton_debug.tekton.duration import parse_duration
            run.timeout = parse_duration(self.options.timeout)
        self.run = run
        self.states = {t.name: TaskState(t) for t in run.pipeline.all_tasks}
        self.units = {name: st for name, st in self.states.items() if st.task.matrix is None}
        return run

    def start(self) -> None:
        """Start the PipelineRun: the tasks with nothing to wait for start at once."""
        with self._lock:
            if self.run is None:
                self.load()
            assert self.run is not None
            if self._scheduler is not None:
                raise UserError("this PipelineRun has started already")
            self._prepare_workspaces()
            self.started_at = time.time()
            total = DEFAULT_TIMEOUT if self.run.timeout is None else self.run.timeout
            if total:
                self._deadline = self.started_at + total
                self._arm(total, "pipeline")
            if self.run.tasks_timeout:
                self._tasks_deadline = self.started_at + self.run.tasks_timeout
                self._arm(self.run.tasks_timeout, "tasks")
            self._scheduler = threading.Thread(target=self._schedule_loop, daemon=True,
                                               name="pipeline-scheduler")
            self._scheduler.start()

    def _prepare_workspaces(self) -> None:
        """A host directory per pipeline workspace: the one bound with -w, else one of this run
        (emptyDir, volumeClaimTemplate and claims alike: shared by every task that binds it).
        On a cluster, the volumes the TaskRuns share instead (``_prepare_claims``)."""
        assert self.run is not None
        from tekton_debug.runtimes import pipeline_claims
        self._claims = pipeline_claims(self.options)
        if self._claims is not None:
            self._prepare_claims()
            return
        from tekton_debug.runtimes import SharedStart
        from tekton_debug.runtimes.local import rundir
        # the TaskRuns' run directories go in the PipelineRun's: swept with it if this process
        # is killed, and each TaskRun's start looks through its siblings only
        self._run_dir = str(rundir.create(None, self.run.name))
        self._shared = SharedStart(self._run_dir)
        for w in self.run.pipeline.workspaces:
            if w.name in self.options.workspaces:
                self.workspaces[w.name] = os.path.abspath(self.options.workspaces[w.name])
                continue
            binding = self.run.binding(w.name)
            if binding is None and w.optional:
                continue
            path = os.path.join(self._run_dir, "workspaces", w.name)
            os.makedirs(path, exist_ok=True)
            self.workspaces[w.name] = path
            kinds = [k for k in (binding or {}) if k in ("configMap", "secret", "projected", "csi")]
            if kinds:
                self._tell(Notice(f"workspace {w.name!r} ({kinds[0]}) is an empty directory "
                                  "locally; bind a host directory with -w to use real files"))

    def _prepare_claims(self) -> None:
        """The workspaces on a cluster: a ``volumeClaimTemplate`` gets one claim for the run,
        shared by every TaskRun that binds it (as Tekton makes it); a claim named must exist; a
        workspace left unbound (or bound to a directory here, which a cluster cannot mount) gets
        a claim of ``DEFAULT_TEMPLATE``. Raises UserError."""
        from tekton_debug.tekton.pipeline import GROUP_LABEL
        from tekton_debug.runtimes.kubernetes.claims import DEFAULT_TEMPLATE, bound_claim

        assert self.run is not None and self._claims is not None
        run = self.run
        wanted: dict[str, dict] = {}
        for w in run.pipeline.workspaces:
            binding = run.binding(w.name)
            if w.name in self.options.workspaces:
                self._tell(Notice(f"workspace {w.name!r}: the directory "
                                  f"{self.options.workspaces[w.name]} is on this machine and "
                                  "cannot be mounted on a cluster; the TaskRuns share a new "
                                  "claim instead", "warning"))
                binding = None
            elif binding is None:
                if w.optional:
                    continue
                self._tell(Notice(f"workspace {w.name!r} is not bound: the TaskRuns share a "
                                  "claim made for this run (1Gi, ReadWriteOnce); bind it in a "
                                  "PipelineRun (volumeClaimTemplate or persistentVolumeClaim) "
                                  "to choose"))
            wanted[w.name] = dict(binding) if binding is not None else \
                {"name": w.name, "volumeClaimTemplate": DEFAULT_TEMPLATE}
        labels = {"tekton.dev/pipeline": run.pipeline.name[:63],
                  "tekton.dev/pipelineRun": run.name[:63], GROUP_LABEL: self.uid}
        file = run.source.file if run.source else None
        lines = {}  # where each named claim is written, for the error that it does not exist
        text = run.source.text.splitlines() if run.source else []
        for ws, binding in wanted.items():
            claim = bound_claim(binding)
            lines[ws] = next((i for i, line in enumerate(text, 1)
                              if claim and "claimName" in line and str(claim) in line), None)
        self.bindings = self._claims.prepare(wanted, uid=self.uid, labels=labels, file=file,
                                             lines=lines)
        for ws, claim in self._claims.made.items():
            self._tell(Notice(f"workspace {ws!r}: claim {claim} made for this run; it is "
                              + ("kept at the end (--keep-claims)" if self.options.keep_claims
                                 else "deleted at the end")))

    def _release_claims(self) -> None:
        if self._claims is not None:
            for text in self._claims.release():
                self._tell(Notice(text, "warning"))

    def _arm(self, seconds: float, which: str) -> None:
        self._timers.append(TIMERS.call_later(seconds, lambda: self._inbox.put(("timeout", which)),
                                              name="pipeline-timeout"))

    # ---- the scheduler -----------------------------------------------------------------------

    def _schedule_loop(self) -> None:
        try:
            self._schedule()
            while not self._all_ended():
                message = self._inbox.get()
                self._handle(message)
                self._schedule()
            self._finish()
        except Exception as exc:  # a bug here must still end the run, not hang the front end
            log.exception("pipeline scheduler failed")
            self._tell(Notice(f"tekton-debug failed while running the pipeline: {exc}",
                              "important"))
            self._stopped = self._stopped or "Cancelled"
            self._hard_stop = True
            for st in self.rows():
                if st.status == "running":
                    self._stop_unit(st)
            self._await_stopped()
            self._finish()

    def _await_stopped(self) -> None:
        """After a failure of the scheduler: wait (``STOP_WAIT`` at most) for the TaskRuns just
        stopped to end, those still being started among them, so that the run's end is told and
        its claims released once nothing of it runs."""
        deadline = time.monotonic() + STOP_WAIT
        while any(st.status == "running" for st in self.rows()):
            try:
                message = self._inbox.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return
            if message[0] in ("finished", "failed to start"):
                try:
                    self._handle(message)
                except Exception:
                    log.exception("pipeline scheduler failed again")
                    return

    def _handle(self, message: tuple) -> None:
        kind = message[0]
        if kind == "finished":
            _, name, attempt, ev = message
            self._task_finished(name, attempt, ev)
        elif kind == "failed to start":
            _, name, attempt, message = message
            st = self.units[name]
            if st.attempt == attempt and not st.ended:
                self._end(st, "failed", "Failed", message)
        elif kind == "timeout":
            self._timed_out(message[1])
        elif kind == "cancel":
            self._cancel(hard=message[1])

    def _all_ended(self) -> bool:
        return all(st.ended for st in self.states.values())

    def _schedule(self) -> None:
        # the lock is taken task by task: the threads that start TaskRuns need it too, and
        # need not wait for the whole round
        main = [st for st in self.states.values() if not st.task.is_finally]
        for st in main:
            if st.status != "waiting":
                continue
            with self._lock:
                if self._stopping:
                    self._skip(st, self._stopping)
                elif all(self.states[d].ended for d in st.task.dependencies if d in self.states):
                    self._decide_and_start(st)
        with self._lock:
            if self._finally_started or not all(st.ended for st in main):
                return
            self._finally_started = True
            if self.run is not None and self.run.finally_timeout:
                self._finally_deadline = time.time() + self.run.finally_timeout
                self._arm(self.run.finally_timeout, "finally")
            for st in self.states.values():
                if st.task.is_finally and st.status == "waiting":
                    if self._hard_stop:
                        self._skip(st, graph.PIPELINE_TIMEOUT_SKIP
                                   if self._stopped == "PipelineRunTimeout"
                                   else graph.STOPPING_SKIP)
                    else:
                        self._decide_and_start(st)

    def _context_for(self, task: PipelineTask) -> PipelineContext:
        """The variables ``task`` sees, gathered once while no task ends (``_end`` and ``_skip``
        drop them): a scheduling round may start many tasks."""
        if self._context is None:
            assert self.run is not None
            self._context = pipeline_context(self.run, self.params, self.states, uid=self.uid)
        return self._context.for_task(task)

    def _decide_and_start(self, st: TaskState) -> None:
        ctx = self._context_for(st.task)
        try:
            when = [(w, str(resolve_value(w.input, ctx)), list(resolve_value(list(w.values), ctx)))
                    if w.cel is None else
                    (w, str(cel.evaluate(str(resolve_value(w.cel, ctx)))).lower(), ["true"])
                    for w in st.task.when]
        except MissingResult:
            when = None
        except UserError as exc:  # an index past the end of an array result; a CEL error
            self._end(st, "failed", "CELEvaluationFailed" if isinstance(exc, cel.CelError)
                      else "Failed", str(exc))
            return
        reason = graph.decide(st.task, self.states, when)
        if reason is not None:
            self._skip(st, reason)
            return
        self._start_task(st, ctx)

    def _task_run_as_now(self, st: TaskState) -> TaskRun:
        """The TaskRun of ``st``'s pipeline task as the Pipeline and Task files are now: what a
        retry in place of one of its steps runs. Raises UserError."""
        from tekton_debug.resolution import remote_resolver
        from tekton_debug.tekton.pipeline_loader import load_pipeline_file

        o = self.options
        assert o.task_file is not None
        run = load_pipeline_file(o.task_file, given_params=o.params, bound_workspaces=o.workspaces,
                                 resolver=remote_resolver(offline=True, kubeconfig=o.kubeconfig,
                                                          context=o.context, namespace=o.namespace))
        task = run.pipeline.task_named(st.task.name)
        if task is None:
            raise UserError(f"the Pipeline has no task {st.task.name!r} now",
                            file=o.task_file, fix="restart the PipelineRun to use the edited file")
        ctx = pipeline_context(run, self.params, self.states, uid=self.uid).for_task(task)
        return task_run_for(run, resolve_task(task, self.params, ctx), timeout=None,
                            group=self.uid, bindings=self.bindings, index=st.index,
                            combination=st.params, attempt=st.attempt)

    def _skip(self, st: TaskState, reason: str) -> None:
        st.status, st.reason = "skipped", reason
        self._context = None
        self._tell(TaskEnded(st.key, "skipped", reason))

    def _timeout_for(self, task: PipelineTask) -> float | None:
        """The TaskRun's timeout: the task's own, within what the run's timeouts leave."""
        now = time.time()
        limits = [task.timeout] if task.timeout else []
        for deadline in (self._deadline, self._finally_deadline if task.is_finally
                         else self._tasks_deadline):
            if deadline is not None:
                limits.append(max(0.001, deadline - now))
        return min(limits) if limits else None

    def _start_task(self, st: TaskState, ctx: PipelineContext) -> None:
        """Resolve the task once for all its TaskRuns, then start its TaskRun, or fan a matrixed
        task out into one per combination."""
        matrixed = st.task.matrix is not None
        try:
            combinations = matrix_combinations(st.task, ctx) if matrixed else None
            if not matrixed or combinations is not None:  # an empty array skips it, as it is
                self._resolved[st.name] = resolve_task(st.task, self.params, ctx)
        except (MissingResult, UserError) as exc:
            self._end(st, "failed", "Failed",
                      str(exc) if isinstance(exc, UserError) else f"{exc} is missing")
            return
        if not matrixed:
            self._start_unit(st)
            return
        if combinations is None:
            self._skip(st, EMPTY_ARRAY_SKIP)
            return
        with self._lock:
            self._context = None  # tasks.<name>.matrix.length
            st.status, st.started_at = "running", time.time()
            st.children = [TaskState(st.task, index=i, params=c, parent=st)
                           for i, c in enumerate(combinations)]
            self.units.update((c.key, c) for c in st.children)
        for child in st.children:
            self._start_unit(child)

    def _start_unit(self, st: TaskState) -> None:
        """Start one TaskRun: a task's, or one combination's of a matrixed task. The scheduler
        only marks it running and hands it to a start thread (``_launch``), which makes its
        TaskRun and session and starts it, so that ready tasks start together, as Tekton's
        controller creates their TaskRuns, instead of one after another's run directory and
        processes."""
        with self._lock:
            st.status = "running"
            st.started_at = st.started_at or time.time()
            self._starting[(st.key, st.attempt)] = None
        self._starts.submit(self._launch, st, st.attempt)

    def _launch(self, st: TaskState, attempt: int) -> None:
        """Make attempt ``attempt`` of ``st``'s TaskRun and its session, and start it (on a start
        thread). A TaskRun stopped meanwhile (``_stop_unit``) or of a closed run is never made,
        or never started, or cancelled once it has."""
        assert self.run is not None
        key = (st.key, attempt)
        if self._stopped_before_start(st, attempt):
            return
        try:
            # what the run's timeouts leave now, not when the start was queued
            task_run = task_run_for(self.run, self._resolved[st.name],
                                    timeout=self._timeout_for(st.task), group=self.uid,
                                    bindings=self.bindings, index=st.index,
                                    combination=st.params, attempt=attempt)
            # host directories serve runtimes on this machine; on a cluster the TaskRuns share
            # the PipelineRun's volume (its workspace bindings, in the TaskRun)
            bindings = {b.name: self._workspace_dir(b.workspace, b.sub_path)
                        for b in st.task.workspaces if b.workspace in self.workspaces} \
                if self.options.runtime != "kubernetes" else {}
            options = dataclasses.replace(self._task_options, workspaces=bindings) \
                if bindings else self._task_options
            session = Session(options, lambda ev: self._on_event(st.key, attempt, ev),
                              runtime_factory=self._runtime_factory or self._create_runtime,
                              masker=self.masker, reload=lambda: self._task_run_as_now(st))
            session.adopt(task_run)
            session.params = resolve_params(task_run)
        except Exception as exc:  # a UserError (its params), or a bug: this task fails
            if not isinstance(exc, UserError):
                log.exception("making the TaskRun of task %s failed", st.key)
            with self._lock:
                stop = self._starting.pop(key, None)
            self._start_failed(st.key, attempt, stop, str(exc) if isinstance(exc, UserError)
                               else f"{type(exc).__name__}: {exc}")
            return
        session.plan.on_failure = self.plan.on_failure
        session.plan.before_steps = self.plan.steps_for(st.task)
        if self._stopped_before_start(st, attempt, session):
            return
        self._tell(TaskStarted(st.key, task_run.name, attempt, dict(st.params)))
        failure = None
        try:
            session.start()
        except UserError as exc:
            self._tell(Notice(f"task {st.key}: {exc}", "important"))
            failure = str(exc)
        except Exception as exc:  # a runtime's bug: this task fails, the run goes on
            log.exception("starting task %s failed", st.key)
            failure = f"{type(exc).__name__}: {exc}"
        with self._lock:
            stop = self._starting.pop(key, None)
            closed = self._closed
        if failure is not None:
            self._start_failed(st.key, attempt, stop, failure)
        elif closed:  # the run was closed while this TaskRun started: nothing of it may stay
            session.close()
        elif stop is not None:  # cancelled when stopped too, but its runtime may not have been
            self._cancel_session(session, stop)  # made yet, or not have taken the cancel

    def _stopped_before_start(self, st: TaskState, attempt: int,
                              session: Session | None = None) -> bool:
        """Whether attempt ``attempt`` of ``st``'s TaskRun was stopped, or its run closed, before
        it started: if so it ends with the stop's reason, never started. If not, ``session`` (when
        given) becomes its session (``sessions``), which a stop from here on cancels at once."""
        key = (st.key, attempt)
        with self._lock:
            stop = "TaskRunCancelled" if self._closed else self._starting.get(key)
            if stop is not None:
                self._starting.pop(key, None)
            elif session is not None:
                previous = self.sessions.get(st.key)
                if previous is not None:
                    self._old_sessions.append(previous)
                self.sessions[st.key] = session
                self._attempts[st.key] = attempt
                assert session.run is not None
                st.task_run = session.run.name
        if stop is not None:
            self._inbox.put(("finished", st.key, attempt,
                             RunFinished(False, stop, "stopped before it started")))
        return stop is not None

    def _start_failed(self, key: str, attempt: int, stop: str | None, message: str) -> None:
        """A TaskRun that could not be made or started fails its task, or ends as it was stopped
        (``stop``: the reason it was stopped with meanwhile)."""
        if stop is not None:
            self._inbox.put(("finished", key, attempt, RunFinished(False, stop, message)))
        else:
            self._inbox.put(("failed to start", key, attempt, message))

    def _create_runtime(self, options: LaunchOptions):
        """A TaskRun's runtime, by name: what ``auto`` probes (engine, images) is probed once
        for the whole PipelineRun."""
        from tekton_debug.runtimes import create_runtime
        return create_runtime(options, self._shared)

    def _workspace_dir(self, workspace: str, sub_path: str) -> str:
        path = self.workspaces[workspace]
        if sub_path:
            path = os.path.normpath(os.path.join(path, sub_path))
            if not path.startswith(self.workspaces[workspace]):
                raise UserError(f"subPath {sub_path!r} leaves workspace {workspace!r}",
                                fix="use a relative path inside the workspace")
            os.makedirs(path, exist_ok=True)
        return path

    def _on_event(self, task: str, attempt: int, ev: RuntimeEvent) -> None:
        """A TaskRun's event (on its runtime's thread): passed on, and its end to the scheduler."""
        self._tell(TaskEvent(task, ev))
        if isinstance(ev, RunFinished):
            self._inbox.put(("finished", task, attempt, ev))

    def _task_finished(self, name: str, attempt: int, ev: RunFinished) -> None:
        st = self.units[name]
        if st.attempt != attempt or st.ended:
            return
        if ev.succeeded:
            try:
                st.results = typed_results(st.task.task, ev.results)
            except UserError as exc:  # Tekton fails such a TaskRun after its steps ran
                self._end(st, "failed", "TaskRunValidationFailed", str(exc))
                return
            self._end(st, "succeeded", "Succeeded", ev.message)
            return
        status = task_status(False, ev.reason)
        stopping = self._stopping is not None and not st.task.is_finally
        if status == "failed" and st.attempt < st.task.retries and not stopping and \
                not self._hard_stop:
            st.attempt += 1
            self._tell(Notice(f"task {st.key} failed ({ev.message}); retry {st.attempt} of "
                              f"{st.task.retries}"))
            self._start_unit(st)
            return
        self._end(st, status, ev.reason, ev.message)

    def _end(self, st: TaskState, status: str, reason: str, message: str) -> None:
        st.status, st.reason, st.message = status, reason, message
        self._context = None
        st.finished_at = time.time()
        parent = st.parent
        if parent is not None:  # one combination: its task ends once they all have
            self._tell(TaskEnded(st.key, status, reason, message))
            if all(c.ended for c in parent.children):
                status, reason, message, results = graph.matrix_outcome(parent.children)
                if status == "succeeded":  # as a task's own: only a task that succeeded has any
                    parent.results = dict(results)
                self._end(parent, status, reason, message)
            return
        if status != "succeeded" and not st.task.is_finally:
            if st.task.on_error == "continue" and status == "failed":
                st.failure_ignored = True
            elif self._stopping is None:
                self._stopping = graph.STOPPING_SKIP
        self._tell(TaskEnded(st.name, status, reason, message))

    def _timed_out(self, which: str) -> None:
        if self.finished is not None:
            return
        if which == "pipeline":
            self._tell(Notice("the PipelineRun's timeout expired: stopping every task",
                              "important"))
            self._stopped, self._hard_stop = "PipelineRunTimeout", True
            self._stopping = graph.PIPELINE_TIMEOUT_SKIP
            targets = list(self.states.values())
        elif which == "tasks":
            self._tell(Notice("timeouts.tasks expired: stopping the tasks; finally tasks run",
                              "important"))
            self._stopping = graph.TASKS_TIMEOUT_SKIP
            targets = [st for st in self.states.values() if not st.task.is_finally]
        else:
            self._tell(Notice("timeouts.finally expired: stopping the finally tasks", "important"))
            targets = [st for st in self.states.values() if st.task.is_finally]
        for st in (u for t in targets for u in t.units):
            if st.status == "running":
                self._stop_unit(st, "TaskRunTimeout")

    def _cancel(self, *, hard: bool) -> None:
        if self.finished is not None:
            return
        self._stopped = "Cancelled"
        self._stopping = graph.GRACEFULLY_CANCELLED_SKIP if not hard else graph.STOPPING_SKIP
        if hard:
            self._hard_stop = True
        for st in (u for t in self.states.values() for u in t.units):
            if st.status == "running" and (hard or not st.task.is_finally):
                self._stop_unit(st)

    def _stop_unit(self, st: TaskState, reason: str = "TaskRunCancelled") -> None:
        """Cancel the current attempt of one running TaskRun. One still being started is
        cancelled at once if its session is made (its runtime may take minutes to start: an image
        pull), and again once it has started; one not made yet never starts (``_launch``)."""
        with self._lock:
            key = (st.key, st.attempt)
            if key in self._starting:
                self._starting[key] = reason
            # never an earlier attempt's session: this attempt's may have failed to be made
            session = self.sessions.get(st.key) \
                if self._attempts.get(st.key) == st.attempt else None
        if session is not None:
            self._cancel_session(session, reason)

    def _cancel_session(self, session: Session, reason: str = "TaskRunCancelled") -> None:
        """Stop one TaskRun: its paused step is marked failed, then it is cancelled (in its own
        thread: a runtime's cancel waits for its steps to end)."""
        def stop() -> None:
            try:
                runtime = session.runtime
                if reason == "TaskRunTimeout" and runtime is not None:
                    session.plan.halt = True
                    runtime.cancel(reason)
                else:
                    session.terminate()
            except Exception as exc:  # a runtime that cannot cancel: say so, go on
                self._tell(Notice(f"could not cancel a TaskRun: {exc}", "warning"))
        threading.Thread(target=stop, daemon=True, name="pipeline-cancel").start()

    def _finish(self) -> None:
        assert self.run is not None
        for t in self._timers:
            t.cancel()
        states = list(self.states.values())
        succeeded, reason, message = graph.pipeline_outcome(states, self._stopped)
        results: dict[str, object] = {}
        ctx = pipeline_context(self.run, self.params, self.states, uid=self.uid)
        for r in self.run.pipeline.results:
            try:
                results[r.name] = resolve_value(r.value, ctx)
            except MissingResult:
                continue  # its task was skipped or failed: left out, as Tekton does
        self._release_claims()  # every TaskRun has ended: nothing mounts them any more
        self.finished = PipelineRunFinished(succeeded, reason, message, results)
        self._tell(self.finished)
        self._done.set()

    # ---- front ends --------------------------------------------------------------------------

    def session_of(self, key: str) -> Session:
        """The session of a TaskRun (its latest attempt), by its key (``TaskState.key``).
        Raises UserError."""
        with self._lock:
            session = self.sessions.get(key)
            st = self.units.get(key) or self.states.get(key)
        if session is None:
            if st is None:
                raise UserError(f"the Pipeline has no task {key!r}",
                                fix="use one of: " + ", ".join(self.states))
            if st.children:
                raise UserError(f"task {key!r} is a matrix of {len(st.children)} TaskRuns",
                                fix="name one of them: " + ", ".join(c.key for c in st.children))
            raise UserError(f"task {key!r} has not started ({st.status})")
        return session

    def rows(self) -> list[TaskState]:
        """Every TaskRun's state (a matrixed task's combinations in its place; the task itself
        when it did not fan out), in the Pipeline's task order."""
        with self._lock:
            return [u for st in self.states.values() for u in st.units]

    def paused(self) -> list[tuple[str, Session, int]]:
        """Every paused step: (TaskRun key, its session, step index), in the Pipeline's task
        order."""
        out = []
        with self._lock:
            for st in self.rows():
                session = self.sessions.get(st.key)
                if session is not None:
                    paused = session.paused
                    if paused is not None:
                        out.append((st.key, session, paused.index))
        return out

    def update_breakpoints(self) -> None:
        """Push the plan's breakpoints to the TaskRuns that are running (the local runtime reads
        them before each step)."""
        with self._lock:
            for key, session in self.sessions.items():
                session.plan.on_failure = self.plan.on_failure
                session.plan.before_steps = self.plan.steps_for(self.units[key].task)

    @property
    def cancelling(self) -> bool:
        """Stop was asked once: a second Stop cancels the finally tasks too."""
        return self._stopped == "Cancelled"

    def terminate(self) -> None:
        """Stop: the first time, as Tekton's graceful cancel (running tasks are cancelled, no new
        task starts, finally tasks still run); again, finally tasks are cancelled too."""
        self._inbox.put(("cancel", self.cancelling))

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)

    def close(self) -> None:
        """End the run (cancelling what still runs) and remove every directory it made."""
        if self._scheduler is not None and self.finished is None:
            self._inbox.put(("cancel", True))
            self._done.wait(CLOSE_WAIT)
        for t in self._timers:
            t.cancel()
        with self._lock:
            self._closed = True  # a TaskRun still being started ends at once (_launch)
            sessions = list(self.sessions.values()) + self._old_sessions
        for s in sessions:
            s.close(terminate=self.finished is None)
        self._release_claims()
        if self._run_dir:
            from tekton_debug.runtimes.local import rundir
            rundir.remove(self._run_dir)  # forgotten as well as removed
            self._run_dir = None
