"""The API server: HTTP routes, the Tekton controller and the faults tests inject.

``Cluster`` is the whole state and runs on one asyncio loop. ``ClusterServer`` (in
``tests.cluster``) runs it on a thread for tests in the same process; ``python -m tests.cluster``
runs it as a program.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shutil
import tempfile
import time
from collections import Counter
from typing import Any

import yaml
from aiohttp import WSMsgType, web

from tests.cluster import discovery
from tests.cluster.kubelet import Container, PodRuntime, parse_time, resize, rfc3339nano
from tests.cluster.store import (CONFIGMAPS, NAMESPACES, PODS, PVCS, SECRETS, SSAR, TASKRUNS,
                                 TASKS, ApiError,
                                 Event, Resource, Store, Watcher, bad_request, field_matcher,
                                 forbidden, invalid, label_matcher, not_found, now_rfc3339)
from tests.cluster import tekton

USER = "test-user"
LISTENER: web.AppKey = web.AppKey("listener")
TEKTON_NS = "tekton-pipelines"
_NAME_RE = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"


def _json(body: Any, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(text=json.dumps(body), status=status, content_type="application/json",
                        headers=headers)


def _merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge_patch(out.get(k), v)
    return out


def _pointer(path: str) -> list[str]:
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _json_patch(doc: Any, ops: list[dict]) -> Any:
    doc = copy.deepcopy(doc)
    for op in ops:
        parts = _pointer(op.get("path", ""))
        kind = op.get("op")
        if kind in ("copy", "move"):
            src = _pointer(op["from"])
            value = _walk(doc, src)
            if kind == "move":
                doc = _json_patch(doc, [{"op": "remove", "path": op["from"]}])
            doc = _json_patch(doc, [{"op": "add", "path": op["path"], "value": value}])
            continue
        if not parts:
            if kind in ("add", "replace"):
                doc = copy.deepcopy(op["value"])
            continue
        parent = _walk(doc, parts[:-1])
        key = parts[-1]
        if isinstance(parent, list):
            idx = len(parent) if key == "-" else int(key)
            if kind == "add":
                parent.insert(idx, copy.deepcopy(op["value"]))
            elif kind == "remove":
                parent.pop(idx)
            elif kind == "replace":
                parent[idx] = copy.deepcopy(op["value"])
            elif kind == "test" and parent[idx] != op["value"]:
                raise ApiError(422, "Invalid", f"the server rejected our request due to an error "
                               f"in our request: testing value {op['path']} failed")
        elif isinstance(parent, dict):
            if kind == "add" or kind == "replace":
                if kind == "replace" and key not in parent:
                    raise ApiError(422, "Invalid", "the server rejected our request due to an "
                                   f"error in our request: replace operation does not apply: doc "
                                   f"is missing key: {op['path']}")
                parent[key] = copy.deepcopy(op["value"])
            elif kind == "remove":
                if key not in parent:
                    raise ApiError(422, "Invalid", "the server rejected our request due to an "
                                   f"error in our request: remove operation does not apply: doc "
                                   f"is missing path: {op['path']}")
                del parent[key]
            elif kind == "test" and parent.get(key) != op["value"]:
                raise ApiError(422, "Invalid", f"the server rejected our request due to an error "
                               f"in our request: testing value {op['path']} failed")
        else:
            raise ApiError(422, "Invalid", f"doc is missing path: {op['path']}")
    return doc


def _walk(doc: Any, parts: list[str]) -> Any:
    cur = doc
    for p in parts:
        try:
            cur = cur[int(p)] if isinstance(cur, list) else cur[p]
        except (KeyError, IndexError, ValueError, TypeError):
            raise ApiError(422, "Invalid", "the server rejected our request due to an error in "
                           f"our request: doc is missing path: /{'/'.join(parts)}") from None
    return cur


def _proto_fields(data: bytes) -> dict[int, list]:
    """The fields of one protobuf message: number -> [int or bytes, ...]."""
    fields: dict[int, list] = {}
    i = 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            b = data[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value
    while i < len(data):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            value: Any = varint()
        elif wire == 2:
            n = varint()
            value, i = data[i:i + n], i + n
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise bad_request("the body of the request was in an unknown format")
        fields.setdefault(number, []).append(value)
    return fields


def _access_review_from_protobuf(raw: bytes) -> dict:
    """kubectl sends SelfSubjectAccessReviews as protobuf: read the resource attributes."""
    if not raw.startswith(b"k8s\x00"):
        raise bad_request("the body of the request was in an unknown format")
    unknown = _proto_fields(raw[4:])
    review = _proto_fields((unknown.get(2) or [b""])[0])
    spec = _proto_fields((review.get(2) or [b""])[0])
    attrs = _proto_fields((spec.get(1) or [b""])[0])
    names = {1: "namespace", 2: "verb", 3: "group", 4: "version", 5: "resource",
             6: "subresource", 7: "name"}
    return {"spec": {"resourceAttributes": {
        name: attrs[n][0].decode() for n, name in names.items() if attrs.get(n)}}}


def _secret_from_protobuf(raw: bytes) -> dict:
    """kubectl sends built-in objects such as Secrets (``kubectl create secret``) as protobuf:
    read the Secret (k8s.io/api/core/v1 ``Secret``: metadata 1, data 2, type 3, stringData 4,
    immutable 5; ObjectMeta: name 1, generateName 2, namespace 3, labels 11, annotations 12)."""
    import base64
    if not raw.startswith(b"k8s\x00"):
        raise bad_request("the body of the request was in an unknown format")
    unknown = _proto_fields(raw[4:])
    secret = _proto_fields((unknown.get(2) or [b""])[0])
    meta = _proto_fields((secret.get(1) or [b""])[0])

    def entries(items: list) -> dict[str, bytes]:
        out = {}
        for entry in items:
            kv = _proto_fields(entry)
            out[(kv.get(1) or [b""])[0].decode()] = (kv.get(2) or [b""])[0]
        return out
    metadata: dict[str, Any] = {k: meta[n][0].decode() for n, k in
                                ((1, "name"), (2, "generateName"), (3, "namespace")) if meta.get(n)}
    for n, k in ((11, "labels"), (12, "annotations")):
        if meta.get(n):
            metadata[k] = {key: v.decode() for key, v in entries(meta[n]).items()}
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Secret", "metadata": metadata}
    if secret.get(2):
        body["data"] = {k: base64.b64encode(v).decode() for k, v in entries(secret[2]).items()}
    if secret.get(4):
        body["stringData"] = {k: v.decode() for k, v in entries(secret[4]).items()}
    if secret.get(3):
        body["type"] = secret[3][0].decode()
    if secret.get(5):
        body["immutable"] = bool(secret[5][0])
    return body


class Run:
    """Tekton's controller and the kubelet for one TaskRun: from creation to its end."""

    def __init__(self, cluster: "Cluster", namespace: str, name: str, uid: str) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.runtime: PodRuntime | None = None
        self.pod_name: str | None = None
        self.done = False
        self.deadline: asyncio.TimerHandle | None = None
        self.task: asyncio.Task | None = None
        self.task_spec: dict = {}

    @property
    def store(self) -> Store:
        return self.cluster.store

    def taskrun(self) -> dict | None:
        return self.store.find(TASKRUNS, self.namespace, self.name)

    def _set_condition(self, tr: dict, status: str, reason: str, message: str) -> None:
        st = tr.setdefault("status", {})
        conds = [c for c in st.get("conditions") or [] if c.get("type") != "Succeeded"]
        conds.append({"type": "Succeeded", "status": status, "reason": reason, "message": message,
                      "lastTransitionTime": now_rfc3339()})
        st["conditions"] = conds

    def _update(self, mutate) -> None:
        tr = self.taskrun()
        if tr is None or tr["metadata"]["uid"] != self.uid:
            return
        tr = copy.deepcopy(tr)
        mutate(tr)
        self.store.update(TASKRUNS, tr, spec_changed=False)

    async def start(self) -> None:
        try:
            await self._start()
        except Exception as exc:  # a bug here must show, not hang the TaskRun
            self._fail("TaskRunValidationFailed", f"test cluster: {exc!r}")
            raise

    async def _start(self) -> None:
        cfg = self.cluster
        self._update(lambda tr: (self._set_condition(tr, "Unknown", "Pending", "Pending"),
                                 tr["status"].setdefault("startTime", now_rfc3339())))
        await asyncio.sleep(0)
        tr = self.taskrun()
        if tr is None or self.done:
            return
        spec = tr["spec"]
        task_name = None
        if spec.get("taskRef"):
            task_name, namespace = spec["taskRef"].get("name"), self.namespace
            resolver = spec["taskRef"].get("resolver")
            if resolver:
                # Tekton's cluster resolver (the only one served here), params substituted
                params = tekton.resolver_params(spec)
                if resolver != "cluster" or params.get("kind", "task") != "task":
                    self._fail("TaskRunResolutionFailed", f"error requesting remote resource: "
                               f"resolver {resolver!r} is not served by the test cluster")
                    return
                task_name = params.get("name")
                namespace = params.get("namespace") or self.namespace
            task = self.store.find(TASKS, namespace, task_name)
            if task is None:
                self._fail("CouldntGetTask", f'Error retrieving task for taskrun "{self.name}": '
                           f'tasks.tekton.dev "{task_name}" not found')
                return
            task_spec = task["spec"]
        else:
            task_spec = spec["taskSpec"]
        params, missing = tekton.resolve_params(task_spec, spec.get("params") or [])
        if missing:
            self._fail("TaskRunValidationFailed", f"invalid input params for task "
                       f"{task_name or ''}: missing parameters: {missing}")
            return
        self.task_spec = task_spec
        volumes, claims, missing_claim = self._workspaces(tr, task_spec)
        plan = tekton.build_pod(tr, task_spec, params, api_fields=cfg.api_fields(),
                                tekton_version=cfg.tekton_version(), task_name=task_name,
                                workspaces=volumes)
        for step in plan.steps:  # the kubelet: env from Secrets, before any container starts
            for env_name, ref in step.secret_env.items():
                value = secret_value(self.store, self.namespace, ref)
                if value is not None:
                    step.env[env_name] = value
                elif not ref.get("optional"):
                    secret = str(ref.get("name", ""))
                    why = "not found" if self.store.find(SECRETS, self.namespace, secret) is None \
                        else f'has no key "{ref.get("key")}"'
                    self._fail("CreateContainerConfigError",
                               f'failed to create containers: secret "{secret}" {why}')
                    return
        pod = self.store.create(PODS, self.namespace, plan.pod)
        self.pod_name = pod["metadata"]["name"]
        root = os.path.join(cfg.root, self.namespace, f"{self.pod_name}-{pod['metadata']['uid'][:8]}")
        self.runtime = PodRuntime(root, plan, self.sync, claims=claims)
        cfg.pods[(self.namespace, self.pod_name)] = self
        steps = [{"name": s.name, "container": s.container, "imageID": _image_id(s.image),
                  "waiting": {"reason": "PodInitializing"}} for s in plan.steps]

        def running(tr: dict) -> None:
            st = tr["status"]
            st["podName"] = self.pod_name
            st["steps"] = steps
            st["taskSpec"] = task_spec
            st.setdefault("provenance", {"featureFlags": {"EnableAPIFields": cfg.api_fields()}})
            self._set_condition(tr, "Unknown", "Pending", f'pod status "Initialized":"False"; '
                                f'message: "containers with incomplete status: [prepare place-scripts]"')
        self._update(running)
        self._arm_timeout(tr)
        if missing_claim is not None:  # the scheduler cannot place the pod: it stays Pending
            self._unschedulable(f'0/1 nodes are available: persistentvolumeclaim '
                                f'"{missing_claim}" not found. preemption: 0/1 nodes are '
                                'available: 1 Preemption is not helpful for scheduling.')
            return
        self.runtime.initialise()
        self._pod_status(init_done=True)
        await self.runtime.start()

    def _workspaces(self, tr: dict, task_spec: dict
                    ) -> tuple[dict[str, dict], dict[str, str], str | None]:
        """The pod's volume for each bound workspace, the host directory of each one a claim
        holds (shared by the pods that mount it), and a claim that does not exist. A
        ``volumeClaimTemplate`` becomes a claim of this TaskRun's, as Tekton makes it."""
        volumes: dict[str, dict] = {}
        claims: dict[str, str] = {}
        missing = None
        bound = {w.get("name"): w for w in tr["spec"].get("workspaces") or []
                 if isinstance(w, dict)}
        for w in task_spec.get("workspaces") or []:
            binding = bound.get(w.get("name"))
            if binding is None:
                continue
            sub_path = binding.get("subPath") or ""
            if "volumeClaimTemplate" in binding:
                claim = self.cluster.claim_from_template(tr, binding)
                binding = {"persistentVolumeClaim": {"claimName": claim}}
            source = next(({k: binding[k]} for k in ("persistentVolumeClaim", "emptyDir",
                                                     "configMap", "secret", "projected", "csi")
                           if k in binding), {"emptyDir": {}})
            volumes[w["name"]] = {**source, **({"subPath": sub_path} if sub_path else {})}
            if "persistentVolumeClaim" in source:
                name = str((source["persistentVolumeClaim"] or {}).get("claimName", ""))
                host = self.cluster.claim_dir(self.namespace, name)
                if host is None:
                    missing = missing or name
                else:
                    claims[w["name"]] = os.path.join(host, sub_path) if sub_path else host
        return volumes, claims, missing

    def _unschedulable(self, message: str) -> None:
        pod = copy.deepcopy(self.store.find(PODS, self.namespace, self.pod_name) or {})
        if pod:
            pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "False",
                                            "reason": "Unschedulable", "message": message,
                                            "lastTransitionTime": now_rfc3339()}]
            self.store.update(PODS, pod, spec_changed=False)
        self._update(lambda tr: self._set_condition(
            tr, "Unknown", "Pending", f'pod status "PodScheduled":"False"; message: "{message}"'))

    def _arm_timeout(self, tr: dict) -> None:
        from tekton_debug.tekton.duration import parse_duration
        seconds = parse_duration(tr["spec"].get("timeout") or "1h")
        if seconds > 0:
            self.deadline = asyncio.get_running_loop().call_later(
                seconds, lambda: asyncio.ensure_future(self.timeout()))

    def _pod_status(self, init_done: bool = True) -> None:
        if self.runtime is None or self.pod_name is None:
            return
        pod = self.store.find(PODS, self.namespace, self.pod_name)
        if pod is None:
            return
        pod = copy.deepcopy(pod)
        rt = self.runtime
        statuses = []
        for c in rt.containers.values():
            statuses.append({"name": c.name, "image": c.plan.image, "imageID": _image_id(c.plan.image),
                             "ready": c.running, "restartCount": 0, "started": c.running,
                             "state": c.state(),
                             **({"containerID": c.state()["terminated"]["containerID"]}
                                if c.exit_code is not None else {})})
        init = [{"name": ic["name"], "image": ic["image"], "imageID": _image_id(ic["image"]),
                 "ready": True, "restartCount": 0, "started": False,
                 "state": {"terminated": {"exitCode": 0, "reason": "Completed",
                                          "startedAt": pod["metadata"]["creationTimestamp"],
                                          "finishedAt": pod["metadata"]["creationTimestamp"]}}}
                for ic in pod["spec"]["initContainers"]]
        started = any(c.proc is not None for c in rt.containers.values())
        if rt.finished and started:
            phase = "Succeeded" if all(c.exit_code == 0 for c in rt.containers.values()) else "Failed"
        else:
            phase = "Running" if started else "Pending"
        st = pod["status"]
        st.update({"phase": phase, "hostIP": "127.0.0.1", "podIP": "127.0.0.1",
                   "podIPs": [{"ip": "127.0.0.1"}], "startTime": pod["metadata"]["creationTimestamp"],
                   "initContainerStatuses": init, "containerStatuses": statuses})
        all_ready = phase == "Running" and all(c.running for c in rt.containers.values())
        st["conditions"] = [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "True" if all_ready else "False"},
            {"type": "ContainersReady", "status": "True" if all_ready else "False"},
            {"type": "PodScheduled", "status": "True"}]
        self.store.update(PODS, pod, spec_changed=False)

    def _step_states(self) -> list[dict]:
        out = []
        assert self.runtime is not None
        for c in self.runtime.containers.values():
            state = c.state()
            entry = {"name": c.plan.name, "container": c.name, "imageID": _image_id(c.plan.image),
                     **state}
            if "terminated" in state:
                entry["terminationReason"] = state["terminated"]["reason"]
            out.append(entry)
        return out

    def sync(self) -> None:
        """The pod changed: reflect it in the pod's and the TaskRun's status."""
        if self.done or self.runtime is None:
            return
        self._pod_status()
        rt = self.runtime
        if rt.finished:
            self._complete()
            return

        def update(tr: dict) -> None:
            tr["status"]["steps"] = self._step_states()
            self._set_condition(tr, "Unknown", "Running",
                                "Not all Steps in the Task have finished executing")
        self._update(update)

    def _complete(self) -> None:
        assert self.runtime is not None
        failed = next((c for c in self.runtime.containers.values() if c.exit_code), None)
        self.done = True
        self._cancel_deadline()

        def update(tr: dict) -> None:
            tr["status"]["steps"] = self._step_states()
            tr["status"]["completionTime"] = now_rfc3339()
            self._results(tr)
            if failed is None:
                self._set_condition(tr, "True", "Succeeded", "All Steps have completed executing")
            else:
                self._set_condition(tr, "False", "Failed",
                                    f'"{failed.name}" exited with code {failed.exit_code}')
        self._update(update)

    def _results(self, tr: dict) -> None:
        """``status.results`` from the steps' termination messages, as Tekton reads them."""
        if self.runtime is None:
            return
        results = tekton.task_results(self.task_spec, [c.message for c in
                                                       self.runtime.containers.values()])
        if results:
            tr["status"]["results"] = results

    def _fail(self, reason: str, message: str) -> None:
        self.done = True
        self._cancel_deadline()

        def update(tr: dict) -> None:
            tr["status"]["completionTime"] = now_rfc3339()
            self._set_condition(tr, "False", reason, message)
        self._update(update)

    def _cancel_deadline(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    async def stop(self, reason: str, message: str) -> None:
        """End the run (cancel, timeout): kill the steps, record why, delete the pod."""
        if self.done:
            return
        self.done = True
        self._cancel_deadline()
        if self.runtime is not None:
            await self.runtime.kill(reason)

        def update(tr: dict) -> None:
            st = tr["status"]
            if self.runtime is not None:
                st["steps"] = self._step_states()
                self._results(tr)
            st["completionTime"] = now_rfc3339()
            self._set_condition(tr, "False", reason, message)
        self._update(update)
        if self.pod_name is not None:
            await self.cluster.remove_pod(self.namespace, self.pod_name)

    async def cancel(self) -> None:
        tr = self.taskrun() or {}
        msg = (tr.get("spec") or {}).get("statusMessage", "")
        await self.stop("TaskRunCancelled", f'TaskRun "{self.name}" was cancelled. {msg}'.rstrip())

    async def timeout(self) -> None:
        tr = self.taskrun() or {}
        await self.stop("TaskRunTimeout", f'TaskRun "{self.name}" failed to finish within '
                        f'"{(tr.get("spec") or {}).get("timeout", "1h0m0s")}"')

    async def pod_gone(self) -> None:
        """The pod was deleted from outside: its containers are killed and the run fails."""
        if self.runtime is not None:
            await self.runtime.kill()
            if not self.done:
                self._complete()


def _image_id(image: str) -> str:
    import hashlib
    ref = image if "/" in image else f"docker.io/library/{image}"
    return f"{ref.split(':')[0]}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


class Cluster:
    def __init__(self, *, tekton_version: str = "v1.15.0", api_fields: str = "alpha",
                 namespace: str = "default", root: str | None = None,
                 bookmark_interval: float = 5.0) -> None:
        tekton.parse_version(tekton_version)
        self.store = Store()
        self.root = root or tempfile.mkdtemp(prefix="test-cluster-")
        self._own_root = root is None
        self.bookmark_interval = bookmark_interval
        self.runs: dict[str, Run] = {}  # TaskRun uid -> Run
        self.pods: dict[tuple[str, str], Run] = {}
        self.denied: set[tuple[str, str, str]] = set()
        self.exec_refused: set[str | None] = set()
        self.expire_watches = 0
        self.requests: Counter = Counter()
        self.watch_stops: set[asyncio.Event] = set()
        self.watch_responses: set[web.StreamResponse] = set()
        self.tasks: set[asyncio.Task] = set()
        for ns in {namespace, "default", TEKTON_NS}:
            self.store.create(NAMESPACES, None, {"apiVersion": "v1", "kind": "Namespace",
                                                 "metadata": {"name": ns},
                                                 "spec": {"finalizers": ["kubernetes"]},
                                                 "status": {"phase": "Active"}})
        self.store.create(CONFIGMAPS, TEKTON_NS, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "feature-flags", "labels": {
                "app.kubernetes.io/part-of": "tekton-pipelines"}},
            "data": {"enable-api-fields": api_fields, "disable-inline-spec": "",
                     "enable-step-actions": "true", "await-sidecar-readiness": "true"}})
        self.store.create(CONFIGMAPS, TEKTON_NS, {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "pipelines-info", "labels": {
                "app.kubernetes.io/part-of": "tekton-pipelines"}},
            "data": {"version": tekton_version}})

    # ---- configuration -------------------------------------------------------------------------
    def api_fields(self) -> str:
        cm = self.store.find(CONFIGMAPS, TEKTON_NS, "feature-flags") or {}
        return (cm.get("data") or {}).get("enable-api-fields") or "beta"

    def tekton_version(self) -> str:
        cm = self.store.find(CONFIGMAPS, TEKTON_NS, "pipelines-info") or {}
        return (cm.get("data") or {}).get("version") or "v1.15.0"

    def spawn(self, coro) -> asyncio.Task:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    # ---- faults --------------------------------------------------------------------------------
    def drop_watches(self, abrupt: bool = False) -> int:
        n = len(self.watch_stops)
        for stop in list(self.watch_stops):
            stop.set()
        if abrupt:
            for resp in list(self.watch_responses):
                if resp._req is not None and resp._req.transport is not None:
                    resp._req.transport.close()
        return n

    def run_for(self, namespace: str, name: str) -> Run:
        tr = self.store.get(TASKRUNS, namespace, name)
        return self.runs[tr["metadata"]["uid"]]

    async def expire_timeout(self, namespace: str, name: str) -> None:
        await self.run_for(namespace, name).timeout()

    async def remove_pod(self, namespace: str, name: str) -> dict | None:
        """Delete a pod as the API server and kubelet do: mark it, kill it, remove it."""
        pod = self.store.find(PODS, namespace, name)
        if pod is None:
            return None
        pod = copy.deepcopy(pod)
        pod["metadata"]["deletionTimestamp"] = now_rfc3339()
        pod["metadata"]["deletionGracePeriodSeconds"] = 0
        self.store.update(PODS, pod, spec_changed=False)
        run = self.pods.pop((namespace, name), None)
        if run is not None:
            await run.pod_gone()
        try:
            return self.store.delete(PODS, namespace, name)
        except ApiError:
            return None

    async def shutdown(self) -> None:
        for run in list(self.runs.values()):
            run.done = True
            run._cancel_deadline()
            if run.runtime is not None:
                await run.runtime.kill()
        for t in list(self.tasks):
            t.cancel()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # ---- claims -------------------------------------------------------------------------------
    def claim_dir(self, namespace: str, name: str) -> str | None:
        """The host directory of claim ``name`` (its volume: every pod that mounts the claim
        sees the same files), or None when there is no such claim."""
        claim = self.store.find(PVCS, namespace, name)
        if claim is None:
            return None
        path = self._claim_path(claim)
        os.makedirs(path, exist_ok=True)
        return path

    def _claim_path(self, claim: dict) -> str:
        meta = claim["metadata"]
        return os.path.join(self.root, "volumes", meta["namespace"],
                            f"{meta['name']}-{meta['uid'][:8]}")

    def claim_created(self, claim: dict) -> dict:
        """The volume controller binds a new claim at once (a volume of the size it asks)."""
        claim = copy.deepcopy(claim)
        spec = claim.setdefault("spec", {})
        spec["volumeName"] = f"pvc-{claim['metadata']['uid']}"
        spec.setdefault("storageClassName", "standard")
        spec.setdefault("volumeMode", "Filesystem")
        claim["status"] = {"phase": "Bound", "accessModes": list(spec.get("accessModes") or []),
                           "capacity": {"storage": ((spec.get("resources") or {}).get(
                               "requests") or {}).get("storage", "")}}
        return self.store.update(PVCS, claim, spec_changed=False)

    def claim_deleted(self, claim: dict) -> None:
        shutil.rmtree(self._claim_path(claim), ignore_errors=True)

    def claim_from_template(self, tr: dict, binding: dict) -> str:
        """The claim Tekton makes for a TaskRun's ``volumeClaimTemplate`` workspace: named
        ``pvc-<hash>`` (or the template's name and the hash), owned by the TaskRun."""
        import hashlib
        meta = tr["metadata"]
        template = copy.deepcopy(binding["volumeClaimTemplate"] or {})
        digest = hashlib.sha256((binding["name"] + meta["uid"]).encode()).hexdigest()[:10]
        name = f"{(template.get('metadata') or {}).get('name') or 'pvc'}-{digest}"
        if self.store.find(PVCS, meta["namespace"], name) is None:
            body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {**(template.get("metadata") or {}), "name": name,
                                 "ownerReferences": [{
                                     "apiVersion": tr.get("apiVersion", "tekton.dev/v1"),
                                     "kind": "TaskRun", "name": meta["name"], "uid": meta["uid"],
                                     "controller": True, "blockOwnerDeletion": True}]},
                    "spec": template.get("spec") or {}}
            self.claim_created(self.store.create(PVCS, meta["namespace"], body))
        return name

    # ---- the controller's reactions ------------------------------------------------------------
    def taskrun_created(self, obj: dict) -> None:
        meta = obj["metadata"]
        run = Run(self, meta["namespace"], meta["name"], meta["uid"])
        self.runs[meta["uid"]] = run
        run.task = self.spawn(run.start())

    async def taskrun_changed(self, old: dict, new: dict) -> None:
        run = self.runs.get(new["metadata"]["uid"])
        if run and new["spec"].get("status") == "TaskRunCancelled" and \
                old["spec"].get("status") != "TaskRunCancelled":
            await run.cancel()

    async def taskrun_deleted(self, obj: dict) -> None:
        run = self.runs.pop(obj["metadata"]["uid"], None)
        if run is not None:
            run.done = True
            run._cancel_deadline()
            if run.pod_name:
                await self.remove_pod(run.namespace, run.pod_name)
        uid = obj["metadata"]["uid"]
        for claim in self.store.list(PVCS, obj["metadata"]["namespace"], lambda o: any(
                r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])):
            self.claim_deleted(self.store.delete(PVCS, claim["metadata"]["namespace"],
                                                 claim["metadata"]["name"]))

    # ---- authorization -------------------------------------------------------------------------
    def allowed(self, verb: str, resource: str, subresource: str = "") -> bool:
        return (verb, resource, subresource) not in self.denied

    def authorize(self, verb: str, resource: Resource, subresource: str, namespace: str | None,
                  name: str | None) -> None:
        if not self.allowed(verb, resource.plural, subresource):
            raise forbidden(USER, verb, resource, subresource, namespace, name)


