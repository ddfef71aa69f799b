"""The ``tekton.dev/v1`` TaskRun created for a debug launch, built from the model.

The Task is embedded (``taskSpec``) from the file as written (``run.task.raw``), so the cluster runs
exactly what the editor shows and breakpoints match its lines; a TaskRun that names a Task the
loader could not see locally keeps its ``taskRef``, and a remote reference (``taskRef.resolver``)
is passed unchanged: the cluster's resolvers fetch it (the local copy only places the steps). Everything else in the TaskRun's spec
(``serviceAccountName``, ``podTemplate``, ``computeResources``, ``stepSpecs``...) is kept as
written; params, workspaces, timeout and ``debug`` are set here.

The debug field follows the cluster's Tekton release (tekton-facts.md section 1):
``breakpoints: {onFailure: "enabled", beforeSteps: [...]}`` from v0.53 (``beforeSteps`` from v0.63),
``breakpoint: ["onFailure"]`` before. With no breakpoint at all the TaskRun has no ``debug``.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Mapping

from tekton_debug.events import DebugPlan
from tekton_debug.tekton.duration import format_duration
from tekton_debug.tekton.model import TaskRun

DEFAULT_TIMEOUT = 3600.0
CREATED_BY_LABEL = "app.kubernetes.io/created-by"
VOLUME_SOURCES = ("emptyDir", "persistentVolumeClaim", "volumeClaimTemplate", "configMap",
                  "secret", "projected", "csi")
# Keys of a TaskRun's spec that this module sets itself.
_OWN_KEYS = {"taskRef", "taskSpec", "params", "workspaces", "debug", "timeout", "status",
             "statusMessage", "retries"}


@dataclass
class Built:
    manifest: dict
    notices: list[str] = field(default_factory=list)
    before_steps: list[str] = field(default_factory=list)  # as sent (empty when not supported)
    on_failure: bool = False


def generate_name(run: TaskRun) -> str:
    """``<task>-debug-``, a DNS label short enough for ``<name>-pod`` to fit in 63 characters; a
    pipeline task's TaskRun starts with its name as Tekton gives it, ``<pipelinerun>-<task>``."""
    meta = _meta(run.raw)
    in_pipeline = "tekton.dev/pipelineTask" in (meta.get("labels") or {})
    base = (meta.get("name") if in_pipeline else None) or run.task_name or run.task_ref or \
        meta.get("name") or "task"
    base = re.sub(r"[^a-z0-9-]+", "-", str(base).lower()).strip("-") or "task"
    return base[:47].rstrip("-") + "-debug-"


