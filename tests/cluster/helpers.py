"""What the cluster tests share: clients for a kubeconfig, TaskRun documents, waiting on watches."""

from __future__ import annotations

from typing import Callable

from kubernetes import client, config, watch

GROUP, VERSION, PLURAL = "tekton.dev", "v1", "taskruns"


def api_client(kubeconfig: str) -> client.ApiClient:
    return config.new_client_from_config(config_file=kubeconfig)


def taskrun(name: str, steps: list[dict], *, on_failure: bool = True,
            before_steps: list[str] | None = None, timeout: str | None = None) -> dict:
    spec: dict = {"taskSpec": {"steps": steps}}
    if on_failure or before_steps:
        spec["debug"] = {"breakpoints": {"onFailure": "enabled"}}
        if before_steps:
            spec["debug"]["breakpoints"]["beforeSteps"] = before_steps
    if timeout is not None:
        spec["timeout"] = timeout
    return {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": {"name": name},
            "spec": spec}


def create_taskrun(api: client.ApiClient, body: dict, namespace: str = "default") -> dict:
    return client.CustomObjectsApi(api).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body)


def succeeded(tr: dict) -> dict:
    for c in (tr.get("status") or {}).get("conditions") or []:
        if c["type"] == "Succeeded":
            return c
    return {}


def watch_taskrun(api: client.ApiClient, name: str, until: Callable[[dict], bool],
                  namespace: str = "default", timeout: int = 20) -> dict:
    """Watch the TaskRun until ``until(taskrun)``; returns it (fails the test on timeout)."""
    w = watch.Watch()
    for event in w.stream(client.CustomObjectsApi(api).list_namespaced_custom_object, GROUP,
                          VERSION, namespace, PLURAL, field_selector=f"metadata.name={name}",
                          timeout_seconds=timeout):
        if until(event["object"]):
            w.stop()
            return event["object"]
    raise AssertionError(f"TaskRun {name} never reached the expected state within {timeout}s")


def done(tr: dict) -> bool:
    return succeeded(tr).get("status") in ("True", "False")


def step_state(tr: dict, name: str) -> dict:
    for s in (tr.get("status") or {}).get("steps") or []:
        if s["name"] == name:
            return s
    return {}


def follow_log_until(api: client.ApiClient, pod: str, container: str, text: str,
                     namespace: str = "default") -> str:
    """Follow a container's log (once its pod runs) until ``text`` appears; returns what was
    read."""
    wait_pod_running(api, pod, namespace)
    resp = client.CoreV1Api(api).read_namespaced_pod_log(
        pod, namespace, container=container, follow=True, _preload_content=False)
    seen = b""
    try:
        for chunk in resp.stream(1024):
            seen += chunk
            if text.encode() in seen:
                return seen.decode()
    finally:
        resp.release_conn()
    raise AssertionError(f"{text!r} never appeared in the log of {container}: {seen!r}")


def wait_pod_running(api: client.ApiClient, pod: str, namespace: str = "default",
                     timeout: int = 20) -> dict:
    w = watch.Watch()
    for event in w.stream(client.CoreV1Api(api).list_namespaced_pod, namespace,
                          field_selector=f"metadata.name={pod}", timeout_seconds=timeout):
        obj = event["object"]
        if obj.status.phase == "Running":
            w.stop()
            return obj
    raise AssertionError(f"pod {pod} never ran")


def wait_annotation(cluster, taskrun: str, key: str, present: bool = True,
                    timeout: float = 15.0) -> dict:
    """The TaskRun's annotations once ``key`` is (or is no longer) among them."""
    import time
    deadline = time.monotonic() + timeout
    while True:
        tr = cluster.get("taskruns.tekton.dev", taskrun) or {}
        annotations = (tr.get("metadata") or {}).get("annotations") or {}
        if (key in annotations) == present:
            return annotations
        if time.monotonic() > deadline:
            raise AssertionError(f"annotation {key} {'never came' if present else 'stayed'}: "
                                 f"{annotations}")
        time.sleep(0.05)
