"""Retry in place: a step paused on failure runs again as its file defines it now, in its own
environment, without running the steps before it again."""

from __future__ import annotations

import queue

import pytest

from tekton_debug.errors import UserError, WrongTime
from tekton_debug.events import RunFinished, StepFinished, StepLog, StepPaused, StepRetrying
from tekton_debug.options import LaunchOptions
from tekton_debug.session.session import Session

TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: build-and-test
spec:
  params:
    - name: greeting
      default: hello
  steps:
    - name: build
      image: alpine
      script: |
        echo built >> "$(workspaces.out.path)/build.log"
        echo "build ran"
    - name: test
      image: alpine
      env:
        - name: WHO
          value: tester
      script: |
        echo "test sees $WHO and $(params.greeting)"
        {body}
    - name: publish
      image: alpine
      script: echo published
  workspaces:
    - name: out
"""


def _next(events, kind, timeout=20):
    while True:
        ev = events.get(timeout=timeout)
        if isinstance(ev, kind):
            return ev


def _collect_until(events, kind, timeout=20):
    seen = []
    while True:
        ev = events.get(timeout=timeout)
        seen.append(ev)
        if isinstance(ev, kind):
            return seen


@pytest.fixture
def run(tmp_path):
    task = tmp_path / "task.yaml"
    task.write_text(TASK.format(body="exit 3"))
    out = tmp_path / "out"
    out.mkdir()
    events: queue.Queue = queue.Queue()
    s = Session(LaunchOptions(task_file=str(task), workspaces={"out": str(out)},
                              params={"greeting": "hi"}), events.put)
    s.start()
    paused = _next(events, StepPaused)
    assert paused.index == 1 and paused.exit_code == 3
    yield s, events, task, out
    s.close()


def _output(events_seen, index):
    return b"".join(ev.data for ev in events_seen if isinstance(ev, StepLog) and ev.index == index)


def test_a_fixed_step_passes_on_retry_and_the_run_goes_on_without_running_earlier_steps(run):
    s, events, task, out = run
    task.write_text(TASK.format(body='echo "fixed in $PWD"'))
    code = s.retry(1)
    assert code == 0
    seen = _collect_until(events, RunFinished)
    assert seen[-1].succeeded
    assert b"test sees tester and hi" in _output(seen, 1)  # env and params as the step had them
    assert b"fixed in" in _output(seen, 1)
    assert (out / "build.log").read_text() == "built\n"  # build ran once, not again
    finished = {ev.index: ev for ev in seen if isinstance(ev, StepFinished)}
    assert finished[2].outcome.value == "succeeded"
    assert s.steps[1].label == "succeeded on retry 1"


def test_a_retry_that_fails_again_pauses_again_with_the_new_exit_code(run):
    s, events, task, out = run
    task.write_text(TASK.format(body="echo still broken >&2; exit 7"))
    assert s.retry(1) == 7
    seen = _collect_until(events, StepPaused)
    assert isinstance(seen[0], StepRetrying)
    assert b"still broken" in _output(seen, 1)
    assert seen[-1].exit_code == 7
    assert s.steps[1].status == "paused" and s.steps[1].exit_code == 7
    assert s.steps[1].label == "paused: failed with exit code 7"
    # and the step can still be retried, continued or failed as before
    task.write_text(TASK.format(body="true"))
    assert s.retry(1) == 0
    assert _next(events, RunFinished).succeeded


@pytest.mark.parametrize("edit, reason", [
    (lambda t: t.replace("name: test", "name: check"), "renamed or removed"),
    (lambda t: t.replace("    - name: build\n      image: alpine",
                         "    - name: setup\n      image: alpine\n      script: echo setup\n"
                         "    - name: build\n      image: alpine"), "steps before it changed"),
    (lambda t: t.replace("image: alpine\n      env:", "image: debian\n      env:"),
     "its image changed"),
    (lambda t: t.replace("steps:", "stepz:"), "does not load now"),
])
def test_what_cannot_be_retried_in_place_is_refused_with_the_reason_and_the_step_stays_paused(
        run, edit, reason):
    s, events, task, out = run
    task.write_text(edit(TASK.format(body="true")))
    with pytest.raises(UserError) as info:
        s.retry(1)
    assert reason in str(info.value)
    assert "restart" in str(info.value) or "fix" in str(info.value)
    assert s.steps[1].status == "paused"
    assert s.paused is s.steps[1]


def test_a_file_that_no_longer_loads_names_its_errors_at_their_lines(run):
    s, events, task, out = run
    task.write_text(TASK.format(body="true").replace("default: hello", "default: [oops"))
    with pytest.raises(UserError) as info:
        s.retry(1)
    problems = info.value.problems
    assert "does not load now" in problems[0].message
    assert any(p.file == str(task) and p.line for p in problems[1:])


def test_retry_is_refused_when_no_step_failed(tmp_path):
    task = tmp_path / "task.yaml"
    task.write_text(TASK.format(body="true"))
    events: queue.Queue = queue.Queue()
    s = Session(LaunchOptions(task_file=str(task), workspaces={"out": str(tmp_path)}),
                events.put)
    s.plan.before_steps.add("test")
    s.start()
    try:
        _next(events, StepPaused)
        with pytest.raises(WrongTime, match="paused before it starts"):
            s.retry(1)
    finally:
        s.close()
