"""What Tekton would reject in a Pipeline or PipelineRun, as Problems: all of them at once, each at
its key or value with a fix (the same discipline as ``tekton.validation`` for Tasks).

``validate_pipeline(sources)`` checks a PipelineRun (when there is one), its Pipeline (embedded or
referenced) and every pipeline task with its Task: fields and shapes, task names, ``runAfter``,
result references (``$(tasks.X.results.Y)``: a known task that declares that result, never a
``finally`` task from the main graph), ``$(params.x)`` against the Pipeline's params, params a Task
needs and does not get (or gets and does not declare), workspaces not bound, ``when``, ``retries``,
``timeout``, ``onError``, ``matrix`` (arrays for its params, strings for ``include``, no param given
twice, at most Tekton's 256 combinations, results of a matrixed task used whole with ``[*]``),
array and object results (``[*]``, ``[N]``, ``.key`` as their type allows), and cycles (naming the
tasks in them).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any, Iterable

from tekton_debug.errors import Problem
from tekton_debug.tekton.matrix import MAX_COMBINATIONS, count
from tekton_debug.tekton.pipeline import TASKS_STATUS, result_selector, task_references
from tekton_debug.tekton.validation import (
    _DNS1123_LABEL, _Checker, _did_you_mean, _header, _named_list, _param_specs,
    _reference_span, _resolver_ref, _task_ref, _task_spec, _type_name, declared_type, suggest_name,
)
from tekton_debug.tekton.variables import param_ref, references, sole_reference
from tekton_debug.tekton.yamlpos import Path, YamlDoc

_PIPELINE_SPEC_FIELDS = {"tasks", "finally", "params", "workspaces", "results", "description",
                         "displayName"}
_PIPELINE_TASK_FIELDS = {"name", "displayName", "description", "taskRef", "taskSpec", "when",
                         "retries", "runAfter", "params", "matrix", "workspaces", "timeout",
                         "pipelineRef", "pipelineSpec", "onError"}
_PIPELINE_WORKSPACE_FIELDS = {"name", "description", "optional"}
_PIPELINE_RESULT_FIELDS = {"name", "type", "description", "value"}
_TASK_WORKSPACE_FIELDS = {"name", "workspace", "subPath"}
_WHEN_FIELDS = {"input", "operator", "values", "cel"}
_RUN_SPEC_FIELDS = {"pipelineRef", "pipelineSpec", "params", "status", "timeouts",
                    "taskRunTemplate", "workspaces", "taskRunSpecs", "managedBy"}
_RUN_SPEC_FIELDS_V1BETA1 = (_RUN_SPEC_FIELDS - {"taskRunTemplate"}) | {
    "serviceAccountName", "podTemplate", "timeout"}
_BINDING_FIELDS = {"name", "subPath", "volumeClaimTemplate", "persistentVolumeClaim", "emptyDir",
                   "configMap", "secret", "projected", "csi"}
_RUN_STATUSES = ("Cancelled", "CancelledRunFinally", "StoppedRunFinally", "PipelineRunPending")
_PIPELINE_CONTEXT = {"context.pipelineRun.name", "context.pipelineRun.namespace",
                     "context.pipelineRun.uid", "context.pipeline.name",
                     "context.pipelineTask.retries"}


@dataclass
class PipelineSources:
    """The documents of one run, as the loader found them."""

    pipeline_doc: YamlDoc | None  # None when the pipelineRef was not found
    pipeline_base: Path = ("spec",)  # ("spec", "pipelineSpec") when embedded in the run
    run_doc: YamlDoc | None = None  # the PipelineRun, when there is one
    # the Task each pipeline task's taskRef names, by the pipeline task's path
    task_docs: dict[Path, YamlDoc] = field(default_factory=dict)


def validate_pipeline(sources: PipelineSources, *, given_params: Iterable[str] = (),
                      bound_workspaces: Iterable[str] = (), launched: bool = True
                      ) -> list[Problem]:
    """Every problem of the run. ``given_params`` and ``bound_workspaces`` are what the user
    gives besides the file (``-p``, ``-w``, launch.json), so that those are not reported missing;
    with ``launched`` False (an editor, which does not know them) no param or workspace of the
    PipelineRun is reported missing."""
    problems: list[Problem] = []
    run, doc = sources.run_doc, sources.pipeline_doc
    run_spec: dict | None = None
    if run is not None:
        problems.extend(run.duplicate_keys)
        rc = _Checker(run, problems)
        if not _header(rc, run.data, ("PipelineRun",)):
            return problems
        run_spec = run.data["spec"]
        _run_spec(rc, run_spec)
    if doc is None:
        return problems
    pc = _Checker(doc, problems)
    base = sources.pipeline_base
    if doc is not run:
        problems.extend(p for p in doc.duplicate_keys if p not in problems)
        if not _header(pc, doc.data, ("Pipeline",)):
            return problems
    spec = _get(doc.data, base)
    if not pc.expect(base, spec, dict, "a mapping (the Pipeline spec)"):
        return problems
    checker = PipelineChecker(pc, base, spec, sources.task_docs)
    embedded = run is not None and doc is run and isinstance(run_spec, dict)
    if embedded:  # a PipelineRun's params and workspaces reach its embedded pipelineSpec
        checker.propagate(run_spec)  # type: ignore[arg-type]
    checker.check()
    if run is not None and isinstance(run_spec, dict):
        _run_against_pipeline(_Checker(run, problems), run_spec, spec, set(given_params),
                              set(bound_workspaces), launched, embedded)
    return problems


def _get(data: Any, path: Path) -> Any:
    for p in path:
        if not isinstance(data, dict):
            return None
        data = data.get(p)
    return data


# ---- the PipelineRun ----------------------------------------------------------------------------

def _run_spec(c: _Checker, spec: dict) -> None:
    fields = _RUN_SPEC_FIELDS_V1BETA1 if c.api_version == "tekton.dev/v1beta1" \
        else _RUN_SPEC_FIELDS
    c.known_fields(("spec",), spec, fields, "a PipelineRun spec")
    has_ref, has_spec = spec.get("pipelineRef") is not None, spec.get("pipelineSpec") is not None
    if not has_ref and not has_spec:
        c.add(("spec",), "the PipelineRun has neither pipelineRef nor pipelineSpec",
              "add `pipelineRef: {name: my-pipeline}` or embed the Pipeline under "
              "`pipelineSpec:`", key=True)
    elif has_ref and has_spec:
        c.add(("spec", "pipelineRef"), "the PipelineRun has both pipelineRef and pipelineSpec",
              "keep only one of them", key=True)
    if has_ref:
        ref = spec["pipelineRef"]
        path = ("spec", "pipelineRef")
        if c.expect(path, ref, dict, "a mapping with the Pipeline's name"):
            c.known_fields(path, ref, {"name", "apiVersion", "bundle", "resolver", "params"},
                           "a pipelineRef")
            if ref.get("bundle") is not None:
                c.add(path + ("bundle",), "pipelineRef.bundle was removed from Tekton",
                      "use the bundles resolver: `resolver: bundles` with params bundle, name "
                      "and kind: pipeline", key=True)
            elif ref.get("resolver") is not None:
                _resolver_ref(c, path, ref)
            elif not isinstance(ref.get("name"), str):
                c.add(path, "pipelineRef has no name", "add `name: <the Pipeline's metadata.name>`")
    for i, p in _named_list(c, ("spec", "params"), spec.get("params"), "param", {"name", "value"}):
        if p.get("value") is None:
            c.add(("spec", "params", i), f'PipelineRun param "{p.get("name")}" has no value',
                  "add `value: ...` (a string, a list or a mapping)")
    _named_list(c, ("spec", "workspaces"), spec.get("workspaces"), "workspace binding",
                _BINDING_FIELDS)
    timeouts = spec.get("timeouts")
    if timeouts is not None and c.expect(("spec", "timeouts"), timeouts, dict, "a mapping"):
        c.known_fields(("spec", "timeouts"), timeouts, {"pipeline", "tasks", "finally"},
                       "timeouts")
        for k in ("pipeline", "tasks", "finally"):
            if timeouts.get(k) is not None:
                c.duration(("spec", "timeouts", k), timeouts[k], f"timeouts.{k}")
    if spec.get("timeout") is not None:
        c.duration(("spec", "timeout"), spec["timeout"], "the PipelineRun timeout")
    if spec.get("status") is not None and spec["status"] not in _RUN_STATUSES:
        c.add(("spec", "status"), f"status {spec['status']!r} is not valid",
              f"remove it (or write one of {', '.join(_RUN_STATUSES)})")


def _run_against_pipeline(c: _Checker, run_spec: dict, spec: dict, given: set[str],
                          bound: set[str], launched: bool, embedded: bool = False) -> None:
    """As Tekton: extra params are ignored (an embedded pipelineSpec receives them, and the
    workspaces the run binds, all)."""
    declared = {p.get("name"): p for p in spec.get("params") or [] if isinstance(p, dict)} \
        if isinstance(spec.get("params"), list) else {}
    run_params = run_spec.get("params") if isinstance(run_spec.get("params"), list) else []
    names = set()
    for i, p in enumerate(run_params):
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            continue
        names.add(p["name"])
        if p["name"] not in declared and not embedded:
            listing = ", ".join(str(n) for n in declared) or "none"
            c.warn(("spec", "params", i, "name"), f'PipelineRun param "{p["name"]}" is not '
                   f"declared by the Pipeline; Tekton ignores it",
                   _did_you_mean(p["name"], declared, "params")
                   or f"remove it, or declare it in the Pipeline's params (declared: {listing})")
    missing = [n for n, p in declared.items() if isinstance(n, str) and p.get("default") is None
               and n not in names and n not in given and launched]
    if missing:
        c.add(("spec",), f"param{'s' if len(missing) > 1 else ''} "
              f"{', '.join(repr(n) for n in missing)} of the Pipeline "
              f"{'have' if len(missing) > 1 else 'has'} no value and no default",
              f"add `params: [{{name: {missing[0]}, value: ...}}]` to the PipelineRun, or give "
              f"`-p {missing[0]}=VALUE`", key=True)
    workspaces = [w for w in spec.get("workspaces") or [] if isinstance(w, dict)] \
        if isinstance(spec.get("workspaces"), list) else []
    run_ws = {w.get("name") for w in run_spec.get("workspaces") or [] if isinstance(w, dict)} \
        if isinstance(run_spec.get("workspaces"), list) else set()
    for w in workspaces:
        name = w.get("name")
        if isinstance(name, str) and not w.get("optional") and name not in run_ws \
                and name not in bound and launched:
            c.add(("spec",), f'workspace "{name}" of the Pipeline is not bound by the PipelineRun',
                  f"add `workspaces: [{{name: {name}, emptyDir: {{}}}}]` (or a "
                  f"persistentVolumeClaim), or give `-w {name}=DIR`", key=True)
    for i, w in enumerate(run_spec.get("workspaces") or [] if not embedded else []):
        if isinstance(w, dict) and isinstance(w.get("name"), str) and \
                w["name"] not in {x.get("name") for x in workspaces}:
            c.add(("spec", "workspaces", i, "name"), f'workspace "{w["name"]}" is not declared '
                  "by the Pipeline", _did_you_mean(w["name"], {x.get("name") for x in workspaces},
                                                   "workspaces") or "remove it")


# ---- the Pipeline -------------------------------------------------------------------------------

class PipelineChecker:
    """One Pipeline spec at ``base`` in ``c.doc``, with the Tasks its taskRefs name."""

    def __init__(self, c: _Checker, base: Path, spec: dict, task_docs: dict[Path, YamlDoc]) -> None:
        self.c, self.base, self.spec, self.task_docs = c, base, spec, task_docs
        self.params: dict[str, str] = {}
        self.properties: dict[str, Any] = {}
        self.workspaces: set[str] = set()
        self.tasks: dict[str, tuple[Path, dict]] = {}  # main graph
        self.finally_tasks: dict[str, tuple[Path, dict]] = {}
        self.results: dict[str, set[str] | None] = {}  # task -> declared results (None: unknown)
        self.result_specs: dict[str, dict[str, dict]] = {}  # task -> its Task's results by name
        self.matrixed: set[str] = set()  # tasks with a matrix (their results are arrays)
        self.task_params: dict[str, dict[str, dict]] = {}  # task -> its Task's params by name
        self._checked: set[int] = set()  # Task documents already checked
        self.propagated: dict[str, Any] = {}  # a PipelineRun's params (embedded pipelineSpec)

    def propagate(self, run_spec: dict) -> None:
        """The params and workspaces of the PipelineRun that embeds this spec, known to every
        task as if declared (Tekton's propagation)."""
        for p in run_spec.get("params") or [] if isinstance(run_spec.get("params"), list) else []:
            if isinstance(p, dict) and isinstance(p.get("name"), str):
                self.propagated[p["name"]] = p.get("value")
        for w in run_spec.get("workspaces") or [] \
                if isinstance(run_spec.get("workspaces"), list) else []:
            if isinstance(w, dict) and isinstance(w.get("name"), str):
                self.workspaces.add(w["name"])

    def check(self) -> None:
        c, base, spec = self.c, self.base, self.spec
        c.known_fields(base, spec, _PIPELINE_SPEC_FIELDS, "a Pipeline spec")
        for _, p in _param_specs(c, base + ("params",), spec.get("params")):
            if isinstance(p.get("name"), str):
                self.params[p["name"]] = declared_type(p)
                if isinstance(p.get("properties"), dict):
                    self.properties[p["name"]] = p["properties"]
        for name, value in self.propagated.items():
            if name not in self.params:
                self.params[name] = "array" if isinstance(value, list) else \
                    "object" if isinstance(value, dict) else "string"
                if isinstance(value, dict):
                    self.properties[name] = {str(k): {"type": "string"} for k in value}
        for _, w in _named_list(c, base + ("workspaces",), spec.get("workspaces"), "workspace",
                                _PIPELINE_WORKSPACE_FIELDS):
            if isinstance(w.get("name"), str):
                self.workspaces.add(w["name"])
        entries = self._entries("tasks", required=True) + self._entries("finally")
        seen: set[str] = set()
        for path, pt in entries:
            name = pt.get("name")
            if name is None:
                c.add(path, f"pipeline task {path[-1]} has no name", "add `name: my-task` to it")
                continue
            if not isinstance(name, str) or not _DNS1123_LABEL.match(name):
                c.add(path + ("name",), f"pipeline task name {name!r} is invalid: use lowercase "
                      "letters, digits and '-'", f'rename it, e.g. "{suggest_name(name)}"')
                continue
            if name in seen:
                c.add(path + ("name",), f'pipeline task name "{name}" is used twice',
                      "give each task (in tasks and finally) its own name")
                continue
            seen.add(name)
            (self.finally_tasks if path[-2] == "finally" else self.tasks)[name] = (path, pt)
            self.results[name], self.task_params[name] = self._task(path, pt)
        for name, (path, pt) in {**self.tasks, **self.finally_tasks}.items():
            self._references(name, path, pt)
        self._cycles()
        self._pipeline_results()

    def _entries(self, key: str, *, required: bool = False) -> list[tuple[Path, dict]]:
        c, path, value = self.c, self.base + (key,), self.spec.get(key)
        if value is None:
            if required:
                c.add(self.base, "the Pipeline has no tasks", "add `tasks:` with at least one "
                      "task (`- name: build` with a taskRef or taskSpec)", key=True)
            return []
        if not c.expect(path, value, list, "a list of pipeline tasks"):
            return []
        if required and not value:
            c.add(path, "the Pipeline has no tasks", "add at least one task under tasks")
        out = []
        for i, pt in enumerate(value):
            if c.expect(path + (i,), pt, dict, "a mapping (a pipeline task)"):
                out.append((path + (i,), pt))
        return out

    # ---- one pipeline task -------------------------------------------------------------------

    def _task(self, path: Path, pt: dict) -> tuple[set[str] | None, dict[str, dict]]:
        """Check the task's own fields and its Task; its Task's results and params."""
        c = self.c
        c.known_fields(path, pt, _PIPELINE_TASK_FIELDS, "a pipeline task")
        name = pt["name"]
        for f in ("pipelineRef", "pipelineSpec"):
            if pt.get(f) is not None:
                c.add(path + (f,), f"{f} in a pipeline task (Pipelines in Pipelines, an alpha "
                      "feature of Tekton) is not supported yet",
                      "put the inner Pipeline's tasks in this Pipeline", key=True)
        has_ref, has_spec = pt.get("taskRef") is not None, pt.get("taskSpec") is not None
        task_spec: Any = None
        task_checker = c
        spec_base = path + ("taskSpec",)
        if not has_ref and not has_spec and pt.get("pipelineRef") is None and \
                pt.get("pipelineSpec") is None:
            c.add(path, f'task "{name}" has neither taskRef nor taskSpec',
                  "add `taskRef: {name: my-task}` or write the Task inline under `taskSpec:`")
        elif has_ref and has_spec:
            c.add(path + ("taskRef",), f'task "{name}" has both taskRef and taskSpec',
                  "keep only one of them", key=True)
        elif has_ref:
            _task_ref(c, pt["taskRef"], path + ("taskRef",))
            task_doc = self.task_docs.get(path)
            if task_doc is not None:
                problems = c.problems
                problems.extend(p for p in task_doc.duplicate_keys if p not in problems)
                task_checker = _Checker(task_doc, problems)
                if _header(task_checker, task_doc.data, ("Task", "ClusterTask")):
                    task_spec = task_doc.data["spec"]
                    spec_base = ("spec",)
        elif has_spec:
            task_spec = pt["taskSpec"]
            # the Pipeline's params (typed, objects with their keys) and the task's own
            propagated: dict[str, Any] = {
                n: [] if t == "array" else
                {str(k): "" for k in self.properties.get(n) or {}} if t == "object" else ""
                for n, t in self.params.items()}
            for p in pt.get("params") or [] if isinstance(pt.get("params"), list) else []:
                if isinstance(p, dict) and isinstance(p.get("name"), str):
                    old, value = propagated.get(p["name"]), p.get("value")
                    propagated[p["name"]] = {**old, **value} if isinstance(old, dict) and \
                        isinstance(value, dict) else value  # objects merge key by key
            if c.expect(spec_base, task_spec, dict, "a mapping (a Task spec)"):
                spec_copy = {k: v for k, v in task_spec.items()
                             if k not in ("metadata", "apiVersion", "kind", "spec")}
                _task_spec(c, spec_base, spec_copy, propagated=propagated,
                           propagated_workspaces=self.workspaces)
            else:
                task_spec = None
        if task_spec is not None and has_ref and task_checker is not c and \
                id(task_checker.doc) not in self._checked:
            self._checked.add(id(task_checker.doc))  # a Task used by several tasks: once
            _task_spec(task_checker, spec_base, task_spec)
        results: set[str] | None = None
        params: dict[str, dict] = {}
        if isinstance(task_spec, dict):
            results = {r.get("name") for r in task_spec.get("results") or []
                       if isinstance(r, dict)} if isinstance(task_spec.get("results"), list) \
                else set()
            self.result_specs[name] = {
                r["name"]: r for r in task_spec.get("results") or []
                if isinstance(r, dict) and isinstance(r.get("name"), str)} \
                if isinstance(task_spec.get("results"), list) else {}
            params = {p["name"]: p for p in task_spec.get("params") or []
                      if isinstance(p, dict) and isinstance(p.get("name"), str)} \
                if isinstance(task_spec.get("params"), list) else {}
        self._params(path, pt, task_spec if isinstance(task_spec, dict) else None, params,
                     embedded=has_spec)
        if pt.get("matrix") is not None:
            self._matrix(path, pt, params if isinstance(task_spec, dict) else None)
        self._workspaces(path, pt, task_spec if isinstance(task_spec, dict) else None)
        self._scalars(path, pt)
        return results, params

    def _params(self, path: Path, pt: dict, task_spec: dict | None, declared: dict[str, dict],
                *, embedded: bool) -> None:
        c, name = self.c, pt["name"]
        given: set[str] = set()
        for i, p in _named_list(c, path + ("params",), pt.get("params"), "param",
                                {"name", "value"}):
            pname = p.get("name")
            if not isinstance(pname, str):
                continue
            given.add(pname)
            if "value" not in p or p["value"] is None:
                c.add(path + ("params", i), f'task "{name}": param "{pname}" has no value',
                      "add `value: ...` (a string, a list or a mapping)")
            if task_spec is not None and not embedded and pname not in declared:
                listing = ", ".join(declared) or "none"
                c.warn(path + ("params", i, "name"), f'task "{name}": param "{pname}" is not '
                       f"declared by its Task; Tekton ignores it",
                       _did_you_mean(pname, declared, "params") or
                       f"remove it (the Task's params: {listing})")
        if task_spec is None:
            return
        matrix = pt.get("matrix") if isinstance(pt.get("matrix"), dict) else {}
        for entry in [matrix] + [i for i in matrix.get("include") or [] if isinstance(i, dict)] \
                if isinstance(matrix.get("include") or [], list) else [matrix]:
            for p in entry.get("params") or [] if isinstance(entry.get("params"), list) else []:
                if isinstance(p, dict) and isinstance(p.get("name"), str):
                    given.add(p["name"])  # a matrix gives it (matrix itself is refused above)
        missing = [n for n, p in declared.items() if p.get("default") is None and n not in given
                   and not (embedded and n in self.params)]
        if missing:
            first = missing[0]
            c.add(path + ("name",), f'task "{name}" does not give its Task the param'
                  f"{'s' if len(missing) > 1 else ''} {', '.join(repr(m) for m in missing)}, "
                  f"which {'have' if len(missing) > 1 else 'has'} no default",
                  f"add `params: [{{name: {first}, value: $(params.{first})}}]` to the task "
                  "(or a default to the Task's param)")

    def _matrix(self, path: Path, pt: dict, declared: dict[str, dict] | None) -> None:
        """``matrix``: its params are arrays (or a whole array by reference), its ``include``
        params strings; no param twice, nor in both ``params`` and the matrix; its Task takes
        each as a string; at most Tekton's ``MAX_COMBINATIONS`` combinations."""
        c, name, mpath = self.c, pt["name"], path + ("matrix",)
        m = pt["matrix"]
        if not c.expect(mpath, m, dict, "a mapping (params, include)"):
            return
        c.known_fields(mpath, m, {"params", "include"}, "matrix")
        counted: list[tuple[str, list[str] | None]] = []
        where: dict[str, Path] = {}  # each matrix param's name, where it first stands
        for i, p in _named_list(c, mpath + ("params",), m.get("params"), "matrix param",
                                {"name", "value"}):
            pname, value = p.get("name"), p.get("value")
            if not isinstance(pname, str):
                continue
            where.setdefault(pname, mpath + ("params", i, "name"))
            if isinstance(value, list):
                counted.append((pname, c.string_list(mpath + ("params", i, "value"), value,
                                                     "matrix values")))
            elif isinstance(value, str) and self._whole_array(value):
                counted.append((pname, None))
            else:
                c.add(mpath + ("params", i, "value") if "value" in p else mpath + ("params", i),
                      f'task "{name}": matrix param "{pname}" must be an array (one TaskRun '
                      f"per value), not {_type_name(value) if not isinstance(value, str) else repr(value)}",
                      f"write `value: [a, b]`, or a whole array: `value: $(params.<array>[*])` "
                      "or `$(tasks.<task>.results.<array>[*])`")
        includes: list[dict[str, str]] = []
        entries = m.get("include")
        if entries is not None and c.expect(mpath + ("include",), entries, list,
                                            "a list of combinations (name, params)"):
            for j, inc in enumerate(entries):
                ipath = mpath + ("include", j)
                if not c.expect(ipath, inc, dict, "a mapping (name, params)"):
                    continue
                c.known_fields(ipath, inc, {"name", "params"}, "a matrix include entry")
                combination: dict[str, str] = {}
                for k, p in _named_list(c, ipath + ("params",), inc.get("params"),
                                        "matrix include param", {"name", "value"}):
                    pname, value = p.get("name"), p.get("value")
                    if not isinstance(pname, str):
                        continue
                    where.setdefault(pname, ipath + ("params", k, "name"))
                    if isinstance(value, str):
                        combination[pname] = value
                    else:
                        c.add(ipath + ("params", k, "value") if "value" in p else
                              ipath + ("params", k),
                              f'task "{name}": matrix include param "{pname}" must be a string, '
                              f"not {_type_name(value)}", "write one value: `value: linux`")
                includes.append(combination)
        if counted or includes:
            self.matrixed.add(name)
        for i, p in enumerate(pt.get("params") or [] if isinstance(pt.get("params"), list)
                              else []):
            if isinstance(p, dict) and p.get("name") in where:
                c.add(path + ("params", i, "name"), f'task "{name}": param "{p["name"]}" is '
                      "given both in params and in matrix", "keep it in one of them")
        for pname, ppath in where.items():
            spec = (declared or {}).get(pname)
            if declared is not None and spec is None and not pt.get("taskSpec"):
                c.warn(ppath, f'task "{name}": matrix param "{pname}" is not declared by its '
                       "Task; Tekton ignores it", _did_you_mean(pname, declared, "params") or
                       f"remove it (the Task's params: {', '.join(declared) or 'none'})")
            elif spec is not None and declared_type(spec) != "string":
                c.add(ppath, f'task "{name}": matrix param "{pname}" gives each TaskRun one '
                      f"string, but its Task declares it as {declared_type(spec)}",
                      f'declare "{pname}" as a string param in the Task, or pass the whole '
                      "value under params instead of matrix")
        total = count(counted, includes)
        if total > MAX_COMBINATIONS:
            c.add(mpath, f'task "{name}": its matrix makes {total} combinations, more than '
                  f"Tekton's limit of {MAX_COMBINATIONS} TaskRuns", "use fewer values (or split "
                  "the task); a cluster raises the limit with default-max-matrix-combinations-"
                  "count in its config-defaults ConfigMap", key=True)

    def _whole_array(self, text: str) -> bool:
        """``text`` is exactly one reference to a whole array: an array param, or a result
        with ``[*]`` (its type is checked with the other references)."""
        sole = sole_reference(text)
        if sole is None:
            return False
        ref = sole.name
        if ref.startswith("params."):
            p = param_ref(ref, self.params)
            return p is not None and self.params.get(p.name) == "array" and p.index is None \
                and p.key is None
        return ref.startswith("tasks.") and ".results." in ref and ref.endswith("[*]")

    def _workspaces(self, path: Path, pt: dict, task_spec: dict | None) -> None:
        c, name = self.c, pt["name"]
        declared = {w.get("name"): w for w in (task_spec or {}).get("workspaces") or []
                    if isinstance(w, dict)} \
            if isinstance((task_spec or {}).get("workspaces"), list) else {}
        bound: set[str] = set()
        for i, w in _named_list(c, path + ("workspaces",), pt.get("workspaces"),
                                "workspace binding", _TASK_WORKSPACE_FIELDS):
            wname = w.get("name")
            if not isinstance(wname, str):
                continue
            bound.add(wname)
            target = w.get("workspace", wname)
            if task_spec is not None and wname not in declared:
                c.add(path + ("workspaces", i, "name"), f'task "{name}" binds workspace '
                      f'"{wname}", which its Task does not declare',
                      _did_you_mean(wname, declared, "workspaces") or "remove the binding")
            if not isinstance(target, str) or target not in self.workspaces:
                listing = ", ".join(sorted(self.workspaces)) or "none"
                c.add(path + ("workspaces", i, "workspace" if "workspace" in w else "name"),
                      f'task "{name}" binds workspace "{wname}" to "{target}", which the '
                      f"Pipeline does not declare (declared: {listing})",
                      f"declare it under the Pipeline's workspaces: `- name: {target}`"
                      if not self.workspaces else
                      _did_you_mean(str(target), self.workspaces, "workspaces") or
                      "bind it to one of the Pipeline's workspaces")
            if w.get("subPath") is not None:
                c.expect(path + ("workspaces", i, "subPath"), w["subPath"], str, "a string")
        for wname, w in declared.items():
            if isinstance(wname, str) and not w.get("optional") and wname not in bound:
                c.add(path + ("name",), f'task "{name}": its Task\'s workspace "{wname}" is not '
                      "bound", f"add `workspaces: [{{name: {wname}, workspace: <a Pipeline "
                      "workspace>}]` to the task")

    def _scalars(self, path: Path, pt: dict) -> None:
        c, name = self.c, pt["name"]
        if pt.get("retries") is not None:
            r = pt["retries"]
            if not isinstance(r, int) or isinstance(r, bool) or r < 0:
                c.add(path + ("retries",), f'task "{name}": retries must be a whole number >= 0, '
                      f"not {_type_name(r) if not isinstance(r, int) else r}", "write e.g. `retries: 2`")
        if pt.get("timeout") is not None:
            c.duration(path + ("timeout",), pt["timeout"], f'task "{name}" timeout')
        if pt.get("onError") is not None and pt["onError"] not in ("continue", "stopAndFail"):
            c.add(path + ("onError",), f'task "{name}": onError {pt["onError"]!r} is not valid',
                  'write "continue" or "stopAndFail"')
        is_finally = path[-2] == "finally"
        if pt.get("runAfter") is not None:
            if is_finally:
                c.add(path + ("runAfter",), f'finally task "{name}" cannot have runAfter: '
                      "finally tasks run after every task ends", "remove runAfter", key=True)
            else:
                c.string_list(path + ("runAfter",), pt["runAfter"], "runAfter")
        when = pt.get("when")
        if when is not None and c.expect(path + ("when",), when, list, "a list of expressions"):
            for i, w in enumerate(when):
                wpath = path + ("when", i)
                if not c.expect(wpath, w, dict, "a mapping (input, operator, values)"):
                    continue
                c.known_fields(wpath, w, _WHEN_FIELDS, "a when expression")
                if w.get("cel") is not None:
                    self._cel(wpath, w)
                    continue
                if not isinstance(w.get("input"), str):
                    c.add(wpath, "the when expression has no input (a string)",
                          'add `input: "$(params.x)"`', key=True)
                if w.get("operator") not in ("in", "notin"):
                    c.add(wpath + ("operator",) if "operator" in w else wpath,
                          f"when operator {w.get('operator')!r} is not valid",
                          'write `operator: in` or `operator: notin`')
                values = w.get("values")
                if not isinstance(values, list) or not values:
                    c.add(wpath + ("values",) if "values" in w else wpath,
                          "the when expression has no values", "add `values: [a, b]`")
                else:
                    c.string_list(wpath + ("values",), values, "when values")

    def _cel(self, wpath: Path, w: dict) -> None:
        """A CEL when expression: alone in its entry, and CEL as written (Tekton's webhook
        compiles it before substituting references)."""
        from tekton_debug.tekton.cel import compile_error

        c = self.c
        if not c.expect(wpath + ("cel",), w["cel"], str, "a string (a CEL expression)"):
            return
        if any(w.get(k) is not None for k in ("input", "operator", "values")):
            c.add(wpath + ("cel",), "cel and input / operator / values cannot be set in one "
                  "when expression", "keep the CEL expression, or write input, operator and "
                  "values in a when expression of their own", key=True)
        error = compile_error(w["cel"])
        if error:
            c.add(wpath + ("cel",), f"invalid CEL expression: {error}",
                  "a Tekton variable goes inside a CEL string: '$(params.branch)' == 'main'")

    # ---- references ---------------------------------------------------------------------------

    def _references(self, name: str, path: Path, pt: dict) -> None:
        c = self.c
        is_finally = name in self.finally_tasks
        run_after = pt.get("runAfter") if isinstance(pt.get("runAfter"), list) else []
        for i, other in enumerate(run_after):
            if not isinstance(other, str) or is_finally:
                continue
            if other == name:
                c.add(path + ("runAfter", i), f'task "{name}" runs after itself',
                      "remove it from its own runAfter")
            elif other in self.finally_tasks:
                c.add(path + ("runAfter", i), f'task "{name}" runs after finally task '
                      f'"{other}": finally tasks run only after every task has ended',
                      "remove it from runAfter")
            elif other not in self.tasks:
                c.add(path + ("runAfter", i), f'runAfter names task "{other}", which the '
                      "Pipeline does not have", _task_fix(other, self.tasks))
        for sub, text in _strings_at(pt):
            sole = sole_reference(text)
            for ref in references(text):
                problem = self._reference_problem(name, ref.name, is_finally, whole=ref == sole)
                if problem:
                    message, fix = problem
                    c.add(path + sub, message.replace("{ref}", ref.text), fix,
                          span=_reference_span(c.doc, path + sub, text, ref))

    def _reference_problem(self, task: str, ref: str, is_finally: bool, *,
                           whole: bool = True) -> tuple[str, str] | None:
        if ref.startswith("params."):
            p = param_ref(ref, self.params)
            if p is not None and p.name not in self.params:
                return (f'{{ref}} in task "{task}" uses param "{p.name}", which the Pipeline '
                        "does not declare", _did_you_mean(p.name, self.params, "params") or
                        f"declare it under the Pipeline's params: `- name: {p.name}`")
            if p is not None and p.key is not None and self.params.get(p.name) == "object" and \
                    p.key not in (self.properties.get(p.name) or {}):
                return (f'{{ref}}: object param "{p.name}" has no key "{p.key}"',
                        f'add "{p.key}" to the properties of param "{p.name}"')
            return None
        if ref == TASKS_STATUS:
            if not is_finally:
                return ("{ref} is only known in finally tasks",
                        "move the task under finally, or use $(tasks.<name>.status) there")
            return None
        if ref.startswith("context.pipeline") and ref not in _PIPELINE_CONTEXT:
            return ("{ref} is not a Tekton context variable",
                    "use one of: " + ", ".join(f"$({v})" for v in sorted(_PIPELINE_CONTEXT)))
        refs = list(task_references(f"$({ref})"))
        if not refs:
            return None
        r = refs[0]
        known = self.tasks if not is_finally else {**self.tasks}
        if r.task == task:
            return ('task "{0}" uses its own result or status ({{ref}})'.format(task),
                    "use the result inside the Task as $(results.<name>.path), or remove it")
        if r.task in self.finally_tasks:
            return (f'{{ref}} in task "{task}" refers to finally task "{r.task}": '
                    + ("finally tasks cannot use each other's results"
                       if is_finally else "finally tasks run after every task has ended"),
                    "refer to a task under tasks")
        if r.task not in known:
            return (f'{{ref}} in task "{task}" refers to task "{r.task}", which the Pipeline '
                    "does not have", _task_fix(r.task, known))
        if r.what in ("status", "reason") and not is_finally:
            return ("{ref} is only known in finally tasks",
                    "move the task under finally, or order it with runAfter and use a result")
        if r.what in ("results", "matrix") and r.result is not None:
            declared = self.results.get(r.task)
            if declared is not None and r.result not in declared:
                return (f'{{ref}} in task "{task}": task "{r.task}" does not declare result '
                        f'"{r.result}"', _did_you_mean(str(r.result), declared, "results") or
                        f'declare it in the Task of "{r.task}": results: [{{name: {r.result}}}]')
        if r.what == "matrix" and r.task not in self.matrixed:
            return (f'{{ref}} in task "{task}": task "{r.task}" has no matrix',
                    "use it for a task with a matrix, or remove it")
        if r.what == "results":
            return self._result_use(r, whole)
        return None

    def _result_use(self, r, whole: bool) -> tuple[str, str] | None:
        """A result taken as its type allows: a string whole; an array whole (``[*]``, as the
        whole value of a param) or by index; an object whole or by key. A matrixed task's
        results are arrays of its TaskRuns' strings, taken whole only (as Tekton allows)."""
        sel = result_selector(r)
        spec = self.result_specs.get(r.task, {}).get(str(r.result))
        kind = declared_type(spec) if spec is not None else None
        base = f"$(tasks.{r.task}.results.{r.result}"
        if r.task in self.matrixed:
            if kind not in (None, "string"):
                return (f'{{ref}}: result "{r.result}" of matrixed task "{r.task}" is an '
                        f"{kind}; Tekton gathers only string results of a matrix",
                        f'declare "{r.result}" as a string result')
            if sel != "[*]":
                return (f'{{ref}}: task "{r.task}" is a matrix; its result "{r.result}" is an '
                        "array of every TaskRun's value, used whole only",
                        f"write {base}[*]) as the whole value of an array param")
        elif kind is None:
            return None
        elif sel == "" and kind == "string":
            return None
        elif sel == "[*]" and kind == "string" or sel.startswith("[") and sel != "[*]" and \
                kind != "array" or sel.startswith(".") and kind != "object":
            return (f'{{ref}}: result "{r.result}" of task "{r.task}" is {_a(kind)}',
                    f"use {base})" if kind == "string" else
                    f"use {base}[*]) for the whole {kind}, or "
                    + (f"{base}[0]) for one element" if kind == "array" else
                       f"{base}.<key>) for one key"))
        elif sel.startswith(".") and isinstance(spec.get("properties"), dict) and \
                sel[1:] not in spec["properties"]:
            return (f'{{ref}}: object result "{r.result}" of task "{r.task}" has no key '
                    f'"{sel[1:]}"', _did_you_mean(sel[1:], spec["properties"], "keys") or
                    f'add "{sel[1:]}" to the properties of result "{r.result}"')
        if sel in ("", "[*]") and not whole:
            return (f'{{ref}}: the whole {kind or "array"} result "{r.result}" of task '
                    f'"{r.task}" cannot be used inside a string',
                    "make it the whole value of an array param, or use one element: "
                    + (f"{base}.<key>)" if kind == "object" else f"{base}[0])"))
        return None

    def _cycles(self) -> None:
        deps: dict[str, list[str]] = {}
        for name, (_, pt) in self.tasks.items():
            run_after = [d for d in pt.get("runAfter") or [] if isinstance(d, str)] \
                if isinstance(pt.get("runAfter"), list) else []
            refs = [r.task for r in task_references(_values(pt)) if r.what == "results"]
            deps[name] = [d for d in dict.fromkeys(run_after + refs) if d in self.tasks
                          and d != name]
        reported: set[frozenset] = set()
        state: dict[str, int] = {}  # 1: on the path, 2: done
        stack: list[str] = []

        def visit(n: str) -> None:
            state[n] = 1
            stack.append(n)
            for d in deps[n]:
                if state.get(d) == 1:
                    cycle = stack[stack.index(d):] + [d]
                    key = frozenset(cycle)
                    if key not in reported:
                        reported.add(key)
                        first = min(cycle[:-1], key=lambda t: list(self.tasks).index(t))
                        path = self.tasks[first][0]
                        start = cycle.index(first)
                        named = cycle[start:-1] + cycle[:start] + [first]
                        self.c.add(path + ("name",), "tasks depend on each other in a cycle: "
                                   + " -> ".join(named), "remove one of these dependencies "
                                   "(a runAfter entry or a $(tasks.X.results.Y) reference)")
                elif state.get(d) is None:
                    visit(d)
            stack.pop()
            state[n] = 2

        for n in deps:
            if n not in state:
                visit(n)

    def _pipeline_results(self) -> None:
        c = self.c
        for i, r in _named_list(c, self.base + ("results",), self.spec.get("results"), "result",
                                _PIPELINE_RESULT_FIELDS):
            path = self.base + ("results", i)
            if r.get("value") is None:
                c.add(path, f'Pipeline result "{r.get("name")}" has no value',
                      "add `value: $(tasks.<task>.results.<result>)`")
                continue
            for sub, text in _value_strings(r["value"], ("value",)):
                for ref in references(text):
                    refs = list(task_references(ref.text))
                    if not refs or refs[0].what != "results":
                        continue
                    t = refs[0]
                    all_tasks = {**self.tasks, **self.finally_tasks}
                    if t.task not in all_tasks:
                        c.add(path + sub, f'Pipeline result "{r.get("name")}" refers to task '
                              f'"{t.task}", which the Pipeline does not have',
                              _task_fix(t.task, all_tasks),
                              span=_reference_span(c.doc, path + sub, text, ref))
                    elif self.results.get(t.task) is not None and \
                            t.result not in self.results[t.task]:  # type: ignore[operator]
                        c.add(path + sub, f'Pipeline result "{r.get("name")}": task "{t.task}" '
                              f'does not declare result "{t.result}"',
                              _did_you_mean(str(t.result), self.results[t.task] or set(),
                                            "results") or "declare it in that Task's results",
                              span=_reference_span(c.doc, path + sub, text, ref))


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _task_fix(name: str, known: Iterable[str]) -> str:
    names = [str(k) for k in known]
    near = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if near:
        return f'did you mean "{near[0]}"? (the tasks: {", ".join(names)})'
    return f"use one of the tasks: {', '.join(names)}" if names else "remove it"


def _values(pt: dict) -> list[Any]:
    """The params values and when inputs/values of a pipeline task (where references count)."""
    out: list[Any] = []
    if isinstance(pt.get("params"), list):
        out += [p.get("value") for p in pt["params"] if isinstance(p, dict)]
    if isinstance(pt.get("when"), list):
        for w in pt["when"]:
            if isinstance(w, dict):
                out += [w.get("input"), w.get("values"), w.get("cel")]
    out += [value for _, _, value in _matrix_params(pt)]
    return out


def _matrix_params(pt: dict) -> Iterable[tuple[Path, int, Any]]:
    """(path of the list, index, value) of every matrix param and include param."""
    m = pt.get("matrix")
    if not isinstance(m, dict):
        return
    if isinstance(m.get("params"), list):
        for i, p in enumerate(m["params"]):
            if isinstance(p, dict):
                yield ("matrix", "params"), i, p.get("value")
    if isinstance(m.get("include"), list):
        for j, inc in enumerate(m["include"]):
            if isinstance(inc, dict) and isinstance(inc.get("params"), list):
                for i, p in enumerate(inc["params"]):
                    if isinstance(p, dict):
                        yield ("matrix", "include", j, "params"), i, p.get("value")


def _value_strings(value: Any, sub: Path) -> Iterable[tuple[Path, str]]:
    if isinstance(value, str):
        yield sub, value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _value_strings(v, sub + (i,))
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _value_strings(v, sub + (k,))


def _strings_at(pt: dict) -> Iterable[tuple[Path, str]]:
    """(sub-path, text) of every string in a pipeline task's params, when and workspaces."""
    if isinstance(pt.get("params"), list):
        for i, p in enumerate(pt["params"]):
            if isinstance(p, dict):
                yield from _value_strings(p.get("value"), ("params", i, "value"))
    if isinstance(pt.get("when"), list):
        for i, w in enumerate(pt["when"]):
            if isinstance(w, dict):
                yield from _value_strings(w.get("input"), ("when", i, "input"))
                yield from _value_strings(w.get("values"), ("when", i, "values"))
                yield from _value_strings(w.get("cel"), ("when", i, "cel"))
    for where, i, value in _matrix_params(pt):
        yield from _value_strings(value, where + (i, "value"))
