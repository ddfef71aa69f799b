"""The API server's storage: objects by (resource, namespace, name), one resourceVersion counter,
an event history for watches, and Kubernetes' error objects.

Single-threaded: everything here runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import re
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

HISTORY = 2000  # watch events kept for resuming; older resourceVersions answer 410 Gone


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(Exception):
    """A Kubernetes ``Status`` failure: raised anywhere, turned into the HTTP answer in one place."""

    def __init__(self, code: int, reason: str, message: str, *, details: dict | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict:
        body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                                "status": "Failure", "message": self.message,
                                "reason": self.reason, "code": self.code}
        if self.details is not None:
            body["details"] = self.details
        return body


def not_found(resource: "Resource", name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{resource.qualified} "{name}" not found',
                    details={"name": name, "group": resource.group, "kind": resource.plural})


def already_exists(resource: "Resource", name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{resource.qualified} "{name}" already exists',
                    details={"name": name, "group": resource.group, "kind": resource.plural})


def invalid(resource: "Resource", name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """422 Invalid; ``causes`` are (reason, field, message) as the API server words them."""
    text = ", ".join(f"{f}: {m}" for _, f, m in causes)
    return ApiError(422, "Invalid", f'{resource.kind}.{resource.group or "core"} "{name}" is invalid: [{text}]'
                    if len(causes) > 1 else
                    f'{resource.kind}.{resource.group or "core"} "{name}" is invalid: {text}',
                    details={"name": name, "group": resource.group, "kind": resource.kind,
                             "causes": [{"reason": r, "message": m, "field": f}
                                        for r, f, m in causes]})


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def forbidden(user: str, verb: str, resource: "Resource", subresource: str, namespace: str | None,
              name: str | None) -> ApiError:
    what = resource.plural + (f"/{subresource}" if subresource else "")
    subject = f'{resource.qualified} "{name}"' if name else resource.qualified
    where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
    return ApiError(403, "Forbidden",
                    f'{subject} is forbidden: User "{user}" cannot {verb} resource "{what}" '
                    f'in API group "{resource.group}"{where}',
                    details={"name": name or "", "group": resource.group, "kind": resource.plural})


def gone(requested: int, oldest: int) -> ApiError:
    return ApiError(410, "Expired", f"too old resource version: {requested} ({oldest})")


@dataclass(frozen=True)
class Resource:
    group: str  # "" for core
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    versions: tuple[str, ...] = ("v1",)
    verbs: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")
    categories: tuple[str, ...] = ()

    @property
    def qualified(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def api_version(self, version: str) -> str:
        return f"{self.group}/{version}" if self.group else version


PODS = Resource("", "pods", "Pod", short_names=("po",), categories=("all",),
                verbs=("create", "delete", "get", "list", "patch", "update", "watch"))
NAMESPACES = Resource("", "namespaces", "Namespace", namespaced=False, short_names=("ns",),
                      verbs=("get", "list", "watch"))
CONFIGMAPS = Resource("", "configmaps", "ConfigMap", short_names=("cm",))
SECRETS = Resource("", "secrets", "Secret")
PVCS = Resource("", "persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",))
TASKRUNS = Resource("tekton.dev", "taskruns", "TaskRun", short_names=("tr",),
                    versions=("v1", "v1beta1"), categories=("tekton", "tekton-pipelines"))
TASKS = Resource("tekton.dev", "tasks", "Task", short_names=("task",),
                 versions=("v1", "v1beta1"), categories=("tekton", "tekton-pipelines"))
SSAR = Resource("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview",
                namespaced=False, verbs=("create",))
RESOURCES = {r.qualified: r for r in (PODS, NAMESPACES, CONFIGMAPS, SECRETS, PVCS, TASKRUNS,
                                      TASKS, SSAR)}


# ---- selectors ---------------------------------------------------------------------------------

_SET_RE = re.compile(r"^\s*([^\s!=]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")


def _split_requirements(text: str) -> list[str]:
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts if p.strip()]


def label_matcher(text: str | None) -> Callable[[dict], bool]:
    """A predicate over label dicts for a Kubernetes label selector string."""
    if not text:
        return lambda labels: True
    tests: list[Callable[[dict], bool]] = []
    for req in _split_requirements(text):
        m = _SET_RE.match(req)
        if m:
            key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
            if op == "in":
                tests.append(lambda l, k=key, vs=values: l.get(k) in vs)
            else:
                tests.append(lambda l, k=key, vs=values: l.get(k) not in vs)
        elif "!=" in req:
            k, v = (s.strip() for s in req.split("!=", 1))
            tests.append(lambda l, k=k, v=v: l.get(k) != v)
        elif "=" in req:
            k, v = (s.strip() for s in req.replace("==", "=").split("=", 1))
            tests.append(lambda l, k=k, v=v: l.get(k) == v)
        elif req.startswith("!"):
            tests.append(lambda l, k=req[1:].strip(): k not in l)
        elif re.fullmatch(r"[A-Za-z0-9./_-]+", req):
            tests.append(lambda l, k=req: k in l)
        else:
            raise bad_request(f"unable to parse requirement: {req!r}")
    return lambda labels: all(t(labels or {}) for t in tests)


def _field(obj: dict, path: str) -> Any:
    cur: Any = obj
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return "" if cur is None else str(cur)


def field_matcher(text: str | None) -> Callable[[dict], bool]:
    if not text:
        return lambda obj: True
    tests: list[Callable[[dict], bool]] = []
    for req in _split_requirements(text):
        if "!=" in req:
            k, v = req.split("!=", 1)
            tests.append(lambda o, k=k.strip(), v=v.strip(): _field(o, k) != v)
        elif "=" in req:
            k, v = req.replace("==", "=").split("=", 1)
            k = k.strip()
            if k not in ("metadata.name", "metadata.namespace", "status.phase", "spec.nodeName"):
                raise bad_request(f'"{k}" is not a known field selector: only "metadata.name", '
                                  f'"metadata.namespace"')
            tests.append(lambda o, k=k, v=v.strip(): _field(o, k) == v)
        else:
            raise bad_request(f"invalid field selector: {req!r}")
    return lambda obj: all(t(obj) for t in tests)


# ---- the store ---------------------------------------------------------------------------------

@dataclass
class Event:
    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    resource: Resource
    obj: dict


@dataclass
class Watcher:
    resource: Resource
    namespace: str | None
    matches: Callable[[dict], bool]
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


class Store:
    def __init__(self) -> None:
        self.rv = 0
        self.objects: dict[tuple[str, str, str], dict] = {}
        self.history: list[Event] = []
        self.compacted = 0  # events with rv <= compacted are gone
        self.watchers: list[Watcher] = []
        self.listeners: list[Callable[[Event], None]] = []

    def _key(self, resource: Resource, namespace: str | None, name: str) -> tuple[str, str, str]:
        return (resource.qualified, namespace or "" if resource.namespaced else "", name)

    def get(self, resource: Resource, namespace: str | None, name: str) -> dict:
        obj = self.objects.get(self._key(resource, namespace, name))
        if obj is None:
            raise not_found(resource, name)
        return obj

    def find(self, resource: Resource, namespace: str | None, name: str) -> dict | None:
        return self.objects.get(self._key(resource, namespace, name))

    def list(self, resource: Resource, namespace: str | None,
             matches: Callable[[dict], bool] = lambda o: True) -> list[dict]:
        out = []
        for (res, ns, _), obj in sorted(self.objects.items()):
            if res == resource.qualified and (namespace is None or ns == namespace) and matches(obj):
                out.append(obj)
        return out

    def _emit(self, type_: str, resource: Resource, obj: dict) -> None:
        ev = Event(int(obj["metadata"]["resourceVersion"]), type_, resource, copy.deepcopy(obj))
        self.history.append(ev)
        if len(self.history) > HISTORY:
            dropped = self.history[: len(self.history) - HISTORY]
            self.compacted = dropped[-1].rv
            del self.history[: len(dropped)]
        for w in list(self.watchers):
            if w.resource == resource and (w.namespace is None or
                                           obj["metadata"].get("namespace") == w.namespace):
                w.queue.put_nowait(ev)
        for listener in list(self.listeners):
            listener(ev)

    def _bump(self, obj: dict) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    def create(self, resource: Resource, namespace: str | None, obj: dict) -> dict:
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and meta.get("generateName"):
            while True:
                name = meta["generateName"] + uuid.uuid4().hex[:5]
                if self._key(resource, namespace, name) not in self.objects:
                    break
            meta["name"] = name
        key = self._key(resource, namespace, meta["name"])
        if key in self.objects:
            raise already_exists(resource, meta["name"])
        if resource.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        meta["generation"] = 1
        self._bump(obj)
        self.objects[key] = obj
        self._emit("ADDED", resource, obj)
        return obj

    def update(self, resource: Resource, obj: dict, *, spec_changed: bool | None = None) -> dict:
        """Store a changed object (the caller mutated a copy or the stored one)."""
        meta = obj["metadata"]
        key = self._key(resource, meta.get("namespace"), meta["name"])
        old = self.objects.get(key)
        if old is None:
            raise not_found(resource, meta["name"])
        if spec_changed is None:
            spec_changed = old.get("spec") != obj.get("spec") or old.get("data") != obj.get("data")
        if spec_changed and resource not in (PODS,):
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
        self._bump(obj)
        self.objects[key] = obj
        self._emit("MODIFIED", resource, obj)
        return obj

    def delete(self, resource: Resource, namespace: str | None, name: str) -> dict:
        key = self._key(resource, namespace, name)
        obj = self.objects.pop(key, None)
        if obj is None:
            raise not_found(resource, name)
        self._bump(obj)
        self._emit("DELETED", resource, obj)
        return obj

    def events_since(self, rv: int, resource: Resource, namespace: str | None) -> Iterator[Event]:
        if rv < self.compacted:
            raise gone(rv, self.compacted + 1)
        for ev in self.history:
            if ev.rv > rv and ev.resource == resource and (
                    namespace is None or ev.obj["metadata"].get("namespace") == namespace):
                yield ev

    def compact(self) -> None:
        """Forget every event so far (older resourceVersions then answer 410)."""
        self.compacted = self.rv
        self.history.clear()