def _secret_data(body: dict, name: str) -> None:
    """As the API server stores a Secret: ``stringData`` merged into ``data`` (base64), the
    ``data`` values checked to be base64, ``type`` defaulted to Opaque."""
    import base64
    import binascii
    data = body.get("data") or {}
    for key, value in data.items():
        try:
            base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError):
            raise invalid(SECRETS, name, [("FieldValueInvalid", f"data[{key}]",
                                           "illegal base64 data")]) from None
    for key, value in (body.pop("stringData", None) or {}).items():
        data[key] = base64.b64encode(str(value).encode()).decode()
    if data:
        body["data"] = data
    body["type"] = body.get("type") or "Opaque"


def _validate_claim(body: dict, name: str) -> None:
    """As the API server validates a PersistentVolumeClaim's spec."""
    spec = body.get("spec") if isinstance(body.get("spec"), dict) else {}
    causes = []
    modes = spec.get("accessModes") or []
    if not modes:
        causes.append(("FieldValueRequired", "spec.accessModes",
                       "Required value: at least 1 access mode is required"))
    known = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
    for m in modes:
        if m not in known:
            causes.append(("FieldValueNotSupported", "spec.accessModes",
                           f'Unsupported value: "{m}": supported values: '
                           + ", ".join(f'"{k}"' for k in known)))
    if not ((spec.get("resources") or {}).get("requests") or {}).get("storage"):
        causes.append(("FieldValueRequired", "spec.resources[storage]", "Required value"))
    if causes:
        raise invalid(PVCS, name, causes)


