"""Tekton's webhook by release, and the before-step pause, as the cluster plays them."""

from __future__ import annotations

import json
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

from tests.cluster import ClusterServer
from tests.cluster.helpers import (api_client, create_taskrun, done, follow_log_until, step_state,
                                   succeeded, watch_taskrun)


@pytest.fixture
def tekton_at(tmp_path):
    """Start a cluster with a given Tekton release; returns an API client for it."""
    servers, clients = [], []

    def start(version: str) -> client.ApiClient:
        server = ClusterServer(tekton_version=version, root=str(tmp_path / version)).start()
        servers.append(server)
        clients.append(api_client(server.write_kubeconfig(str(tmp_path / f"{version}.kubeconfig"))))
        return clients[-1]
    yield start
    for c in clients:
        c.close()
    for s in servers:
        s.stop()


def body(name: str, debug: dict) -> dict:
    return {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": {"name": name},
            "spec": {"debug": debug, "taskSpec": {"steps": [
                {"name": "first", "image": "alpine", "script": "echo first"},
                {"name": "second", "image": "alpine", "script": "echo second"}]}}}


def rejection(api, debug: dict) -> str:
    with pytest.raises(ApiException) as info:
        create_taskrun(api, body("rejected", debug))
    assert info.value.status == 400
    return json.loads(info.value.body)["message"]


def test_before_v0_53_only_the_breakpoint_list_is_accepted(tekton_at):
    api = tekton_at("v0.52.0")
    create_taskrun(api, body("old", {"breakpoint": ["onFailure"]}))
    tr = watch_taskrun(api, "old", done)
    assert succeeded(tr)["reason"] == "Succeeded"
    pod = client.CoreV1Api(api).read_namespaced_pod("old-pod", "default")
    assert all("-breakpoint_on_failure" in c.args for c in pod.spec.containers)
    assert 'unknown field "breakpoints"' in rejection(api, {"breakpoints": {"onFailure": "enabled"}})


def test_from_v0_53_breakpoints_on_failure_must_be_enabled(tekton_at):
    api = tekton_at("v0.53.0")
    assert 'unknown field "breakpoint"' in rejection(api, {"breakpoint": ["onFailure"]})
    assert "not a valid onFailure breakpoint value" in rejection(
        api, {"breakpoints": {"onFailure": "yes"}})
    assert 'unknown field "beforeSteps"' in rejection(
        api, {"breakpoints": {"onFailure": "enabled", "beforeSteps": ["second"]}})


def test_from_v0_62_before_steps_need_on_failure_and_unique_names(tekton_at):
    api = tekton_at("v0.63.0")
    assert "onFailure breakpoint is empty" in rejection(api, {"breakpoints": {
        "beforeSteps": ["second"]}})
    assert "before step must be unique" in rejection(api, {"breakpoints": {
        "onFailure": "enabled", "beforeSteps": ["second", "second"]}})


def test_before_step_pause_is_released_by_the_beforestep_script(tekton_at):
    api = tekton_at("v1.15.0")
    create_taskrun(api, body("before", {"breakpoints": {"onFailure": "enabled",
                                                        "beforeSteps": ["second"]}}))
    follow_log_until(api, "before-pod", "step-second", "before step breakpoint has taken effect")
    tr = watch_taskrun(api, "before", lambda t: "terminated" in step_state(t, "first"))
    assert "running" in step_state(tr, "second")
    resp = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, "before-pod", "default",
                  command=["/tekton/debug/scripts/debug-beforestep-continue"],
                  container="step-second", stderr=True, stdin=False, stdout=True, tty=False,
                  _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 0
    tr = watch_taskrun(api, "before", done)
    assert succeeded(tr)["reason"] == "Succeeded"
    assert "second\n" in client.CoreV1Api(api).read_namespaced_pod_log(
        "before-pod", "default", container="step-second")


def test_logs_with_timestamps_and_since_time(tekton_at):
    api = tekton_at("v1.15.0")
    create_taskrun(api, body("stamps", {"breakpoints": {"onFailure": "enabled"}}))
    watch_taskrun(api, "stamps", done)
    core = client.CoreV1Api(api)
    line = core.read_namespaced_pod_log("stamps-pod", "default", container="step-first",
                                        timestamps=True)
    stamp, text = line.rstrip("\n").split(" ", 1)
    assert text == "first" and stamp.endswith("Z") and len(stamp.split(".")[1]) == 10
    base = f"{api.configuration.host}/api/v1/namespaces/default/pods/stamps-pod/log"
    query = "container=step-first&sinceTime="
    assert urllib.request.urlopen(f"{base}?{query}{stamp}").read() == b"first\n"
    assert urllib.request.urlopen(f"{base}?{query}2999-01-01T00:00:00Z").read() == b""
