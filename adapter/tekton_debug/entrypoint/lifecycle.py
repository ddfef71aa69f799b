"""The step lifecycle of Tekton's entrypoint (``pkg/entrypoint/entrypointer.go``), with TEP-0042's
breakpoints, as a lifecycle object whose waiter, runner and post-writer are injected.

One step, start to end::

    wait for every wait file (step i-1's ``out``; with -breakpoint_on_failure ``out.err`` too)
        -> ``out.err`` without the breakpoint: skip (write ``out.err``, exit 1)
    -debug_before_step: banner, pause until ``out.beforestepexit`` (run the step) or
        ``out.beforestepexit.err`` (do not run it: write ``out.err``, exit 1)
    run the command (step timeout: kill it, ``out.err``, exit 1, never pause)
    success                      -> ``out``, ``status/exitCode`` = 0, exit 0
    failure, -breakpoint_on_failure
                                 -> termination message, banner, pause until ``out.breakpointexit``;
                                    neither ``out`` nor ``out.err`` nor ``status/exitCode`` is
                                    written (the debug script writes one); exit with the integer in
                                    ``out.breakpointexit`` (missing or unparsable: 0). Overrides
                                    -on_error continue.
    failure, -on_error continue  -> ``out``, ``status/exitCode`` = the code, exit 0
    failure                      -> ``out.err``, exit with the command's code
    cancelled                    -> ``out.err``, ``status/exitCode`` = ``killed``, exit 9; never pauses

The termination message (``-termination_path``) is Tekton's JSON array of ``{key, value, type}``:
the results named by ``-results`` (type 1), then ``StartedAt``, ``ExitCode`` (with onError:
continue), ``Reason`` (type 3). Unlike Tekton, every wait here can be cancelled (Tekton relies on the
pod being deleted); a cancelled wait ends the step as cancelled.
"""

from __future__ import annotations

import enum
import json
import os
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol, Sequence

from tekton_debug.entrypoint.layout import (BEFORE_STEP_EXIT_SUFFIX, BREAKPOINT_EXIT_SUFFIX,
                                            ERR_SUFFIX)

CONTINUE_ON_ERROR = "continue"
STOP_AND_FAIL = "stopAndFail"

TASK_RUN_RESULT_TYPE = 1
INTERNAL_TEKTON_RESULT_TYPE = 3
MAX_TERMINATION_MESSAGE_LENGTH = 4096
CANCELLED_EXIT_CODE = 9  # Tekton exits with int(SIGKILL) when a step is cancelled

ON_FAILURE_BANNER = "debug onFailure breakpoint has taken effect, waiting for user's decision:"
BEFORE_STEP_BANNER = "debug before step breakpoint has taken effect, waiting for user's decision:"


class PauseKind(str, enum.Enum):
    """Same values as ``events.PauseKind`` (this layer sits below the runtimes)."""

    ON_FAILURE = "onFailure"
    BEFORE_STEP = "beforeStep"


# How a pause ended; same values as ``events.Release``.
RELEASE_CONTINUE = "continue"
RELEASE_FAIL_CONTINUE = "failContinue"


class SkipStep(Exception):
    """A wait file's ``.err`` twin exists: a previous step failed (and no breakpoint is on)."""


class WaitCancelled(Exception):
    """The wait was cancelled (the run is being cancelled)."""


class StepTimedOut(Exception):
    """The step's own timeout expired; the runner has killed the command."""


class StepCancelled(Exception):
    """The run was cancelled while the command ran; the runner has killed it."""


class CommandError(Exception):
    """The command could not be started (not found, not executable, bad working directory)."""


class Waiter(Protocol):
    def wait(self, path: str, *, expect_content: bool, breakpoint_on_failure: bool) -> None:
        """Return when ``path`` exists (non-empty with ``expect_content``), or when ``path.err``
        exists and ``breakpoint_on_failure`` is on; raise SkipStep when ``path.err`` exists and
        it is off; raise WaitCancelled when cancelled."""

    def wait_any(self, paths: Sequence[str]) -> str:
        """The first of ``paths`` that exists; raise WaitCancelled when cancelled."""


