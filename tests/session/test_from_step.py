"""Start from a step: the steps before it are skipped (shown as skipped), for a user who keeps the
workspace between attempts; results only a skipped step would write are refused up front."""

from __future__ import annotations

import queue

import pytest

from tekton_debug.errors import UserError
from tekton_debug.events import RunFinished, StepFinished, StepLog, StepStarted
from tekton_debug.options import LaunchOptions
from tekton_debug.session.session import Session

TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: pipeline-ish
spec:
  workspaces:
    - name: src
  results:
    - name: version
  steps:
    - name: clone
      image: alpine
      script: echo cloned > "$(workspaces.src.path)/code"
    - name: build
      image: alpine
      script: |
        cat "$(workspaces.src.path)/code"
        echo built >> "$(workspaces.src.path)/code"
    - name: test
      image: alpine
      script: cat "$(workspaces.src.path)/code"
"""


def run_until_done(tmp_path, task_text, **options):
    task = tmp_path / "task.yaml"
    task.write_text(task_text)
    events: queue.Queue = queue.Queue()
    s = Session(LaunchOptions(task_file=str(task), **options), events.put)
    s.start()
    seen = []
    while not seen or not isinstance(seen[-1], RunFinished):
        seen.append(events.get(timeout=30))
    s.close()
    return s, seen


def test_steps_before_the_start_are_skipped_and_the_kept_workspace_serves_the_rest(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "code").write_text("cloned last time\n")
    s, seen = run_until_done(tmp_path, TASK, workspaces={"src": str(src)}, from_step="build")
    assert seen[-1].succeeded
    started = [ev.index for ev in seen if isinstance(ev, StepStarted)]
    assert started == [1, 2]
    skipped = next(ev for ev in seen if isinstance(ev, StepFinished) and ev.index == 0)
    assert skipped.outcome.value == "skipped" and "starts from step build" in skipped.message
    assert s.steps[0].status == "skipped"
    out = b"".join(ev.data for ev in seen if isinstance(ev, StepLog))
    assert b"cloned last time" in out  # the clone step did not run again
    assert (src / "code").read_text() == "cloned last time\nbuilt\n"


def test_an_unknown_step_names_the_steps(tmp_path):
    with pytest.raises(UserError, match="no step named 'deploy'") as info:
        run_until_done(tmp_path, TASK, workspaces={"src": str(tmp_path)}, from_step="deploy")
    assert "clone, build, test" in str(info.value)


def test_a_result_only_a_skipped_step_writes_is_refused_at_the_reading_step(tmp_path):
    text = TASK.replace("script: echo cloned > \"$(workspaces.src.path)/code\"",
                        "script: echo 1.2 > $(results.version.path)").replace(
        "script: cat \"$(workspaces.src.path)/code\"", "script: cat $(results.version.path)")
    with pytest.raises(UserError) as info:
        run_until_done(tmp_path, text, workspaces={"src": str(tmp_path)}, from_step="build")
    problem = info.value.problems[0]
    assert "step 'test' uses result 'version', which skipped step 'clone' writes" in \
        problem.message
    assert problem.line == text.splitlines().index("    - name: test") + 1
    assert "start from step clone" in problem.fix
