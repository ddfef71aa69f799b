"""The faults a test can inject, each seen from a client as it would see it on a real cluster."""

from __future__ import annotations

import json
import os
import threading
import urllib.error
import urllib.request

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubernetes.stream import stream

from tests.cluster.helpers import (api_client, create_taskrun, done, follow_log_until, succeeded,
                                   taskrun, watch_taskrun)

TR_PATH = "/apis/tekton.dev/v1/namespaces/default/taskruns"


@pytest.fixture
def api(cluster):
    with api_client(cluster.kubeconfig) as a:
        yield a


def paused_run(api, name: str) -> None:
    create_taskrun(api, taskrun(name, [{"name": "fail", "image": "alpine", "script": "exit 1"}]))
    follow_log_until(api, f"{name}-pod", "step-fail", "breakpoint has taken effect")


def open_watch(cluster, path: str, query: str = "watch=true"):
    return urllib.request.urlopen(f"{cluster.url}{path}?{query}", timeout=30)


def test_dropped_watches_end_their_streams(cluster, api):
    create_taskrun(api, taskrun("w", [{"image": "alpine", "command": ["true"]}], on_failure=False))
    resp = open_watch(cluster, TR_PATH)
    first = json.loads(resp.readline())
    assert first["type"] == "ADDED"
    assert cluster.drop_watches() == 1
    rest = resp.read().splitlines()  # returns because the server ended the stream
    assert all(json.loads(line)["type"] in ("MODIFIED", "BOOKMARK") for line in rest)


def test_next_watch_answers_410_expired(cluster, api):
    cluster.expire_next_watch()
    resp = open_watch(cluster, TR_PATH, "watch=true&resourceVersion=1")
    event = json.loads(resp.readline())
    assert event["type"] == "ERROR"
    assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
    again = open_watch(cluster, TR_PATH, "watch=true&allowWatchBookmarks=true&timeoutSeconds=1")
    assert [json.loads(line)["type"] for line in again.read().splitlines()] in ([], ["BOOKMARK"])


def test_watch_resumes_from_a_resource_version(cluster, api):
    created = create_taskrun(api, taskrun("resume", [{"image": "alpine", "command": ["true"]}],
                                          on_failure=False))
    watch_taskrun(api, "resume", done)
    resp = open_watch(cluster, TR_PATH, "watch=true&timeoutSeconds=1&resourceVersion="
                      + created["metadata"]["resourceVersion"])
    events = [json.loads(line) for line in resp.read().splitlines()]
    assert events and all(e["type"] == "MODIFIED" for e in events)
    assert succeeded(events[-1]["object"])["reason"] == "Succeeded"


def test_refused_exec_is_forbidden(cluster, api):
    paused_run(api, "noexec")
    cluster.refuse_exec("step-fail")
    with pytest.raises(ApiException) as info:
        stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, "noexec-pod", "default",
               command=["true"], container="step-fail", stderr=True, stdin=False, stdout=True,
               tty=False)
    assert "403" in str(info.value)
    cluster.allow_exec()
    resp = stream(client.CoreV1Api(api).connect_get_namespaced_pod_exec, "noexec-pod", "default",
                  command=["true"], container="step-fail", stderr=True, stdin=False, stdout=True,
                  tty=False, _preload_content=False)
    resp.run_forever(timeout=10)
    assert resp.returncode == 0


def test_denied_triple_is_reported_by_access_review_and_enforced(cluster, api):
    cluster.deny("create", "taskruns")
    review = client.AuthorizationV1Api(api).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                namespace="default", verb="create", group="tekton.dev", resource="taskruns"))))
    assert review.status.allowed is False
    with pytest.raises(ApiException) as info:
        create_taskrun(api, taskrun("nope", [{"image": "alpine", "command": ["true"]}]))
    body = json.loads(info.value.body)
    assert (info.value.status, body["reason"]) == (403, "Forbidden")
    assert body["message"] == ('taskruns.tekton.dev is forbidden: User "test-user" cannot create '
                               'resource "taskruns" in API group "tekton.dev" in the namespace '
                               '"default"')
    allowed = client.AuthorizationV1Api(api).create_self_subject_access_review(
        client.V1SelfSubjectAccessReview(spec=client.V1SelfSubjectAccessReviewSpec(
            resource_attributes=client.V1ResourceAttributes(
                namespace="default", verb="watch", group="tekton.dev", resource="taskruns"))))
    assert allowed.status.allowed is True


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _step_pids(cluster, pod: str) -> list[int]:
    return cluster.call(lambda: [c.proc.pid for c in
                                 cluster.cluster.pods[("default", pod)].runtime.containers.values()])


