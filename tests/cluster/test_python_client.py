"""The official ``kubernetes`` client against the test cluster."""

from __future__ import annotations

import json

from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

import pytest

from tests.cluster.helpers import (api_client, create_taskrun, done, follow_log_until, step_state,
                                   succeeded, taskrun, watch_taskrun)


@pytest.fixture
def api(cluster):
    with api_client(cluster.kubeconfig) as a:
        yield a


def test_taskrun_runs_to_success_and_its_logs_are_kept(api):
    create_taskrun(api, taskrun("hello", [
        {"name": "greet", "image": "alpine", "script": "echo hello $(context.taskRun.name)"},
        {"name": "again", "image": "alpine", "command": ["echo"], "args": ["second step"]}]))
    tr = watch_taskrun(api, "hello", done)
    assert succeeded(tr)["reason"] == "Succeeded"
    assert tr["status"]["podName"] == "hello-pod"
    assert [s["terminated"]["exitCode"] for s in tr["status"]["steps"]] == [0, 0]
    core = client.CoreV1Api(api)
    assert core.read_namespaced_pod_log("hello-pod", "default", container="step-greet") == \
        "hello hello\n"
    assert core.read_namespaced_pod_log("hello-pod", "default", container="step-again") == \
        "second step\n"


def test_generate_name_gives_a_fresh_name(api):
    body = taskrun("", [{"image": "alpine", "command": ["true"]}])
    del body["metadata"]["name"]
    body["metadata"]["generateName"] = "gen-"
    created = create_taskrun(api, body)
    assert created["metadata"]["name"].startswith("gen-") and len(created["metadata"]["name"]) > 4
    tr = watch_taskrun(api, created["metadata"]["name"], done)
    assert tr["status"]["steps"][0]["container"] == "step-unnamed-0"


def test_pod_carries_tekton_labels_owner_and_entrypoint_flags(api):
    create_taskrun(api, taskrun("shape", [
        {"name": "a", "image": "alpine", "script": "exit 0", "workingDir": "/workspace/src"},
        {"name": "b", "image": "alpine", "script": "exit 0"}], before_steps=["b"]))
    tr = watch_taskrun(api, "shape", lambda t: bool(t.get("status", {}).get("podName")))
    pods = client.CoreV1Api(api).list_namespaced_pod("default", label_selector="tekton.dev/taskRun=shape")
    assert [p.metadata.name for p in pods.items] == ["shape-pod"]
    pod = pods.items[0]
    assert pod.metadata.labels["tekton.dev/taskRunUID"] == tr["metadata"]["uid"]
    assert pod.metadata.labels["app.kubernetes.io/managed-by"] == "tekton-pipelines"
    assert pod.metadata.owner_references[0].kind == "TaskRun"
    assert pod.spec.restart_policy == "Never"
    assert [c.name for c in pod.spec.init_containers] == \
        ["prepare", "place-scripts", "working-dir-initializer"]
    a, b = pod.spec.containers
    assert a.args[:3] == ["-wait_file", "/tekton/downward/ready", "-wait_file_content"]
    assert "-breakpoint_on_failure" in a.args and "-breakpoint_on_failure" in b.args
    assert "-debug_before_step" in b.args and "-debug_before_step" not in a.args
    assert b.args[b.args.index("-wait_file") + 1] == "/tekton/run/0/out"
    assert pod.metadata.annotations["tekton.dev/ready"] == "READY"


def test_exec_reports_the_exit_code(api):
    create_taskrun(api, taskrun("ex", [{"name": "fail", "image": "alpine", "script": "exit 4"}]))
    follow_log_until(api, "ex-pod", "step-fail", "breakpoint has taken effect")
    core = client.CoreV1Api(api)
    resp = stream(core.connect_get_namespaced_pod_exec, "ex-pod", "default",
                  command=["sh", "-c", "echo out; echo err >&2; exit 7"], container="step-fail",
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.read_stdout() == "out\n"
    assert resp.read_stderr() == "err\n"
    assert resp.returncode == 7
    ok = stream(core.connect_get_namespaced_pod_exec, "ex-pod", "default",
                command=["sh", "-c", "test -f /tekton/debug/scripts/debug-continue"],
                container="step-fail", stderr=True, stdin=False, stdout=True, tty=False,
                _preload_content=False)
    ok.run_forever(timeout=10)
    assert ok.returncode == 0


def test_continue_by_exec_releases_the_failed_step_and_the_run_succeeds(api):
    create_taskrun(api, taskrun("cont", [
        {"name": "fail", "image": "alpine", "script": "echo broken; exit 1"},
        {"name": "next", "image": "alpine", "script": "echo next ran"}]))
    follow_log_until(api, "cont-pod", "step-fail", "onFailure breakpoint has taken effect")
    paused = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "tekton.dev", "v1", "default", "taskruns", "cont")
    assert succeeded(paused)["reason"] == "Running"
    assert "running" in step_state(paused, "fail") and "running" in step_state(paused, "next")
    resp = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, "cont-pod", "default",
                  command=["/tekton/debug/scripts/debug-continue"], container="step-fail",
                  stderr=True, stdin=False, stdout=True, tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 0
    tr = watch_taskrun(api, "cont", done)
    assert succeeded(tr)["status"] == "True"
    assert step_state(tr, "fail")["terminated"]["exitCode"] == 0
    assert client.CoreV1Api(api).read_namespaced_pod_log(
        "cont-pod", "default", container="step-next") == "next ran\n"


