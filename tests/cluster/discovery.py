"""Discovery documents, the minimal OpenAPI v3 kubectl needs, and server-side Table printing."""

from __future__ import annotations

import hashlib
import json
import time

from tests.cluster.store import (CONFIGMAPS, NAMESPACES, PODS, PVCS, SECRETS, SSAR, TASKRUNS,
                                 TASKS, Resource)
from tests.cluster.kubelet import parse_time

VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0", "gitCommit": "test-cluster",
           "gitTreeState": "clean", "buildDate": "2025-01-01T00:00:00Z", "goVersion": "go1.23.4",
           "compiler": "gc", "platform": "linux/amd64"}

GROUP_RESOURCES = {
    ("", "v1"): [PODS, NAMESPACES, CONFIGMAPS, SECRETS, PVCS],
    ("tekton.dev", "v1"): [TASKRUNS, TASKS],
    ("tekton.dev", "v1beta1"): [TASKRUNS, TASKS],
    ("authorization.k8s.io", "v1"): [SSAR],
}
SUBRESOURCES = {PODS: [("log", "Pod", ("get",)), ("exec", "PodExecOptions", ("create", "get")),
                       ("status", "Pod", ("get", "patch", "update"))],
                PVCS: [("status", "PersistentVolumeClaim", ("get", "patch", "update"))],
                TASKRUNS: [("status", "TaskRun", ("get", "patch", "update"))]}


def resource_for(group: str, version: str, plural: str) -> Resource | None:
    for r in GROUP_RESOURCES.get((group, version), []):
        if r.plural == plural:
            return r
    return None


def api_versions() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}


def api_group_list() -> dict:
    groups = []
    for name, versions in (("tekton.dev", ["v1", "v1beta1"]), ("authorization.k8s.io", ["v1"])):
        vs = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
        groups.append({"name": name, "versions": vs, "preferredVersion": vs[0]})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(name: str) -> dict | None:
    for g in api_group_list()["groups"]:
        if g["name"] == name:
            return {"kind": "APIGroup", "apiVersion": "v1", **g}
    return None