def build_taskrun(run: TaskRun, plan: DebugPlan, *, namespace: str,
                  params: Mapping[str, object] | None = None,
                  host_workspaces: Mapping[str, str] | None = None,
                  timeout: float | None = None, breakpoints_field: bool = True,
                  before_steps_supported: bool = True) -> Built:
    built = Built(manifest={})
    spec = {k: copy.deepcopy(v) for k, v in _spec(run.raw).items() if k not in _OWN_KEYS}

    before = [s.debug_name for s in run.task.steps if s.debug_name in plan.before_steps]
    unknown = sorted(plan.before_steps - {s.debug_name for s in run.task.steps})
    if unknown:
        built.notices.append(f"no step named {', '.join(unknown)}: those breakpoints are ignored")
    if before and not before_steps_supported:
        built.notices.append(
            "this cluster's Tekton is older than v0.63 and cannot pause before a step "
            f"(beforeSteps): the breakpoints on {', '.join(before)} are ignored; only failing "
            "steps pause")
        before = []
    on_failure = plan.on_failure
    if before and not on_failure:
        built.notices.append("Tekton accepts beforeSteps only together with onFailure: a failing "
                             "step will pause too")
        on_failure = True

    task_spec = copy.deepcopy(run.task.raw) if run.task.raw else None
    written_ref = _spec(run.raw).get("taskRef")
    if isinstance(written_ref, dict) and written_ref.get("resolver"):
        spec["taskRef"] = copy.deepcopy(written_ref)
        unnamed = [s.debug_name for s in run.task.steps if s.name is None and s.debug_name in before]
        if unnamed:
            built.notices.append(f"the remote Task's unnamed steps ({', '.join(unnamed)}) cannot "
                                 "be named in a taskRef: those breakpoints are ignored")
            before = [b for b in before if b not in unnamed]
    elif task_spec is not None and run.task.steps:
        steps = task_spec.get("steps") or []
        for s in run.task.steps:
            # beforeSteps names steps; an unnamed step is named as its container already is
            if s.name is None and s.debug_name in before and s.index < len(steps):
                steps[s.index]["name"] = s.debug_name
        spec["taskSpec"] = _v1_task_spec(task_spec) if _is_v1beta1(run) else task_spec
    elif run.task_ref:
        ref = _spec(run.raw).get("taskRef")
        spec["taskRef"] = copy.deepcopy(ref) if isinstance(ref, dict) else {"name": run.task_ref}
    else:
        spec["taskSpec"] = task_spec or {"steps": []}

    if run.retry_count and isinstance(spec.get("taskSpec"), dict):
        # a retry is a new TaskRun here, which Tekton would count as a first try
        spec["taskSpec"] = _with_retry_count(spec["taskSpec"], run.retry_count)

    values = dict(run.params)
    values.update(params or {})
    if values:
        spec["params"] = [{"name": k, "value": _param(v)} for k, v in values.items()]

    spec_workspaces, notes = _workspaces(run, host_workspaces or {})
    built.notices += notes
    if spec_workspaces:
        spec["workspaces"] = spec_workspaces

    seconds = timeout if timeout is not None else (
        run.timeout if run.timeout is not None else DEFAULT_TIMEOUT)
    spec["timeout"] = format_duration(seconds)

    if on_failure or before:
        spec["debug"] = debug_field(before, breakpoints_field)
    built.before_steps = before
    built.on_failure = on_failure

    meta = _meta(run.raw)
    metadata: dict = {"generateName": generate_name(run), "namespace": namespace}
    labels = {k: v for k, v in (meta.get("labels") or {}).items()}
    labels[CREATED_BY_LABEL] = "tekton-debug"
    metadata["labels"] = labels
    if meta.get("annotations"):
        metadata["annotations"] = dict(meta["annotations"])
    built.manifest = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": metadata,
                      "spec": spec}
    return built


def _with_retry_count(value, count: int):
    """``value`` with ``$(context.task.retry-count)`` replaced by ``count`` in every string."""
    if isinstance(value, str):
        return value.replace("$(context.task.retry-count)", str(count))
    if isinstance(value, list):
        return [_with_retry_count(v, count) for v in value]
    if isinstance(value, dict):
        return {k: _with_retry_count(v, count) for k, v in value.items()}
    return value


def debug_field(before: list[str], breakpoints_field: bool) -> dict:
    """The ``debug`` of a TaskRun that pauses failed steps (and before ``before``), spelled as the
    cluster's Tekton release reads it."""
    if breakpoints_field:
        bp: dict = {"onFailure": "enabled"}
        if before:
            bp["beforeSteps"] = before
        return {"breakpoints": bp}
    return {"breakpoint": ["onFailure"]}


RERUN_OF_LABEL = "tekton-debug.dev/rerun-of"


