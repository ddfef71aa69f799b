"""What Tekton's admission webhook (and the API server before it) would reject, as Problems.

Every check works on the YAML as loaded (:class:`yamlpos.YamlDoc`), so each problem points at the
exact key or value at fault, and says how to fix it. All problems are collected; nothing stops at
the first one.

- ``validate_document(doc)``: one Task or TaskRun document (a TaskRun with ``taskSpec`` is checked
  together with its embedded Task).
- ``validate_taskrun(run, task_doc, task_base)``: a TaskRun together with the Task it references.
- ``diagnose(text, file)``: every Task and TaskRun in a text, for the language server; never raises.
"""

from __future__ import annotations

import datetime
import difflib
import re
from typing import Any, Iterable

from tekton_debug.errors import Problem, UserError
from tekton_debug.tekton.duration import parse_duration
from tekton_debug.tekton.model import yaml_text
from tekton_debug.tekton.variables import param_ref, references, sole_reference
from tekton_debug.tekton.yamlpos import Path, Span, YamlDoc, load_documents

API_VERSIONS = ("tekton.dev/v1", "tekton.dev/v1beta1")
#: StepActions were tekton.dev/v1alpha1 before v1beta1; Tekton v1.15 still serves both.
STEPACTION_API_VERSIONS = ("tekton.dev/v1beta1", "tekton.dev/v1alpha1", "tekton.dev/v1")
KINDS = ("Task", "TaskRun")
PARAM_TYPES = ("string", "array", "object")
ON_ERROR = ("continue", "stopAndFail")

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PARAM_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9.-]*$")
_OBJECT_NAME = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9-]*$")
_RESULT_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_UNNAMED = re.compile(r"^unnamed-(\d+)$")

_TOP_FIELDS = {"apiVersion", "kind", "metadata", "spec", "status"}
_CONTAINER_COMMON = {"image", "command", "args", "workingDir", "env", "envFrom", "volumeMounts",
                     "volumeDevices", "imagePullPolicy", "securityContext"}
_STEP_FIELDS_V1 = _CONTAINER_COMMON | {
    "name", "computeResources", "script", "timeout", "workspaces", "onError", "stdoutConfig",
    "stderrConfig", "ref", "params", "results", "when", "displayName"}
_V1BETA1_CONTAINER_EXTRA = {"resources", "ports", "livenessProbe", "readinessProbe",
                            "startupProbe", "lifecycle", "terminationMessagePath",
                            "terminationMessagePolicy", "stdin", "stdinOnce", "tty"}
_STEP_FIELDS_V1BETA1 = _STEP_FIELDS_V1 | _V1BETA1_CONTAINER_EXTRA
_TEMPLATE_FIELDS_V1 = _CONTAINER_COMMON | {"computeResources"}
_TEMPLATE_FIELDS_V1BETA1 = _TEMPLATE_FIELDS_V1 | _V1BETA1_CONTAINER_EXTRA | {"name"}
_TASK_SPEC_FIELDS = {"steps", "params", "results", "workspaces", "stepTemplate", "sidecars",
                     "volumes", "description", "displayName"}
_PARAM_FIELDS = {"name", "type", "description", "default", "properties", "enum", "displayName"}
_RESULT_FIELDS = {"name", "type", "description", "properties", "value"}
_WORKSPACE_FIELDS = {"name", "description", "mountPath", "readOnly", "optional"}
_TASKRUN_SPEC_FIELDS = {"taskRef", "taskSpec", "params", "workspaces", "timeout",
                        "serviceAccountName", "podTemplate", "debug", "status", "statusMessage",
                        "retries", "stepSpecs", "sidecarSpecs", "computeResources", "managedBy",
                        "breakpoint"}  # `breakpoint`: the TEP-0042 draft's spelling, kept as alias
_TASKRUN_SPEC_FIELDS_V1BETA1 = _TASKRUN_SPEC_FIELDS | {"stepOverrides", "sidecarOverrides"}
_TASKREF_FIELDS = {"name", "kind", "apiVersion", "bundle", "resolver", "params"}
_BINDING_FIELDS = {"name", "subPath", "volumeClaimTemplate", "persistentVolumeClaim", "emptyDir",
                   "configMap", "secret", "projected", "csi"}
_ENV_FIELDS = {"name", "value", "valueFrom"}

_CONTEXT_VARIABLES = {"context.taskRun.name", "context.taskRun.namespace", "context.taskRun.uid",
                      "context.task.name", "context.task.retry-count"}
_WORKSPACE_VARIABLES = ("path", "bound", "claim", "volume")


def in_order(problems: list[Problem]) -> list[Problem]:
    """Problems without repeats, by file, line and column (unlocated ones first)."""
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file or "", p.line or 0, p.column or 0))


def kind_of(doc: YamlDoc) -> str | None:
    return doc.data.get("kind") if isinstance(doc.data, dict) else None


def suggest_name(name: str) -> str:
    """A DNS-1123 label close to ``name``: "Build_1" -> "build-1"."""
    s = re.sub(r"[^a-z0-9-]+", "-", str(name).lower()).strip("-")
    s = re.sub(r"-{2,}", "-", s)[:63].strip("-")
    return s or "step"


def _type_name(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (datetime.date, datetime.datetime)):
        return "a date"  # YAML reads 2001-12-14 unquoted as one
    return type(value).__name__