def test_deleting_the_pod_kills_its_processes_and_fails_the_run(cluster, api):
    paused_run(api, "victim")
    pids = _step_pids(cluster, "victim-pod")
    cluster.delete_pod("victim-pod")
    tr = watch_taskrun(api, "victim", done)
    assert succeeded(tr)["status"] == "False"
    assert not any(_alive(p) for p in pids)
    with pytest.raises(ApiException) as info:
        client.CoreV1Api(api).read_namespaced_pod("victim-pod", "default")
    assert info.value.status == 404


def test_expired_timeout_ends_the_run_as_tekton_does(cluster, api):
    paused_run(api, "slow")
    pids = _step_pids(cluster, "slow-pod")
    cluster.expire_timeout("slow")
    tr = watch_taskrun(api, "slow", done)
    cond = succeeded(tr)
    assert (cond["status"], cond["reason"]) == ("False", "TaskRunTimeout")
    assert cond["message"] == 'TaskRun "slow" failed to finish within "1h0m0s"'
    assert tr["status"]["steps"][0]["terminated"]["reason"] == "TaskRunTimeout"
    assert not any(_alive(p) for p in pids)
    assert client.CoreV1Api(api).list_namespaced_pod(
        "default", label_selector="tekton.dev/taskRun=slow").items == []


def test_spec_timeout_expires_on_its_own(cluster, api):
    create_taskrun(api, taskrun("short", [{"name": "fail", "image": "alpine", "script": "exit 1"}],
                                timeout="1s"))
    tr = watch_taskrun(api, "short", done)
    assert succeeded(tr)["reason"] == "TaskRunTimeout"


def test_server_goes_away_and_comes_back_on_the_same_port(cluster, api):
    resp = open_watch(cluster, TR_PATH)
    cluster.go_away(1.0)
    with pytest.raises(Exception):  # the open watch is cut
        resp.read()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"{cluster.url}/version", timeout=5)
    back = threading.Event()
    while not back.wait(0.05):  # poll, as a client that reconnects does
        try:
            urllib.request.urlopen(f"{cluster.url}/version", timeout=5)
            back.set()
        except urllib.error.URLError:
            pass
    assert client.VersionApi(api).get_code().git_version == "v1.32.0"


def test_requests_are_counted_by_verb_and_path(cluster, api):
    cluster.reset_request_counts()
    create_taskrun(api, taskrun("counted", [{"image": "alpine", "command": ["true"]}]))
    client.CustomObjectsApi(api).get_namespaced_custom_object(
        "tekton.dev", "v1", "default", "taskruns", "counted")
    counts = cluster.request_counts()
    assert counts[("create", TR_PATH)] == 1
    assert counts[("get", TR_PATH + "/counted")] == 1
    over_http = json.loads(urllib.request.urlopen(f"{cluster.url}/_test/requests").read())
    assert {"verb": "create", "path": TR_PATH, "count": 1} in over_http


def _processes_under(root: str) -> list[int]:
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if root.encode() in f.read() and _alive(int(pid)):
                        found.append(int(pid))
            except OSError:
                pass
    return found


def test_program_serves_faults_over_http_and_leaves_no_process_behind(tmp_path):
    from tests.cluster.faults import ClusterProcess
    root = str(tmp_path / "pods")
    proc = ClusterProcess(str(tmp_path / "kubeconfig"), "--root", root)
    try:
        with api_client(proc.kubeconfig) as api:
            paused_run(api, "sub")
            assert _processes_under(root)
            proc.deny("get", "pods", "log")
            with pytest.raises(ApiException) as info:
                client.CoreV1Api(api).read_namespaced_pod_log("sub-pod", "default",
                                                              container="step-fail")
            assert info.value.status == 403
            proc.expire_timeout("sub")
            assert succeeded(watch_taskrun(api, "sub", done))["reason"] == "TaskRunTimeout"
            assert proc.request_counts()[("create", TR_PATH)] == 1
            proc.allow("get", "pods", "log")
            paused_run(api, "still-paused")  # the server must kill it on its way out
            assert _processes_under(root)
    finally:
        assert proc.stop() == 0
    assert _processes_under(root) == []