def test_exec_into_an_ended_container_fails(api):
    create_taskrun(api, taskrun("ended", [
        {"name": "quick", "image": "alpine", "script": "true"},
        {"name": "fail", "image": "alpine", "script": "exit 1"}]))
    watch_taskrun(api, "ended", lambda t: "terminated" in step_state(t, "quick"))
    with pytest.raises(ApiException) as info:
        stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, "ended-pod", "default",
               command=["true"], container="step-quick", stderr=True, stdin=False, stdout=True,
               tty=False)
    assert "500" in str(info.value)


def test_failure_without_breakpoint_fails_the_run_and_skips_later_steps(api):
    create_taskrun(api, taskrun("failing", [
        {"name": "bad", "image": "alpine", "script": "exit 2"},
        {"name": "never", "image": "alpine", "script": "echo should not run"}], on_failure=False))
    tr = watch_taskrun(api, "failing", done)
    cond = succeeded(tr)
    assert (cond["status"], cond["reason"]) == ("False", "Failed")
    assert '"step-bad" exited with code 2' in cond["message"]
    assert "completionTime" in tr["status"]
    assert "should not run" not in client.CoreV1Api(api).read_namespaced_pod_log(
        "failing-pod", "default", container="step-never")


def test_cancel_by_merge_patch_ends_the_run_and_deletes_the_pod(api):
    create_taskrun(api, taskrun("cancel-me", [{"name": "fail", "image": "alpine",
                                               "script": "exit 1"}]))
    follow_log_until(api, "cancel-me-pod", "step-fail", "breakpoint has taken effect")
    client.CustomObjectsApi(api).patch_namespaced_custom_object(
        "tekton.dev", "v1", "default", "taskruns", "cancel-me", {"spec": {"status": "TaskRunCancelled"}})
    tr = watch_taskrun(api, "cancel-me", done)
    assert succeeded(tr)["reason"] == "TaskRunCancelled"
    with pytest.raises(ApiException) as info:
        client.CoreV1Api(api).read_namespaced_pod("cancel-me-pod", "default")
    assert info.value.status == 404


def test_v1beta1_serves_the_same_taskruns(api):
    create_taskrun(api, taskrun("both", [{"image": "alpine", "command": ["true"]}]))
    beta = client.CustomObjectsApi(api).get_namespaced_custom_object(
        "tekton.dev", "v1beta1", "default", "taskruns", "both")
    assert beta["apiVersion"] == "tekton.dev/v1beta1"


def test_errors_are_status_objects(api):
    custom = client.CustomObjectsApi(api)
    with pytest.raises(ApiException) as missing:
        custom.get_namespaced_custom_object("tekton.dev", "v1", "default", "taskruns", "nope")
    assert missing.value.status == 404 and "NotFound" in missing.value.body
    create_taskrun(api, taskrun("twice", [{"image": "alpine", "command": ["true"]}]))
    with pytest.raises(ApiException) as again:
        create_taskrun(api, taskrun("twice", [{"image": "alpine", "command": ["true"]}]))
    assert again.value.status == 409 and "AlreadyExists" in again.value.body
    with pytest.raises(ApiException) as bad:
        create_taskrun(api, taskrun("Bad_Name", [{"image": "alpine", "command": ["true"]}]))
    status = json.loads(bad.value.body)
    assert (bad.value.status, status["reason"]) == (422, "Invalid")
    assert status["details"]["causes"][0]["field"] == "metadata.name"


def test_feature_flags_configmap_switches_the_alpha_gate(api):
    core = client.CoreV1Api(api)
    core.patch_namespaced_config_map("feature-flags", "tekton-pipelines",
                                     {"data": {"enable-api-fields": "beta"}})
    with pytest.raises(ApiException) as info:
        create_taskrun(api, taskrun("gated", [{"image": "alpine", "command": ["true"]}]))
    assert info.value.status == 400
    message = json.loads(info.value.body)["message"]
    assert message.startswith('admission webhook "validation.webhook.pipeline.tekton.dev" denied')
    assert 'debug requires "enable-api-fields" feature gate to be "alpha" but it is "beta"' in message
    info_cm = core.read_namespaced_config_map("pipelines-info", "tekton-pipelines")
    assert info_cm.data["version"] == "v1.15.0"


def test_exec_with_tty_runs_under_a_terminal(api):
    create_taskrun(api, taskrun("tty", [{"name": "fail", "image": "alpine", "script": "exit 1"}]))
    follow_log_until(api, "tty-pod", "step-fail", "breakpoint has taken effect")
    resp = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, "tty-pod", "default",
                  command=["sh", "-c", "test -t 0 && test -t 1 && echo on a terminal"],
                  container="step-fail", stderr=True, stdin=True, stdout=True, tty=True,
                  _preload_content=False)
    resp.run_forever(timeout=10)
    assert "on a terminal" in resp.read_stdout()
    assert resp.returncode == 0