def rerun_manifest(original: dict, model: TaskRun, plan: DebugPlan, *,
                   breakpoints_field: bool = True, before_steps_supported: bool = True) -> Built:
    """A copy of the finished TaskRun ``original`` (as read from the cluster) that runs again with
    debug on: the same spec (``taskRef`` or ``taskSpec``, params, workspaces,
    ``serviceAccountName``, ``podTemplate``, timeout...), a ``generateName`` from its name, its
    own labels (not those Tekton's controllers set) and one saying where it came from."""
    built = Built(manifest={})
    spec = {k: copy.deepcopy(v) for k, v in (original.get("spec") or {}).items()
            if k not in ("status", "statusMessage", "debug")}
    names = {s.debug_name for s in model.task.steps}
    before = [s.debug_name for s in model.task.steps if s.debug_name in plan.before_steps
              and (s.name is not None or "taskSpec" in spec)]
    if before and not before_steps_supported:
        built.notices.append("this cluster's Tekton is older than v0.63 and cannot pause before a "
                             "step (beforeSteps): only failing steps pause")
        before = []
    if unknown := sorted(plan.before_steps - names):
        built.notices.append(f"no step named {', '.join(unknown)}: those breakpoints are ignored")
    task_spec = spec.get("taskSpec")
    if isinstance(task_spec, dict):
        for s in model.task.steps:  # an unnamed step is named as its container already is
            steps = task_spec.get("steps") or []
            if s.name is None and s.debug_name in before and s.index < len(steps):
                steps[s.index]["name"] = s.debug_name
    spec["debug"] = debug_field(before, breakpoints_field)
    meta = original.get("metadata") or {}
    name = str(meta.get("name") or "taskrun")
    labels = {k: v for k, v in (meta.get("labels") or {}).items()
              if not k.startswith("tekton.dev/")}
    labels[CREATED_BY_LABEL] = "tekton-debug"
    labels[RERUN_OF_LABEL] = name[:63]
    metadata = {"generateName": name[:47].rstrip("-") + "-debug-",
                "namespace": meta.get("namespace"), "labels": labels}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items()
                   if not k.startswith(("tekton-debug.dev/", "kubectl.kubernetes.io/"))}
    if annotations:
        metadata["annotations"] = annotations
    built.manifest = {"apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": metadata,
                      "spec": spec}
    built.before_steps, built.on_failure = before, True
    return built


def _spec(raw: object) -> dict:
    if isinstance(raw, dict) and raw.get("kind") == "TaskRun" and isinstance(raw.get("spec"), dict):
        return raw["spec"]
    return {}


def _meta(raw: object) -> dict:
    if isinstance(raw, dict) and raw.get("kind") == "TaskRun":
        meta = raw.get("metadata")
        return meta if isinstance(meta, dict) else {}
    return {}


def _is_v1beta1(run: TaskRun) -> bool:
    return str(run.api_version).endswith("/v1beta1")


def _v1_task_spec(spec: dict) -> dict:
    """The few renames between a v1beta1 and a v1 TaskSpec that a debug launch meets."""
    out = dict(spec)
    for key in ("steps", "sidecars"):
        items = []
        for item in out.get(key) or []:
            item = dict(item)
            if "resources" in item and "computeResources" not in item:
                item["computeResources"] = item.pop("resources")
            items.append(item)
        if key in out:
            out[key] = items
    template = out.get("stepTemplate")
    if isinstance(template, dict) and "resources" in template:
        template = dict(template)
        template["computeResources"] = template.pop("resources")
        out["stepTemplate"] = template
    out.pop("resources", None)  # PipelineResources: gone in v1
    return out


def _param(value: object) -> object:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _workspaces(run: TaskRun, host: Mapping[str, str]) -> tuple[list[dict], list[str]]:
    """TaskRun workspace bindings: cluster volumes as written; a host directory cannot be mounted
    on a cluster, so it (and a required workspace left unbound) becomes an emptyDir."""
    notices = []
    written = {w.get("name"): w for w in run.workspaces if isinstance(w, dict)}
    out = []
    names = [w.name for w in run.task.workspaces] or list(written)
    declared = {w.name: w for w in run.task.workspaces}
    for name in names:
        binding = written.get(name)
        if name in host:
            out.append({"name": name, "emptyDir": {}})
            notices.append(f"workspace {name!r}: the directory {host[name]} is on this machine and "
                           "cannot be mounted on a cluster; the step gets an empty directory "
                           "(emptyDir) instead. Put the files in a PersistentVolumeClaim, "
                           "ConfigMap or Secret and bind it in a TaskRun file to use them")
        elif binding is not None and any(k in binding for k in VOLUME_SOURCES):
            out.append(copy.deepcopy(binding))
        elif binding is not None and "hostPath" in binding:
            out.append({"name": name, "emptyDir": {}})
            notices.append(f"workspace {name!r}: hostPath is not mounted; using an emptyDir")
        else:
            decl = declared.get(name)
            if decl is not None and decl.optional:
                continue
            out.append({"name": name, "emptyDir": {}})
            notices.append(f"workspace {name!r} has no binding: the step gets an empty directory "
                           "(emptyDir)")
    return out, notices
