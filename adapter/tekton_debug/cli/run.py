"""`tekton-debug run`: run a Task from the terminal; a failed step drops you into a shell inside it.

The terminal front end of the session: it prints each step's log under the step's name, and when
a step pauses it says where and why, then (by default, on a terminal) opens an interactive shell in
the paused step's environment with the debug scripts on PATH. Running a script releases the step at
once and ends the shell, as a container's exit ends a `kubectl exec` session; leaving the shell
without one fails the step (or, before a step, runs it).
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from typing import IO, Callable, Sequence

from tekton_debug.cli import endings
from tekton_debug.errors import UserError, WrongTime
from tekton_debug.options import LaunchOptions
from tekton_debug.events import (
    Notice, PauseKind, Progress, Release, RunFinished, RuntimeEvent, StepFinished, StepLog,
    StepOutcome, StepPaused, StepResumed, StepRetrying, StepStarted,
)
from tekton_debug.session.lines import PrefixedLines
from tekton_debug.session.session import Session

ON_FAILURE = ("shell", "continue", "fail", "stop")
# how a shell ends when debug-retry killed it with SIGUSR1: directly (-10), or as the exit status a
# container engine or kubectl reports for it (128 + 10)
RETRY_EXIT_CODES = (-signal.SIGUSR1, 128 + signal.SIGUSR1)


class Printer:
    """Writes the run to the terminal: step headers, prefixed log lines, outcomes."""

    def __init__(self, out: IO[str], err: IO[str], *, color: bool) -> None:
        self.out, self.err = out, err
        self.color = color
        self.lock = threading.Lock()
        self._lines = PrefixedLines()
        #: Every line printed goes through this (step output is masked by the session already):
        #: the session's secret masking.
        self.mask: Callable[[str], str] = lambda text: text

    def _c(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def line(self, text: str = "", *, err: bool = False) -> None:
        text = self.mask(text)
        with self.lock:
            stream = self.err if err else self.out
            stream.write(text + "\n")
            stream.flush()

    def log(self, name: str, index: int, stream: str, text: str) -> None:
        """Print the whole lines of a step's output, each after ``[name]``. ``text`` is the
        session's ``last_text``, masked already (see session/lines.py)."""
        self._write(stream, self._lines.feed((index, stream), self._prefix(name), text))

    def flush(self, name: str, index: int) -> None:
        for stream in ("stdout", "stderr"):
            self._write(stream, self._lines.flush((index, stream), self._prefix(name)))

    def _prefix(self, name: str) -> str:
        return self._c("2", f"[{self.mask(name)}]") + " "

    def _write(self, stream: str, text: str) -> None:
        if not text:
            return
        with self.lock:
            target = self.err if stream == "stderr" else self.out
            target.write(text)
            target.flush()

    def header(self, text: str) -> None:
        self.line(self._c("1;36", text))

    def good(self, text: str) -> None:
        self.line(self._c("32", text))

    def bad(self, text: str) -> None:
        self.line(self._c("31", text))

    def warn(self, text: str) -> None:
        self.line(self._c("33", text), err=True)


@dataclass(frozen=True)
class _Ending:
    signum: int


