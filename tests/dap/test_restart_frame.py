"""restartFrame: the failed step runs again as its file is now, in its own environment."""

from __future__ import annotations

import pytest

from tests.cluster.fixtures import cluster  # noqa: F401
from tests.dap.conftest import cluster_config
from tests.dap.dapclient import DapError
from tests.dap.test_adapter import launch_failing
from tests.dap.test_cluster import condition, taskrun_names, taskrun_object


def _top_frame(dap, thread_id=2):
    return dap.request("stackTrace", {"threadId": thread_id})["body"]["stackFrames"][0]


def test_initialize_advertises_restart_frame_and_only_the_paused_failed_frame_can_restart(
        dap, failing_task):
    launch_failing(dap, failing_task)
    frames = dap.request("stackTrace", {"threadId": 2})["body"]["stackFrames"]
    assert frames[0]["canRestart"] is True
    assert all(f["canRestart"] is False for f in frames[1:])


def test_restart_frame_after_an_edit_passes_the_step_and_the_run_succeeds(dap, failing_task):
    launch_failing(dap, failing_task)
    failing_task.write_text(failing_task.read_text().replace("exit 3", 'echo "fixed: $GREETING"'))
    seen = len(dap.events)
    dap.request("restartFrame", {"frameId": _top_frame(dap)["id"]})
    assert dap.wait_event("continued", after=seen)["body"]["threadId"] == 2
    exited = dap.wait_event("exited")
    assert exited["body"]["exitCode"] == 0
    output = dap.output()
    assert "step test, retry 1: running it again as its file defines it now" in output
    assert "fixed: hello" in output  # the step's own env
    assert output.count("preparing: hello") == 1  # the step before it did not run again
    assert "report written" in output


def test_restart_frame_that_fails_again_stops_again_with_the_new_exit_code(dap, failing_task):
    launch_failing(dap, failing_task)
    failing_task.write_text(failing_task.read_text().replace("exit 3", "exit 5"))
    seen = len(dap.events)
    dap.request("restartFrame", {"frameId": _top_frame(dap)["id"]})
    stopped = dap.wait_event("stopped", after=seen)["body"]
    assert stopped["reason"] == "exception" and stopped["threadId"] == 2
    assert stopped["text"] == "exit code 5"
    info = dap.request("exceptionInfo", {"threadId": 2})["body"]
    assert info["exceptionId"] == "exit code 5"
    # still paused: Continue marks it passed as before
    dap.request("continue", {"threadId": 2})
    assert dap.wait_event("exited")["body"]["exitCode"] == 0


def test_restart_frame_refuses_a_renamed_step_with_the_reason(dap, failing_task):
    launch_failing(dap, failing_task)
    failing_task.write_text(failing_task.read_text().replace("name: test", "name: check"))
    with pytest.raises(DapError) as info:
        dap.request("restartFrame", {"frameId": _top_frame(dap)["id"]})
    shown = info.value.response["body"]["error"]["format"]  # what the editor shows
    assert "renamed or removed" in shown and "restart the run" in shown
    threads = dap.request("threads")["body"]["threads"]
    assert threads[1]["name"].startswith("test (paused")


def test_debug_retry_in_the_repl_is_restart_frame(dap, failing_task):
    launch_failing(dap, failing_task)
    failing_task.write_text(failing_task.read_text().replace("exit 3", "true"))
    body = dap.request("evaluate", {"expression": "debug-retry", "context": "repl"})["body"]
    assert "retrying" in body["result"]
    assert dap.wait_event("exited")["body"]["exitCode"] == 0


def test_restart_frame_on_a_cluster_runs_the_edited_step_in_the_paused_container(
        cluster_dap, cluster, failing_task):  # noqa: F811
    dap = cluster_dap()
    dap.start(cluster_config(cluster, task=str(failing_task)))
    stopped = dap.wait_event("stopped")["body"]
    assert stopped["threadId"] == 2
    failing_task.write_text(failing_task.read_text().replace(
        "exit 3", 'echo "retried in $HOSTNAME with $GREETING"; exit 6'))
    seen = len(dap.events)
    dap.request("restartFrame", {"frameId": _top_frame(dap)["id"]})
    again = dap.wait_event("stopped", after=seen)["body"]
    assert again["text"] == "exit code 6"
    assert "retried in" in dap.output() and "with hello" in dap.output()
    failing_task.write_text(failing_task.read_text().replace("exit 6", "exit 0"))
    dap.request("restartFrame", {"frameId": _top_frame(dap)["id"]})
    assert dap.wait_event("exited", timeout=60)["body"]["exitCode"] == 0
    assert dap.output().count("preparing: hello") == 1
    [name] = taskrun_names(cluster)
    assert condition(taskrun_object(cluster, name))["status"] == "True"
