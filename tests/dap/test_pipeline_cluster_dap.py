"""A PipelineRun on the test cluster over DAP (`tekton-debug dap` on its real stdio): launched, with
its workspace a claim made for the run; and attached to by its group label (``pipelineRun``) while
another process runs it."""

from __future__ import annotations

import os
import time

import pytest

from tekton_debug.events import PipelineRunFinished, StepPaused
from tests.cluster.fixtures import cluster  # noqa: F401
from tests.dap.conftest import cluster_config
from tests.dap.dapclient import DapError
from tests.dap.test_cluster import error_text
from tests.dap.test_pipeline_dap import connect_children
from tests.pipeline.test_pipeline_cluster import EXAMPLES, claims, cluster_run
from tests.pipeline.test_pipeline_run import pipeline_file

EXAMPLE_RUN = os.path.abspath(os.path.join(EXAMPLES, "pipelinerun.yaml"))


def thread_named(dap, name: str) -> dict:
    threads = dap.request("threads")["body"]["threads"]
    return next(t for t in threads if t["name"].startswith(name + " "))


def test_launch_on_the_cluster_stops_the_failed_step_only_and_deletes_the_claim(
        cluster_dap, cluster):  # noqa: F811
    dap = cluster_dap()
    dap.start(cluster_config(cluster, task=EXAMPLE_RUN, params={"break-tests": "true"}))
    stopped = dap.wait_event("stopped", timeout=120)["body"]
    assert stopped["reason"] == "exception" and stopped["allThreadsStopped"] is False
    assert thread_named(dap, "unit-tests/run-tests")["id"] == stopped["threadId"]
    console = dap.output("console")
    assert "No PipelineRun object is created" in dap.output("important")
    assert "claim pvc-" in console and "made for this run; it is deleted at the end" in console
    # the paused step's container sees what the earlier tasks wrote into the claim
    frame = dap.request("stackTrace", {"threadId": stopped["threadId"]})["body"]["stackFrames"][0]
    repl = dap.request("evaluate", {"expression": "head -1 $(workspaces.source.path)/bin/app",
                                    "frameId": frame["id"], "context": "repl"})["body"]
    assert repl["result"].strip() == "#!/bin/sh"
    assert len(claims(cluster)) == 1
    dap.request("continue", {"threadId": stopped["threadId"]})
    assert dap.wait_event("exited", timeout=120)["body"]["exitCode"] == 0
    assert "PipelineRun build-and-publish-run Completed" in dap.output("console")
    assert claims(cluster) == []


def test_attach_by_group_label_stops_on_the_paused_step_and_releases_it(cluster_dap,
                                                                        cluster):  # noqa: F811
    ps, rec = cluster_run(cluster, EXAMPLE_RUN, params={"break-tests": "true"})
    ps.start()
    try:
        rec.next(StepPaused, lambda ev: ev.task == "unit-tests", timeout=120)
        dap = cluster_dap()
        dap.start(cluster_config(cluster, request="attach", pipelineRun=ps.uid),
                  request="attach")
        stopped = dap.wait_event("stopped", timeout=60)["body"]
        assert stopped["reason"] == "exception"
        assert thread_named(dap, "unit-tests/run-tests")["id"] == stopped["threadId"]
        console = dap.output("console")
        assert f"PipelineRun build-and-publish-run (Pipeline build-and-publish) in namespace " \
            f"default, id {ps.uid}" in console
        assert "Attaching to the TaskRuns still running:" in console and "unit-tests" in console
        dap.request("tekton/failContinue", {"threadId": stopped["threadId"]})
        assert dap.wait_event("exited", timeout=60)["body"]["exitCode"] == 1
        assert "task unit-tests failed" in dap.output("console")
        end = rec.next(PipelineRunFinished, timeout=120)
    finally:
        ps.close()
    # the decision made in the attached session is the run's
    assert (end.succeeded, end.reason) == (False, "Failed")
    assert rec.ended()["unit-tests"].status == "failed"


