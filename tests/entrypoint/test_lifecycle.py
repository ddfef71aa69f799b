"""The step lifecycle (Tekton's entrypointer) with a fake waiter, runner and post-writer: every row of
the files table in tekton-facts.md section 2, without a process or a file."""

from __future__ import annotations

import json
import os

import pytest

from tekton_debug.entrypoint.lifecycle import (ON_FAILURE_BANNER, BEFORE_STEP_BANNER, CommandError,
                                               Entrypointer, PauseKind, SkipStep, StepCancelled,
                                               StepTimedOut, WaitCancelled)

POST = "/t/run/1/out"


class FakeFiles:
    """A file system of names: the waiter sees what the post-writer (or a 'script') wrote."""

    def __init__(self, existing=()):
        self.files: dict[str, str] = {p: "" for p in existing}
        self.writes: list[tuple[str, str]] = []
        self.on_wait = None  # called when a wait would block: plays the user releasing a pause

    # PostWriter
    def write(self, path, content=""):
        self.files[path] = content
        self.writes.append((path, content))

    # Waiter
    def wait(self, path, *, expect_content, breakpoint_on_failure):
        for _ in range(2):
            if path in self.files and (not expect_content or self.files[path]):
                return
            if path + ".err" in self.files:
                if breakpoint_on_failure:
                    return
                raise SkipStep()
            self._block([path])
        raise AssertionError(f"waited forever for {path}")

    def wait_any(self, paths):
        for _ in range(2):
            for p in paths:
                if p in self.files:
                    return p
            self._block(paths)
        raise AssertionError(f"waited forever for {paths}")

    def _block(self, paths):
        if self.on_wait is None:
            raise AssertionError(f"waited forever for {paths}")
        self.on_wait(paths)

    def read(self, path):
        if path not in self.files:
            raise FileNotFoundError(path)
        return self.files[path]

    def written(self):
        return [p for p, _ in self.writes]


class FakeRunner:
    def __init__(self, exit_code=0, raises=None):
        self.exit_code = exit_code
        self.raises = raises
        self.runs = 0
        self.timeout = "unset"

    def run(self, timeout):
        self.runs += 1
        self.timeout = timeout
        if self.raises:
            raise self.raises
        return self.exit_code


def make(files, runner, **kw):
    lines, pauses, resumes = [], [], []
    kw.setdefault("wait_files", ["/t/run/0/out"])
    ep = Entrypointer(waiter=files, runner=runner, post_writer=files, post_file=POST,
                      termination_path="/t/termination", read_file=files.read, step_metadata_dir="/t/run/1/status",
                      log=lines.append, on_pause=lambda k, c: pauses.append((k, c)),
                      on_resume=lambda k, r: resumes.append((k, r)), **kw)
    return ep, lines, pauses, resumes


def continue_script(files):
    """What debug-continue does: out first, then out.breakpointexit = 0."""
    files.write(POST, "")
    files.write(POST + ".breakpointexit", "0\n")


def fail_continue_script(files):
    files.write(POST + ".err", "")
    files.write(POST + ".breakpointexit", "1\n")


def termination(files):
    return json.loads(files.files["/t/termination"])


# ---- success and plain failure ------------------------------------------------------------

def test_success_writes_out_and_exit_code_zero():
    files = FakeFiles(["/t/run/0/out"])
    ep, *_ = make(files, FakeRunner(0))
    assert ep.go() == 0
    assert files.files[POST] == ""
    assert files.files["/t/run/1/status/exitCode"] == "0"
    assert POST + ".err" not in files.files
    keys = [(r["key"], r["type"]) for r in termination(files)]
    assert keys == [("StartedAt", 3)]


def test_failure_without_breakpoint_writes_out_err_and_exits_with_the_code():
    files = FakeFiles(["/t/run/0/out"])
    ep, lines, pauses, _ = make(files, FakeRunner(3))
    assert ep.go() == 3
    assert POST + ".err" in files.files and POST not in files.files
    assert "/t/run/1/status/exitCode" not in files.files  # Tekton writes none here
    assert pauses == [] and ON_FAILURE_BANNER not in lines


