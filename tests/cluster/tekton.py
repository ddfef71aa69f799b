"""Tekton's webhook (defaulting, validation) and the pod its controller builds for a TaskRun.

Faithful to tekton-facts.md sections 1 and 5: the ``debug`` field's spellings by release, the
alpha gate, the pod's names, labels, init containers and the entrypoint's flags.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field

from tests.cluster.store import ApiError

WEBHOOK = "validation.webhook.pipeline.tekton.dev"
MUTATING_WEBHOOK = "webhook.pipeline.tekton.dev"
RUN_ROOT = "/tekton/run"


def parse_version(text: str) -> tuple[int, int, int]:
    m = re.match(r"v?(\d+)\.(\d+)(?:\.(\d+))?", text or "")
    if not m:
        raise ValueError(f"not a Tekton version: {text!r} (write it like v0.62.0)")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


def denied(message: str) -> ApiError:
    return ApiError(400, "BadRequest",
                    f'admission webhook "{WEBHOOK}" denied the request: validation failed: {message}')


def undecodable(field_name: str) -> ApiError:
    return ApiError(400, "BadRequest",
                    f'admission webhook "{MUTATING_WEBHOOK}" denied the request: mutation failed: '
                    f'cannot decode incoming new object: json: unknown field "{field_name}"')


# ---- validation ---------------------------------------------------------------------------------

def validate_debug(debug: object, *, version: tuple[int, int, int], api_fields: str) -> None:
    """Reject ``spec.debug`` as the configured Tekton release's webhook does."""
    if not isinstance(debug, dict):
        raise denied("expected an object: spec.debug")
    new = version >= (0, 53, 0)
    known = {"breakpoints"} if new else {"breakpoint"}
    for key in debug:
        if key not in known:
            raise undecodable(key)
    errors: list[str] = []
    if api_fields != "alpha":
        errors.append(f'debug requires "enable-api-fields" feature gate to be "alpha" but it is '
                      f'"{api_fields}"')
    if new and "breakpoints" in debug:
        bp = debug["breakpoints"] or {}
        if not isinstance(bp, dict):
            raise denied("expected an object: spec.debug.breakpoints")
        allowed = {"onFailure"} | ({"beforeSteps"} if version >= (0, 63, 0) else set())
        for key in bp:
            if key not in allowed:
                raise undecodable(key)
        on_failure = bp.get("onFailure", "")
        if on_failure in ("", None) and version >= (0, 62, 0):
            errors.append("invalid value: onFailure breakpoint is empty, it is only allowed to be set "
                          "as enabled: spec.debug.breakpoints.onFailure")
        elif on_failure not in ("", None, "enabled"):
            errors.append(f"invalid value: {on_failure} is not a valid onFailure breakpoint value, "
                          "onFailure breakpoint is only allowed to be set as enabled: "
                          "spec.debug.breakpoints.onFailure")
        seen: set[str] = set()
        for i, name in enumerate(bp.get("beforeSteps") or []):
            if name in seen:
                errors.append(f"before step must be unique, the same step: {name} is defined "
                              f"multiple times at: spec.debug.breakpoints.beforeSteps[{i}]")
            seen.add(name)
    elif not new and "breakpoint" in debug:
        for value in debug.get("breakpoint") or []:
            if value != "onFailure":
                errors.append(f"invalid value: {value} is not a valid breakpoint. Available valid "
                              "breakpoints include [onFailure]: spec.debug.breakpoint")
    if errors:
        raise denied("\n".join(errors))