class Runner(Protocol):
    def run(self, timeout: float | None) -> int:
        """Run the step's command; its exit code. Raises StepTimedOut, StepCancelled,
        CommandError."""


class PostWriter(Protocol):
    def write(self, path: str, content: str = "") -> None:
        """Create ``path`` (and its parents) holding ``content``."""


@dataclass
class StepEnd:
    """How ``Entrypointer.go`` ended, for whoever reports it."""

    exit_code: int
    reason: str  # "Succeeded", "Failed", "Skipped", "BeforeStepFailContinue", "Cancelled",
    #              "TimeoutExceeded", "CommandError", "ContinuedOnError", "ReleasedFromBreakpoint"
    command_exit_code: int | None = None  # what the command itself exited with, if it ran
    released: str | None = None  # RELEASE_* for a step released from an on-failure pause
    message: str = ""


def _no_log(line: str) -> None:
    pass


def _read_file(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


@dataclass
class Entrypointer:
    waiter: Waiter
    runner: Runner
    post_writer: PostWriter
    wait_files: Sequence[str] = ()
    wait_file_content: bool = False
    post_file: str = ""
    termination_path: str = ""
    step_metadata_dir: str = ""
    breakpoint_on_failure: bool = False
    debug_before_step: bool = False
    on_error: str = ""
    timeout: float | None = None  # seconds; None or 0: none
    results: Sequence[str] = ()
    results_dir: str = "/tekton/results"
    log: Callable[[str], None] = _no_log  # banner lines to the step's output (stderr)
    on_pause: Callable[[PauseKind, int | None], None] | None = None
    on_resume: Callable[[PauseKind, str], None] | None = None  # kind, RELEASE_*
    debug_scripts_dir: str = "/tekton/debug/scripts"  # named in the banners
    read_file: Callable[[str], str] = _read_file  # reads out.breakpointexit; OSError if missing
    end: StepEnd | None = field(default=None, init=False)

    # ---- the lifecycle -------------------------------------------------------------------
    def go(self) -> int:
        """Run the step's lifecycle; the container's exit code."""
        self.end = self._go()
        return self.end.exit_code

    def _go(self) -> StepEnd:
        output: list[dict] = []
        for f in self.wait_files:
            if not f:
                continue
            try:
                self.waiter.wait(f, expect_content=self.wait_file_content,
                                 breakpoint_on_failure=self.breakpoint_on_failure)
            except SkipStep:
                if not self.breakpoint_on_failure:
                    self._write_post_file(failed=True)
                output += [_internal("StartedAt", _now()), _internal("Reason", "Skipped")]
                self._write_termination(output)
                self.log("Skipping step because a previous step failed")
                return StepEnd(1, "Skipped", message="a previous step failed")
            except WaitCancelled:
                return self._cancelled(output, started=False)

        if self.debug_before_step:
            kind = PauseKind.BEFORE_STEP
            self._banner(BEFORE_STEP_BANNER, "debug-beforestep-continue",
                         "debug-beforestep-fail-continue")
            if self.on_pause:
                self.on_pause(kind, None)
            run_file = self.post_file + BEFORE_STEP_EXIT_SUFFIX
            try:
                got = self.waiter.wait_any([run_file, run_file + ERR_SUFFIX])
            except WaitCancelled:
                return self._cancelled(output, started=False)
            if got != run_file:
                if self.on_resume:
                    self.on_resume(kind, RELEASE_FAIL_CONTINUE)
                output.append(_internal("StartedAt", _now()))
                self._write_post_file(failed=True)
                self._write_termination(output)
                self.log("Skipping execute step script because before step breakpoint "
                         "fail-continue")
                return StepEnd(1, "BeforeStepFailContinue",
                               message="not run: released with debug-beforestep-fail-continue")
            if self.on_resume:
                self.on_resume(kind, RELEASE_CONTINUE)

        output.append(_internal("StartedAt", _now()))
        if self.timeout is not None and self.timeout < 0:
            self._write_post_file(failed=True)
            self._write_termination(output)
            self.log("negative timeout specified")
            return StepEnd(1, "Failed", message="negative timeout specified")

        exit_code: int | None = None
        start_error = ""
        try:
            exit_code = self.runner.run(self.timeout if self.timeout else None)
        except StepTimedOut:
            self._write_post_file(failed=True)
            output.append(_internal("Reason", "TimeoutExceeded"))
            self._write_termination(output, results=True)
            self.log("context deadline exceeded")
            return StepEnd(1, "TimeoutExceeded",
                           message=f"the step's timeout ({self.timeout:g}s) expired")
        except StepCancelled:
            return self._cancelled(output, started=True)
        except CommandError as e:
            start_error = str(e) or "the command could not be started"

        if exit_code == 0:
            self._write_post_file(failed=False)
            self._write_exit_code("0")
            end = StepEnd(0, "Succeeded", command_exit_code=0)
        elif self.breakpoint_on_failure:
            code = exit_code if exit_code is not None else 1
            if start_error:
                self.log(f"Error executing command: {start_error}")
            termination = self._termination(output, results=True)
            if isinstance(termination, str):
                return self._pause_on_failure(code, start_error, termination)
            # Tekton exits here without a post file and the next step waits forever; write one.
            self._write_post_file(failed=True)
            return termination
        elif self.on_error == CONTINUE_ON_ERROR and exit_code is not None:
            output.append(_internal("ExitCode", str(exit_code)))
            self._write_post_file(failed=False)
            self._write_exit_code(str(exit_code))
            end = StepEnd(0, "ContinuedOnError", command_exit_code=exit_code,
                          message=f"exited with code {exit_code}; onError: continue")
        else:
            self._write_post_file(failed=True)
            if start_error:
                self.log(f"Error executing command: {start_error}")
                end = StepEnd(1, "CommandError", message=start_error)
            else:
                end = StepEnd(exit_code, "Failed", command_exit_code=exit_code,
                              message=f"exited with code {exit_code}")
        too_long = self._write_termination(output, results=True)
        return too_long or end

    # ---- pieces --------------------------------------------------------------------------
    def _pause_on_failure(self, code: int, start_error: str, termination: str) -> StepEnd:
        """Pause after a failure; ``termination`` (the message) is written once the pause is
        told: a file written on a busy disk would delay the pause, not change it."""
        kind = PauseKind.ON_FAILURE
        self._banner(ON_FAILURE_BANNER, "debug-continue", "debug-fail-continue")
        if self.on_pause:
            self.on_pause(kind, code)
        if self.termination_path:
            self.post_writer.write(self.termination_path, termination)
        exit_file = self.post_file + BREAKPOINT_EXIT_SUFFIX
        try:
            self.waiter.wait(exit_file, expect_content=False, breakpoint_on_failure=False)
        except SkipStep:
            pass
        except WaitCancelled:
            return self._cancelled([], started=True, write_termination=False)
        exit_code = self._breakpoint_exit_code(exit_file)
        release = RELEASE_CONTINUE if exit_code == 0 else RELEASE_FAIL_CONTINUE
        if self.on_resume:
            self.on_resume(kind, release)
        message = start_error or f"exited with code {code}"
        return StepEnd(exit_code, "ReleasedFromBreakpoint", command_exit_code=code,
                       released=release, message=message)

    def _breakpoint_exit_code(self, path: str) -> int:
        try:
            text = self.read_file(path)
        except OSError:
            self.log(f"error occurred while reading breakpoint exit code : breakpoint postfile "
                     f"{path} not found")
            return 0
        text = text.rstrip("\n")
        self.log("Breakpoint exiting with exit code " + text)
        try:
            return int(text.strip())
        except ValueError:
            self.log(f"error occurred while reading breakpoint exit code : invalid exit code "
                     f"{text!r}")
            return 0

    def _cancelled(self, output: list[dict], *, started: bool,
                   write_termination: bool = True) -> StepEnd:
        if not any(o["key"] == "StartedAt" for o in output):
            output.append(_internal("StartedAt", _now()))
        output.append(_internal("Reason", "Cancelled"))
        self._write_post_file(failed=True)
        self._write_exit_code("killed")
        if write_termination:
            self._write_termination(output)
        self.log("Step was cancelled")
        return StepEnd(CANCELLED_EXIT_CODE, "Cancelled",
                       message="cancelled" if started else "cancelled before it ran")

    def _banner(self, first: str, cont: str, fail: str) -> None:
        d = self.debug_scripts_dir.rstrip("/")
        self.log(first)
        self.log(f"1) continue, use cmd: {d}/{cont}")
        self.log(f"2) fail-continue, use cmd: {d}/{fail}")

    def _write_post_file(self, *, failed: bool) -> None:
        if self.post_file:
            self.post_writer.write(self.post_file + (ERR_SUFFIX if failed else ""), "")

    def _write_exit_code(self, content: str) -> None:
        if self.step_metadata_dir:
            self.post_writer.write(os.path.join(self.step_metadata_dir, "exitCode"), content)

    def _write_termination(self, output: list[dict], *, results: bool = False) -> StepEnd | None:
        """Write the termination message (with ``results``, the step's results first); a StepEnd
        (exit 1) instead when it is longer than Kubernetes allows, else None."""
        termination = self._termination(output, results=results)
        if isinstance(termination, StepEnd):
            return termination
        if self.termination_path:
            self.post_writer.write(self.termination_path, termination)
        return None

    def _termination(self, output: list[dict], *, results: bool) -> str | StepEnd:
        """The termination message (with ``results``, the step's results first, as Tekton's file
        ends up), or a StepEnd (exit 1) when it is longer than Kubernetes allows."""
        text = json.dumps((self._results() if results else []) + output, separators=(",", ":"),
                          ensure_ascii=False)
        if self.termination_path and len(text.encode()) > MAX_TERMINATION_MESSAGE_LENGTH:
            # Tekton's words; without results, what is too long is the step's own entries
            cause = ", caused by large task result" if results else ""
            message = (f"Termination message is above max allowed size "
                       f"{MAX_TERMINATION_MESSAGE_LENGTH}{cause}.")
            self.log(message)
            return StepEnd(1, "Failed", message=message)
        return text

    def _results(self) -> list[dict]:
        """The results named by ``-results`` that the step wrote, as termination entries."""
        from tekton_debug.errors import UserError
        from tekton_debug.tekton.files import read_regular

        results = []
        for name in self.results:
            if not name:
                continue
            path = os.path.join(self.results_dir, name)
            if not os.path.lexists(path):
                continue
            try:  # one byte over the limit is enough to know the message is too long
                value = read_regular(path, limit=MAX_TERMINATION_MESSAGE_LENGTH + 1, cut=True,
                                     what=f"a file holding result {name!r}")
            except UserError as e:  # a FIFO or a device is not read (it could block or be endless)
                self.log(f"Error while handling results: {e}")
                continue
            results.append({"key": name, "value": value.decode("utf-8", "replace"),
                            "type": TASK_RUN_RESULT_TYPE})
        return results


def _internal(key: str, value: str) -> dict:
    return {"key": key, "value": value, "type": INTERNAL_TEKTON_RESULT_TYPE}


def _now() -> str:
    """Go's "2006-01-02T15:04:05.000Z07:00" for the local time (``Z`` for UTC)."""
    t = time.time()
    lt = time.localtime(t)
    off = lt.tm_gmtoff or 0
    zone = "Z" if off == 0 else "%s%02d:%02d" % ("+" if off > 0 else "-", abs(off) // 3600,
                                                  abs(off) % 3600 // 60)
    return time.strftime("%Y-%m-%dT%H:%M:%S", lt) + ".%03d" % int(t % 1 * 1000) + zone
