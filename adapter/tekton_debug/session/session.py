"""One TaskRun = one debug session.

The session loads the Task, resolves its params, owns the DebugPlan, drives a Runtime and keeps the
state of every step (the "threads" of the debugger). Front ends (the DAP server, the terminal) read
that state and ask it to act; they hear about changes through one listener, which receives the
runtime's events after the session has applied them to its state. The session never knows which
runtime it drives.
"""

from __future__ import annotations

import codecs
import logging
import os
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from tekton_debug.errors import Problem, UserError, WrongTime
from tekton_debug.runtimes.base import Runtime
from tekton_debug.runtimes.timers import TIMERS, Deadline
from tekton_debug.options import LaunchOptions
from tekton_debug.events import (
    DebugPlan, ExecResult, Notice, PauseKind, PythonResumed, PythonStarted, PythonStopped,
    Release, RunFinished, RuntimeEvent, SecretValues, StepEnvironment, StepFinished, StepLog,
    StepPaused, StepResumed, StepRetrying, StepStarted, guarded,
)
from tekton_debug.session.masking import Masker, secret_strings
from tekton_debug.tekton.duration import format_duration
from tekton_debug.tekton.model import TaskRun

log = logging.getLogger(__name__)

TAIL_LINES = 20
LINE_LIMIT = 4096  # characters kept of each of those lines
WARN_BEFORE_TIMEOUT = 300.0  # seconds


@dataclass
class StepState:
    """What the session knows of one step."""

    index: int
    name: str  # the step's debug name (its name, or unnamed-<i>)
    status: str = "waiting"  # waiting, running, paused, succeeded, failed, skipped, cancelled, timedOut
    pause: PauseKind | None = None
    exit_code: int | None = None  # the real exit code (for a paused step: the one that failed)
    message: str | None = None
    started_at: float | None = None  # time.time()
    finished_at: float | None = None
    released_with: Release | None = None
    retries: int = 0  # times the step ran again, as its file was edited, while paused
    tail: deque = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    last_text: str = ""  # the text of the latest output chunk, decoded
    _partial: str = ""
    python: Any = None  # the step's Python debugger (tekton_debug.python), while the step runs
    python_stop: PythonStopped | None = None  # why its Python is stopped (pause PYTHON)
    _decoders: dict = field(default_factory=dict)

    @property
    def duration(self) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at or time.time()) - self.started_at

    @property
    def failure(self) -> str:
        """ "failed with exit code 3", or without the code where the runtime cannot see it (a
        cluster keeps a paused container's exit code to itself)."""
        if self.exit_code is None:
            return "failed (exit code not known while paused)"
        return f"failed with exit code {self.exit_code}"

    @property
    def label(self) -> str:
        """A short state for thread names and frames: "paused: failed, exit 1", "succeeded"."""
        if self.status == "paused":
            if self.pause is PauseKind.PYTHON and self.python_stop is not None:
                return f"paused in Python: {self.python_stop.reason}"
            if self.pause is PauseKind.ON_FAILURE:
                return f"paused: {self.failure}"
            return "paused before start"
        if self.status == "running" and self.retries and self.pause is PauseKind.ON_FAILURE:
            return f"retry {self.retries} running"
        if self.pause is PauseKind.ON_FAILURE and self.status in ("succeeded", "failed"):
            if self.retries and self.released_with is Release.CONTINUE and self.exit_code == 0:
                return f"succeeded on retry {self.retries}"
            how = "marked passed" if self.released_with is Release.CONTINUE else "marked failed"
            return f"{how} ({self.failure})"
        if self.status in ("succeeded", "failed") and self.exit_code is not None:
            return f"{self.status}, exit code {self.exit_code}"
        return self.status

    def decode(self, stream: str, data: bytes) -> str:
        """Decode a chunk, keeping multi-byte characters split across chunks whole."""
        decoder = self._decoders.get(stream)
        if decoder is None:
            decoder = self._decoders[stream] = codecs.getincrementaldecoder("utf-8")("replace")
        return decoder.decode(data)

    def add_output(self, text: str) -> None:
        """Remember the last lines of (already masked) output and show ``text`` as the latest."""
        self.last_text = text
        # only the last lines are kept, each up to LINE_LIMIT: split no more than needed and copy
        # no more than is kept (this runs for every chunk, up to 256 KB)
        pieces = text.rsplit("\n", TAIL_LINES + 1)
        rest = pieces.pop()  # after the last newline: the start of a line to come
        if not pieces:  # no newline: the line that was partial goes on
            self._partial = (self._partial + rest[-LINE_LIMIT:])[-LINE_LIMIT:]
            return
        if len(pieces) <= TAIL_LINES:  # the first piece ends the line that was partial (kept)
            pieces[0] = (self._partial + pieces[0][:LINE_LIMIT])
        for line in pieces[-TAIL_LINES:]:
            self.tail.append(line[:LINE_LIMIT])
        self._partial = rest[-LINE_LIMIT:]

    def last_lines(self, n: int = 10) -> list[str]:
        lines = list(self.tail)
        if self._partial:
            lines.append(self._partial)
        return lines[-n:]