class StepShell:
    """The shell open in a paused step, one at a time: run it to its end, tell whether it is open,
    end it when its step is released (as a container's exit ends `kubectl exec`). ``owner`` names
    whose step it is (a pipeline's task); None where there is only one TaskRun."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self._proc: subprocess.Popen | None = None
        self._owner: str | None = None
        self._lock = threading.Lock()

    @property
    def owner(self) -> str | None:
        with self._lock:
            return self._owner

    def is_open(self) -> bool:
        with self._lock:
            return self._proc is not None and self._proc.poll() is None

    def run(self, argv: list[str], owner: str | None = None) -> int:
        """Run the shell until it ends; its exit status (negative: killed by signal)."""
        if not self.tty:
            argv = piped_shell(argv)
        saved = _save_tty()
        try:
            with self._lock:
                self._proc = proc = subprocess.Popen(argv)
                self._owner = owner
            try:
                return proc.wait()  # end signals go to signalled(), never raise here
            except KeyboardInterrupt:
                return proc.wait()
        finally:
            with self._lock:
                self._proc, self._owner = None, None
            _restore_tty(saved)

    def end(self, owner: str | None = None) -> None:
        """End the open shell (``owner``: only if it is that one's)."""
        with self._lock:
            proc = self._proc
            if proc is None or (owner is not None and self._owner != owner):
                return
        if proc.poll() is not None:
            return
        try:
            proc.send_signal(signal.SIGHUP)
            proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            proc.kill()
        except OSError:
            pass


class EndsOnSignal:
    """What a terminal run does with an end signal. Its users have ``tty``, ``shell`` (a
    StepShell), ``events`` (their main thread's queue) and ``_ending``."""

    tty: bool
    shell: StepShell
    events: queue.Queue
    _ending: int | None

    def signalled(self, signum: int) -> None:
        """An end signal (on the signal watcher's thread): the main thread ends the run. Ctrl-C
        at a step's shell in a terminal is the shell's (the terminal sent it there too)."""
        if signum == signal.SIGINT and self.tty and self.shell.is_open():
            return
        self._ending = signum
        self.shell.end()
        self.events.put(_Ending(signum))


class TerminalRun(EndsOnSignal):
    """One `tekton-debug run`: a session with the terminal as its front end."""

    def __init__(self, options: LaunchOptions, *, on_failure: str, break_before: Sequence[str],
                 printer: Printer, stdin_is_tty: bool) -> None:
        self.options = options
        self.on_failure = on_failure
        self.break_before = list(break_before)
        self.printer = printer
        self.tty = stdin_is_tty
        self.on_failure_defaulted = False  # set when --on-failure was not given
        self.events: queue.Queue[RuntimeEvent] = queue.Queue()
        self.session = Session(options, self._on_event)
        printer.mask = self.session.masker.mask
        self.shell = StepShell(stdin_is_tty)
        self._ending: int | None = None  # the signal that ends the run

    # ---- events (runtime threads) ----------------------------------------------------------------

    def _on_event(self, ev: RuntimeEvent) -> None:
        p, s = self.printer, self.session
        if isinstance(ev, StepLog):
            p.log(s.steps[ev.index].name, ev.index, ev.stream, s.steps[ev.index].last_text)
        elif isinstance(ev, StepStarted):
            p.header(f"▶ step {s.steps[ev.index].name}")
        elif isinstance(ev, StepFinished):
            st = s.steps[ev.index]
            p.flush(st.name, ev.index)
            took = f" in {st.duration:.2f} s" if st.duration is not None else ""
            if ev.outcome is StepOutcome.SUCCEEDED:
                note = " (marked passed)" if st.released_with is Release.CONTINUE and \
                    st.pause is PauseKind.ON_FAILURE else ""
                if note and st.retries and st.exit_code == 0:
                    note = f" on retry {st.retries}"
                p.good(f"✓ step {st.name} succeeded{note}{took}")
            elif ev.outcome is StepOutcome.SKIPPED:
                p.line(f"- step {st.name} skipped" + (f": {ev.message}" if ev.message else ""))
            else:
                code = f" (exit code {ev.exit_code})" if ev.exit_code is not None else ""
                p.bad(f"✗ step {st.name} {ev.outcome.value}{code}{took}")
        elif isinstance(ev, StepPaused):
            p.flush(s.steps[ev.index].name, ev.index)
            self.events.put(ev)
        elif isinstance(ev, StepResumed):
            self.shell.end()
            self.events.put(ev)
        elif isinstance(ev, StepRetrying):
            p.flush(s.steps[ev.index].name, ev.index)
        elif isinstance(ev, Notice):
            (p.warn if ev.level != "info" else p.line)(
                ("warning: " if ev.level == "warning" else "") + ev.message)
        elif isinstance(ev, Progress):
            if ev.message and not ev.done:
                p.line(f"… {ev.message}")
        elif isinstance(ev, RunFinished):
            self.shell.end()
            self.events.put(ev)

    # ---- the main thread ----------------------------------------------------------------------------

    def execute(self) -> int:
        s = self.session
        if self.options.task_run and not self.options.task_file:
            run = s.attach()
        else:
            run = s.load()
            for name in self.break_before:
                if run.task.step_named(name) is None:
                    names = ", ".join(st.debug_name for st in run.task.steps)
                    raise UserError(f"--break-before {name}: the Task has no step named {name!r}",
                                    fix=f"use one of: {names}")
            if self.on_failure_defaulted and run.debug is not None and run.debug.on_failure:
                self.on_failure = "shell"  # the file asks for the breakpoint: it wins over a default
            s.plan.on_failure = self.on_failure != "stop"
            s.plan.before_steps.update(self.break_before)
            steps = f"{len(run.task.steps)} steps" if run.unresolved is None else \
                "steps from the cluster's resolver"
            self.printer.header(f"TaskRun {run.name}: {steps} ({self.options.runtime})")
            for w in run.warnings:  # what Tekton accepts but may not do what it seems to
                self.printer.warn(f"warning: {' '.join(str(w).split(chr(10))[0].split())}")
            s.start()
        started = time.monotonic()
        while True:
            ev = self.events.get()
            if isinstance(ev, _Ending):
                raise endings.Ended(ev.signum)
            if isinstance(ev, StepPaused):
                self._paused(ev)
            elif isinstance(ev, RunFinished):
                took = time.monotonic() - started
                text = f"TaskRun {run.name} {ev.reason} in {took:.2f} s"
                if ev.message and not ev.succeeded:
                    text += f": {ev.message}"
                (self.printer.good if ev.succeeded else self.printer.bad)(text)
                if not ev.succeeded and self.on_failure_defaulted and not self.tty:
                    self.printer.warn(
                        "stdin is not a terminal, so failed steps did not pause (--on-failure "
                        "stop). Open a terminal to get a shell in the failed step, or decide from "
                        "a script: echo debug-continue | tekton-debug run FILE --on-failure shell")
                return 0 if ev.succeeded else 1

    def _paused(self, ev: StepPaused) -> None:
        s = self.session
        st = s.steps[ev.index]
        if st.status != "paused":
            return  # released already (e.g. by a script run from another terminal)
        step = s.run.task.steps[ev.index]
        where = ""
        if s.run.source and s.run.source.file and step.pos:
            where = f"{os.path.relpath(s.run.source.file)}:{step.pos.line}"
        p = self.printer
        failure = ev.kind is PauseKind.ON_FAILURE
        if failure:
            p.bad(f"⏸ step {st.name} {st.failure}: paused "
                  f"(onFailure breakpoint){'  ' + where if where else ''}")
            tail = st.last_lines(10)
            if tail:
                p.line("  last output:")
                for line in tail:
                    p.line(f"  | {s.masker.mask(line)}")
        else:
            p.header(f"⏸ paused before step {st.name}{'  ' + where if where else ''}")
        left = s.time_left()
        if left is not None:
            p.line(f"  the TaskRun times out in {int(left // 60)} min {int(left % 60)} s")
        action = self.on_failure if failure else "shell"
        if action == "continue":
            p.line("  --on-failure continue: marking the step passed (debug-continue)")
            self._release(Release.CONTINUE)
        elif action == "fail":
            p.line("  --on-failure fail: marking the step failed (debug-fail-continue)")
            self._release(Release.FAIL_CONTINUE)
        else:
            self._shell_in(ev.index, failure)

    def _release(self, release: Release) -> None:
        try:
            self.session.release(release)
        except WrongTime:
            pass  # a script released it meanwhile (the runtime says so): nothing left to do

    def _shell_in(self, index: int, failure: bool) -> None:
        p, s = self.printer, self.session
        name = s.steps[index].name
        if failure:
            p.line("  You are in a shell inside the step's environment (its env, working directory, "
                   "params and workspaces).")
            p.line("    debug-continue        mark the step passed and go on")
            p.line("    debug-fail-continue   mark the step failed and go on")
            if failure and s.retry_script_available:
                p.line(RETRY_LINE)
            p.line("    exit                  leave without deciding: the step is marked failed")
        else:
            p.line("  You are in a shell inside the step's environment, before it runs.")
            p.line("    debug-beforestep-continue       run the step")
            p.line("    debug-beforestep-fail-continue  skip it and mark it failed")
            p.line("    exit                            leave without deciding: the step runs")
        release = shell_until_decided(p, s, index, name, failure,
                                      lambda: self.shell.run(s.shell_command(index)),
                                      lambda: self._ending is not None)
        if release is not None:
            p.line(f"  shell closed without a decision: "
                   f"{'marking step ' + name + ' failed' if failure else 'running step ' + name}")
            self._release(release)


RETRY_LINE = ("    debug-retry           run the step again as its file defines it now "
              "(edit the file first)")


def shell_until_decided(p: Printer, s: Session, index: int, shown: str, failure: bool,
                        run_shell: Callable[[], int], ending: Callable[[], bool]
                        ) -> Release | None:
    """Keep a shell open in paused step ``index`` until it is decided: a debug script released it
    (None), or the shell was left without one (the release to make). ``debug-retry`` (the shell
    ended by SIGUSR1) runs the step again from its file, and the shell opens again while it still
    fails. ``shown``: the step's name as the terminal shows it."""
    retry = failure and s.retry_script_available
    while True:
        code = run_shell()
        if ending() or s.steps[index].status != "paused":
            return None  # the run ends, or a script released the step
        if not (retry and code in RETRY_EXIT_CODES):
            return Release.FAIL_CONTINUE if failure else Release.CONTINUE
        if _retry(p, s, index, shown):
            return None
        p.line("  still failing: back in the shell (debug-retry to try again)")


def _retry(p: Printer, s: Session, index: int, shown: str) -> bool:
    """``debug-retry``: run the step again from its file; True when it passed."""
    p.header(f"↻ step {shown}: running it again as its file defines it now")
    try:
        code = s.retry(index)
    except UserError as exc:
        for problem in exc.problems:
            p.bad(f"  {s.masker.mask(str(problem))}")
        return False
    p.flush(s.steps[index].name, index)
    if code == 0:
        return True
    p.bad(f"⏸ step {shown} failed again with exit code {code}: still paused")
    for line in s.steps[index].last_lines(5):
        p.line(f"  | {s.masker.mask(line)}")
    return False


def piped_shell(argv: Sequence[str]) -> list[str]:
    """A shell command for commands that come from a pipe, not a terminal: no prompts (``sh``, not
    ``sh -i``) and, for ``kubectl exec`` (and ``podman``/``docker exec``), no terminal asked of the
    cluster (``-i``, not ``-it``:
    kubectl refuses a TTY when its stdin is not one and the shell prints job-control warnings)."""
    argv = list(argv)
    if argv and os.path.basename(argv[0]) in ("podman", "docker"):
        argv = [{"-it": "-i"}.get(a, a) for a in argv]  # no terminal asked of the engine
    if argv[-1:] == ["-i"]:
        return argv[:-1]
    if argv and os.path.basename(argv[0]) == "kubectl" and "--" in argv:
        cut = argv.index("--")
        flags = [{"-it": "-i", "-ti": "-i"}.get(a, a) for a in argv[:cut]
                 if a not in ("-t", "--tty", "--tty=true")]
        command = argv[cut:]
        if command[-1:] and command[-1].endswith("exec sh -i"):
            command[-1] = command[-1][:-len(" -i")]
        elif command[-1:] == ["-i"]:
            command = command[:-1]
        return flags + command
    return argv


def _save_tty():
    if not sys.stdin.isatty():
        return None
    try:
        import termios
        return termios.tcgetattr(sys.stdin.fileno())
    except Exception:
        return None


def _restore_tty(saved) -> None:
    """Give the terminal back to this process as it was: its modes, and the foreground (a shell
    killed by a signal, as by debug-retry, cannot hand the terminal back itself)."""
    if saved is None:
        return
    try:
        import termios
        fd = sys.stdin.fileno()
        if os.tcgetpgrp(fd) != os.getpgrp():
            old = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
            try:
                os.tcsetpgrp(fd, os.getpgrp())
            finally:
                signal.signal(signal.SIGTTOU, old)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    except Exception:
        pass


def parse_assignments(items: Sequence[str], flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise UserError(f"{flag} {item}: expected NAME=VALUE", fix=f"write e.g. {flag} name=value")
        out[name] = value
    return out


def run_main(args) -> int:
    """The `run` subcommand, with parsed arguments."""
    stdin_tty = sys.stdin.isatty()
    on_failure = args.on_failure or ("shell" if stdin_tty else "stop")
    if args.timeout is not None and not args.timeout.strip():
        raise UserError("--timeout is empty",
                        fix='give a Go duration such as "30m" or "1h" ("0s" for none), or leave it out')
    workspaces = parse_assignments(args.workspace, "-w")
    for name, path in workspaces.items():
        if not os.path.isdir(path):
            raise UserError(f"-w {name}={path}: no such directory", fix="create it or fix the path")
    options = LaunchOptions(
        task_file=args.file, params=parse_assignments(args.param, "-p"),
        workspaces={k: os.path.abspath(v) for k, v in workspaces.items()},
        runtime=args.runtime, engine=args.engine, network=args.network,
        namespace=args.namespace, context=args.context,
        kubeconfig=args.kubeconfig, timeout=args.timeout, task_run=args.attach,
        secrets=tuple(args.secret), offline=args.offline, rerun=args.rerun,
        from_step=args.from_step, keep_claims=args.keep_claims,
        pipeline_run=args.attach_pipeline)
    if args.rerun and (args.file or args.attach):
        raise UserError("--rerun copies a TaskRun from the cluster: give no file and no --attach",
                        fix=f"tekton-debug run --rerun {args.rerun} --runtime kubernetes")
    if args.attach_pipeline:
        if args.file or args.attach or args.rerun:
            raise UserError("--attach-pipeline follows a PipelineRun already running on the "
                            "cluster: give no file, --attach or --rerun with it",
                            fix=f"tekton-debug run --attach-pipeline {args.attach_pipeline} "
                                "--runtime kubernetes")
    elif not args.file and not args.attach and not args.rerun:
        raise UserError("run: name a Task or TaskRun file", fix="tekton-debug run examples/failing-task.yaml")
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    printer = Printer(sys.stdout, sys.stderr, color=color)
    from tekton_debug.tekton.pipeline_loader import is_pipeline_file
    if args.attach_pipeline or args.file and not args.attach and is_pipeline_file(args.file):
        from tekton_debug.cli.pipeline import pipeline_main
        return pipeline_main(options, on_failure=on_failure, break_before=args.break_before,
                             printer=printer, stdin_is_tty=stdin_tty)
    run = TerminalRun(options, on_failure=on_failure, break_before=args.break_before,
                      printer=printer, stdin_is_tty=stdin_tty)
    run.on_failure_defaulted = args.on_failure is None
    endings.call_on_end_signals(run.signalled)  # nothing is raised into the cleanup below
    try:
        return run.execute()
    except UserError as exc:  # reported by main(): masked, as everything else printed
        raise run.session.masker.mask_error(exc) from None
    except (KeyboardInterrupt, endings.Ended) as exc:
        printer.warn(f"{'interrupted' if exc.args[:1] in ((), ('SIGINT',)) else exc}: "
                     f"cancelling the TaskRun")
        run.session.close(terminate=True)
        return endings.exit_code(exc)
    finally:
        run.session.close(terminate=True)
