"""`tekton-debug run`, as a user runs it: piped and under a pseudo-terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.processes import wait_until_gone

ROOT = Path(__file__).resolve().parents[2]
FAILING = ROOT / "examples" / "failing-task.yaml"
PASSING = ROOT / "examples" / "passing-task.yaml"


def run(*args: str, stdin: str = "", cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tekton_debug", "run", *args], input=stdin,
                          capture_output=True, text=True, cwd=cwd, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"})


def test_piped_debug_continue_marks_step_passed_and_run_succeeds(tmp_path):
    res = run(str(FAILING), "--on-failure", "shell", stdin="debug-continue\n", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "step test failed with exit code 1: paused" in res.stdout
    assert "[publish] publishing build/report.txt" in res.stdout
    assert "Succeeded" in res.stdout


def test_piped_shell_runs_in_the_step_environment(tmp_path):
    res = run(str(FAILING), "--on-failure", "shell", "-p", "report=out/r.txt",
              stdin='echo "cwd=$(pwd) home=$HOME"\nmkdir -p out && touch out/r.txt\n'
                    "debug-continue\n", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "cwd=" in res.stdout and "publishing out/r.txt" in res.stdout


def test_piped_fail_continue_runs_later_steps_and_run_fails(tmp_path):
    res = run(str(FAILING), "--on-failure", "shell", stdin="debug-fail-continue\n", cwd=tmp_path)
    assert res.returncode == 1
    assert "[publish] publishing" in res.stdout
    assert "Failed" in res.stdout


def test_leaving_the_shell_without_a_script_fails_the_step(tmp_path):
    res = run(str(FAILING), "--on-failure", "shell", stdin="true\n", cwd=tmp_path)
    assert res.returncode == 1
    assert "shell closed without a decision: marking step test failed" in res.stdout


def test_on_failure_stop_behaves_like_tekton_without_debug(tmp_path):
    res = run(str(FAILING), "--on-failure", "stop", cwd=tmp_path)
    assert res.returncode == 1
    assert "paused" not in res.stdout
    assert "[publish]" not in res.stdout
    assert "step publish skipped" in res.stdout


def test_not_a_terminal_defaults_to_stop_and_says_how_to_decide(tmp_path):
    res = run(str(FAILING), cwd=tmp_path)
    assert res.returncode == 1 and "paused" not in res.stdout
    assert "stdin is not a terminal, so failed steps did not pause" in res.stderr
    assert "echo debug-continue | tekton-debug run FILE --on-failure shell" in res.stderr


def test_on_failure_continue_and_fail(tmp_path):
    assert run(str(FAILING), "--on-failure", "continue", cwd=tmp_path).returncode == 0
    res = run(str(FAILING), "--on-failure", "fail", cwd=tmp_path)
    assert res.returncode == 1 and "[publish] publishing" in res.stdout


def test_passing_task_exits_zero(tmp_path):
    res = run(str(PASSING), cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_break_before_pauses_before_the_step(tmp_path):
    res = run(str(PASSING), "--break-before", _second_step(PASSING),
              stdin="echo before-the-step\ndebug-beforestep-continue\n", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert f"paused before step {_second_step(PASSING)}" in res.stdout
    step = _second_step(PASSING)
    assert res.stdout.index(f"paused before step {step}") < res.stdout.index("before-the-step") \
        < res.stdout.index(f"[{step}]") < res.stdout.index(f"✓ step {step} succeeded")


def test_break_before_fail_continue_skips_the_step(tmp_path):
    step = _second_step(PASSING)
    res = run(str(PASSING), "--break-before", step, stdin="debug-beforestep-fail-continue\n",
              cwd=tmp_path)
    assert res.returncode == 1


def _second_step(path: Path) -> str:
    from tekton_debug.tekton.loader import load_file
    return load_file(str(path)).task.steps[1].debug_name


@pytest.mark.parametrize("content,expected", [
    ("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps:\n"
     "    - name: a\n      image: alpine\n      script: echo $(params.nope)\n",
     ":8:"),
    ("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\nspec:\n  steps: [\n", ":"),
])
def test_bad_input_exits_2_with_file_and_line(tmp_path, content, expected):
    bad = tmp_path / "bad.yaml"
    bad.write_text(content)
    res = run(str(bad), cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith(f"error: {bad}{expected}")
    assert "Traceback" not in res.stderr


def test_unknown_param_and_step_are_refused(tmp_path):
    res = run(str(FAILING), "-p", "nope=1", cwd=tmp_path)
    assert res.returncode == 2 and "nope" in res.stderr and "Traceback" not in res.stderr
    res = run(str(FAILING), "--break-before", "deploy", cwd=tmp_path)
    assert res.returncode == 2 and "use one of: build, test, publish" in res.stderr


def test_missing_file_is_a_clear_error(tmp_path):
    res = run("no-such.yaml", cwd=tmp_path)
    assert res.returncode == 2 and "no-such.yaml" in res.stderr and "Traceback" not in res.stderr


def _spawn(*args: str, cwd: Path) -> pexpect.spawn:
    return pexpect.spawn(sys.executable, ["-m", "tekton_debug", "run", *args], cwd=str(cwd),
                         env={**os.environ, "NO_COLOR": "1", "TERM": "dumb"}, encoding="utf-8",
                         timeout=30, dimensions=(40, 200))


def test_terminal_opens_a_shell_in_the_failed_step(tmp_path):
    child = _spawn(str(FAILING), cwd=tmp_path)
    child.expect(r"\[step-test\] \$ ")
    child.sendline("echo report=$(params.report) in $(basename $PWD)")
    child.expect("report=")  # Tekton variables are not shell syntax: the shell says so
    child.sendline("mkdir -p build && echo ok > build/report.txt && debug-continue")
    child.expect("publishing build/report.txt")
    child.expect("Succeeded")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_terminal_exit_without_script_fails_the_step(tmp_path):
    child = _spawn(str(FAILING), cwd=tmp_path)
    child.expect(r"\[step-test\] \$ ")
    child.sendline("exit")
    child.expect("marking step test failed")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1


def test_ctrl_c_cancels_and_leaves_no_process(tmp_path):
    marker = f"{os.getpid() % 1000 + 2000}.25"
    task = tmp_path / "slow.yaml"
    task.write_text("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: slow\nspec:\n"
                    "  steps:\n    - name: wait\n      image: alpine\n      script: |\n"
                    f"        echo started\n        sleep {marker}\n")
    child = _spawn(str(task), cwd=tmp_path)
    child.expect("started")
    child.sendintr()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130 or child.signalstatus == signal.SIGINT
    assert wait_until_gone(marker) == []


def _editable_failing_task(tmp_path: Path) -> Path:
    task = tmp_path / "task.yaml"
    task.write_text(FAILING.read_text())
    return task


def test_piped_debug_retry_runs_the_edited_step_and_the_run_goes_on(tmp_path):
    task = _editable_failing_task(tmp_path)
    fix = f"sed -i 's/exit 1/echo fixed in place; exit 0/' {task}\n"
    res = run(str(task), "--runtime", "local", "--on-failure", "shell",
              stdin=fix + "debug-retry\n", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "debug-retry           run the step again" in res.stdout
    assert "↻ step test: running it again as its file defines it now" in res.stdout
    assert "[test] fixed in place" in res.stdout
    assert "✓ step test succeeded on retry 1" in res.stdout
    assert res.stdout.count("[build] build done") == 1  # the steps before it did not run again
    assert "[publish] publishing" in res.stdout


def test_terminal_debug_retry_that_fails_again_returns_to_the_shell(tmp_path):
    task = _editable_failing_task(tmp_path)
    child = _spawn(str(task), "--runtime", "local", cwd=tmp_path)
    child.expect(r"\[step-test\] \$ ")
    child.sendline(f"sed -i 's/exit 1/echo second try; exit 4/' {task}; debug-retry")
    child.expect("second try")
    child.expect("failed again with exit code 4: still paused")
    child.expect(r"\[step-test\] \$ ")
    child.sendline(f"sed -i 's/exit 4/exit 0/' {task} && debug-retry")
    child.expect("succeeded on retry 2")
    child.expect("Succeeded")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_debug_retry_refused_when_the_file_no_longer_loads_stays_in_the_shell(tmp_path):
    task = _editable_failing_task(tmp_path)
    child = _spawn(str(task), "--runtime", "local", cwd=tmp_path)
    child.expect(r"\[step-test\] \$ ")
    child.sendline(f"sed -i 's/  steps:/  stepz:/' {task}; debug-retry")
    child.expect("does not load now")
    child.expect(r"\[step-test\] \$ ")
    child.sendline("debug-fail-continue")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1


def test_from_step_skips_the_steps_before_it(tmp_path):
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "report.txt").write_text("kept from the last attempt\n")
    res = run(str(FAILING), "--runtime", "local", "--from-step", "test", "-p",
              f"report={tmp_path}/build/report.txt", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "- step build skipped: not run: the run starts from step test" in res.stdout
    assert "[build]" not in res.stdout and "[test] report found" in res.stdout


def test_a_taskrun_that_asks_for_the_breakpoint_pauses_though_stdin_is_piped(tmp_path):
    """Piped stdin defaults to --on-failure stop; the file's own request wins over a default."""
    path = tmp_path / "run.yaml"
    path.write_text("""\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: asks
spec:
  debug:
    breakpoints:
      onFailure: "enabled"
  taskSpec:
    steps:
      - name: fail
        image: alpine
        script: exit 3
      - name: after
        image: alpine
        script: echo after-ran
""")
    res = run(str(path), stdin="debug-continue\n", cwd=tmp_path)

    assert "paused (onFailure breakpoint)" in res.stdout, res.stderr
    assert "[after] after-ran" in res.stdout and res.returncode == 0


def test_an_explicit_on_failure_stop_still_wins_over_the_file(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("""\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: asks
spec:
  debug:
    breakpoints:
      onFailure: "enabled"
  taskSpec:
    steps:
      - name: fail
        image: alpine
        script: exit 3
""")
    res = run(str(path), "--on-failure", "stop", cwd=tmp_path)

    assert "paused" not in res.stdout and res.returncode == 1