Listener = Callable[[RuntimeEvent], None]
RuntimeFactory = Callable[[LaunchOptions], Runtime]


class Session:
    """A TaskRun being debugged. Thread-safe: front ends call it from their own threads."""

    def __init__(self, options: LaunchOptions, listener: Listener, *,
                 runtime_factory: RuntimeFactory | None = None,
                 masker: Masker | None = None,
                 reload: Callable[[], TaskRun] | None = None) -> None:
        """``masker``: shared with other sessions (a pipeline's TaskRuns), else one of its own.
        ``reload``: the TaskRun as its files are now, for a retry in place (default: the Task
        file of the options read again; a pipeline's TaskRun comes from the Pipeline file)."""
        self.options = options
        self._reload = reload
        self._tell = guarded(listener)
        self._runtime_factory = runtime_factory
        self.plan = DebugPlan()
        self.run: TaskRun | None = None
        self.params: dict = {}
        self.steps: list[StepState] = []
        self.runtime: Runtime | None = None
        self.masker = masker if masker is not None else Masker()
        # the values given for params marked secret are masked from the start (even in the
        # errors that reading them may raise)
        self.masker.add_secrets(v for name, value in options.params.items()
                                if name in options.secrets for v in secret_strings(value))
        self.finished: RunFinished | None = None
        self.started_at: float | None = None
        self.attached = bool(options.task_run and not options.task_file)
        self._lock = threading.RLock()
        self._done = threading.Event()
        self._generation = 0  # bumped by restart: events of an older run are dropped
        self._timers: list[Deadline] = []

    # ---- setting up --------------------------------------------------------------------------

    def load(self) -> TaskRun:
        """Read and check the Task or TaskRun file and the params. Raises UserError."""
        from tekton_debug.tekton.loader import load_file
        from tekton_debug.tekton.params import resolve_params
        from tekton_debug.resolution import remote_resolver

        if self.options.rerun:
            return self._load_rerun(self.options.rerun)
        if not self.options.task_file:
            raise UserError("no Task file given",
                            fix='name a Task or TaskRun YAML file ("task" in launch.json)')
        path = self.options.task_file
        if not os.path.exists(path):
            raise UserError(f"{path}: no such file",
                            fix="check the path; relative paths are from the working directory")
        o = self.options
        resolver = remote_resolver(offline=o.offline, kubeconfig=o.kubeconfig, context=o.context,
                                   namespace=o.namespace)
        run = load_file(path, resolver=resolver, params=o.params,
                        cluster_resolves=o.runtime == "kubernetes")
        self.masker.add_secrets(v for name, value in run.params.items()
                                if name in self.options.secrets for v in secret_strings(value))
        self.params = resolve_params(run, self.options.params)
        self.masker.add_secrets(v for name, value in self.params.items()
                                if name in self.options.secrets for v in secret_strings(value))
        if self.options.timeout is not None:
            from tekton_debug.tekton.duration import parse_duration
            run.timeout = parse_duration(self.options.timeout)
        if run.debug is not None:
            self.plan.on_failure = run.debug.on_failure
            self.plan.before_steps |= set(run.debug.before_steps)
        self.run = run
        self._reset_steps()
        return run

    def _load_rerun(self, name: str) -> TaskRun:
        """A finished TaskRun on the cluster, read to be run again with debug on."""
        runtime = self.runtime = self.runtime or self._runtime()
        prepare = getattr(runtime, "prepare_rerun", None)
        if prepare is None:
            raise UserError(f"re-running TaskRun {name} needs the cluster it ran on",
                            fix='add --runtime kubernetes ("runtime": "kubernetes"), with '
                                "--context / --namespace as needed")
        run = prepare(name)
        from tekton_debug.tekton.params import resolve_params
        self.params = resolve_params(run, {})
        self.plan.on_failure = True
        self.run = run
        self._reset_steps()
        return run

    @staticmethod
    def _from_step(run: TaskRun, name: str, runtime: Runtime) -> int:
        """The index of step ``name``, where a run that skips the steps before it can start.
        Raises UserError when there is no such step, the runtime cannot skip (a cluster runs every
        step), or a step from there on reads a result only a skipped step would write."""
        file = run.source.file if run.source else None
        step = run.task.step_named(name)
        if step is None:
            names = ", ".join(s.debug_name for s in run.task.steps)
            raise UserError(f"--from-step {name}: the Task has no step named {name!r}", file=file,
                            fix=f"use one of: {names}")
        if runtime.name == "kubernetes":
            raise UserError("--from-step skips steps on this machine; on a cluster Tekton runs "
                            "every step of the TaskRun",
                            fix="drop --from-step, or run the Task here (--runtime local or "
                                "container) with its workspace bound to a directory (-w)")
        skipped = run.task.steps[:step.index]

        def text(s) -> str:
            return "\n".join([s.script or "", *s.command, *s.args,
                              *(e.value or "" for e in s.env)])

        problems = []
        for later in run.task.steps[step.index:]:
            said = text(later)
            for earlier in skipped:
                for marker in (f"$(steps.{earlier.debug_name}.results.", f"$(steps.step-"
                               f"{earlier.debug_name}.results."):
                    if marker in said:
                        problems.append(Problem(
                            f"--from-step {name}: step {later.debug_name!r} reads a result of step "
                            f"{earlier.debug_name!r} ({marker}...), which is skipped and writes "
                            "none", file=file, line=later.pos.line if later.pos else None,
                            fix=f"start from step {earlier.debug_name} or earlier"))
            for result in run.task.results:
                ref = f"$(results.{result.name}.path)"
                writer = next((e for e in skipped if ref in text(e)), None)
                if writer is not None and ref in said:
                    problems.append(Problem(
                        f"--from-step {name}: step {later.debug_name!r} uses result "
                        f"{result.name!r}, which skipped step {writer.debug_name!r} writes: it "
                        "would be absent", file=file,
                        line=later.pos.line if later.pos else None,
                        fix=f"start from step {writer.debug_name} or earlier"))
        if problems:
            raise UserError("", problems=problems)
        return step.index

    def _reset_steps(self) -> None:
        assert self.run is not None
        self.steps = [StepState(s.index, s.debug_name) for s in self.run.task.steps]

    def adopt(self, run: TaskRun) -> None:
        """Use a TaskRun the runtime found (attach), instead of loading a file."""
        self.run = run
        self._reset_steps()

    def _runtime(self) -> Runtime:
        if self._runtime_factory is not None:
            return self._runtime_factory(self.options)
        from tekton_debug.runtimes import create_runtime
        return create_runtime(self.options)

    def start(self) -> None:
        """Start the TaskRun. Raises UserError when the runtime refuses it."""
        with self._lock:
            if self.run is None:
                self.load()
            assert self.run is not None
            if self.options.rerun:  # its runtime reads the TaskRun it copies, then creates it
                if self.runtime is None:
                    self._load_rerun(self.options.rerun)
                runtime = self.runtime
            else:
                runtime = self.runtime = self._runtime()
            self.finished = None
            self._done.clear()
            self.started_at = time.time()
            generation = self._generation
            if self.options.from_step:
                self.plan.start_at = self._from_step(self.run, self.options.from_step, runtime)
        try:
            runtime.start(self.run, self.plan, lambda ev: self._on_event(generation, ev))
        except BaseException:  # refused: nothing of it may stay behind, and no runtime is ours
            with self._lock:
                if self.runtime is runtime:
                    self.runtime = None
            runtime.close()
            raise
        self._arm_timeout_warning(generation)

    def attach(self) -> TaskRun:
        """Connect to the existing TaskRun named in the options. Raises UserError."""
        with self._lock:
            runtime = self.runtime = self._runtime()
            self.finished = None
            self._done.clear()
            generation = self._generation
        name = self.options.task_run or ""
        run = runtime.attach(name, self.plan, lambda ev: self._on_event(generation, ev))
        with self._lock:
            if self.run is None or self.run.name != run.name:
                self.adopt(run)
            self.started_at = self.started_at or time.time()
        self._arm_timeout_warning(generation)
        return run

    def restart(self) -> None:
        """End the current run (its paused step fails) and run the TaskRun again from the start.
        The old run's events are dropped from here on: the front ends see one continuous session."""
        with self._lock:
            self._generation += 1
            runtime, self.runtime = self.runtime, None
        if runtime is not None:
            self._stop(runtime)
            runtime.close()
        with self._lock:
            self.plan.pause_before_next = self.plan.halt = False
            self._reset_steps()
        self.start()

    # ---- events from the runtime ---------------------------------------------------------------

    def _on_event(self, generation: int, ev: RuntimeEvent) -> None:
        with self._lock:
            if generation != self._generation:
                return
            if self.run is not None and len(self.steps) != len(self.run.task.steps):
                self._reset_steps()  # the runtime learnt the steps (a Task the cluster resolved)
            if isinstance(ev, (StepPaused, StepFinished)):
                self._flush_output(ev.index)
            self._apply(ev)
            if isinstance(ev, SecretValues):
                return  # the values stay here: front ends have nothing to show of them
        self._tell(ev)
        if isinstance(ev, RunFinished):
            self._done.set()

    def _flush_output(self, index: int) -> None:
        """Output held back because it might begin a secret goes out before the step pauses/ends."""
        st = self.steps[index]
        for stream in ("stdout", "stderr"):
            held = self.masker.flush((index, stream))
            if held:
                st.add_output(st.decode(stream, held))
                self._tell(StepLog(index, stream, b""))

    def _apply(self, ev: RuntimeEvent) -> None:
        if isinstance(ev, StepLog):
            st = self.steps[ev.index]
            # front ends show last_text: masked here, once, for all of them, and before anything
            # of it is kept (the last lines are cut to a length: a cut must not leave a prefix);
            # masked as bytes, then decoded (split characters kept whole)
            st.add_output(st.decode(ev.stream, self.masker.mask_stream((ev.index, ev.stream),
                                                                       ev.data)))
        elif isinstance(ev, SecretValues):
            self.masker.add_secrets(ev.values)
            self._learn_all_secrets()
        elif isinstance(ev, StepStarted):
            st = self.steps[ev.index]
            st.status, st.started_at = "running", time.time()
            self._learn_secrets(ev.index)
        elif isinstance(ev, StepPaused):
            st = self.steps[ev.index]
            st.status, st.pause = "paused", ev.kind
            if ev.kind is PauseKind.ON_FAILURE:
                st.exit_code = ev.exit_code
        elif isinstance(ev, StepRetrying):
            st = self.steps[ev.index]
            st.status, st.retries = "running", st.retries + 1
        elif isinstance(ev, StepResumed):
            st = self.steps[ev.index]
            st.released_with = ev.release
            st.status = "running"
            if st.pause is PauseKind.BEFORE_STEP:
                st.pause = None
        elif isinstance(ev, (PythonStarted, PythonStopped, PythonResumed)):
            st = self.steps[ev.index]
            if isinstance(ev, PythonStarted):
                st.python = ev.debugger
            elif isinstance(ev, PythonStopped):
                st.status, st.pause, st.python_stop = "paused", PauseKind.PYTHON, ev
            elif st.pause is PauseKind.PYTHON:
                st.status, st.pause, st.python_stop = "running", None, None
        elif isinstance(ev, StepFinished):
            st = self.steps[ev.index]
            st.python = st.python_stop = None
            if st.pause is PauseKind.PYTHON:
                st.pause = None
            st.status = ev.outcome.value
            st.finished_at = time.time()
            st.message = ev.message
            if st.pause is not PauseKind.ON_FAILURE or ev.exit_code is None:
                st.exit_code = ev.exit_code if ev.exit_code is not None else st.exit_code
            else:
                # after an on-failure pause the container exits with what the script wrote; the
                # step's own failure code stays what the user saw
                st.exit_code = st.exit_code if st.exit_code is not None else ev.exit_code
        elif isinstance(ev, RunFinished):
            self.finished = ev
            for st in self.steps:
                if st.status in ("waiting", "running", "paused"):
                    st.status = "cancelled" if ev.reason != "Succeeded" else st.status

    # ---- queries -----------------------------------------------------------------------------

    @property
    def paused(self) -> StepState | None:
        with self._lock:
            return next((s for s in self.steps if s.status == "paused"), None)

    def step(self, index: int) -> StepState:
        if not 0 <= index < len(self.steps):
            raise UserError(f"there is no step {index + 1}: the Task has {len(self.steps)} steps")
        return self.steps[index]

    def time_left(self) -> float | None:
        """Seconds before the TaskRun's timeout (it keeps running while paused), or None."""
        deadline = self.runtime.deadline() if self.runtime is not None else None
        return None if deadline is None else max(0.0, deadline - time.time())

    def _arm_timeout_warning(self, generation: int) -> None:
        """Say it once, WARN_BEFORE_TIMEOUT before the TaskRun times out."""
        left = self.time_left()
        if left is None or left <= 0:
            return

        def warn() -> None:
            if generation != self._generation or self.finished is not None:
                return
            now_left = self.time_left()
            if now_left is None:
                return
            self._tell(Notice(
                f"the TaskRun times out in {format_duration(round(now_left))}: then its steps are "
                "stopped, paused or not. Finish here, or raise the timeout (\"timeout\" in the "
                "launch configuration, --timeout) for the next run", level="important"))

        self._timers.append(TIMERS.call_later(left - WARN_BEFORE_TIMEOUT, warn,
                                              name="timeout-warning"))

    def _learn_all_secrets(self) -> None:
        """Every step's env vars marked secret, before the first step runs (an earlier step may
        print what a later one holds)."""
        for index in range(len(self.steps)):
            self._learn_secrets(index)

    def _learn_secrets(self, index: int) -> None:
        """Know the step's secret values before its first output, to mask them there too."""
        try:
            self.environment(index)
        except Exception as exc:  # a runtime that cannot tell yet: masked once it can
            log.debug("no environment for step %s yet: %s", index, exc)

    def environment(self, index: int) -> StepEnvironment:
        env = self._require_runtime().step_environment(index)
        marked = set(self.options.secrets)
        self.masker.add_secrets(value for name, value in env.env.items()
                                if name in env.secret_env or name in marked)
        return env

    def secret_param_values(self) -> frozenset[str]:
        """The strings of the params marked secret (each element of an array, each value of an
        object)."""
        return frozenset(v for name, value in self.params.items() if name in self.options.secrets
                         for v in secret_strings(value))

    def secret_names(self, env: StepEnvironment) -> frozenset[str]:
        """Env vars whose values are masked: from Secrets, or marked secret by the user."""
        return env.secret_env | frozenset(self.options.secrets)

    def _substitution(self, index: int):
        from tekton_debug.tekton import substitution

        env = self.environment(index)
        run = self.run
        assert run is not None
        return substitution.substitution_context(
            run, self.params, results_dir=env.results_dir, workspaces=dict(env.workspaces),
            task_run_name=run.name, namespace=run.namespace or "default", uid=run.raw.get(
                "metadata", {}).get("uid", "") if isinstance(run.raw, dict) else "")

    def tekton_variable(self, index: int, expression: str) -> str | None:
        """The value of one Tekton variable (``$(params.x)``, ``results.x.path``...) as step
        ``index`` sees it, or None when there is no such variable."""
        from tekton_debug.tekton.substitution import lookup
        return lookup(expression, self._substitution(index))

    def substitute(self, index: int, text: str) -> str:
        """``text`` with Tekton's substitutions applied as for step ``index``'s script."""
        from tekton_debug.tekton.substitution import substitute
        return substitute(text, self._substitution(index))

    # ---- actions -----------------------------------------------------------------------------

    def _require_runtime(self) -> Runtime:
        if self.runtime is None:
            raise WrongTime("the TaskRun has not started yet",
                            fix="wait for the launch to finish (configurationDone starts it)")
        return self.runtime

    def _require_paused(self, index: int | None) -> StepState:
        with self._lock:
            paused = self.paused
            if index is None:
                if paused is None:
                    raise WrongTime("no step is paused",
                                    fix="wait for a step to fail or to reach a breakpoint")
                return paused
            st = self.step(index)
            if st.status != "paused":
                where = f"step {paused.name!r} is" if paused else "no step is"
                raise WrongTime(f"step {st.name!r} is not paused ({st.label}); {where} paused")
            return st

    def release(self, release: Release, index: int | None = None) -> StepState:
        """Continue (mark passed / run the step) or fail-continue the paused step."""
        st = self._require_paused(index)
        if st.pause is PauseKind.PYTHON:
            if release is not Release.CONTINUE:
                raise UserError(f"step {st.name!r} is stopped in its Python, not paused by "
                                "Tekton: there is no pass or fail to mark yet",
                                fix="Continue (a failure then pauses as usual), or Stop")
            st.python.resume("continue")
            return st
        self._require_runtime().release(st.index, release)
        return st

    @property
    def retry_script_available(self) -> bool:
        """Whether a shell in a step has ``debug-retry``: a launched run whose runtime places it
        beside the debug scripts (a real cluster has only Tekton's own scripts)."""
        runtime = self.runtime
        return bool((self.options.task_file or self._reload) and not self.attached
                    and runtime is not None and runtime.name != "kubernetes")

    def retry(self, index: int | None = None) -> int:
        """Run the paused step again as its file defines it now, in the step's own environment.
        Exit 0: the step is marked passed (debug-continue) and the run goes on; otherwise it stays
        paused with the new exit code. Returns the retry's exit code. Raises UserError with the
        reason when the step cannot be retried in place (the file no longer loads, the step was
        renamed or its image changed, steps were added or removed before it)."""
        return self.run_retry(*self.check_retry(index))

    def check_retry(self, index: int | None = None) -> tuple[StepState, TaskRun]:
        """The paused step and the run as its file is now, when the step can be retried in place.
        Raises WrongTime or UserError with the reason otherwise."""
        st = self._require_paused(index)
        if st.pause is PauseKind.BEFORE_STEP:
            raise WrongTime(f"step {st.name!r} has not run yet: it is paused before it starts, and "
                            "retry runs a step that failed again",
                            fix="Continue to run it, or restart the run to use an edited file")
        if st.pause is not PauseKind.ON_FAILURE:
            raise WrongTime(f"step {st.name!r} is running (paused in its script), not failed: "
                            "retry runs a step that failed again",
                            fix="Continue; if the step then fails, retry it from its pause")
        self._require_runtime()
        return st, self._reload_for_retry(st)

    def run_retry(self, st: StepState, edited: TaskRun) -> int:
        """Retry step ``st`` from ``edited`` (see :meth:`check_retry`); its exit code."""
        runtime = self._require_runtime()
        with self._lock:
            generation = self._generation
        self._on_event(generation, StepRetrying(st.index))
        try:
            code = runtime.rerun(st.index, edited)
        except BaseException:
            with self._lock:  # the pause goes on: what the retry could not change
                if st.status == "running":
                    st.status = "paused"
            raise
        if code == 0:
            with self._lock:
                st.exit_code = 0
            runtime.release(st.index, Release.CONTINUE)
        return code

    def _reload_for_retry(self, st: StepState) -> TaskRun:
        """The Task file as it is now, when step ``st`` can run from it in its paused place."""
        from tekton_debug.tekton.loader import load_file

        run = self.run
        path = self.options.task_file
        if run is None or not (path or self._reload) or self.attached:
            raise UserError("retry needs the Task file this run was launched from; this session "
                            "is attached to a TaskRun on the cluster",
                            fix="fix the step by hand in its shell and Continue, or launch the "
                                "Task from its file")
        restart = "restart the run (Restart in the editor, or run it again) to use the edited file"
        try:
            edited = self._reload() if self._reload is not None else load_file(path)
        except UserError as exc:
            raise UserError("", problems=[Problem(
                f"cannot retry step {st.name!r}: {path or 'its file'} does not load now", fix="fix the "
                "problems below and retry again; the step stays paused")] + exc.problems) from None
        old, new = run.task.steps, edited.task.steps
        before_old = [s.debug_name for s in old[:st.index]]
        before_new = [s.debug_name for s in new[:st.index]]
        if before_old != before_new:
            raise UserError(f"cannot retry step {st.name!r} in place: the steps before it changed "
                            f"(they were {', '.join(before_old) or 'none'}; the file now has "
                            f"{', '.join(before_new) or 'none'})", fix=restart)
        if len(new) <= st.index or new[st.index].debug_name != st.name:
            found = new[st.index].debug_name if len(new) > st.index else "no step"
            raise UserError(f"cannot retry step {st.name!r} in place: the file now has {found!r} "
                            f"in its place (renamed or removed)", fix=restart)
        if (new[st.index].image or "") != (old[st.index].image or ""):
            raise UserError(f"cannot retry step {st.name!r} in place: its image changed from "
                            f"{old[st.index].image!r} to {new[st.index].image!r}, and a paused "
                            "step's container keeps its image", fix=restart)
        return edited

    def step_over(self, index: int | None = None) -> StepState:
        """Continue, then pause again before the next step (in Python: the next line)."""
        st = self._require_paused(index)
        if st.pause is PauseKind.PYTHON:
            st.python.resume("next")
            return st
        self.plan.pause_before_next = True
        try:
            self._require_runtime().release(st.index, Release.CONTINUE)
        except Exception:
            self.plan.pause_before_next = False
            raise
        return st

    def python_step(self, how: str, index: int | None = None) -> StepState:
        """``stepIn`` or ``stepOut`` in a step stopped in its Python."""
        st = self._require_paused(index)
        if st.pause is not PauseKind.PYTHON:
            raise UserError(f"step {how.replace('step', 'step ').lower()} is for Python: step "
                            f"{st.name!r} is {st.label}, and a step is one process",
                            fix="use Step Over to pause before the next step, or Continue")
        st.python.resume(how)
        return st

    def pause_before_next(self) -> None:
        """A running step cannot be interrupted (Tekton has no such thing): pause before the next."""
        self.plan.pause_before_next = True

    def terminate(self) -> None:
        """The editor's Stop: fail-continue the paused step (marking it failed), then cancel."""
        runtime = self.runtime
        if runtime is not None and self.finished is None:
            self._stop(runtime)

    def _stop(self, runtime: Runtime) -> None:
        self.plan.halt = True
        st = self.paused
        if st is not None and st.pause is not PauseKind.PYTHON:  # a Python stop ends with its step
            try:
                runtime.release(st.index, Release.FAIL_CONTINUE)
            except UserError as exc:
                log.warning("could not fail-continue step %s: %s", st.name, exc)
        runtime.cancel()

    def evaluate(self, index: int, command: str, timeout: float | None = 60.0) -> ExecResult:
        """Run ``command`` with ``sh -c`` in the step's environment, as the step would."""
        return self._require_runtime().exec(index, ["sh", "-c", command], timeout=timeout)

    def exec(self, index: int, argv: Sequence[str], timeout: float | None = 30.0) -> ExecResult:
        return self._require_runtime().exec(index, argv, timeout=timeout)

    def shell_command(self, index: int) -> list[str]:
        return self._require_runtime().shell_command(index)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run has finished. False on timeout."""
        return self._done.wait(timeout)

    def close_runtime(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        runtime, self.runtime = self.runtime, None
        if runtime is not None:
            runtime.close()

    def close(self, *, terminate: bool = True) -> None:
        """End the session. With ``terminate`` the run is stopped first (its paused step fails)."""
        if terminate:
            try:
                self.terminate()
            except UserError as exc:
                log.warning("terminate: %s", exc)
        self.close_runtime()


