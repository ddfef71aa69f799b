"""The session over a real local runtime: state, time left, the warning before the timeout."""

from __future__ import annotations

import queue

import pytest

from tekton_debug.options import LaunchOptions
from tekton_debug.events import Notice, RunFinished, StepPaused
from tekton_debug.session import session as session_mod
from tekton_debug.session.session import Session

TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: slow
spec:
  steps:
    - name: fail
      image: alpine
      script: exit 2
"""


@pytest.fixture
def events():
    return queue.Queue()


def _next(events, kind, timeout=20):
    while True:
        ev = events.get(timeout=timeout)
        if isinstance(ev, kind):
            return ev


def test_time_left_follows_the_runtime_and_a_warning_comes_before_the_timeout(
        tmp_path, events, monkeypatch):
    task = tmp_path / "task.yaml"
    task.write_text(TASK)
    monkeypatch.setattr(session_mod, "WARN_BEFORE_TIMEOUT", 59.5)
    s = Session(LaunchOptions(task_file=str(task), timeout="1m"), events.put)
    s.start()
    try:
        _next(events, StepPaused)
        assert 50 < s.time_left() <= 60
        notice = _next(events, Notice, timeout=10)
        while notice.level != "important":
            notice = _next(events, Notice, timeout=10)
        assert "the TaskRun times out in" in notice.message and "--timeout" in notice.message
        assert s.steps[0].label == "paused: failed with exit code 2"
    finally:
        s.close()
    assert isinstance(_next(events, RunFinished), RunFinished)


def test_no_timeout_means_no_time_left(tmp_path, events):
    task = tmp_path / "task.yaml"
    task.write_text(TASK)
    s = Session(LaunchOptions(task_file=str(task), timeout="0s"), events.put)
    s.start()
    try:
        _next(events, StepPaused)
        assert s.time_left() is None
    finally:
        s.close()