def test_step_after_a_failed_step_is_skipped_without_breakpoint():
    files = FakeFiles(["/t/run/0/out.err"])
    runner = FakeRunner(0)
    ep, lines, *_ = make(files, runner)
    assert ep.go() == 1
    assert runner.runs == 0
    assert POST + ".err" in files.files
    assert ep.end.reason == "Skipped"
    assert {"key": "Reason", "value": "Skipped", "type": 3} in termination(files)
    assert "Skipping step because a previous step failed" in lines


def test_step_after_a_failed_step_runs_with_breakpoint_on_failure():
    files = FakeFiles(["/t/run/0/out.err"])
    runner = FakeRunner(0)
    ep, *_ = make(files, runner, breakpoint_on_failure=True)
    assert ep.go() == 0
    assert runner.runs == 1 and POST in files.files


def test_first_step_waits_for_ready_file_content():
    files = FakeFiles()
    files.files["/t/downward/ready"] = ""
    files.on_wait = lambda paths: files.write("/t/downward/ready", "READY")
    runner = FakeRunner(0)
    ep, *_ = make(files, runner, wait_files=["/t/downward/ready"], wait_file_content=True)
    assert ep.go() == 0 and runner.runs == 1


def test_results_go_first_in_the_termination_message(tmp_path):
    (tmp_path / "digest").write_text("sha256:abc")
    files = FakeFiles(["/t/run/0/out"])
    ep, *_ = make(files, FakeRunner(0), results=["digest", "missing"], results_dir=str(tmp_path))
    ep.go()
    msg = termination(files)
    assert msg[0] == {"key": "digest", "value": "sha256:abc", "type": 1}
    assert [r["key"] for r in msg[1:]] == ["StartedAt"]


def test_oversized_termination_message_fails_the_step(tmp_path):
    (tmp_path / "big").write_text("x" * 5000)
    files = FakeFiles(["/t/run/0/out"])
    ep, lines, *_ = make(files, FakeRunner(0), results=["big"], results_dir=str(tmp_path))
    assert ep.go() == 1
    assert any("above max allowed size 4096" in line for line in lines)


@pytest.mark.timeout(30)
def test_a_result_that_is_endless_or_a_fifo_is_not_read_whole(tmp_path):
    os.symlink("/dev/zero", tmp_path / "endless")  # read whole, it fills the memory
    os.mkfifo(tmp_path / "fifo")  # opened for reading, it blocks until a writer comes
    with open(tmp_path / "huge", "wb") as f:
        f.truncate(1 << 30)  # a sparse GiB: only its first 4 KB are read
    files = FakeFiles(["/t/run/0/out"])
    ep, lines, *_ = make(files, FakeRunner(0), results=["fifo", "endless"],
                         results_dir=str(tmp_path))
    assert ep.go() == 0
    assert any("Error while handling results" in line and "fifo" in line
               and "FIFO" in line for line in lines)
    assert any("endless" in line and "character device" in line for line in lines)
    files = FakeFiles(["/t/run/0/out"])
    ep, lines, *_ = make(files, FakeRunner(0), results=["huge"], results_dir=str(tmp_path))
    assert ep.go() == 1
    assert any("above max allowed size 4096" in line for line in lines)


# ---- onError ------------------------------------------------------------------------------

def test_on_error_continue_writes_out_and_keeps_the_code_in_status():
    files = FakeFiles(["/t/run/0/out"])
    ep, _, pauses, _ = make(files, FakeRunner(5), on_error="continue")
    assert ep.go() == 0
    assert POST in files.files and POST + ".err" not in files.files
    assert files.files["/t/run/1/status/exitCode"] == "5"
    assert {"key": "ExitCode", "value": "5", "type": 3} in termination(files)
    assert pauses == []