def validate_task_spec(spec: object, where: str) -> None:
    if not isinstance(spec, dict):
        raise denied(f"expected an object: {where}")
    steps = spec.get("steps")
    if not steps:
        raise denied(f"missing field(s): {where}.steps")
    names: set[str] = set()
    for i, step in enumerate(steps):
        at = f"{where}.steps[{i}]"
        if not isinstance(step, dict):
            raise denied(f"expected an object: {at}")
        if not step.get("image"):
            raise denied(f"missing field(s): {at}.image")
        if step.get("script") and step.get("command"):
            raise denied(f"expected exactly one, got both: {at}.command, {at}.script")
        name = step.get("name")
        if name:
            if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) or len(name) > 63:
                raise denied(f"invalid value: {name!r}: {at}.name\nName must consist of lower case "
                             "alphanumeric characters or '-', start with an alphabetic character, "
                             "and end with an alphanumeric character (e.g. 'my-name',  or "
                             "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
            if name in names:
                raise denied(f"expected exactly one, got both: {where}.steps[{i}].name")
            names.add(name)
        on_error = step.get("onError")
        if on_error not in (None, "continue", "stopAndFail"):
            raise denied(f'invalid value: {on_error}: {at}.onError\nTask step onError must be either '
                         '"continue" or "stopAndFail"')


def resolver_params(spec: dict) -> dict[str, str]:
    """A TaskRun's taskRef params, ``$(params.x)`` replaced by the TaskRun's string params, as
    Tekton does before it resolves."""
    values = {p.get("name"): p.get("value") for p in spec.get("params") or []
              if isinstance(p.get("value"), str)}
    out = {}
    for p in (spec.get("taskRef") or {}).get("params") or []:
        value = str(p.get("value"))
        for name, v in values.items():
            value = value.replace(f"$(params.{name})", v)
        out[p.get("name")] = value
    return out


def validate_taskrun(obj: dict, *, version: tuple[int, int, int], api_fields: str) -> None:
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise denied("missing field(s): spec")
    has_ref, has_spec = bool(spec.get("taskRef")), bool(spec.get("taskSpec"))
    if not has_ref and not has_spec:
        raise denied("expected exactly one, got neither: spec.taskRef, spec.taskSpec")
    if has_ref and has_spec:
        raise denied("expected exactly one, got both: spec.taskRef, spec.taskSpec")
    if has_ref and not (spec["taskRef"] or {}).get("name") and \
            not (spec["taskRef"] or {}).get("resolver"):
        raise denied("missing field(s): spec.taskRef.name")
    if has_spec:
        validate_task_spec(spec["taskSpec"], "spec.taskSpec")
    if "debug" in spec:
        validate_debug(spec["debug"], version=version, api_fields=api_fields)
    status = spec.get("status")
    if status not in (None, "", "TaskRunCancelled"):
        raise denied(f"invalid value: {status} should be TaskRunCancelled: spec.status")
    names = [p.get("name") for p in spec.get("params") or []]
    for n in names:
        if names.count(n) > 1:
            raise denied(f"expected exactly one, got both: spec.params[{n}].name")
    if "timeout" in spec:
        from tekton_debug.errors import UserError
        from tekton_debug.tekton.duration import parse_duration
        try:
            if parse_duration(spec["timeout"]) < 0:
                raise denied(f"invalid value: {spec['timeout']} should be >= 0: spec.timeout")
        except UserError:
            raise ApiError(400, "BadRequest", f'TaskRun in version "v1" cannot be handled as a '
                           f'TaskRun: time: invalid duration "{spec["timeout"]}"') from None


def default_taskrun(obj: dict) -> None:
    """What Tekton's mutating webhook adds on create."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("timeout", "1h0m0s")
    spec.setdefault("serviceAccountName", "default")
    for step in (spec.get("taskSpec") or {}).get("steps") or []:
        step.setdefault("computeResources", {})


# ---- the debug plan a TaskRun asks for ---------------------------------------------------------

def debug_plan(spec: dict, api_fields: str) -> tuple[bool, set[str]]:
    """(onFailure, beforeSteps) as the pod builder sees them (nothing unless alpha is on)."""
    debug = spec.get("debug") or {}
    if api_fields != "alpha" or not debug:
        return False, set()
    if "breakpoints" in debug:
        bp = debug["breakpoints"] or {}
        return bp.get("onFailure") == "enabled", set(bp.get("beforeSteps") or [])
    return "onFailure" in (debug.get("breakpoint") or []), set()


# ---- substitution --------------------------------------------------------------------------------

_VAR = re.compile(r"\$\(([^()]+)\)")


def _lookup(expr: str, values: dict) -> object | None:
    expr = expr.strip()
    for pattern in (r"params\.([\w.-]+)", r"params\['([^']+)'\]", r'params\["([^"]+)"\]'):
        m = re.fullmatch(pattern + r"(\[\*\])?", expr)
        if m and m.group(1) in values["params"]:
            return values["params"][m.group(1)]
        m = re.fullmatch(r"params\.([\w-]+)\.([\w-]+)", expr)
        if m and isinstance(values["params"].get(m.group(1)), dict):
            return values["params"][m.group(1)].get(m.group(2))
    return values["other"].get(expr)


def substitute(text: str, values: dict) -> str:
    def repl(m: re.Match) -> str:
        v = _lookup(m.group(1), values)
        if v is None:
            return m.group(0)
        return " ".join(v) if isinstance(v, list) else str(v)
    return _VAR.sub(repl, text)


def substitute_list(items: list[str], values: dict) -> list[str]:
    out: list[str] = []
    for item in items:
        m = _VAR.fullmatch(item.strip()) if isinstance(item, str) else None
        v = _lookup(m.group(1), values) if m else None
        if isinstance(v, list):
            out.extend(str(x) for x in v)
        else:
            out.append(substitute(str(item), values))
    return out


def resolve_params(task_spec: dict, given: list[dict]) -> tuple[dict, list[str]]:
    """The param values a step sees, and the names of required params nobody gave."""
    values: dict = {}
    for p in task_spec.get("params") or []:
        if "default" in p:
            values[p["name"]] = p["default"]
    for p in given or []:
        values[p["name"]] = p.get("value")
    missing = [p["name"] for p in task_spec.get("params") or [] if p["name"] not in values]
    return values, missing


# ---- the pod -------------------------------------------------------------------------------------

@dataclass
class StepPlan:
    index: int
    name: str  # debug name: the step's name or unnamed-<i>
    container: str
    argv: list[str]  # Tekton's entrypoint flags and the command, with /tekton paths as in a pod
    env: dict[str, str]
    working_dir: str | None
    image: str
    script: str | None = None  # content for /tekton/scripts/<script_path>
    script_path: str | None = None
    # env vars from Secrets: name -> secretKeyRef (the kubelet reads them when it starts the pod)
    secret_env: dict[str, dict] = field(default_factory=dict)


@dataclass
class PodPlan:
    pod: dict
    steps: list[StepPlan] = field(default_factory=list)


def _script_content(script: str) -> str:
    if script.startswith("#!"):
        return script
    return "#!/bin/sh\nset -e\n" + script


def build_pod(tr: dict, task_spec: dict, params: dict, *, api_fields: str,
              tekton_version: str, task_name: str | None,
              workspaces: dict[str, dict] | None = None) -> PodPlan:
    """``workspaces``: the volume of each bound workspace (``{"persistentVolumeClaim": ...}``,
    ``{"emptyDir": {}}``...), with the binding's ``subPath``; each becomes a ``ws-`` volume
    mounted at the workspace's path in every step, as Tekton's pod builder does."""
    meta, spec = tr["metadata"], tr["spec"]
    on_failure, before = debug_plan(spec, api_fields)
    values = {"params": params, "other": {
        "context.taskRun.name": meta["name"], "context.taskRun.namespace": meta["namespace"],
        "context.taskRun.uid": meta["uid"], "context.task.name": task_name or meta["name"],
        "context.task.retry-count": "0",
    }}
    for r in task_spec.get("results") or []:
        values["other"][f"results.{r['name']}.path"] = f"/tekton/results/{r['name']}"
    for w in task_spec.get("workspaces") or []:
        path = w.get("mountPath") or f"/workspace/{w['name']}"
        values["other"][f"workspaces.{w['name']}.path"] = path
        values["other"][f"workspaces.{w['name']}.bound"] = "true"
    ws_volumes, ws_mounts = [], []
    for w in task_spec.get("workspaces") or []:
        bound = (workspaces or {}).get(w["name"])
        if bound is None:
            continue
        volume = f"ws-{hashlib.sha256((meta['uid'] + w['name']).encode()).hexdigest()[:5]}"
        source = {k: v for k, v in bound.items() if k != "subPath"}
        ws_volumes.append({"name": volume, **source})
        ws_mounts.append({"name": volume, "mountPath": values["other"][
            f"workspaces.{w['name']}.path"], **({"subPath": bound["subPath"]}
                                                if bound.get("subPath") else {})})
    template = task_spec.get("stepTemplate") or {}
    steps: list[StepPlan] = []
    containers = []
    suffix = uuid.uuid4().hex[:5]
    any_working_dir = False
    for i, raw in enumerate(task_spec.get("steps") or []):
        step = {**template, **raw}
        if template.get("env") and raw.get("env"):
            step["env"] = [*template["env"], *raw["env"]]
        name = step.get("name") or f"unnamed-{i}"
        container = f"step-{name}"
        flags = ["-wait_file", "/tekton/downward/ready" if i == 0 else f"{RUN_ROOT}/{i - 1}/out"]
        if i == 0:
            flags.append("-wait_file_content")
        flags += ["-post_file", f"{RUN_ROOT}/{i}/out", "-termination_path", "/tekton/termination",
                  "-step_metadata_dir", f"{RUN_ROOT}/{i}/status"]
        if on_failure:
            flags.append("-breakpoint_on_failure")
        if name in before and step.get("name"):
            flags.append("-debug_before_step")
        if step.get("onError"):
            flags += ["-on_error", step["onError"]]
        if step.get("timeout"):
            flags += ["-timeout", step["timeout"]]
        if task_spec.get("results"):
            flags += ["-results", ",".join(r["name"] for r in task_spec["results"])]
        script = script_path = None
        if step.get("script"):
            script = _script_content(substitute(step["script"], values))
            script_path = f"script-{i}-{suffix}{i}"
            command = [f"/tekton/scripts/{script_path}"]
            args = substitute_list(step.get("args") or [], values)
        else:
            cmd = substitute_list(step.get("command") or [], values)
            args = substitute_list(step.get("args") or [], values)
            if not cmd and args:
                cmd, args = args[:1], args[1:]
            command = cmd[:1]
            args = cmd[1:] + args
        flags += ["-entrypoint", command[0] if command else "/bin/true", "--", *args]
        env = {e["name"]: substitute(str(e.get("value", "")), values)
               for e in step.get("env") or [] if "name" in e and not e.get("valueFrom")}
        secret_env = {e["name"]: dict((e.get("valueFrom") or {}).get("secretKeyRef") or {})
                      for e in step.get("env") or []
                      if "name" in e and (e.get("valueFrom") or {}).get("secretKeyRef")}
        pod_env = [({"name": e["name"], "valueFrom": e["valueFrom"]} if e.get("valueFrom") else
                    {"name": e["name"], "value": env[e["name"]]})
                   for e in step.get("env") or [] if "name" in e]
        working_dir = step.get("workingDir")
        if working_dir:
            any_working_dir = True
            working_dir = substitute(working_dir, values)
        steps.append(StepPlan(i, name, container, flags, env, working_dir,
                              step.get("image", ""), script, script_path, secret_env=secret_env))
        containers.append({
            "name": container, "image": step.get("image", ""),
            "command": ["/tekton/bin/entrypoint"], "args": flags,
            "env": pod_env,
            **({"workingDir": working_dir} if working_dir else {}),
            "resources": {}, "terminationMessagePath": "/tekton/termination",
            "terminationMessagePolicy": "File",
            "volumeMounts": _step_mounts(i, len(task_spec["steps"])) + ws_mounts,
        })
    init = [{"name": "prepare", "image": f"ghcr.io/tektoncd/pipeline/entrypoint:{tekton_version}",
             "command": ["/ko-app/entrypoint", "init", "/ko-app/entrypoint", "/tekton/bin/entrypoint",
                         *[s.container for s in steps]],
             "volumeMounts": [{"name": "tekton-internal-bin", "mountPath": "/tekton/bin"},
                              {"name": "tekton-internal-steps", "mountPath": "/tekton/steps"}]},
            {"name": "place-scripts", "image": "cgr.dev/chainguard/busybox",
             "command": ["sh"], "args": ["-c", "scripts_dir=/tekton/scripts ..."],
             "volumeMounts": [{"name": "tekton-internal-scripts", "mountPath": "/tekton/scripts"},
                              {"name": "tekton-internal-debug-scripts",
                               "mountPath": "/tekton/debug/scripts"}]}]
    if any_working_dir:
        dirs = [s.working_dir for s in steps if s.working_dir]
        init.append({"name": "working-dir-initializer", "image": "cgr.dev/chainguard/busybox",
                     "command": ["sh", "-c", "mkdir -p " + " ".join(dirs)],
                     "workingDir": "/workspace"})
    labels = {**(meta.get("labels") or {}), "app.kubernetes.io/managed-by": "tekton-pipelines",
              "tekton.dev/taskRun": meta["name"], "tekton.dev/taskRunUID": meta["uid"]}
    if task_name:
        labels["tekton.dev/task"] = task_name
    api_version = tr.get("apiVersion", "tekton.dev/v1")
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-pod", "namespace": meta["namespace"], "labels": labels,
            "annotations": {"pipeline.tekton.dev/release": tekton_version,
                            "tekton.dev/ready": "READY"},
            "ownerReferences": [{"apiVersion": api_version, "kind": "TaskRun",
                                 "name": meta["name"], "uid": meta["uid"], "controller": True,
                                 "blockOwnerDeletion": True}],
        },
        "spec": {
            "restartPolicy": "Never", "serviceAccountName": spec.get("serviceAccountName", "default"),
            "nodeName": "test-node", "initContainers": init, "containers": containers,
            "activeDeadlineSeconds": None,
            "volumes": [{"name": n, "emptyDir": {}} for n in
                        ("tekton-internal-workspace", "tekton-internal-home",
                         "tekton-internal-results", "tekton-internal-steps",
                         "tekton-internal-scripts", "tekton-internal-bin")] +
                       [{"name": "tekton-internal-downward", "downwardAPI": {"items": [
                           {"path": "ready", "fieldRef": {
                               "fieldPath": "metadata.annotations['tekton.dev/ready']"}}]}}] +
                       ws_volumes,
        },
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }
    del pod["spec"]["activeDeadlineSeconds"]
    return PodPlan(pod, steps)


def _step_mounts(i: int, count: int) -> list[dict]:
    mounts = [{"name": "tekton-internal-bin", "mountPath": "/tekton/bin", "readOnly": True}]
    for j in range(count):
        mounts.append({"name": f"tekton-internal-run-{j}", "mountPath": f"/tekton/run/{j}",
                       **({} if j == i else {"readOnly": True})})
    mounts += [{"name": "tekton-internal-workspace", "mountPath": "/workspace"},
               {"name": "tekton-internal-home", "mountPath": "/tekton/home"},
               {"name": "tekton-internal-results", "mountPath": "/tekton/results"},
               {"name": "tekton-internal-steps", "mountPath": "/tekton/steps", "readOnly": True},
               {"name": "tekton-internal-scripts", "mountPath": "/tekton/scripts", "readOnly": True},
               {"name": "tekton-internal-debug-scripts", "mountPath": "/tekton/debug/scripts",
                "readOnly": True},
               {"name": f"tekton-internal-debug-info-{i}", "mountPath": f"/tekton/debug/info/{i}"},
               {"name": "tekton-internal-downward", "mountPath": "/tekton/downward",
                "readOnly": True}]
    return mounts


def termination_message(path: str) -> str | None:
    try:
        with open(path) as f:
            text = f.read()
        json.loads(text)
        return text
    except (OSError, ValueError):
        return None


def task_results(task_spec: dict, messages: list[str | None]) -> list[dict]:
    """``status.results`` as Tekton's controller writes it: the results (type 1 entries) of the
    steps' termination messages, each under its declared type (arrays and objects parsed)."""
    declared = {r.get("name"): r.get("type") or "string" for r in task_spec.get("results") or []
                if isinstance(r, dict)}
    found: dict[str, str] = {}
    for text in messages:
        try:
            entries = json.loads(text) if text else []
        except ValueError:
            continue
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, dict) and e.get("type") == 1 and e.get("key") in declared:
                found[e["key"]] = str(e.get("value", ""))
    out = []
    for name, value in found.items():
        kind = declared[name]
        parsed: object = value
        if kind in ("array", "object"):
            try:
                parsed = json.loads(value)
            except ValueError:
                kind, parsed = "string", value
        out.append({"name": name, "type": kind, "value": parsed})
    return out
