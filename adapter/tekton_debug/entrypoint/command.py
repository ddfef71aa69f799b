"""``tekton-debug entrypoint``: stands where Tekton's ``/tekton/bin/entrypoint`` stands.

Takes Tekton's flags in Go's flag syntax (``-flag value``, ``-flag=value``, ``--flag``; bool flags
bare or ``=true``/``=false``), then ``-entrypoint CMD -- ARGS``. Runs the command with inherited
stdio in its own process group, forwards SIGTERM/SIGINT to that group, and exits with the
lifecycle's code. Flags Tekton passes that do not concern the lifecycle (credentials,
``-stdout_path``, ``-step_results``, ...) are accepted and ignored.

The banners name the debug scripts at ``/tekton/debug/scripts``, where a user inside the container
runs them, as Tekton's entrypoint does (also where a test cluster maps ``/tekton`` elsewhere). The cancel
file ``<X>/downward/cancel`` (Tekton's ``/tekton/downward/cancel``) cancels the step once it has
content. Imports only what it needs: this runs once per step.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from typing import Sequence

from tekton_debug.entrypoint.lifecycle import (CommandError, Entrypointer, StepCancelled,
                                               StepTimedOut, WaitCancelled)
from tekton_debug.entrypoint.postwriter import FilePostWriter
from tekton_debug.entrypoint.waiter import FileWaiter

TEKTON_DEBUG_SCRIPTS = "/tekton/debug/scripts"

_STRING_FLAGS = {"entrypoint", "wait_file", "post_file", "termination_path", "results",
                 "step_metadata_dir", "on_error", "timeout",
                 # accepted and ignored
                 "stdout_path", "stderr_path", "step_results", "when_expressions", "result_from",
                 "basic-docker", "docker-config", "docker-cfg", "basic-git", "ssh-git"}
_BOOL_FLAGS = {"wait_file_content", "breakpoint_on_failure", "debug_before_step",
               "compress_termination_message"}
_DEFAULTS = {"termination_path": "/tekton/termination"}


class FlagError(Exception):
    pass


def parse_flags(argv: Sequence[str]) -> tuple[dict, list[str], list[str]]:
    """(flags, positional arguments, command arguments after ``--``), as Go's flag package and
    Tekton's ``extractArgs`` split them."""
    argv = list(argv)
    command_args: list[str] = []
    if "--" in argv[1:]:
        at = argv.index("--", 1)
        argv, command_args = argv[:at], argv[at + 1:]
    flags: dict = dict(_DEFAULTS)
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        name = arg[2:] if arg.startswith("--") else arg[1:]
        value: str | None = None
        if "=" in name:
            name, value = name.split("=", 1)
        if name in _BOOL_FLAGS:
            if value is None:
                flags[name] = True
            elif value.lower() in ("1", "t", "true"):
                flags[name] = True
            elif value.lower() in ("0", "f", "false"):
                flags[name] = False
            else:
                raise FlagError(f'invalid boolean value "{value}" for -{name}')
        elif name in _STRING_FLAGS:
            if value is None:
                if i + 1 >= len(argv):
                    raise FlagError(f"flag needs an argument: -{name}")
                i += 1
                value = argv[i]
            flags[name] = value
        else:
            raise FlagError(f"flag provided but not defined: -{name}")
        i += 1
    return flags, argv[i:], command_args


class ProcessRunner:
    """Runs the command with inherited stdio in a new process group; forwards signals to it."""

    def __init__(self, argv: list[str], cancel: threading.Event,
                 steps_dir: str | None = None) -> None:
        self.argv = argv
        self.cancelled = cancel
        self.steps_dir = steps_dir  # earlier steps' results: $(steps.<step>.results.<name>)
        self.proc: subprocess.Popen | None = None

    def signal(self, signum: int) -> None:
        if self.proc and self.proc.returncode is None:
            try:
                os.killpg(self.proc.pid, signum)
            except ProcessLookupError:
                pass

    def run(self, timeout: float | None) -> int:
        if not self.argv:
            return 0
        if self.cancelled.is_set():
            raise StepCancelled()
        env = None
        if self.steps_dir:
            from tekton_debug.entrypoint.stepresults import apply_step_results
            self.argv, env = apply_step_results(self.argv, os.environ, self.steps_dir)
        try:
            if sys.version_info >= (3, 11):
                self.proc = subprocess.Popen(self.argv, process_group=0, env=env)
            else:  # pragma: no cover
                self.proc = subprocess.Popen(self.argv, preexec_fn=os.setpgrp, env=env)
        except OSError as e:
            raise CommandError(f"{self.argv[0]}: {e.strerror or e}") from None
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait()
            raise StepTimedOut() from None
        if self.cancelled.is_set():
            raise StepCancelled()
        return code if code >= 0 else 128 - code


