"""A remote Task through the DAP server: the failed step's frame is in the cached copy of the
Task, where a breakpoint can be set; a failure to resolve is the launch's error."""

from __future__ import annotations

import pytest

from tests.dap.conftest import FAILING_TASK, line_of
from tests.dap.dapclient import DapClient, DapError


@pytest.fixture
def dap(tmp_path):
    client = DapClient(cwd=str(tmp_path), env={"XDG_CACHE_HOME": str(tmp_path / "xdg")})
    yield client
    client.close()


def remote_run(tmp_path, url: str):
    path = tmp_path / "run.yaml"
    path.write_text("apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata:\n  name: r\nspec:\n"
                    "  taskRef:\n    resolver: git\n    params:\n"
                    f"      - {{name: url, value: '{url}'}}\n"
                    "      - {name: pathInRepo, value: failing-task.yaml}\n")
    return path


def test_the_paused_step_stands_in_the_cached_copy_and_breakpoints_work_there(dap, tmp_path,
                                                                               repo):
    repo.commit({"failing-task.yaml": FAILING_TASK})
    run = remote_run(tmp_path, repo.url)
    dap.start({"type": "tekton", "request": "launch", "task": str(run)})
    assert dap.wait_event("stopped")["body"]["threadId"] == 2
    frame = dap.request("stackTrace", {"threadId": 2})["body"]["stackFrames"][0]
    copy = frame["source"]["path"]
    assert copy.startswith(str(tmp_path / "xdg" / "tekton-debug")) and copy.endswith(
        "/failing-task.yaml")
    from pathlib import Path
    assert frame["line"] == line_of(Path(copy), "- name: test")
    report = line_of(Path(copy), "- name: report")
    bps = dap.request("setBreakpoints", {"source": {"path": copy},
                                         "breakpoints": [{"line": report}]})["body"]
    assert bps["breakpoints"][0]["verified"] is True
    seen = len(dap.events)
    dap.request("continue", {"threadId": 2})
    stopped = dap.wait_event("stopped", timeout=20, after=seen)["body"]
    assert stopped["reason"] == "breakpoint" and stopped["threadId"] == 3


def test_a_reference_that_cannot_be_resolved_fails_the_launch_with_where_and_why(dap, tmp_path):
    run = remote_run(tmp_path, f"file://{tmp_path}/none")
    with pytest.raises(DapError) as err:
        dap.start({"type": "tekton", "request": "launch", "task": str(run)})
    message = err.value.response["body"]["error"]["format"]
    assert f"{run}:7:5" in message and "resolver git" in message and "not found" in message