def test_breakpoint_overrides_on_error_continue():
    files = FakeFiles(["/t/run/0/out"])
    files.on_wait = lambda paths: continue_script(files)
    ep, lines, pauses, _ = make(files, FakeRunner(5), on_error="continue",
                                breakpoint_on_failure=True)
    assert ep.go() == 0
    assert pauses == [(PauseKind.ON_FAILURE, 5)]
    assert "/t/run/1/status/exitCode" not in files.files


# ---- the on-failure breakpoint ------------------------------------------------------------

def test_failure_with_breakpoint_pauses_writing_neither_out_nor_err():
    files = FakeFiles(["/t/run/0/out"])
    seen_at_pause = {}

    def release(paths):
        assert paths == [POST + ".breakpointexit"]
        seen_at_pause.update(files.files)
        continue_script(files)

    files.on_wait = release
    ep, lines, pauses, resumes = make(files, FakeRunner(7), breakpoint_on_failure=True)
    assert ep.go() == 0
    assert POST not in seen_at_pause and POST + ".err" not in seen_at_pause
    assert "/t/run/1/status/exitCode" not in seen_at_pause
    assert "/t/termination" in seen_at_pause  # written before the pause
    assert pauses == [(PauseKind.ON_FAILURE, 7)]
    assert resumes == [(PauseKind.ON_FAILURE, "continue")]
    assert lines[:3] == [ON_FAILURE_BANNER,
                         "1) continue, use cmd: /tekton/debug/scripts/debug-continue",
                         "2) fail-continue, use cmd: /tekton/debug/scripts/debug-fail-continue"]
    assert ep.end.command_exit_code == 7


def test_fail_continue_exits_with_one_and_leaves_out_err():
    files = FakeFiles(["/t/run/0/out"])
    files.on_wait = lambda paths: fail_continue_script(files)
    ep, _, _, resumes = make(files, FakeRunner(7), breakpoint_on_failure=True)
    assert ep.go() == 1
    assert POST + ".err" in files.files and POST not in files.files
    assert resumes == [(PauseKind.ON_FAILURE, "failContinue")]


@pytest.mark.parametrize("content, code", [("", 0), ("garbage", 0), ("42\n", 42)])
def test_breakpoint_exit_code_is_the_integer_in_the_file(content, code):
    files = FakeFiles(["/t/run/0/out"])

    def release(paths):
        files.write(POST, "")
        files.write(POST + ".breakpointexit", content)

    files.on_wait = release
    ep, *_ = make(files, FakeRunner(7), breakpoint_on_failure=True)
    assert ep.go() == code


def test_continue_writes_out_before_breakpointexit_so_the_next_step_can_start():
    """Issue #5636: a release that writes only out.breakpointexit leaves the next step waiting."""
    files = FakeFiles(["/t/run/0/out"])
    files.on_wait = lambda paths: continue_script(files)
    ep, *_ = make(files, FakeRunner(1), breakpoint_on_failure=True)
    ep.go()
    order = files.written()
    assert order.index(POST) < order.index(POST + ".breakpointexit")
    nxt, *_ = make(files, FakeRunner(0), wait_files=[POST])
    nxt.post_file = "/t/run/2/out"
    assert nxt.go() == 0


def test_command_that_cannot_start_pauses_with_breakpoint():
    files = FakeFiles(["/t/run/0/out"])
    files.on_wait = lambda paths: continue_script(files)
    ep, lines, pauses, _ = make(files, FakeRunner(raises=CommandError("nope: not found")),
                                breakpoint_on_failure=True)
    assert ep.go() == 0
    assert pauses == [(PauseKind.ON_FAILURE, 1)]
    assert "Error executing command: nope: not found" in lines


def test_command_that_cannot_start_fails_even_with_on_error_continue():
    files = FakeFiles(["/t/run/0/out"])
    ep, *_ = make(files, FakeRunner(raises=CommandError("nope")), on_error="continue")
    assert ep.go() == 1
    assert POST + ".err" in files.files


# ---- timeout and cancellation never pause -------------------------------------------------

