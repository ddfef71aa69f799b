"""`tekton-debug run pipeline.yaml`, as a user runs it: prefixed logs, a shell in the paused step
while the other tasks go on, a second pause queued, the table of tasks and the exit status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pipeline" / "pipeline.yaml"


def run(*args: str, stdin: str = "", cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tekton_debug", "run", *args], input=stdin,
                          capture_output=True, text=True, cwd=cwd, timeout=90,
                          env={**os.environ, "NO_COLOR": "1"})


def table_row(stdout: str, task: str) -> list[str]:
    return next(line.split(None, 3) for line in stdout.splitlines()
                if line.strip().startswith(task + " "))


def test_a_pipeline_that_skips_publish_completes_with_exit_status_0(tmp_path):
    res = run(str(EXAMPLE), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "[build/compile] built bin/app" in res.stdout
    assert "- task publish skipped: When Expressions evaluated to false" in res.stdout
    assert table_row(res.stdout, "publish")[1:] == ["skipped", "-", "When Expressions "
                                                    "evaluated to false"]
    assert table_row(res.stdout, "notify")[1] == "succeeded"
    assert "PipelineRun build-and-publish-run Completed" in res.stdout
    assert "result version: 1.4." in res.stdout
    # that note is for a cluster, where a PipelineRun object would be looked for
    assert "no PipelineRun object" not in res.stdout + res.stderr


def test_a_failed_test_without_a_terminal_fails_the_run_with_exit_status_1(tmp_path):
    res = run(str(EXAMPLE), "-p", "break-tests=true", cwd=tmp_path)
    assert res.returncode == 1
    assert "[unit-tests/run-tests] FAIL: expected a greeting" in res.stderr
    assert table_row(res.stdout, "unit-tests")[1] == "failed"
    assert table_row(res.stdout, "publish")[1:3] == ["skipped", "-"]
    assert "[notify/report] pipeline: Failed, unit tests: Failed" in res.stdout


def test_the_shell_opens_in_the_failed_step_and_debug_continue_lets_the_run_go_on(tmp_path):
    res = run(str(EXAMPLE), "-p", "break-tests=true", "-p", "publish=true", "--on-failure",
              "shell", stdin='echo "shell in $TEKTON_DEBUG_INFO_DIR"\ndebug-continue\n', cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "⏸ unit-tests/run-tests failed with exit code 1: paused" in res.stdout
    assert "tasks.yaml:" in res.stdout  # where the step stands
    shell_line = next(line for line in res.stdout.splitlines() if line.startswith("shell in /"))
    assert "-run-unit-tests-" in shell_line  # the shell ran in the failed task's environment
    assert table_row(res.stdout, "publish")[1] == "succeeded"
    assert "PipelineRun build-and-publish-run Succeeded" in res.stdout


def test_a_second_pause_is_announced_and_queued_until_the_first_shell_closes(tmp_path):
    pipeline = tmp_path / "two.yaml"
    pipeline.write_text("""
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: two}
spec:
  tasks:
    - name: first
      taskSpec: {steps: [{name: a, image: alpine, script: "exit 2"}]}
    - name: second
      taskSpec: {steps: [{name: b, image: alpine, script: "sleep 0.5; echo second fails; exit 3"}]}
    - name: third
      taskSpec: {steps: [{name: c, image: alpine, script: "sleep 0.2; echo third runs on"}]}
""")
    # the first shell waits until the second task has paused, then fails its step; the second
    # shell gets no input: leaving it marks that step failed too
    res = run(str(pipeline), "--on-failure", "shell", cwd=tmp_path,
              stdin="sleep 2\ndebug-fail-continue\n")
    assert res.returncode == 1
    out = res.stdout + res.stderr
    assert "⏸ first/a failed with exit code 2: paused" in out
    assert "⏸ second/b paused too (failed): queued, its shell opens when you leave the shell " \
           "in first" in out
    assert "[third/c] third runs on" in out
    assert "⏸ second/b failed with exit code 3: paused" in res.stdout  # its turn came
    assert [table_row(res.stdout, t)[1] for t in ("first", "second", "third")] == \
        ["failed", "failed", "succeeded"]


def test_break_before_a_task_pauses_before_it_starts(tmp_path):
    res = run(str(EXAMPLE), "--break-before", "build", stdin="debug-beforestep-continue\n",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "⏸ paused before build/compile" in res.stdout


def test_break_before_an_unknown_task_is_a_user_error(tmp_path):
    res = run(str(EXAMPLE), "--break-before", "deploy", cwd=tmp_path)
    assert res.returncode == 2
    assert "the Pipeline has no task 'deploy'" in res.stderr and "clone, build" in res.stderr
    assert "Traceback" not in res.stderr


def test_validation_problems_are_all_reported_with_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("""apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: bad}
spec:
  tasks:
    - name: a
      runAfter: [b]
      taskSpec: {steps: [{image: alpine, script: "true"}]}
    - name: b
      runAfter: [a, nope]
      taskSpec: {steps: [{image: alpine, script: "true"}]}
""")
    res = run(str(bad), cwd=tmp_path)
    assert res.returncode == 2
    assert f"{bad}:6:13: tasks depend on each other in a cycle: a -> b -> a" in res.stderr
    assert f"{bad}:10:21: runAfter names task \"nope\"" in res.stderr
    assert "Traceback" not in res.stderr


def test_debug_retry_in_a_pipeline_runs_the_edited_step_and_the_pipeline_goes_on(tmp_path):
    import shutil
    examples = EXAMPLE.parent
    for f in examples.iterdir():
        shutil.copy(f, tmp_path / f.name)
    tasks = tmp_path / "tasks.yaml"
    fix = f"sed -i 's/exit 1/echo fixed in a pipeline/' {tasks}\n"
    res = run(str(tmp_path / "pipeline.yaml"), "--runtime", "local", "--on-failure", "shell",
              "-p", "break-tests=true", stdin=fix + "debug-retry\n", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "debug-retry           run the step again" in res.stdout
    assert "↻ step unit-tests/run-tests: running it again" in res.stdout
    assert "fixed in a pipeline" in res.stdout


def test_a_matrix_shows_each_combination_with_its_params_and_a_row_each(tmp_path):
    matrix = ROOT / "examples" / "pipeline" / "matrix.yaml"
    res = run(str(matrix), "--runtime", "local", "-p", "fail-on=darwin/go1.22",
              "--on-failure", "fail", cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    out = res.stdout
    assert ("▶ task unit-tests[0]: TaskRun test-matrix-run-unit-tests-0 (platform=linux, "
            "version=go1.21, flags=-race)") in out
    assert "▶ task unit-tests[4]: TaskRun test-matrix-run-unit-tests-4 (platform=windows)" in out
    assert "[unit-tests[3]/test] --- FAIL: TestParse (0.01s)" in out
    assert "⏸ unit-tests[3]/test failed with exit code 1: paused" in out
    assert "--on-failure fail: marking unit-tests[3]/test failed" in out
    rows = {i: table_row(out, f"unit-tests[{i}]") for i in range(5)}
    assert [rows[i][1] for i in range(5)] == ["succeeded"] * 3 + ["failed", "succeeded"]
    assert rows[3][3].endswith("(platform=darwin, version=go1.22)")
    assert table_row(out, "report")[1:3] == ["skipped", "-"]
    assert "task unit-tests failed (1 of 5 TaskRuns did not succeed; unit-tests[3]" in out