def _param_value_type(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def declared_type(spec: dict) -> str:
    """A ParamSpec's type as Tekton's defaulting sets it: written, or guessed from the default."""
    t = spec.get("type")
    if t:
        return t
    if isinstance(spec.get("default"), list):
        return "array"
    if isinstance(spec.get("default"), dict) or isinstance(spec.get("properties"), dict):
        return "object"
    return "string"


class _Checker:
    """Collects problems located in one YAML document."""

    def __init__(self, doc: YamlDoc, problems: list[Problem]) -> None:
        self.doc = doc
        self.problems = problems
        self.api_version = (doc.data.get("apiVersion") if isinstance(doc.data, dict) else None) \
            or "tekton.dev/v1"

    # ---- reporting ------------------------------------------------------------------------

    def add(self, path: Path, message: str, fix: str | None = None, *, key: bool = False,
            span: Span | None = None, severity: str = "error") -> None:
        span = span or self.doc.nearest(path, key=key)
        if span is None:
            self.problems.append(Problem(message, self.doc.file, fix=fix, severity=severity))
            return
        end_column = span.end_column if span.end_line == span.line else None
        self.problems.append(Problem(message, self.doc.file, span.line, span.column, fix,
                                     span.end_line, end_column, severity))

    def warn(self, path: Path, message: str, fix: str | None = None, **kw: Any) -> None:
        """What Tekton accepts but what is likely to fail at run time."""
        self.add(path, message, fix, severity="warning", **kw)

    def written(self, path: Path, value: Any) -> str:
        """A scalar as the file spells it (``yes``, not the boolean YAML reads it as)."""
        span = self.doc.span(path)
        lines = self.doc.lines if span and span.line == span.end_line else []
        if span and 0 < span.line <= len(lines):
            text = lines[span.line - 1][span.column - 1:span.end_column - 1].strip()
            if text:
                return text
        return yaml_text(value)

    @staticmethod
    def where(path: Path) -> str:
        out = ""
        for p in path:
            out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
        return out

    # ---- shapes ---------------------------------------------------------------------------

    def expect(self, path: Path, value: Any, kind: type | tuple, what: str) -> bool:
        """Report ``value`` unless it is of ``kind``; True when it is."""
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            ok = False
        else:
            ok = isinstance(value, kind)
        if not ok:
            example = {list: "a list (`- item` lines or [a, b])", dict: "a mapping (`key: value`)",
                       str: "a string (quote it)", bool: "true or false"}.get(kind, what)
            fix = f"write {self.where(path)} as {example}"
            if kind is str and value is not None and not isinstance(value, (list, dict)):
                fix = f'quote it: "{self.written(path, value)}"'
            self.add(path, f"{self.where(path)} must be {what}, not {_type_name(value)}", fix)
        return ok

    def known_fields(self, path: Path, value: dict, known: set[str], what: str) -> None:
        for k in value:
            if k in known:
                continue
            near = difflib.get_close_matches(str(k), sorted(known), n=1, cutoff=0.6)
            fix = (f'did you mean "{near[0]}"?' if near
                   else f"remove it; {what} accepts: {', '.join(sorted(known))}")
            self.add(path + (k,), f'unknown field "{k}" in {what}', fix, key=True)

    def string_list(self, path: Path, value: Any, what: str) -> list[str]:
        if not self.expect(path, value, list, "a list of strings"):
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.add(path + (i,), f"{what} item {i} is {_type_name(item)}, not a string",
                         f'quote it: "{yaml_text(item)}"')
        return out

    def duration(self, path: Path, value: Any, what: str) -> None:
        if isinstance(value, str) and not value.strip():  # parse_duration("") raises IndexError
            self.add(path, f"{what} is empty",
                     'write a Go duration such as "90s", "30m", "1h30m" ("0s" for none)')
            return
        written = self.written(path, value)  # as the file spells it: 2001-12-14, not a date
        if written[:1] not in "'\"":
            written = repr(written)
        try:
            seconds = parse_duration(value)
        except UserError as exc:
            if "out of range" in exc.first.message:
                self.add(path, f"{what} {written} is out of range: Go durations go up to "
                         "2562047h (about 292 years)", exc.first.fix)
            else:
                self.add(path, f"{what} {written} is not a valid duration",
                         'write a Go duration such as "90s", "30m", "1h30m" ("0s" for none)')
            return
        if seconds < 0:
            self.add(path, f"{what} {written} is negative", 'use a positive duration, e.g. "10m"')


# ---- documents --------------------------------------------------------------------------------

def validate_document(doc: YamlDoc, *, kinds: Iterable[str] = KINDS,
                      finder: Any = None) -> list[Problem]:
    """Problems in one Task, TaskRun or StepAction document (a TaskRun's embedded taskSpec
    included). With a ``finder`` (``tekton.finder.Finder``), the StepActions its steps use are
    found and checked too."""
    data = doc.data
    if isinstance(data, dict) and data.get("kind") == "StepAction":
        from tekton_debug.tekton.stepactions import validate_stepaction
        return validate_stepaction(doc)
    if isinstance(data, dict) and data.get("kind") == "TaskRun" and "TaskRun" in kinds:
        spec = data.get("spec")
        embedded = isinstance(spec, dict) and spec.get("taskSpec") is not None
        return validate_taskrun(doc, doc if embedded else None, ("spec", "taskSpec"),
                                finder=finder)
    problems: list[Problem] = list(doc.duplicate_keys)
    c = _Checker(doc, problems)
    if not isinstance(data, dict):
        c.add((), f"the document is {_type_name(data)}, not a Tekton object",
              "write a Task or TaskRun: apiVersion, kind, metadata and spec")
        return problems
    if _header(c, data, tuple(kinds)):
        _task_spec(c, ("spec",), data.get("spec"))
        if finder is not None:
            step_actions(c, ("spec",), data.get("spec"), finder)
    return problems


def step_actions(c: _Checker, base: Path, spec: Any, finder: Any,
                 run_params: dict | None = None) -> dict[int, Any]:
    """The StepActions the steps of the Task spec at ``base`` use, found (index -> YamlDoc)
    and checked: not found, the step's params against the action's, the action's own problems."""
    from tekton_debug.tekton.stepactions import check_use, validate_stepaction

    found: dict[int, Any] = {}
    steps = spec.get("steps") if isinstance(spec, dict) else None
    for i, raw in enumerate(steps if isinstance(steps, list) else []):
        if not isinstance(raw, dict) or not isinstance(raw.get("ref"), dict):
            continue
        path = base + ("steps", i, "ref")
        f = finder.find("StepAction", raw["ref"], c.doc, path, run_params)
        if f.problem is not None:
            c.problems.append(f.problem)
        if f.doc is None:
            continue
        own = validate_stepaction(f.doc)
        c.problems.extend(p for p in own if p not in c.problems)
        if any(p.is_error for p in own):
            label = f'step "{raw["name"]}"' if isinstance(raw.get("name"), str) else f"step {i}"
            meta = f.doc.data.get("metadata") if isinstance(f.doc.data, dict) else None
            c.add(path, f'{label} uses StepAction "{(meta or {}).get("name")}", which Tekton '
                  f"refuses (see {f.doc.file or 'its problems'})", "fix the StepAction", key=True)
            continue
        check_use(c, base + ("steps", i), raw, f.doc)
        found[i] = f.doc
    return found


def _header(c: _Checker, data: dict, kinds: tuple[str, ...]) -> bool:
    """apiVersion, kind, metadata, spec. False when the rest cannot be checked."""
    ok = True
    api = data.get("apiVersion")
    kind = data.get("kind")
    if api is None:
        c.add((), "apiVersion is missing", "add `apiVersion: tekton.dev/v1` at the top")
    elif api not in (STEPACTION_API_VERSIONS if kinds == ("StepAction",) else API_VERSIONS):
        c.add(("apiVersion",), f"apiVersion {api!r} is not supported: tekton-debug reads "
              "tekton.dev/v1 and tekton.dev/v1beta1", "write `apiVersion: tekton.dev/v1`")
        ok = False
    if kind is None:
        c.add((), "kind is missing", f"add `kind: {kinds[-1]}` (or {' / '.join(kinds)})")
        return False
    if kind not in kinds:
        c.add(("kind",), f"kind {kind!r} is not supported here: tekton-debug runs a "
              f"{' or a '.join(kinds)}",
              "run the Pipeline or PipelineRun file itself (tekton-debug runs Pipelines too)"
              if kind in ("Pipeline", "PipelineRun") else f"write `kind: {kinds[0]}`")
        return False
    c.known_fields((), data, _TOP_FIELDS, kind)
    meta = data.get("metadata")
    if meta is None:
        c.add((), f"metadata is missing: a {kind} needs a name",
              f"add `metadata: {{name: my-{kind.lower()}}}`")
    elif c.expect(("metadata",), meta, dict, "a mapping"):
        name, generate = meta.get("name"), meta.get("generateName")
        if name is None and (kind == "Task" or generate is None):
            c.add(("metadata",), f"metadata.name is missing: a {kind} needs a name",
                  f"add `name: my-{kind.lower()}` under metadata"
                  + (" (or generateName)" if kind == "TaskRun" else ""), key=True)
        if name is not None and not isinstance(name, str) and not isinstance(name, (list, dict)):
            c.expect(("metadata", "name"), name, str, "a string")  # 2001-12-14: a date; quote it
        elif name is not None and (not isinstance(name, str) or not _DNS1123_SUBDOMAIN.match(name)):
            c.add(("metadata", "name"), f"{kind} name {yaml_text(name)!r} is invalid: a name must "
                  "be lowercase letters, digits, '-' and '.'", f'rename it, e.g. "{suggest_name(name)}"')
        if generate is not None and not isinstance(generate, str):
            c.expect(("metadata", "generateName"), generate, str, "a string")
        elif isinstance(generate, str) and not _valid_generate_name(generate):
            c.add(("metadata", "generateName"), f"generateName {generate!r} is invalid: a name "
                  "prefix must be lowercase letters, digits, '-' and '.' (it may end with '-')",
                  f'write a prefix such as "{suggest_name(generate).rstrip("-")}-"')
        for f in ("namespace",):
            if meta.get(f) is not None:
                c.expect(("metadata", f), meta[f], str, "a string")
    spec = data.get("spec")
    if spec is None:
        c.add((), f"spec is missing: a {kind} needs a spec",
              {"Task": "add `spec:` with steps", "Pipeline": "add `spec:` with tasks",
               "PipelineRun": "add `spec:` with pipelineRef or pipelineSpec"}.get(
                  kind, "add `spec:` with taskSpec or taskRef"))
        return False
    return c.expect(("spec",), spec, dict, "a mapping") and ok


def _valid_generate_name(prefix: str) -> bool:
    """Kubernetes' check of a generateName: a DNS-1123 subdomain once a trailing '-' is masked
    (``maskTrailingDash``), at most 253 characters with the suffix the API server adds."""
    masked = prefix[:-1] + "a" if len(prefix) > 1 and prefix.endswith("-") else prefix
    return len(prefix) <= 248 and bool(_DNS1123_SUBDOMAIN.match(masked))


# ---- Task -------------------------------------------------------------------------------------

def merge_step_template(template: dict, step: dict) -> dict:
    """A step merged with the stepTemplate as Tekton does: the step's fields win, ``env`` is
    merged by name and ``volumeMounts`` by mountPath; other lists are replaced, mappings merged."""
    if not template:
        return dict(step)
    merged: dict = {}
    for k in list(template) + [k for k in step if k not in template]:
        if k not in step:
            merged[k] = template[k]
        elif k not in template:
            merged[k] = step[k]
        elif k == "env" and isinstance(template[k], list) and isinstance(step[k], list):
            merged[k] = _merge_by(template[k], step[k], "name")
        elif k == "volumeMounts" and isinstance(template[k], list) and isinstance(step[k], list):
            merged[k] = _merge_by(template[k], step[k], "mountPath")
        elif isinstance(template[k], dict) and isinstance(step[k], dict):
            merged[k] = _deep_merge(template[k], step[k])
        else:
            merged[k] = step[k]
    return merged


def _merge_by(template: list, items: list, key: str) -> list:
    """Template entries not overridden (in template order), then the step's own entries."""
    own = {i.get(key) for i in items if isinstance(i, dict)}
    return [t for t in template if not (isinstance(t, dict) and t.get(key) in own)] + list(items)


def _deep_merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _deep_merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else v
    return out


def _task_spec(c: _Checker, base: Path, spec: Any, *,
               propagated: dict[str, Any] | Iterable[str] | None = None,
               propagated_workspaces: Iterable[str] = ()) -> None:
    """Check a TaskSpec at ``base`` (``("spec",)`` or ``("spec", "taskSpec")``)."""
    if not c.expect(base, spec, dict, "a mapping"):
        return
    fields = set(_TASK_SPEC_FIELDS)
    if "resources" in spec and c.api_version == "tekton.dev/v1beta1":
        c.add(base + ("resources",), "PipelineResources (spec.resources) were removed from "
              "Tekton and are not supported", "use params, workspaces and results instead", key=True)
        fields.add("resources")
    c.known_fields(base, spec, fields, "a Task spec")
    params = _param_specs(c, base + ("params",), spec.get("params"))
    results = _named_list(c, base + ("results",), spec.get("results"), "result", _RESULT_FIELDS)
    for i, r in results:
        path = base + ("results", i)
        if isinstance(r.get("name"), str) and not _RESULT_NAME.match(r["name"]):
            c.add(path + ("name",), f'result name "{r["name"]}" is invalid: use letters, digits, '
                  "'-', '_' and '.', starting and ending with a letter or digit",
                  f'rename it, e.g. "{suggest_name(r["name"])}"')
        if r.get("type") is not None and r.get("type") not in PARAM_TYPES:
            c.add(path + ("type",), f'result "{r.get("name")}" has type {r["type"]!r}, which is '
                  "not a result type", 'use "string", "array" or "object"')
    workspaces = _named_list(c, base + ("workspaces",), spec.get("workspaces"), "workspace",
                             _WORKSPACE_FIELDS)
    mounts: dict[str, str] = {}
    for i, w in workspaces:
        path = base + ("workspaces", i)
        for f in ("optional", "readOnly"):
            if f in w:
                c.expect(path + (f,), w[f], bool, "true or false")
        if w.get("mountPath") is not None and c.expect(path + ("mountPath",), w["mountPath"], str,
                                                        "a string"):
            mp = w["mountPath"].rstrip("/") or "/"
            if mp in mounts:
                c.add(path + ("mountPath",), f'workspace "{w.get("name")}" uses mountPath {mp!r}, '
                      f'already used by workspace "{mounts[mp]}"', "give each workspace its own mountPath")
            mounts[mp] = str(w.get("name"))
    if spec.get("sidecars") is not None and c.expect(base + ("sidecars",), spec["sidecars"], list,
                                                        "a list"):
        for i, sc in enumerate(spec["sidecars"]):
            c.expect(base + ("sidecars", i), sc, dict, "a mapping (a container)")
    template: dict = {}
    if spec.get("stepTemplate") is not None and c.expect(base + ("stepTemplate",),
                                                         spec["stepTemplate"], dict, "a mapping"):
        template = spec["stepTemplate"]
        known = _TEMPLATE_FIELDS_V1BETA1 if c.api_version == "tekton.dev/v1beta1" \
            else _TEMPLATE_FIELDS_V1
        c.known_fields(base + ("stepTemplate",), template, known, "a stepTemplate")
        _container_fields(c, base + ("stepTemplate",), template, "the stepTemplate")
    steps = _steps(c, base, spec.get("steps"), template)
    declared = {str(p.get("name")): declared_type(p) for _, p in params if p.get("name") is not None}
    properties = {str(p.get("name")): p.get("properties") for _, p in params
                  if isinstance(p.get("properties"), dict)}
    given = propagated.items() if isinstance(propagated, dict) else \
        ((n, "") for n in propagated or ())  # names only: strings
    for name, value in given:  # a TaskRun's (a Pipeline's) params reach its embedded spec
        if name not in declared:
            declared[name] = _param_value_type(value)
            if isinstance(value, dict):
                properties[name] = {str(k): {"type": "string"} for k in value}
    result_names = {r.get("name") for _, r in results}
    workspace_names = {w.get("name") for _, w in workspaces} | set(propagated_workspaces)
    for i, step in steps:
        _step_references(c, base + ("steps", i), step, declared, properties, result_names,
                         workspace_names)


def _named_list(c: _Checker, path: Path, value: Any, what: str,
                known: set[str]) -> list[tuple[int, dict]]:
    """A list of mappings with unique ``name`` keys (params, results, workspaces)."""
    if value is None or not c.expect(path, value, list, f"a list of {what}s"):
        return []
    out: list[tuple[int, dict]] = []
    seen: set[str] = set()
    for i, item in enumerate(value):
        if not c.expect(path + (i,), item, dict, f"a mapping (a {what} with a name)"):
            continue
        c.known_fields(path + (i,), item, known, f"a {what}")
        name = item.get("name")
        if name is None:
            c.add(path + (i,), f"{what} {i} has no name", f"add `name: my-{what}` to it")
        elif not isinstance(name, str):
            c.expect(path + (i, "name"), name, str, "a string")
        elif name.lower() in seen:
            c.add(path + (i, "name"), f'{what} name "{name}" is used twice',
                  f"rename one of the {what}s named \"{name}\"")
        else:
            seen.add(name.lower())
        out.append((i, item))
    return out


def _param_specs(c: _Checker, path: Path, value: Any) -> list[tuple[int, dict]]:
    params = _named_list(c, path, value, "param", _PARAM_FIELDS)
    for i, p in params:
        ppath = path + (i,)
        name = p.get("name")
        t = p.get("type")
        if t is not None and t not in PARAM_TYPES:
            c.add(ppath + ("type",), f'param "{name}" has type {yaml_text(t)!r}, which is not a '
                  "param type", 'use "string", "array" or "object"')
            continue
        t = declared_type(p)
        if isinstance(name, str):
            if t == "object" and not _OBJECT_NAME.match(name):
                c.add(ppath + ("name",), f'object param name "{name}" is invalid: use letters, '
                      "digits, '-' and '_', starting with a letter or '_'",
                      f'rename it, e.g. "{re.sub(r"[^A-Za-z0-9_-]", "_", name)}"')
            elif t != "object" and not _PARAM_NAME.match(name):
                c.add(ppath + ("name",), f'param name "{name}" is invalid: use letters, digits, '
                      "'-', '_' and '.', starting with a letter or '_'",
                      f'rename it, e.g. "{re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".-0123456789") or "param"}"')
        if "description" in p and p["description"] is not None:
            c.expect(ppath + ("description",), p["description"], str, "a string")
        if "default" in p:
            d = p["default"]
            dt = _param_value_type(d)
            if d is None:
                c.add(ppath + ("default",), f'param "{name}" has an empty default',
                      'remove `default:` to make the param required, or write `default: ""`')
            elif dt != t:
                example = {"string": '"value"', "array": '["a", "b"]',
                           "object": "{key: value}"}[t]
                c.add(ppath + ("default",), f'param "{name}" is of type {t} but its default is '
                      f"{'an' if dt in ('array', 'object') else 'a'} {dt}",
                      f"write a default of type {t}, e.g. `default: {example}`, or change `type`")
            elif dt == "array":
                c.string_list(ppath + ("default",), d, f'param "{name}" default')
            elif dt == "object":
                for k, v in d.items():
                    if isinstance(v, (list, dict)):
                        c.add(ppath + ("default", k), f'param "{name}" default key "{k}" must be '
                              f"a string, not {_type_name(v)}", "object param values are strings")
        if t == "object":
            props = p.get("properties")
            if props is None:
                c.add(ppath, f'object param "{name}" declares no properties',
                      "add `properties: {key: {type: string}}` listing its keys")
            elif c.expect(ppath + ("properties",), props, dict, "a mapping of key: {type: string}"):
                for k, ps in props.items():
                    pt = ps.get("type", "string") if isinstance(ps, dict) else ps
                    if ps is not None and pt != "string":
                        c.add(ppath + ("properties", k), f'object param "{name}" key "{k}" has '
                              f"type {yaml_text(pt)!r}: object keys can only be strings",
                              "write `{type: string}`")
        elif p.get("properties") is not None:
            c.add(ppath + ("properties",), f'param "{name}" has properties but is of type {t}',
                  "set `type: object`, or remove `properties`", key=True)
        if "enum" in p and p["enum"] is not None:
            c.string_list(ppath + ("enum",), p["enum"], f'param "{name}" enum')
    return params


def _container_fields(c: _Checker, path: Path, step: dict, what: str) -> None:
    """Types of the container fields a step or stepTemplate may set."""
    if "image" in step and step["image"] is not None:
        c.expect(path + ("image",), step["image"], str, "a string")
    if "workingDir" in step and step["workingDir"] is not None:
        c.expect(path + ("workingDir",), step["workingDir"], str, "a string")
    for f in ("command", "args"):
        if step.get(f) is not None:
            c.string_list(path + (f,), step[f], f)
    if step.get("envFrom") is not None and c.expect(path + ("envFrom",), step["envFrom"], list,
                                                    "a list"):
        for i, e in enumerate(step["envFrom"]):
            c.expect(path + ("envFrom", i), e, dict, "a mapping (configMapRef or secretRef)")
    env = step.get("env")
    if env is not None and c.expect(path + ("env",), env, list, "a list of {name, value}"):
        seen: set[str] = set()
        for i, e in enumerate(env):
            epath = path + ("env", i)
            if not c.expect(epath, e, dict, "a mapping with name and value"):
                continue
            c.known_fields(epath, e, _ENV_FIELDS, "an env variable")
            name = e.get("name")
            if not isinstance(name, str) or not name:
                c.add(epath, f"env variable {i} in {what} has no name", "add `name: MY_VAR`")
            elif name in seen:
                c.warn(epath + ("name",), f'env variable "{name}" is set twice in {what}; '
                       "Kubernetes keeps the last one", "remove the one you do not mean")
            else:
                seen.add(name)
            if "value" in e and e["value"] is not None and not isinstance(e["value"], str):
                c.add(epath + ("value",), f'env variable "{name}" has {_type_name(e["value"])} '
                      "value; Kubernetes accepts only strings",
                      f'quote it: value: "{yaml_text(e["value"])}"')
            if "valueFrom" in e and e["valueFrom"] is not None:
                c.expect(epath + ("valueFrom",), e["valueFrom"], dict, "a mapping")
                if "value" in e and e["value"] not in (None, ""):
                    c.add(epath, f'env variable "{name}" sets both value and valueFrom',
                          "keep only one of them")


def _steps(c: _Checker, base: Path, steps: Any, template: dict) -> list[tuple[int, dict]]:
    path = base + ("steps",)
    if steps is None:
        c.add(base, "the Task has no steps", "add `steps:` with at least one step "
              "(name, image and script)")
        return []
    if not c.expect(path, steps, list, "a list of steps"):
        return []
    if not steps:
        c.add(path, "the Task has no steps", "add at least one step (name, image and script)")
        return []
    known = _STEP_FIELDS_V1BETA1 if c.api_version == "tekton.dev/v1beta1" else _STEP_FIELDS_V1
    names: dict[str, int] = {}
    out: list[tuple[int, dict]] = []
    for i, raw in enumerate(steps):
        spath = path + (i,)
        if not c.expect(spath, raw, dict, "a mapping (a step: name, image, script)"):
            continue
        label = f'step "{raw["name"]}"' if isinstance(raw.get("name"), str) else f"step {i}"
        if "resources" in raw and c.api_version == "tekton.dev/v1":
            c.add(spath + ("resources",), f"{label}: `resources` is the tekton.dev/v1beta1 "
                  "spelling", "rename it to `computeResources` (tekton.dev/v1)", key=True)
            known_here = known | {"resources"}
        else:
            known_here = known
        c.known_fields(spath, raw, known_here, "a step")
        # a step with a ref gets the stepTemplate once its StepAction is fetched (as in Tekton)
        step = merge_step_template(template, raw) if raw.get("ref") is None else dict(raw)
        _container_fields(c, spath, raw, label)
        name = raw.get("name")
        if name is not None:
            if not isinstance(name, str):
                c.expect(spath + ("name",), name, str, "a string")
            elif not _DNS1123_LABEL.match(name) or len(name) > 63:
                c.add(spath + ("name",), f'step name "{name}" is invalid: a step name must be a '
                      "DNS-1123 label (lowercase letters, digits and '-')",
                      f'rename it, e.g. "{suggest_name(name)}"')
            elif name in names:
                c.add(spath + ("name",), f'step name "{name}" is used twice (steps {names[name]} '
                      f"and {i})", f'rename one of them, e.g. "{name}-2"')
            if isinstance(name, str):
                names.setdefault(name, i)
        if raw.get("ref") is None and not step.get("image"):
            c.add(spath, f"{label} has no image", "add `image: alpine` (or set image in "
                  "stepTemplate)")
        if raw.get("ref") is not None:
            _step_ref(c, spath, raw, label)
        elif raw.get("params") is not None:
            c.add(spath + ("params",), f"{label} has params but no ref; params are passed to a "
                  "StepAction", "add `ref: {name: <the StepAction>}`, or remove params", key=True)
        if step.get("script") is not None:
            c.expect(spath + ("script",), step["script"], str, "a string")
            if step.get("command"):
                where = "command" if raw.get("command") else "stepTemplate's command"
                c.add(spath + ("script",), f"{label} sets both script and {where}; Tekton "
                      "allows only one", "remove command (put the program in the script, or "
                      "its first line as `#!/bin/sh`)", key=True)
        on_error = raw.get("onError")
        if on_error is not None and (not isinstance(on_error, str) or (
                on_error not in ON_ERROR and not on_error.startswith("$(params."))):
            c.add(spath + ("onError",), f'{label}: onError {yaml_text(on_error)!r} is not valid',
                  'use "continue" or "stopAndFail"')
        if raw.get("timeout") is not None:
            c.duration(spath + ("timeout",), raw["timeout"], f"{label} timeout")
        out.append((i, step))
    return out


#: What a step that uses a StepAction may not set itself (Tekton's Step.Validate).
_NOT_WITH_REF = ("image", "command", "args", "script", "workingDir", "env", "volumeMounts",
                 "results")


def _step_ref(c: _Checker, spath: Path, raw: dict, label: str) -> None:
    ref = raw["ref"]
    if not c.expect(spath + ("ref",), ref, dict, "a mapping with the StepAction's name"):
        return
    c.known_fields(spath + ("ref",), ref, {"name", "resolver", "params"}, "a step's ref")
    _ref_fields(c, spath + ("ref",), ref, "ref", "the StepAction's metadata.name")
    for f in _NOT_WITH_REF:
        if raw.get(f) not in (None, [], ""):
            c.add(spath + (f,), f"{label} uses a StepAction (ref) and sets {f}; the StepAction "
                  f"sets it", f"remove {f} from the step (or change it in the StepAction)",
                  key=True)
    if raw.get("params") is not None:
        _named_list(c, spath + ("params",), raw["params"], "step param", {"name", "value"})


def _step_strings(step: dict) -> Iterable[tuple[tuple, str, str]]:
    """(sub-path, field kind, text) for every string in a step where variables are replaced."""
    for f in ("name", "image", "workingDir", "script", "onError"):
        if isinstance(step.get(f), str):
            yield (f,), f, step[f]
    for f in ("command", "args"):
        if isinstance(step.get(f), list):
            for i, s in enumerate(step[f]):
                if isinstance(s, str):
                    yield (f, i), f, s
    if isinstance(step.get("env"), list):
        for i, e in enumerate(step["env"]):
            if isinstance(e, dict) and isinstance(e.get("value"), str):
                yield ("env", i, "value"), "env", e["value"]


def _step_references(c: _Checker, spath: Path, step: dict, params: dict[str, str],
                     properties: dict[str, Any], results: set, workspaces: set) -> None:
    for sub, kind, text in _step_strings(step):
        for ref in references(text):
            problem = _reference_problem(ref.name, text, ref.start, ref.end, kind, params,
                                         properties, results, workspaces)
            if problem:
                message, fix = problem
                # Tekton's webhook does not check workspace variables: the step sees the text
                severity = "warning" if ref.name.startswith("workspaces.") else "error"
                c.add(spath + sub, message, fix, severity=severity,
                      span=_reference_span(c.doc, spath + sub, text, ref))


def _reference_problem(name: str, text: str, start: int, end: int, kind: str,
                       params: dict[str, str], properties: dict[str, Any], results: set,
                       workspaces: set) -> tuple[str, str] | None:
    written = text[start:end]
    if name.startswith("params."):
        p = param_ref(name, params)
        assert p is not None
        if p.name not in params:
            return (f"{written} uses param \"{p.name}\", which is not declared",
                    _did_you_mean(p.name, params, "params") or
                    f"declare it under params: `- name: {p.name}`")
        t = params[p.name]
        if p.key is not None:
            if t != "object":
                return (f"{written}: param \"{p.name}\" is of type {t} and has no keys",
                        f"write $(params.{p.name})")
            props = properties.get(p.name) or {}
            if p.key not in props:
                return (f"{written}: object param \"{p.name}\" has no key \"{p.key}\"",
                        _did_you_mean(p.key, props, f'"{p.name}" keys') or
                        f"add \"{p.key}\" to the properties of param \"{p.name}\"")
            return None
        if t == "string" and (p.star or p.index is not None):
            return (f"{written}: param \"{p.name}\" is a string, not an array",
                    f"write $(params.{p.name})")
        if t == "object" and not p.star:
            return (f"{written} uses object param \"{p.name}\" whole, which a step cannot do",
                    f"use one key: $(params.{p.name}.<key>)")
        if t in ("array", "object") and p.index is None:
            isolated = text.strip() == written
            if kind not in ("command", "args") or t == "object":
                return (f"{written}: the whole {t} param \"{p.name}\" cannot be used in {kind}",
                        f"use one element, e.g. $(params.{p.name}[0]), or pass it in args as a "
                        f"separate item: - $(params.{p.name}[*])" if t == "array"
                        else f"use one key: $(params.{p.name}.<key>)")
            if not isolated:
                return (f"{written}: the array param \"{p.name}\" must stand alone in its {kind} "
                        "item", f"make it an item of its own: - $(params.{p.name}[*])")
        return None
    if name.startswith("results."):
        parts = name.split(".")
        if len(parts) == 3 and parts[2] == "path" and parts[1] not in results:
            return (f"{written} uses result \"{parts[1]}\", which is not declared",
                    _did_you_mean(parts[1], results, "results") or
                    f"declare it under results: `- name: {parts[1]}`")
        return None
    if name.startswith("workspaces."):
        parts = name.split(".")
        if len(parts) == 3 and parts[2] in _WORKSPACE_VARIABLES and parts[1] not in workspaces:
            return (f"{written} uses workspace \"{parts[1]}\", which is not declared; the step "
                    "would see the text as written",
                    _did_you_mean(parts[1], workspaces, "workspaces") or
                    f"declare it under workspaces: `- name: {parts[1]}`")
        return None
    if name.startswith(("context.taskRun.", "context.task.")) and name not in _CONTEXT_VARIABLES:
        return (f"{written} is not a Tekton context variable",
                "use one of: " + ", ".join(f"$({v})" for v in sorted(_CONTEXT_VARIABLES)))
    return None


def _did_you_mean(name: str, known: Iterable, what: str) -> str | None:
    names = sorted(str(k) for k in known if k is not None)
    near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if near:
        return f'did you mean "{near[0]}"? (declared {what}: {", ".join(names)})'
    if names:
        return f'declare "{name}", or use one of the declared {what}: {", ".join(names)}'
    return None


def _reference_span(doc: YamlDoc, path: Path, text: str, ref: Any) -> Span | None:
    """Where a reference stands inside a scalar: its own line and column where it can be found."""
    span = doc.span(path)
    if span is None:
        return None
    lines = doc.lines
    nl = text.count("\n", 0, ref.start)
    line = doc.block_starts.get(tuple(path), span.line) + nl if tuple(path) in doc.block_starts \
        else span.line + nl
    if 0 < line <= len(lines):
        col = lines[line - 1].find(ref.text, span.column - 1 if line == span.line else 0)
        if col >= 0:
            return Span(line, col + 1, line, col + 1 + len(ref.text))
    return span


# ---- TaskRun ----------------------------------------------------------------------------------

def _taskrun_spec(c: _Checker, spec: Any) -> None:
    """A TaskRun's own fields (not its Task)."""
    if not isinstance(spec, dict):
        return
    fields = _TASKRUN_SPEC_FIELDS_V1BETA1 if c.api_version == "tekton.dev/v1beta1" \
        else _TASKRUN_SPEC_FIELDS
    if "resources" in spec:
        c.add(("spec", "resources"), "PipelineResources (spec.resources) were removed from "
              "Tekton and are not supported", "use params and workspaces instead", key=True)
        fields = fields | {"resources"}
    c.known_fields(("spec",), spec, fields, "a TaskRun spec")
    has_ref, has_spec = spec.get("taskRef") is not None, spec.get("taskSpec") is not None
    if not has_ref and not has_spec:
        c.add(("spec",), "the TaskRun has neither taskRef nor taskSpec",
              "add `taskRef: {name: my-task}` or embed the Task under `taskSpec:`", key=True)
    elif has_ref and has_spec:
        c.add(("spec", "taskRef"), "the TaskRun has both taskRef and taskSpec",
              "keep only one of them", key=True)
    if has_ref:
        _task_ref(c, spec["taskRef"])
    for i, p in _named_list(c, ("spec", "params"), spec.get("params"), "param", {"name", "value"}):
        if "value" not in p or p["value"] is None:
            c.add(("spec", "params", i), f'TaskRun param "{p.get("name")}" has no value',
                  'add `value: ...` (a string, a list or a mapping)')
        elif isinstance(p["value"], (list, dict)):
            items = p["value"].items() if isinstance(p["value"], dict) else enumerate(p["value"])
            for k, v in items:
                if isinstance(v, (list, dict)):
                    c.add(("spec", "params", i, "value", k), f'TaskRun param "{p.get("name")}" '
                          f"holds {_type_name(v)} inside; param values nest only one level",
                          "write each item as a string")
    _named_list(c, ("spec", "workspaces"), spec.get("workspaces"), "workspace binding",
                _BINDING_FIELDS)
    if spec.get("timeout") is not None:
        c.duration(("spec", "timeout"), spec["timeout"], "the TaskRun timeout")
    if spec.get("serviceAccountName") is not None:
        c.expect(("spec", "serviceAccountName"), spec["serviceAccountName"], str, "a string")
    if spec.get("status") not in (None, "TaskRunCancelled"):
        c.add(("spec", "status"), f"status {spec['status']!r} is not valid",
              'remove it (or write "TaskRunCancelled")')


def _task_ref(c: _Checker, ref: Any, path: Path = ("spec", "taskRef")) -> None:
    if not c.expect(path, ref, dict, "a mapping with the Task's name"):
        return
    c.known_fields(path, ref, _TASKREF_FIELDS, "a taskRef")
    if ref.get("bundle") is not None:  # Tekton v1.15 refuses it on create
        c.add(path + ("bundle",), "taskRef.bundle (Tekton bundles) is not supported",
              "reference the bundle through the bundles resolver: `resolver: bundles` with "
              "params bundle, name and kind", key=True)
    _ref_fields(c, path, ref, "taskRef", "the Task's metadata.name")
    # taskRef.kind is not checked by Tekton's webhook (`kind: task` loads); nor here


def _ref_fields(c: _Checker, path: Path, ref: dict, what: str, named: str) -> None:
    """name or resolver (with params), as Tekton's validateRef has them."""
    if ref.get("resolver") is not None:
        _resolver_ref(c, path, ref)
    elif ref.get("params") is not None:
        c.add(path + ("params",), f"{what}.params are a resolver's params, but there is no "
              "resolver", "add `resolver: git` (or http, bundles, hub, cluster)", key=True)
    elif ref.get("name") is None and ref.get("bundle") is None:
        c.add(path, f"{what} has no name", f"add `name: <{named}>`")
    elif ref.get("name") is not None:
        c.expect(path + ("name",), ref["name"], str, "a string")


def _resolver_ref(c: _Checker, path: Path, ref: dict) -> None:
    """A remote reference, as Tekton's webhook checks it (``validateRef``); what the params mean
    is the resolver's business (``tekton_debug.resolution``)."""
    c.expect(path + ("resolver",), ref["resolver"], str, "a resolver's name (git, http, ...)")
    if ref.get("name") is not None and ref.get("params") is not None:
        c.add(path + ("name",), f"{path[-1]} has both name and resolver params: the params say "
              "what to fetch", "remove `name`", key=True)
    _named_list(c, path + ("params",), ref.get("params"), "resolver param", {"name", "value"})


def debug_fields(spec: dict) -> tuple[bool, list, str | None]:
    """(onFailure, beforeSteps, spelling) from any of the three debug spellings, no checks."""
    on_failure, before, spelling = False, [], None
    seed = spec.get("breakpoint")
    if isinstance(seed, dict):
        spelling = "seed"
        on_failure = seed.get("onFailure") is True
    debug = spec.get("debug")
    if isinstance(debug, dict):
        if isinstance(debug.get("breakpoint"), list):
            spelling = "breakpoint"
            on_failure = on_failure or "onFailure" in debug["breakpoint"]
        bps = debug.get("breakpoints")
        if isinstance(bps, dict):
            spelling = "breakpoints"
            on_failure = on_failure or bps.get("onFailure") == "enabled"
            if isinstance(bps.get("beforeSteps"), list):
                before = [s for s in bps["beforeSteps"] if isinstance(s, str)]
        elif spelling is None:
            spelling = "breakpoints"
    return on_failure, before, spelling


def _debug(c: _Checker, spec: dict, steps: list | None) -> None:
    """The debug field in any spelling; ``steps`` are the Task's steps (raw) when known."""
    seed = spec.get("breakpoint")
    if seed is not None and c.expect(("spec", "breakpoint"), seed, dict, "a mapping"):
        c.known_fields(("spec", "breakpoint"), seed, {"onFailure"}, "breakpoint")
        if "onFailure" in seed and not isinstance(seed["onFailure"], bool):
            c.add(("spec", "breakpoint", "onFailure"), f"breakpoint.onFailure "
                  f"{yaml_text(seed['onFailure'])!r} must be true or false",
                  "write `onFailure: true`, or better `debug: {breakpoints: {onFailure: enabled}}`")
    debug = spec.get("debug")
    if debug is None or not c.expect(("spec", "debug"), debug, dict, "a mapping"):
        return
    c.known_fields(("spec", "debug"), debug, {"breakpoint", "breakpoints"}, "debug")
    old = debug.get("breakpoint")
    if old is not None and c.expect(("spec", "debug", "breakpoint"), old, list,
                                    'a list: ["onFailure"]'):
        for i, entry in enumerate(old):
            if entry != "onFailure":
                c.add(("spec", "debug", "breakpoint", i), f"breakpoint entry "
                      f"{yaml_text(entry)!r} is not valid: the only entry is \"onFailure\"",
                      'write `breakpoint: ["onFailure"]`, or `breakpoints: {onFailure: enabled, '
                      'beforeSteps: [<step>]}` to pause before a step')
    bps = debug.get("breakpoints")
    if bps is None:
        return
    path = ("spec", "debug", "breakpoints")
    if not c.expect(path, bps, dict, "a mapping: {onFailure: enabled}"):
        return
    c.known_fields(path, bps, {"onFailure", "beforeSteps"}, "breakpoints")
    on_failure = bps.get("onFailure")
    if on_failure is not None and on_failure != "enabled":
        written = c.written(path + ("onFailure",), on_failure)
        note = (f" (YAML reads {written} as the boolean {yaml_text(on_failure)})"
                if isinstance(on_failure, bool) and written.lower() not in ("true", "false")
                else "")
        c.add(path + ("onFailure",), f"onFailure {written!r} is not valid: "
              'the only value is "enabled"', f"write `onFailure: enabled`{note}")
    # without onFailure: current Tekton accepts it (tektoncd/pipeline#9719); v0.62 to v1.15
    # reject it, which the language server warns about (lsp/diagnostics.py)
    before = bps.get("beforeSteps")
    if before is None:
        return
    c.string_list(path + ("beforeSteps",), before, "beforeSteps")
    if steps is None:
        return
    known = [s.get("name") for s in steps if isinstance(s, dict) and isinstance(s.get("name"), str)]
    listing = ", ".join(known) if known else "(no step has a name)"
    seen: set[str] = set()
    for i, name in enumerate(before if isinstance(before, list) else []):
        if not isinstance(name, str):
            continue
        p = path + ("beforeSteps", i)
        if name in seen:
            c.add(p, f'step "{name}" is listed twice in beforeSteps', "remove the second one")
            continue
        seen.add(name)
        if name in known:
            continue
        m = _UNNAMED.match(name)
        if m and int(m.group(1)) < len(steps) and isinstance(steps[int(m.group(1))], dict) \
                and not steps[int(m.group(1))].get("name"):
            k = int(m.group(1))
            c.add(p, f"step {k} has no name, and Tekton cannot pause before an unnamed step",
                  f'name the step "unnamed-{k}" (its container keeps the name step-unnamed-{k})')
            continue
        near = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        c.add(p, f'beforeSteps names step "{name}", which the Task does not have',
              (f'did you mean "{near[0]}"? ' if near else "") + f"the steps are: {listing}")


def validate_taskrun(run: YamlDoc, task_doc: YamlDoc | None, task_base: Path = ("spec",), *,
                     header: bool = True, finder: Any = None) -> list[Problem]:
    """A TaskRun checked together with its Task (embedded: ``task_doc is run``)."""
    problems: list[Problem] = list(run.duplicate_keys) if header else []
    c = _Checker(run, problems)
    if header and not _header(c, run.data, ("TaskRun",)):
        return problems
    spec = run.data.get("spec")
    if not isinstance(spec, dict):
        return problems
    _taskrun_spec(c, spec)
    embedded = task_doc is run
    run_params = [p for p in spec.get("params") or [] if isinstance(p, dict)] \
        if isinstance(spec.get("params"), list) else []
    task_spec: Any = None
    if task_doc is not None:
        if embedded:
            task_spec = spec.get("taskSpec")
            tc = c
        else:
            problems.extend(t for t in task_doc.duplicate_keys if t not in problems)
            tc = _Checker(task_doc, problems)
            if not _header(tc, task_doc.data, ("Task",)):
                task_doc = None
            else:
                task_spec = task_doc.data.get("spec")
        if task_doc is not None:
            propagated = {p["name"]: p.get("value") for p in run_params
                          if isinstance(p.get("name"), str)} if embedded else {}
            bindings = [w.get("name") for w in spec.get("workspaces") or []
                        if isinstance(w, dict) and isinstance(w.get("name"), str)] \
                if embedded and isinstance(spec.get("workspaces"), list) else []
            _task_spec(tc, task_base, task_spec, propagated=propagated,
                       propagated_workspaces=bindings)
            if finder is not None:
                values = {p["name"]: p.get("value") for p in run_params
                          if isinstance(p.get("name"), str)}
                step_actions(tc, task_base, task_spec, finder, values)
    steps = task_spec.get("steps") if isinstance(task_spec, dict) else None
    _debug(c, spec, steps if isinstance(steps, list) else None)
    if isinstance(task_spec, dict):
        _run_params_against_task(c, run_params, task_spec, embedded, task_doc)
    return problems


def _run_params_against_task(c: _Checker, run_params: list[dict], task_spec: dict,
                             embedded: bool, task_doc: YamlDoc | None) -> None:
    """The TaskRun's params against the Task's, as Tekton's reconciler checks them: extra params
    are ignored (an embedded taskSpec receives them all), a value of the wrong type is refused
    unless it is a single ``$(...)`` reference, and an object param must end up with every key
    its properties declare, from the default and the run's value together."""
    specs = [p for p in task_spec.get("params") or [] if isinstance(p, dict)] \
        if isinstance(task_spec.get("params"), list) else []
    declared = {p.get("name"): declared_type(p) for p in specs}
    task_name = task_doc.data.get("metadata", {}).get("name") if task_doc and \
        isinstance(task_doc.data.get("metadata"), dict) else None
    owner = f'Task "{task_name}"' if task_name and not embedded else "the Task"
    given: dict[str, Any] = {}
    for i, p in enumerate(c.doc.data["spec"].get("params") or []):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            continue
        name = p["name"]
        given[name] = p.get("value")
        if name not in declared:
            if not embedded:
                names = ", ".join(str(n) for n in declared) or "none"
                c.warn(("spec", "params", i, "name"), f'TaskRun param "{name}" is not declared '
                       f"by {owner}; Tekton ignores it",
                       f"remove it, or declare it in the Task's params (declared: {names})")
            continue
        value = p.get("value")
        if value is None:
            continue
        vt, t = _param_value_type(value), declared[name]
        if vt == "string" and t != "string" and sole_reference(value) is not None:
            continue  # a whole array or object passed by reference, e.g. $(tasks.a.results.r[*])
        if vt != t:
            c.add(("spec", "params", i, "value"), f'TaskRun param "{name}" is {"an" if vt in ("array", "object") else "a"} '
                  f"{vt} but {owner} declares it as {t}",
                  {"string": 'write a string value: value: "..."',
                   "array": "write a list: value: [a, b]",
                   "object": "write a mapping: value: {key: value}"}[t])
    for j, p in enumerate(specs):
        name = p.get("name")
        if declared_type(p) != "object" or not isinstance(p.get("properties"), dict):
            continue
        keys = set(p["default"]) if isinstance(p.get("default"), dict) else set()
        value = given.get(name)
        if isinstance(value, dict):
            keys |= {str(k) for k in value}
        elif name in given or not isinstance(p.get("default"), dict):
            continue  # a reference, or no value at all (reported as a missing param at run time)
        missing = [str(k) for k in p["properties"] if str(k) not in keys]
        if missing:
            where = next((("spec", "params", i) for i, q in enumerate(c.doc.data["spec"].get(
                "params") or []) if isinstance(q, dict) and q.get("name") == name), ("spec",))
            c.add(where, f'object param "{name}" has no value for the key'
                  f"{'s' if len(missing) > 1 else ''} {', '.join(missing)} (neither the default "
                  "nor the TaskRun gives one)",
                  f"give {', '.join(missing)} in the TaskRun's value of \"{name}\" or in the "
                  "param's default")


# ---- the language server's entry point -------------------------------------------------------

def diagnose(text: str, file: str | None = None, *, docs: list[YamlDoc] | None = None,
             resolver: Any = None, directory: Any = None, search: bool = True,
             remote_severity: str | None = "error") -> list[Problem]:
    """Every problem in ``text`` (all its Tasks, TaskRuns, StepActions, Pipelines and
    PipelineRuns); never raises.

    YAML syntax errors become problems. ``docs``: the documents of ``text`` as
    ``load_documents(text, file)`` gives them, when the caller has them already (the language
    server's analysis); the text is then not parsed again.

    References (a TaskRun's taskRef, a step's ref) are found as the loader finds them (``tekton.finder``): in the text, then (with ``search``) next to
    ``file``, then through ``resolver``; a neighbour's own problems are included (callers that
    show one file filter on ``Problem.file``). A remote reference that cannot be resolved is a
    problem of ``remote_severity`` (None: not reported). Documents of other kinds (a ConfigMap next to a
    Task) are ignored, and so are the Tekton kinds tekton-debug does not read yet.
    """
    try:
        return _diagnose(text, file, docs, resolver, directory, search, remote_severity)
    except UserError as e:
        return list(e.problems)
    except Exception as e:  # noqa: BLE001 - the language server must never fail on input
        return [Problem(f"tekton-debug could not check this file: {type(e).__name__}: {e}", file,
                        1, 1, "report this as a bug, with the file")]


#: Tekton kinds that are not checked here (Pipelines: ``pipeline_loader.diagnose_pipeline``).
OTHER_TEKTON_KINDS = ("Pipeline", "PipelineRun", "CustomRun", "Run", "ClusterTask",
                      "PipelineResource", "Condition", "VerificationPolicy", "ResolutionRequest")


def _diagnose(text: str, file: str | None, docs: list[YamlDoc] | None, resolver: Any,
              directory: Any, search: bool, remote_severity: str | None) -> list[Problem]:
    from tekton_debug.tekton.finder import Finder

    if docs is None and directory is not None and file:
        docs = directory.parsed(file, text)
    if docs is None:
        docs = load_documents(text, file)
    if directory is not None and file:
        directory.known(file, docs)  # its neighbours need not read it again
    finder = Finder(docs, file if search else None, resolver=resolver, directory=directory,
                    report_missing=search, remote_severity=remote_severity)
    from tekton_debug.tekton.lint import lint_document

    problems: list[Problem] = []
    for d in docs:
        if isinstance(d.data, dict) and d.data.get("kind") in ("Pipeline", "PipelineRun") \
                and str(d.data.get("apiVersion") or "tekton.dev/").startswith("tekton.dev/"):
            from tekton_debug.tekton.pipeline_loader import diagnose_pipeline
            problems.extend(diagnose_pipeline(d, docs, file))
            continue
        problems.extend(check_document(d, finder)[0])
        if isinstance(d.data, dict) and d.data.get("kind") in KINDS + ("StepAction",):
            problems.extend(lint_document(d))
    return in_order(problems)


def check_document(d: YamlDoc, finder: Any) -> tuple[list[Problem], YamlDoc | None]:
    """The problems of one document with what it references, and the Task it runs (for a
    TaskRun with a taskRef: the Task found; else the document itself), None when not found."""
    if not isinstance(d.data, dict):
        return validate_document(d), None
    api, kind = d.data.get("apiVersion"), d.data.get("kind")
    if isinstance(api, str) and not api.startswith("tekton.dev/"):
        return [], None
    if kind not in KINDS + ("StepAction",) and not (isinstance(api, str) and
                                                    api.startswith("tekton.dev/")):
        return [], None
    if kind in OTHER_TEKTON_KINDS:
        return [], None
    if kind != "TaskRun":
        return validate_document(d, finder=finder), d
    spec = d.data.get("spec")
    ref = spec.get("taskRef") if isinstance(spec, dict) else None
    if not isinstance(ref, dict) or spec.get("taskSpec") is not None or (
            not isinstance(ref.get("name"), str) and ref.get("resolver") is None):
        return validate_document(d, finder=finder), d
    if ref.get("bundle") is not None and ref.get("resolver") is None:
        return validate_taskrun(d, None), None  # refused as Tekton refuses it
    run_params = {p["name"]: p.get("value") for p in spec.get("params") or []
                  if isinstance(p, dict) and isinstance(p.get("name"), str)} \
        if isinstance(spec.get("params"), list) else {}
    found = finder.find("Task", ref, d, ("spec", "taskRef"), run_params)
    if found.doc is None:
        problems = validate_taskrun(d, None)
        if found.problem is not None:
            problems.append(found.problem)
        return problems, None
    return validate_taskrun(d, found.doc, finder=finder), found.doc