def test_step_timeout_never_pauses():
    files = FakeFiles(["/t/run/0/out"])
    runner = FakeRunner(raises=StepTimedOut())
    ep, lines, pauses, _ = make(files, runner, breakpoint_on_failure=True, timeout=2.5)
    assert ep.go() == 1
    assert runner.timeout == 2.5
    assert pauses == []
    assert POST + ".err" in files.files
    assert {"key": "Reason", "value": "TimeoutExceeded", "type": 3} in termination(files)


def test_zero_timeout_means_none():
    files = FakeFiles(["/t/run/0/out"])
    runner = FakeRunner(0)
    ep, *_ = make(files, runner, timeout=0)
    ep.go()
    assert runner.timeout is None


def test_cancellation_never_pauses():
    files = FakeFiles(["/t/run/0/out"])
    ep, _, pauses, _ = make(files, FakeRunner(raises=StepCancelled()), breakpoint_on_failure=True)
    assert ep.go() == 9
    assert pauses == []
    assert POST + ".err" in files.files
    assert files.files["/t/run/1/status/exitCode"] == "killed"
    assert {"key": "Reason", "value": "Cancelled", "type": 3} in termination(files)


def test_cancelled_while_paused_ends_the_step_as_cancelled():
    files = FakeFiles(["/t/run/0/out"])

    def cancelled(paths):
        raise WaitCancelled()

    files.on_wait = cancelled
    ep, _, pauses, resumes = make(files, FakeRunner(3), breakpoint_on_failure=True)
    assert ep.go() == 9
    assert pauses == [(PauseKind.ON_FAILURE, 3)] and resumes == []
    assert POST + ".err" in files.files


# ---- the before-step breakpoint -----------------------------------------------------------

def test_before_step_continue_runs_the_step():
    files = FakeFiles(["/t/run/0/out"])
    runner = FakeRunner(0)

    def release(paths):
        assert runner.runs == 0
        assert paths == [POST + ".beforestepexit", POST + ".beforestepexit.err"]
        files.write(POST + ".beforestepexit", "0\n")

    files.on_wait = release
    ep, lines, pauses, resumes = make(files, runner, debug_before_step=True)
    assert ep.go() == 0
    assert runner.runs == 1
    assert pauses == [(PauseKind.BEFORE_STEP, None)]
    assert resumes == [(PauseKind.BEFORE_STEP, "continue")]
    assert lines[:3] == [
        BEFORE_STEP_BANNER,
        "1) continue, use cmd: /tekton/debug/scripts/debug-beforestep-continue",
        "2) fail-continue, use cmd: /tekton/debug/scripts/debug-beforestep-fail-continue"]


def test_before_step_fail_continue_skips_the_step_and_fails():
    files = FakeFiles(["/t/run/0/out"])
    runner = FakeRunner(0)
    files.on_wait = lambda paths: files.write(POST + ".beforestepexit.err", "1\n")
    ep, _, _, resumes = make(files, runner, debug_before_step=True)
    assert ep.go() == 1
    assert runner.runs == 0
    assert POST + ".err" in files.files and POST not in files.files
    assert resumes == [(PauseKind.BEFORE_STEP, "failContinue")]


def test_before_step_pause_comes_after_the_wait_files():
    files = FakeFiles()
    order = []

    def on_wait(paths):
        if paths == ["/t/run/0/out"]:
            order.append("waited")
            files.write("/t/run/0/out")
        else:
            order.append("paused")
            files.write(POST + ".beforestepexit", "0")

    files.on_wait = on_wait
    ep, *_ = make(files, FakeRunner(0), debug_before_step=True)
    ep.go()
    assert order == ["waited", "paused"]


def test_banner_names_the_scripts_of_the_given_directory():
    files = FakeFiles(["/t/run/0/out"])
    files.on_wait = lambda paths: continue_script(files)
    ep, lines, *_ = make(files, FakeRunner(1), breakpoint_on_failure=True,
                         debug_scripts_dir="/run/x/tekton/debug/scripts")
    ep.go()
    assert lines[1] == "1) continue, use cmd: /run/x/tekton/debug/scripts/debug-continue"