def _log(line: str) -> None:
    # Go's log package: "2006/01/02 15:04:05 message" on stderr.
    sys.stderr.write(time.strftime("%Y/%m/%d %H:%M:%S ") + line + "\n")
    sys.stderr.flush()


def _tekton_dir(post_file: str) -> str:
    """``<X>`` for a post file ``<X>/run/<i>/out``; ``/tekton`` otherwise."""
    parts = os.path.normpath(post_file).split(os.sep) if post_file else []
    if len(parts) >= 3 and parts[-3] == "run" and parts[-1] == "out":
        return os.sep.join(parts[:-3]) or "/"
    return "/tekton"


def main(argv: list[str]) -> int:
    try:
        flags, _positional, command_args = parse_flags(argv)
    except FlagError as e:
        sys.stderr.write(f"{e}\nUsage: tekton-debug entrypoint [Tekton's entrypoint flags] "
                         f"-entrypoint CMD -- ARGS\n")
        return 2
    timeout = None
    if flags.get("timeout"):
        from tekton_debug.tekton.duration import parse_duration
        from tekton_debug.errors import UserError
        try:
            timeout = parse_duration(flags["timeout"])
        except UserError as e:
            sys.stderr.write(f'invalid value "{flags["timeout"]}" for flag -timeout: {e}\n')
            return 2

    command = ([flags["entrypoint"]] if flags.get("entrypoint") else []) + command_args
    cancelled = threading.Event()
    waiter = FileWaiter()
    tekton = _tekton_dir(flags.get("post_file", ""))
    runner = ProcessRunner(command, cancelled, os.path.join(tekton, "steps"))

    def cancel(signum: int | None = None) -> None:
        cancelled.set()
        waiter.cancel()
        runner.signal(signum or signal.SIGKILL)

    def on_signal(signum, _frame) -> None:
        cancel(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    _watch_cancel_file(os.path.join(tekton, "downward", "cancel"), waiter, cancel)

    step_metadata_dir = flags.get("step_metadata_dir", "")
    if step_metadata_dir:
        for sub in ("results", "artifacts"):
            os.makedirs(os.path.join(step_metadata_dir, sub), exist_ok=True)
    ep = Entrypointer(
        waiter=waiter, runner=runner, post_writer=FilePostWriter(),
        wait_files=[f for f in flags.get("wait_file", "").split(",") if f],
        wait_file_content=flags.get("wait_file_content", False),
        post_file=flags.get("post_file", ""),
        termination_path=flags.get("termination_path", ""),
        step_metadata_dir=step_metadata_dir,
        breakpoint_on_failure=flags.get("breakpoint_on_failure", False),
        debug_before_step=flags.get("debug_before_step", False),
        on_error=flags.get("on_error", ""),
        timeout=timeout,
        results=[r for r in flags.get("results", "").split(",") if r],
        results_dir=os.path.join(tekton, "results"),
        log=_log,
        # the banners name the scripts as a user inside the container runs them, as Tekton's do
        debug_scripts_dir=TEKTON_DEBUG_SCRIPTS,
    )
    return ep.go()


def _watch_cancel_file(path: str, waiter: FileWaiter, cancel) -> None:
    """Cancel the step once Tekton's cancel file has content (a daemon thread)."""
    if not os.path.isdir(os.path.dirname(path)):
        return
    watcher = FileWaiter(waiter.cancel_token)

    def watch() -> None:
        try:
            watcher.wait(path, expect_content=True, breakpoint_on_failure=True)
        except (WaitCancelled, Exception):
            return
        cancel()

    threading.Thread(target=watch, name="cancel-file", daemon=True).start()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main(sys.argv[1:]))