def resource_list(group: str, version: str) -> dict | None:
    resources = GROUP_RESOURCES.get((group, version))
    if resources is None:
        return None
    out = []
    for r in resources:
        entry = {"name": r.plural, "singularName": r.kind.lower(), "namespaced": r.namespaced,
                 "kind": r.kind, "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        out.append(entry)
        for sub, kind, verbs in SUBRESOURCES.get(r, []):
            out.append({"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                        "kind": kind, "verbs": list(verbs)})
    gv = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": out}


# ---- OpenAPI v3 --------------------------------------------------------------------------------

def _openapi_doc(group: str, version: str) -> dict:
    """Enough for kubectl to see that the server validates fields itself (``fieldValidation``)."""
    paths: dict = {}
    params = [{"name": n, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
              for n in ("dryRun", "fieldManager", "fieldValidation", "pretty")]
    schemas: dict = {}
    for r in GROUP_RESOURCES[(group, version)]:
        gvk = {"group": group, "version": version, "kind": r.kind}
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        ns = "/namespaces/{namespace}" if r.namespaced else ""
        schema_name = f"{group or 'core'}.{version}.{r.kind}"
        ref = {"$ref": f"#/components/schemas/{schema_name}"}
        body = {"content": {"application/json": {"schema": ref}}, "required": True}
        op = {"parameters": params, "x-kubernetes-group-version-kind": gvk,
              "responses": {"200": {"description": "OK", "content": {
                  "application/json": {"schema": ref}}}}}
        paths[f"{prefix}{ns}/{r.plural}"] = {
            "get": {**op, "operationId": f"list{r.kind}", "x-kubernetes-action": "list"},
            "post": {**op, "operationId": f"create{r.kind}", "x-kubernetes-action": "post",
                     "requestBody": body}}
        paths[f"{prefix}{ns}/{r.plural}/{{name}}"] = {
            "get": {**op, "operationId": f"read{r.kind}", "x-kubernetes-action": "get"},
            "put": {**op, "operationId": f"replace{r.kind}", "x-kubernetes-action": "put",
                    "requestBody": body},
            "patch": {**op, "operationId": f"patch{r.kind}", "x-kubernetes-action": "patch",
                      "requestBody": {"content": {"application/merge-patch+json": {
                          "schema": {"type": "object"}}}, "required": True}},
            "delete": {**op, "operationId": f"delete{r.kind}", "x-kubernetes-action": "delete"}}
        schemas[schema_name] = {"type": "object", "x-kubernetes-preserve-unknown-fields": True,
                                "x-kubernetes-group-version-kind": [gvk],
                                "properties": {"apiVersion": {"type": "string"},
                                               "kind": {"type": "string"},
                                               "metadata": {"type": "object"},
                                               "spec": {"type": "object",
                                                        "x-kubernetes-preserve-unknown-fields": True},
                                               "status": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}
    return {"openapi": "3.0.0", "info": {"title": "Kubernetes", "version": VERSION["gitVersion"]},
            "paths": paths, "components": {"schemas": schemas}}


OPENAPI_DOCS = {("api/v1" if not g else f"apis/{g}/{v}"): _openapi_doc(g, v)
                for (g, v) in GROUP_RESOURCES}
_HASHES = {k: hashlib.sha512(json.dumps(d, sort_keys=True).encode()).hexdigest().upper()
           for k, d in OPENAPI_DOCS.items()}


def openapi_index() -> dict:
    return {"paths": {k: {"serverRelativeURL": f"/openapi/v3/{k}?hash={h}"}
                      for k, h in _HASHES.items()}}


# ---- Tables (kubectl get) ----------------------------------------------------------------------

def _age(ts: str | None) -> str:
    if not ts:
        return "<unknown>"
    secs = max(0, int(time.time() - parse_time(ts) / 1e9))
    if secs < 120:
        return f"{secs}s"
    if secs < 3600 * 2:
        return f"{secs // 60}m"
    return f"{secs // 3600}h"


def _succeeded(obj: dict) -> dict:
    for c in (obj.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Succeeded":
            return c
    return {}


def _columns(resource: Resource) -> list[dict]:
    def col(name: str, type_: str = "string", fmt: str = "", priority: int = 0) -> dict:
        return {"name": name, "type": type_, "format": fmt, "description": "", "priority": priority}
    if resource == TASKRUNS:
        return [col("Name", fmt="name"), col("Succeeded"), col("Reason"), col("StartTime"),
                col("CompletionTime")]
    if resource == PODS:
        return [col("Name", fmt="name"), col("Ready"), col("Status"), col("Restarts", "string"),
                col("Age")]
    if resource == SECRETS:
        return [col("Name", fmt="name"), col("Type"), col("Data", "integer"), col("Age")]
    if resource == PVCS:
        return [col("Name", fmt="name"), col("Status"), col("Volume"), col("Capacity"),
                col("Access Modes"), col("StorageClass"), col("VolumeAttributesClass"),
                col("Age")]
    return [col("Name", fmt="name"), col("Age")]


def _cells(resource: Resource, obj: dict) -> list:
    meta, status = obj["metadata"], obj.get("status") or {}
    if resource == TASKRUNS:
        c = _succeeded(obj)
        return [meta["name"], c.get("status", ""), c.get("reason", ""),
                _age(status.get("startTime")) if status.get("startTime") else "",
                _age(status.get("completionTime")) if status.get("completionTime") else ""]
    if resource == PODS:
        cs = status.get("containerStatuses") or []
        ready = sum(1 for c in cs if c.get("ready"))
        phase = status.get("phase", "Pending")
        if meta.get("deletionTimestamp"):
            phase = "Terminating"
        elif phase == "Failed":
            phase = "Error"
        elif phase == "Pending" and status.get("initContainerStatuses") is None:
            phase = "Pending"
        return [meta["name"], f"{ready}/{len(obj['spec'].get('containers') or [])}", phase,
                "0", _age(meta.get("creationTimestamp"))]
    if resource == SECRETS:
        return [meta["name"], obj.get("type", "Opaque"), len(obj.get("data") or {}),
                _age(meta.get("creationTimestamp"))]
    if resource == PVCS:
        spec = obj.get("spec") or {}
        modes = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
                 "ReadWriteOncePod": "RWOP"}
        return [meta["name"], status.get("phase", "Pending"), spec.get("volumeName", ""),
                (status.get("capacity") or {}).get("storage", ""),
                ",".join(modes.get(m, m) for m in status.get("accessModes") or []),
                spec.get("storageClassName") or "", "<unset>",
                _age(meta.get("creationTimestamp"))]
    return [meta["name"], _age(meta.get("creationTimestamp"))]


def table(resource: Resource, objects: list[dict], rv: str, include: str) -> dict:
    rows = []
    for obj in objects:
        if include == "Object":
            embedded = obj
        elif include == "None":
            embedded = None
        else:
            embedded = {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                        "metadata": obj["metadata"]}
        row = {"cells": _cells(resource, obj)}
        if embedded is not None:
            row["object"] = embedded
        rows.append(row)
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
            "columnDefinitions": _columns(resource), "rows": rows}