def test_attach_shows_a_paused_matrix_combination_as_its_own_thread(cluster_dap, cluster,  # noqa: F811
                                                                     tmp_path):
    ps, rec = cluster_run(cluster, pipeline_file(tmp_path, """
        tasks:
          - name: t
            matrix:
              params: [{name: n, value: ["1", "2"]}]
            taskSpec:
              params: [{name: n}]
              steps: [{name: s, image: alpine, script: '[ "$(params.n)" != 2 ]'}]
        """))
    ps.start()
    try:
        rec.next(StepPaused, lambda ev: ev.task == "t[1]", timeout=120)
        dap = cluster_dap()
        dap.start(cluster_config(cluster, request="attach", pipelineRun=ps.uid),
                  request="attach")
        stopped = dap.wait_event("stopped", timeout=60)["body"]
        assert thread_named(dap, "t[1]/s")["id"] == stopped["threadId"]
        console = dap.output("console")
        assert "Attaching to the TaskRuns still running: t[1] " in console
        assert "  t[0] " in console and "  t[1] " in console
        dap.request("continue", {"threadId": stopped["threadId"]})
        assert dap.wait_event("exited", timeout=60)["body"]["exitCode"] == 0
        end = rec.next(PipelineRunFinished, timeout=120)
    finally:
        ps.close()
    assert end.succeeded and rec.ended()["t[1]"].status == "succeeded"


def test_attach_to_an_unknown_pipelinerun_is_a_clear_error(cluster_dap, cluster):  # noqa: F811
    dap = cluster_dap()
    with pytest.raises(DapError) as err:
        dap.start(cluster_config(cluster, request="attach", pipelineRun="nowhere"),
                  request="attach")
    message = error_text(err.value)
    assert "no TaskRun in namespace 'default'" in message
    assert "belongs to a PipelineRun 'nowhere'" in message


def test_attach_with_start_debugging_shows_the_paused_taskrun_as_a_child_session(
        cluster_dap, cluster):  # noqa: F811
    ps, rec = cluster_run(cluster, EXAMPLE_RUN, params={"break-tests": "true"})
    ps.start()
    children: dict = {}
    try:
        rec.next(StepPaused, lambda ev: ev.task == "unit-tests", timeout=120)
        dap = cluster_dap()
        children = connect_children(dap)
        dap.start(cluster_config(cluster, request="attach", pipelineRun="build-and-publish-run"),
                  request="attach", client_capabilities={"supportsStartDebuggingRequest": True})
        deadline = time.monotonic() + 30
        while "unit-tests" not in children and time.monotonic() < deadline:
            time.sleep(0.02)
        tests = children["unit-tests"]
        stopped = tests.wait(lambda m: m.get("event") == "stopped")["body"]
        assert stopped["reason"] == "exception" and stopped["threadId"] == 1
        assert "clone" not in children  # it had ended: listed, not attached to
        tests.send("continue", {"threadId": 1})
        assert dap.wait_event("exited", timeout=60)["body"]["exitCode"] == 0
        end = rec.next(PipelineRunFinished, timeout=120)
    finally:
        for child in children.values():
            child.close()
        ps.close()
    assert (end.succeeded, end.reason) == (True, "Completed")


def test_the_cluster_fields_of_a_configuration_are_checked():
    from tekton_debug.dap.launch_config import parse_launch
    from tekton_debug.errors import UserError

    options, _ = parse_launch({"task": "p.yaml", "runtime": "kubernetes", "keepClaims": True})
    assert options.keep_claims is True
    with pytest.raises(UserError) as err:
        parse_launch({"task": "p.yaml", "keepClaims": "yes"})
    assert str(err.value).startswith('launch configuration: "keepClaims" must be true or false')
    options, _ = parse_launch({"pipelineRun": "build-run", "runtime": "kubernetes"}, attach=True)
    assert options.pipeline_run == "build-run" and options.task_run is None
    with pytest.raises(UserError) as err:
        parse_launch({"pipelineRun": "a", "taskRun": "b"}, attach=True)
    assert 'attach: "taskRun" and "pipelineRun" exclude each other' in str(err.value)
    with pytest.raises(UserError) as err:
        parse_launch({"runtime": "kubernetes"}, attach=True)
    assert 'attach: "taskRun" is required (or "pipelineRun")' in str(err.value)
