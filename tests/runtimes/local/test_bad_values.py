"""Values no process can take, and durations at Go's limit: a clear error before anything runs, or
a run that works; never a driver or timer thread that dies and leaves the run hanging."""

from __future__ import annotations

import pytest

from tekton_debug.errors import UserError
from tekton_debug.events import DebugPlan, RunFinished
from tekton_debug.tekton.duration import MAX_SECONDS
from tekton_debug.tekton.loader import load_file

from .test_local_runtime import Recorder, make_run, start

TASK_WITH_PARAM_IN_ENV = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: greet
spec:
  params:
    - name: who
  steps:
    - name: show
      image: alpine
      env:
        - name: WHO
          value: $(params.who)
      script: echo "$WHO"
"""


def test_a_nul_byte_in_a_param_that_reaches_env_is_refused_at_the_env_line(runtime, tmp_path):
    path = tmp_path / "task.yaml"
    path.write_text(TASK_WITH_PARAM_IN_ENV)
    rt = runtime(params={"who": "a\0b"})
    rec = Recorder()

    with pytest.raises(UserError) as caught:
        rt.start(load_file(str(path)), DebugPlan(), rec)

    problem = caught.value.first
    assert (problem.file, problem.line) == (str(path), 12)
    assert "env 'WHO' contains a NUL byte" in problem.message and "a\0b" not in str(caught.value)
    assert rec.events == []
    assert not any((tmp_path / "runs").iterdir())  # the run directory went with the refusal


@pytest.mark.parametrize("field", ["command", "args"])
def test_a_nul_byte_in_a_command_is_refused_before_any_event(runtime, field):
    step = dict(name="a", command=["echo"], args=[])
    step[field] = step[field] + ["x\0y"]
    rt = runtime()
    rec = Recorder()

    with pytest.raises(UserError, match="its command or args contains a NUL byte"):
        rt.start(make_run([step]), DebugPlan(), rec)
    assert rec.events == []


def test_an_evaluate_with_a_nul_byte_is_an_error_result_not_a_crash(runtime):
    rt, rec = start(runtime, make_run([dict(name="a", command=["false"])]))
    from tekton_debug.events import StepPaused
    rec.wait_for(StepPaused)

    result = rt.exec(0, ["sh", "-c", "echo a\0b"])

    assert result.exit_code == 127 and b"null byte" in result.stderr


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_step_and_run_timeouts_of_gos_longest_duration_run_normally(runtime):
    run = make_run([dict(name="a", command=["sh", "-c", "echo ran"], timeout=MAX_SECONDS)],
                   timeout=MAX_SECONDS)
    rt, rec = start(runtime, run)

    finished = rec.wait_for(RunFinished)

    assert finished.succeeded, finished
    assert rec.log(0, "stdout") == b"ran\n"
    rt.close()  # the timer thread ends here: an exception in it fails the test
