"""Retry in place in containers: the edited step runs in the paused step's own container."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tekton_debug.errors import UserError
from tekton_debug.events import RunFinished, StepPaused, StepRetrying
from tests import containers
from tests.runtimes.container.test_container_runtime import running

STEPS = """\
    - name: build
      image: IMAGE
      script: echo built > /workspace/artifact
    - name: check
      image: IMAGE
      env:
        - name: LEVEL
          value: strict
      script: |
        echo "checking $(cat /workspace/artifact) at $LEVEL in $(cat /etc/only-in-image)"
        exit 4
    - name: after
      image: IMAGE
      command: [echo, after ran]
    """


def test_a_retried_step_runs_in_the_paused_container_and_the_run_goes_on(session, task_file):
    task = task_file(STEPS)
    s, rec = session(task)
    assert rec.wait_for(StepPaused).exit_code == 4
    name = s.runtime.container_name(1)
    text = Path(task).read_text()
    Path(task).write_text(text.replace("exit 4", 'echo "retried as $(id -u)"; touch /tmp/was-here'))
    assert s.retry(1) == 0
    assert rec.wait_for(RunFinished).succeeded
    out = rec.log(1)
    assert out.count(f"checking built at strict in {containers.MARKER_TEXT}") == 2
    assert "retried as" in out
    assert rec.log(2) == "after ran\n"
    assert s.steps[1].label == "succeeded on retry 1"
    deadline = time.monotonic() + 30  # removed once its step has ended, as after a continue
    while running(name) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(name)


def test_a_retry_that_fails_again_leaves_the_container_paused(session, task_file):
    task = task_file(STEPS)
    s, rec = session(task)
    rec.wait_for(StepPaused)
    Path(task).write_text(Path(task).read_text().replace("exit 4", "exit 6"))
    assert s.retry(1) == 6
    rec.wait_for(StepRetrying)
    assert rec.wait_for(StepPaused).exit_code == 6
    assert running(s.runtime.container_name(1))
    res = s.evaluate(1, "echo still here")
    assert res.stdout == b"still here\n"


def test_a_retry_with_a_nul_byte_in_its_env_says_which_variable(session, task_file):
    task = task_file(STEPS)
    s, rec = session(task)
    rec.wait_for(StepPaused)
    Path(task).write_text(Path(task).read_text().replace("value: strict", 'value: "str\\0ict"'))

    with pytest.raises(UserError, match="step 'check': env 'LEVEL' contains a NUL byte") as e:
        s.retry(1)

    assert e.value.first.fix and "\0ict" not in str(e.value)
    assert running(s.runtime.container_name(1))  # still paused: fixed, it can be retried


def test_a_retry_in_an_image_without_a_shell_uses_the_mounted_one(session, task_file,
                                                                  shellless_image):
    task = task_file(f"""\
        - name: distroless
          image: {shellless_image}
          command: [/app/busybox, "false"]
        """)
    s, rec = session(task)
    rec.wait_for(StepPaused)
    Path(task).write_text(Path(task).read_text().replace('"false"', '"true"'))
    assert s.retry(0) == 0
    assert rec.wait_for(RunFinished).succeeded


def test_from_step_skips_the_steps_before_it_in_containers(session, task_file, tmp_path):
    work = tmp_path / "kept"
    work.mkdir()
    (work / "artifact").write_text("kept from the last attempt")
    task = task_file("""\
        - name: build
          image: IMAGE
          script: echo rebuilt > $(workspaces.out.path)/artifact
        - name: check
          image: IMAGE
          script: cat $(workspaces.out.path)/artifact
        """, extra="workspaces:\n  - name: out\n")
    s, rec = session(task, workspaces={"out": str(work)}, from_step="check")
    assert rec.wait_for(RunFinished).succeeded
    assert rec.log(1) == "kept from the last attempt"
    assert s.steps[0].status == "skipped"
