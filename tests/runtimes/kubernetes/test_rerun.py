"""Re-run with debugging on: a finished TaskRun of the cluster is copied with the debug field the
cluster accepts, and debugged; a TaskRun still running is refused with the reason."""

from __future__ import annotations

import queue

import pytest

from tekton_debug.errors import UserError
from tekton_debug.events import Release, RunFinished, StepPaused
from tekton_debug.options import LaunchOptions
from tekton_debug.runtimes.kubernetes.manifest import RERUN_OF_LABEL
from tekton_debug.session.session import Session
from tests.cluster.helpers import (api_client, create_taskrun, succeeded, taskrun,
                                   watch_taskrun)

STEPS = [
    {"name": "build", "image": "alpine", "script": "echo built with $(params.flavour)"},
    {"name": "test", "image": "alpine", "script": "echo test failed >&2\nexit 5"},
    {"name": "after", "image": "alpine", "script": "echo after ran"},
]


def finished_failed_taskrun(cluster, name: str) -> dict:  # noqa: F811
    api = api_client(cluster.kubeconfig)
    body = taskrun(name, STEPS, on_failure=False)
    body["metadata"]["labels"] = {"team": "payments", "tekton.dev/pipelineRun": "nightly-1"}
    body["spec"]["params"] = [{"name": "flavour", "value": "vanilla"}]
    body["spec"]["taskSpec"]["params"] = [{"name": "flavour"}]
    body["spec"]["serviceAccountName"] = "builder"
    body["spec"]["timeout"] = "20m"
    create_taskrun(api, body)
    return watch_taskrun(api, name, lambda tr: succeeded(tr).get("status") == "False")


def _next(events, kind, timeout=30):
    while True:
        ev = events.get(timeout=timeout)
        if isinstance(ev, kind):
            return ev


def test_rerun_copies_the_finished_taskrun_with_debug_on_and_pauses_the_failed_step(cluster):
    finished_failed_taskrun(cluster, "nightly-tests")
    events: queue.Queue = queue.Queue()
    s = Session(LaunchOptions(runtime="kubernetes", kubeconfig=cluster.kubeconfig,
                              namespace="default", rerun="nightly-tests"), events.put)
    try:
        run = s.load()
        assert [st.name for st in s.steps] == ["build", "test", "after"]
        s.start()
        paused = _next(events, StepPaused)
        assert paused.index == 1
        copy = cluster.get("taskruns.tekton.dev", s.runtime.taskrun_name)
        assert copy["metadata"]["name"].startswith("nightly-tests-debug-")
        assert copy["metadata"]["labels"][RERUN_OF_LABEL] == "nightly-tests"
        assert copy["metadata"]["labels"]["team"] == "payments"
        assert "tekton.dev/pipelineRun" not in copy["metadata"]["labels"]
        spec = copy["spec"]
        assert spec["debug"] == {"breakpoints": {"onFailure": "enabled"}}
        assert spec["serviceAccountName"] == "builder" and spec["timeout"] == "20m"
        assert spec["params"] == [{"name": "flavour", "value": "vanilla"}]
        assert run.name == copy["metadata"]["name"]
        s.release(Release.CONTINUE)
        assert _next(events, RunFinished).succeeded
    finally:
        s.close()
    # the original is left as it was
    assert succeeded(cluster.get("taskruns.tekton.dev", "nightly-tests"))["status"] == "False"


def test_rerun_of_a_running_taskrun_is_refused_with_the_reason(cluster):
    api = api_client(cluster.kubeconfig)
    create_taskrun(api, taskrun("still-going", [
        {"name": "wait", "image": "alpine", "script": "sleep 30"}]))
    s = Session(LaunchOptions(runtime="kubernetes", kubeconfig=cluster.kubeconfig,
                              namespace="default", rerun="still-going"), lambda ev: None)
    try:
        with pytest.raises(UserError, match="still running") as info:
            s.load()
        assert "--attach still-going" in str(info.value)
    finally:
        s.close()


def test_rerun_of_a_missing_taskrun_and_without_a_cluster_are_clear_errors(cluster, tmp_path):
    s = Session(LaunchOptions(runtime="kubernetes", kubeconfig=cluster.kubeconfig,
                              namespace="default", rerun="no-such"), lambda ev: None)
    with pytest.raises(UserError, match="there is no TaskRun 'no-such'"):
        s.load()
    s.close()
    local = Session(LaunchOptions(runtime="local", rerun="nightly"), lambda ev: None)
    with pytest.raises(UserError, match="needs the cluster") as info:
        local.load()
    assert "--runtime kubernetes" in str(info.value)
    local.close()