def secret_value(store: Store, namespace: str, ref: dict) -> str | None:
    """The value a ``secretKeyRef`` names, as the kubelet hands it to a container; None when the
    Secret or its key does not exist."""
    import base64
    secret = store.find(SECRETS, namespace, str(ref.get("name", "")))
    value = ((secret or {}).get("data") or {}).get(str(ref.get("key", "")))
    return None if value is None else base64.b64decode(value).decode("utf-8", "replace")


def _verb(method: str, name: str | None, query) -> str:
    if method == "GET":
        if name:
            return "get"
        return "watch" if query.get("watch") in ("true", "1") else "list"
    return {"POST": "create", "PUT": "update", "PATCH": "patch",
            "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())


class Api:
    """The HTTP face of a ``Cluster``."""

    def __init__(self, cluster: Cluster) -> None:
        self.c = cluster
        self.app = web.Application(middlewares=[self._middleware], client_max_size=16 * 1024 ** 2)
        self.app.router.add_route("*", "/{tail:.*}", self.dispatch)

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        try:
            return await handler(request)
        except ApiError as e:
            return _json(e.status(), e.code)

    # ---- routing -------------------------------------------------------------------------------
    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if parts[:1] == ["_test"]:
            return await self.test_api(request, parts[1:])
        if request.method == "GET":
            simple = self._discovery(request, parts)
            if simple is not None:
                return simple
        if parts[:1] == ["api"] and len(parts) >= 3:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[:1] == ["apis"] and len(parts) >= 4:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource = discovery.resource_for(group, version, rest[0])
        if resource is None or (namespace is not None and not resource.namespaced):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        name = rest[1] if len(rest) > 1 else None
        sub = rest[2] if len(rest) > 2 else ""
        verb = _verb(request.method, name, request.query)
        if sub == "exec":
            verb = "create"
        self.c.requests[(verb, request.path)] += 1
        self.c.authorize(verb, resource, sub, namespace, name)
        return await self.handle(request, resource, version, namespace, name, sub, verb)

    def _discovery(self, request: web.Request, parts: list[str]) -> web.Response | None:
        path = "/".join(parts)
        answer: Any = None
        if path == "version":
            answer = discovery.VERSION
        elif path == "api":
            answer = discovery.api_versions()
        elif path == "apis":
            answer = discovery.api_group_list()
        elif path == "api/v1":
            answer = discovery.resource_list("", "v1")
        elif len(parts) == 2 and parts[0] == "apis":
            answer = discovery.api_group(parts[1])
        elif len(parts) == 3 and parts[0] == "apis":
            answer = discovery.resource_list(parts[1], parts[2])
            if answer is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        elif path == "openapi/v3":
            answer = discovery.openapi_index()
        elif path.startswith("openapi/v3/"):
            answer = discovery.OPENAPI_DOCS.get(path[len("openapi/v3/"):])
            if answer is None:
                raise ApiError(404, "NotFound", "the server could not find the requested resource")
        elif path.startswith("openapi/"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        else:
            return None
        self.c.requests[("get", request.path)] += 1
        return _json(answer)

    # ---- resources -----------------------------------------------------------------------------
    def _out(self, resource: Resource, version: str, obj: dict) -> dict:
        out = copy.deepcopy(obj)
        out["apiVersion"] = resource.api_version(version)
        out["kind"] = resource.kind
        return out

    def _wants_table(self, request: web.Request) -> bool:
        return "as=Table" in request.headers.get("Accept", "")

    async def _body(self, request: web.Request) -> Any:
        ctype = request.headers.get("Content-Type", "")
        if "protobuf" in ctype and request.path.endswith("/selfsubjectaccessreviews"):
            return _access_review_from_protobuf(await request.read())
        if "protobuf" in ctype and request.path.endswith("/secrets") and request.method == "POST":
            return _secret_from_protobuf(await request.read())
        if "protobuf" in ctype:
            raise ApiError(415, "UnsupportedMediaType", f'the body of the request was in an unknown '
                           f'format - accepted media types include: application/json, '
                           f'application/yaml')
        raw = await request.read()
        try:
            if "yaml" in request.headers.get("Content-Type", ""):
                return yaml.safe_load(raw)
            return json.loads(raw or b"null")
        except (ValueError, yaml.YAMLError) as e:
            raise bad_request(f"the body of the request was in an unknown format: {e}") from None

    async def handle(self, request: web.Request, resource: Resource, version: str,
                     namespace: str | None, name: str | None, sub: str, verb: str
                     ) -> web.StreamResponse:
        c, store, q = self.c, self.c.store, request.query
        if resource == SSAR:
            if request.method != "POST":
                raise ApiError(405, "MethodNotAllowed", "the server does not allow this method")
            return self.access_review(await self._body(request))
        if sub == "log" and resource == PODS:
            return await self.logs(request, namespace, name)
        if sub == "exec" and resource == PODS:
            return await self.exec(request, namespace, name)
        if sub not in ("", "status"):
            raise ApiError(404, "NotFound", "the server could not find the requested resource")
        if verb == "get":
            obj = store.get(resource, namespace, name)
            if self._wants_table(request):
                return _json(discovery.table(resource, [obj], obj["metadata"]["resourceVersion"],
                                             q.get("includeObject", "Metadata")))
            return _json(self._out(resource, version, obj))
        if verb in ("list", "watch"):
            labels = label_matcher(q.get("labelSelector"))
            fields = field_matcher(q.get("fieldSelector"))
            matches = lambda o: labels(o["metadata"].get("labels") or {}) and fields(o)  # noqa: E731
            if verb == "watch":
                return await self.watch(request, resource, version, namespace, matches)
            items = [self._out(resource, version, o) for o in store.list(resource, namespace, matches)]
            rv = str(store.rv)
            if self._wants_table(request):
                return _json(discovery.table(resource, items, rv, q.get("includeObject", "Metadata")))
            return _json({"apiVersion": resource.api_version(version), "kind": f"{resource.kind}List",
                          "metadata": {"resourceVersion": rv}, "items": items})
        if verb == "create":
            return await self.create(request, resource, version, namespace)
        if verb in ("patch", "update"):
            return await self.modify(request, resource, version, namespace, name, sub, verb)
        if verb == "delete":
            return await self.delete(resource, version, namespace, name)
        raise ApiError(405, "MethodNotAllowed", "the server does not allow this method on the "
                       "requested resource")

    def _check_kind(self, resource: Resource, version: str, body: Any) -> dict:
        if not isinstance(body, dict):
            raise bad_request("the body of the request was in an unknown format")
        kind = body.get("kind")
        if kind and kind != resource.kind:
            raise bad_request(f"the API version in the data ({body.get('apiVersion')}) does not "
                              f"match the expected API version ({resource.api_version(version)})"
                              if body.get("apiVersion") != resource.api_version(version) else
                              f'{kind} in version "{version}" cannot be handled as a '
                              f'{resource.kind}')
        return body

    def _strict(self, request: web.Request, resource: Resource, body: dict) -> list[str]:
        """Unknown top-level or spec fields: an error under fieldValidation=Strict."""
        known_top = {"apiVersion", "kind", "metadata", "spec", "status", "data", "binaryData",
                     "immutable"}
        if resource == SECRETS:
            known_top |= {"type", "stringData"}
        unknown = [k for k in body if k not in known_top]
        if resource == TASKRUNS and isinstance(body.get("spec"), dict):
            known_spec = {"params", "serviceAccountName", "taskRef", "taskSpec", "status",
                          "statusMessage", "retries", "timeout", "podTemplate", "workspaces",
                          "stepSpecs", "sidecarSpecs", "computeResources", "debug",
                          "managedBy", "stepOverrides", "sidecarOverrides", "resources"}
            unknown += [f"spec.{k}" for k in body["spec"] if k not in known_spec]
        mode = request.query.get("fieldValidation", "")
        if unknown and mode == "Strict":
            raise bad_request("strict decoding error: " + ", ".join(
                f'unknown field "{u}"' for u in unknown))
        return [f'unknown field "{u}"' for u in unknown] if mode == "Warn" else []

    async def create(self, request: web.Request, resource: Resource, version: str,
                     namespace: str | None) -> web.Response:
        c = self.c
        body = self._check_kind(resource, version, await self._body(request))
        warnings = self._strict(request, resource, body)
        body = copy.deepcopy(body)
        meta = body.setdefault("metadata", {})
        name = meta.get("name") or ""
        if not name and not meta.get("generateName"):
            raise invalid(resource, "", [("FieldValueRequired", "metadata.name",
                                          "Required value: name or generateName is required")])
        import re
        check = name or (meta["generateName"] + "a")
        if not re.fullmatch(_NAME_RE, check) or len(check) > 253:
            raise invalid(resource, name or meta["generateName"], [(
                "FieldValueInvalid", "metadata.name" if name else "metadata.generateName",
                f'Invalid value: "{name or meta["generateName"]}": a lowercase RFC 1123 subdomain '
                "must consist of lower case alphanumeric characters, '-' or '.', and must start and "
                "end with an alphanumeric character")])
        if resource.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise bad_request("the namespace of the provided object does not match the "
                                  "namespace sent on the request")
            c.store.get(NAMESPACES, None, namespace)
        body["apiVersion"] = resource.api_version(version)
        body["kind"] = resource.kind
        body.pop("status", None)
        if resource == SECRETS:
            _secret_data(body, name)
        if resource == TASKRUNS:
            tekton.default_taskrun(body)
            tekton.validate_taskrun(body, version=tekton.parse_version(c.tekton_version()),
                                    api_fields=c.api_fields())
        elif resource == TASKS:
            tekton.validate_task_spec(body.get("spec"), "spec")
        elif resource == PVCS:
            _validate_claim(body, name or meta["generateName"])
        if request.query.get("dryRun") == "All":
            return _json(self._out(resource, version, body), 201)
        obj = c.store.create(resource, namespace, body)
        if resource == TASKRUNS:
            c.taskrun_created(obj)
        elif resource == PVCS:
            obj = c.claim_created(obj)
        headers = {"Warning": ", ".join(f'299 - "{w}"' for w in warnings)} if warnings else None
        return _json(self._out(resource, version, obj), 201, headers)

    async def modify(self, request: web.Request, resource: Resource, version: str,
                     namespace: str | None, name: str, sub: str, verb: str) -> web.Response:
        c = self.c
        current = c.store.get(resource, namespace, name)
        body = await self._body(request)
        if verb == "update":
            new = copy.deepcopy(self._check_kind(resource, version, body))
            want_rv = (new.get("metadata") or {}).get("resourceVersion")
            if want_rv and want_rv != current["metadata"]["resourceVersion"]:
                raise ApiError(409, "Conflict", f'Operation cannot be fulfilled on '
                               f'{resource.qualified} "{name}": the object has been modified; '
                               'please apply your changes to the latest version and try again',
                               details={"name": name, "group": resource.group,
                                        "kind": resource.plural})
        else:
            ctype = request.headers.get("Content-Type", "").split(";")[0].strip()
            base = self._out(resource, version, current)
            if ctype == "application/json-patch+json":
                if not isinstance(body, list):
                    raise bad_request("the body of a JSON patch must be a list of operations")
                new = _json_patch(base, body)
            elif ctype in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
                new = _merge_patch(base, body)
            else:
                raise ApiError(415, "UnsupportedMediaType",
                               f'the body of the request was in an unknown format - accepted '
                               f'media types include: application/json-patch+json, '
                               f'application/merge-patch+json, application/apply-patch+yaml')
        meta = new.setdefault("metadata", {})
        for k in ("uid", "creationTimestamp", "name", "namespace", "generation"):
            if k in current["metadata"]:
                meta[k] = current["metadata"][k]
        meta["resourceVersion"] = current["metadata"]["resourceVersion"]
        if resource == SECRETS:
            _secret_data(new, name)
        if sub == "status":
            new = {**copy.deepcopy(current), "status": new.get("status")}
        elif resource in (TASKRUNS, PODS):
            new["status"] = copy.deepcopy(current.get("status"))
        if resource == TASKRUNS and sub != "status":
            tekton.validate_taskrun(new, version=tekton.parse_version(c.tekton_version()),
                                    api_fields=c.api_fields())
            allowed = {"status", "statusMessage"}
            if current.get("status", {}).get("startTime") and any(
                    new["spec"].get(k) != current["spec"].get(k)
                    for k in set(new["spec"]) | set(current["spec"]) if k not in allowed):
                raise tekton.denied("Once the TaskRun has started, only status and statusMessage "
                                    "updates are allowed: spec")
        if request.query.get("dryRun") == "All":
            return _json(self._out(resource, version, new))
        stored = c.store.update(resource, new)
        if resource == TASKRUNS:
            await c.taskrun_changed(current, stored)
        return _json(self._out(resource, version, c.store.get(resource, namespace, name)))

    async def delete(self, resource: Resource, version: str, namespace: str | None,
                     name: str) -> web.Response:
        c = self.c
        if resource == PODS:
            obj = c.store.get(resource, namespace, name)
            await c.remove_pod(namespace, name)
            return _json(self._out(resource, version, obj))
        if resource == NAMESPACES:
            raise ApiError(405, "MethodNotAllowed", "namespaces cannot be deleted here")
        obj = c.store.delete(resource, namespace, name)
        if resource == TASKRUNS:
            await c.taskrun_deleted(obj)
        elif resource == PVCS:
            c.claim_deleted(obj)
        return _json(self._out(resource, version, obj))

    def access_review(self, body: dict) -> web.Response:
        attrs = ((body or {}).get("spec") or {}).get("resourceAttributes") or {}
        verb, res, sub = attrs.get("verb", ""), attrs.get("resource", ""), attrs.get("subresource", "")
        ok = self.c.allowed(verb, res, sub)
        status = {"allowed": ok}
        if not ok:
            status.update({"denied": True, "reason": f'RBAC: {USER} may not {verb} '
                           f'{res}{"/" + sub if sub else ""}'})
        else:
            status["reason"] = 'RBAC: allowed by ClusterRoleBinding "test-cluster"'
        out = {"kind": "SelfSubjectAccessReview", "apiVersion": "authorization.k8s.io/v1",
               "metadata": {"creationTimestamp": None}, "spec": body.get("spec", {}),
               "status": status}
        return _json(out, 201)

    # ---- watch ---------------------------------------------------------------------------------
    async def watch(self, request: web.Request, resource: Resource, version: str,
                    namespace: str | None, matches) -> web.StreamResponse:
        c, store, q = self.c, self.c.store, request.query
        table = self._wants_table(request)
        rv_text = q.get("resourceVersion", "")
        timeout = float(q["timeoutSeconds"]) if q.get("timeoutSeconds") else None
        bookmarks = q.get("allowWatchBookmarks") in ("true", "1")
        watcher = Watcher(resource, namespace, matches)
        initial: list[tuple[str, dict]] = []
        error: ApiError | None = None
        if c.expire_watches > 0:
            c.expire_watches -= 1
            error = ApiError(410, "Expired", f"too old resource version: {rv_text or 0} "
                             f"({store.rv})")
        elif rv_text in ("", "0"):
            initial = [("ADDED", o) for o in store.list(resource, namespace, matches)]
        else:
            try:
                initial = [(e.type, e.obj) for e in store.events_since(int(rv_text), resource,
                                                                        namespace)
                           if matches(e.obj)]
            except ApiError as e:
                error = e
            except ValueError:
                raise bad_request(f'invalid resource version "{rv_text}"') from None
        store.watchers.append(watcher)
        stop = asyncio.Event()
        c.watch_stops.add(stop)
        resp = web.StreamResponse(headers={"Content-Type": "application/json",
                                           "Cache-Control": "no-cache, private"})
        c.watch_responses.add(resp)

        def line(type_: str, obj: dict) -> bytes:
            if type_ in ("ADDED", "MODIFIED", "DELETED"):
                obj = self._out(resource, version, obj)
                if table:
                    obj = discovery.table(resource, [obj], obj["metadata"]["resourceVersion"],
                                          q.get("includeObject", "Metadata"))
            return (json.dumps({"type": type_, "object": obj}) + "\n").encode()

        try:
            await resp.prepare(request)
            if error is not None:
                await resp.write(line("ERROR", error.status()))
                return resp
            for type_, obj in initial:
                await resp.write(line(type_, obj))
            deadline = time.monotonic() + timeout if timeout else None
            next_bookmark = time.monotonic() + self.c.bookmark_interval
            stopper = asyncio.ensure_future(stop.wait())
            try:
                while not stop.is_set():
                    now = time.monotonic()
                    wait = next_bookmark - now if bookmarks else 3600.0
                    if deadline is not None:
                        wait = min(wait, deadline - now)
                    if wait <= 0:
                        if deadline is not None and now >= deadline:
                            break
                        next_bookmark = now + self.c.bookmark_interval
                        await resp.write(line("BOOKMARK", {
                            "kind": resource.kind, "apiVersion": resource.api_version(version),
                            "metadata": {"resourceVersion": str(store.rv)}}))
                        continue
                    getter = asyncio.ensure_future(watcher.queue.get())
                    done, _ = await asyncio.wait({getter, stopper}, timeout=wait,
                                                 return_when=asyncio.FIRST_COMPLETED)
                    if getter in done:
                        ev: Event = getter.result()
                        if matches(ev.obj):
                            await resp.write(line(ev.type, ev.obj))
                    else:
                        getter.cancel()
            finally:
                stopper.cancel()
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError, RuntimeError):
            pass
        finally:
            if watcher in store.watchers:
                store.watchers.remove(watcher)
            c.watch_stops.discard(stop)
            c.watch_responses.discard(resp)
        return resp

    # ---- logs ----------------------------------------------------------------------------------
    def _container(self, namespace: str, name: str, container: str | None,
                   for_exec: bool = False) -> tuple[dict, Run | None, Container | None, str]:
        pod = self.c.store.get(PODS, namespace, name)
        names = [x["name"] for x in pod["spec"]["containers"]]
        if not container:
            if len(names) == 1:
                container = names[0]
            else:
                default = (pod["metadata"].get("annotations") or {}).get(
                    "kubectl.kubernetes.io/default-container")
                if default and not for_exec:
                    container = default
                else:
                    raise bad_request(f"a container name must be specified for pod {name}, "
                                      f"choose one of: [{' '.join(names)}]")
        init_names = [x["name"] for x in pod["spec"].get("initContainers") or []]
        if container not in names and container not in init_names:
            raise bad_request(f"container {container} is not valid for pod {name}")
        run = self.c.pods.get((namespace, name))
        rt = run.runtime if run else None
        return pod, run, (rt.containers.get(container) if rt else None), container

    async def logs(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        q = request.query
        pod, run, cont, cname = self._container(namespace, name, q.get("container"))
        init_names = [x["name"] for x in pod["spec"].get("initContainers") or []]
        if cont is None and cname not in init_names:
            raise bad_request(f'container "{cname}" in pod "{name}" is waiting to start: '
                              'PodInitializing')
        if cont is not None and cont.proc is None:
            raise bad_request(f'container "{cname}" in pod "{name}" is waiting to start: '
                              'PodInitializing')
        follow = q.get("follow") in ("true", "1")
        stamps = q.get("timestamps") in ("true", "1")
        since = None
        if q.get("sinceTime"):
            try:
                since = parse_time(q["sinceTime"])
            except ValueError:
                raise bad_request(f'parsing time "{q["sinceTime"]}" as RFC3339: '
                                  'cannot parse') from None
        elif q.get("sinceSeconds"):
            since = time.time_ns() - int(q["sinceSeconds"]) * 1_000_000_000
        limit = int(q["limitBytes"]) if q.get("limitBytes") else None
        tail = int(q["tailLines"]) if q.get("tailLines") else None
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await resp.prepare(request)
        if cont is None:  # an init container: it wrote nothing
            await resp.write_eof()
            return resp
        sent = 0
        pos = 0
        records = cont.log
        if tail is not None:
            pos = max(0, len(records) - tail)
        try:
            while True:
                changed = cont.changed
                chunk = bytearray()
                while pos < len(cont.log):
                    rec = cont.log[pos]
                    pos += 1
                    if since is not None and rec.ns < since:
                        continue
                    if stamps:
                        chunk += rfc3339nano(rec.ns).encode() + b" "
                    chunk += rec.data
                if chunk:
                    if limit is not None:
                        chunk = chunk[: max(0, limit - sent)]
                    await resp.write(bytes(chunk))
                    sent += len(chunk)
                    if limit is not None and sent >= limit:
                        break
                if not follow or cont.done.is_set() and pos >= len(cont.log):
                    break
                await changed.wait()
            await resp.write_eof()
        except (ConnectionResetError, asyncio.CancelledError, RuntimeError):
            pass
        return resp

    # ---- exec ----------------------------------------------------------------------------------
    async def exec(self, request: web.Request, namespace: str, name: str) -> web.StreamResponse:
        q = request.query
        command = q.getall("command", [])
        pod, run, cont, cname = self._container(namespace, name, q.get("container"), for_exec=True)
        if None in self.c.exec_refused or cname in self.c.exec_refused:
            raise forbidden(USER, "create", PODS, "exec", namespace, name)
        if not command:
            raise bad_request("you must specify at least 1 command")
        if cont is None or cont.proc is None or cont.exit_code is not None or run is None:
            raise ApiError(500, "InternalError", "Internal error occurred: error executing command "
                           f"in container: container {cname} is not running",
                           details={"causes": [{"message": "error executing command in container: "
                                                f"container {cname} is not running"}]})
        ws = web.WebSocketResponse(protocols=("v5.channel.k8s.io", "v4.channel.k8s.io"),
                                   autoping=True, max_msg_size=0)
        if not ws.can_prepare(request).ok:
            raise bad_request("Upgrade request required")
        await ws.prepare(request)
        v5 = ws.ws_protocol == "v5.channel.k8s.io"
        tty = q.get("tty") in ("true", "1")
        want_stdin = q.get("stdin") in ("true", "1")
        assert run.runtime is not None
        try:
            proc, master = await run.runtime.exec(cont, command, stdin=want_stdin, tty=tty)
        except OSError as e:
            await self._exec_status(ws, {"metadata": {}, "status": "Failure",
                                         "message": f"exec: \"{command[0]}\": {e.strerror}",
                                         "reason": "InternalError", "code": 500,
                                         "details": {"causes": [{"message": str(e)}]}})
            return ws
        loop = asyncio.get_running_loop()
        out_done: list[asyncio.Future] = []

        async def send(channel: int, data: bytes) -> None:
            if not ws.closed:
                await ws.send_bytes(bytes([channel]) + data)

        if master is not None:
            fut = loop.create_future()
            out_done.append(fut)
            queue: asyncio.Queue = asyncio.Queue()

            def readable() -> None:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    loop.remove_reader(master)
                    if not fut.done():
                        fut.set_result(None)
                queue.put_nowait(data)
            loop.add_reader(master, readable)

            async def pump_tty() -> None:
                while True:
                    data = await queue.get()
                    if not data:
                        return
                    await send(1, data)
            out_task = asyncio.ensure_future(pump_tty())
        else:
            async def pump(stream: asyncio.StreamReader, channel: int) -> None:
                while True:
                    data = await stream.read(65536)
                    if not data:
                        return
                    await send(channel, data)
            out_task = asyncio.ensure_future(asyncio.gather(pump(proc.stdout, 1),
                                                            pump(proc.stderr, 2)))

        async def read_input() -> None:
            async for msg in ws:
                if msg.type == WSMsgType.BINARY and msg.data:
                    channel, data = msg.data[0], msg.data[1:]
                elif msg.type == WSMsgType.TEXT and msg.data:
                    channel, data = ord(msg.data[0]), msg.data[1:].encode()
                else:
                    continue
                if channel == 0 and data:
                    if master is not None:
                        os.write(master, data)
                    elif proc.stdin is not None:
                        proc.stdin.write(data)
                        await proc.stdin.drain()
                elif channel == 4 and master is not None:
                    try:
                        size = json.loads(data)
                        resize(master, int(size.get("Width", 80)), int(size.get("Height", 24)))
                    except (ValueError, OSError):
                        pass
                elif channel == 255 and v5 and data[:1] == b"\x00":
                    if master is not None:
                        os.write(master, b"\x04")
                    elif proc.stdin is not None:
                        proc.stdin.close()
            if master is None and proc.stdin is not None and not proc.stdin.is_closing():
                proc.stdin.close()

        in_task = asyncio.ensure_future(read_input())
        try:
            code = await proc.wait()
            if master is not None:
                try:
                    await asyncio.wait_for(out_task, 2)
                except asyncio.TimeoutError:
                    pass
            else:
                await out_task
        except (ConnectionResetError, asyncio.CancelledError):
            code = None
        finally:
            run.runtime.execs.discard(proc)
            if master is not None:
                loop.remove_reader(master)
                os.close(master)
            in_task.cancel()
        if code is not None:
            if code == 0:
                status = {"metadata": {}, "status": "Success"}
            else:
                code = code if code >= 0 else 128 - code
                status = {"metadata": {}, "status": "Failure",
                          "message": f"command terminated with non-zero exit code: error executing "
                                     f"command [{' '.join(command)}], exit code {code}",
                          "reason": "NonZeroExitCode",
                          "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}
            await self._exec_status(ws, status)
        return ws

    async def _exec_status(self, ws: web.WebSocketResponse, status: dict) -> None:
        try:
            await ws.send_bytes(b"\x03" + json.dumps(status).encode())
            await ws.close()
        except (ConnectionResetError, RuntimeError):
            pass

    # ---- /_test --------------------------------------------------------------------------------
    async def test_api(self, request: web.Request, parts: list[str]) -> web.Response:
        c = self.c
        body = await self._body(request) if request.can_read_body else {}
        body = body or {}
        what = parts[0] if parts else ""
        if what == "requests":
            if request.method == "DELETE":
                c.requests.clear()
                return _json({})
            return _json([{"verb": v, "path": p, "count": n} for (v, p), n in
                          sorted(c.requests.items())])
        if request.method != "POST":
            raise ApiError(405, "MethodNotAllowed", "POST to /_test/...")
        if what == "drop-watches":
            return _json({"dropped": c.drop_watches(bool(body.get("abrupt")))})
        if what == "expire-next-watch":
            c.expire_watches += int(body.get("count", 1))
            return _json({})
        if what == "refuse-exec":
            c.exec_refused.add(body.get("container"))
            return _json({})
        if what == "allow-exec":
            c.exec_refused.clear()
            return _json({})
        if what == "deny":
            c.denied.add((body["verb"], body["resource"], body.get("subresource", "")))
            return _json({})
        if what == "allow":
            c.denied.discard((body["verb"], body["resource"], body.get("subresource", "")))
            return _json({})
        if what == "delete-pod":
            obj = await c.remove_pod(body.get("namespace", "default"), body["name"])
            if obj is None:
                raise not_found(PODS, body["name"])
            return _json({})
        if what == "expire-timeout":
            await c.expire_timeout(body.get("namespace", "default"), body["name"])
            return _json({})
        if what == "go-away":
            server = request.app[LISTENER]
            c.spawn(server.go_away(float(body.get("seconds", 1))))
            return _json({})
        raise ApiError(404, "NotFound", f"no such fault: {what}")
