"""Loading a Task or TaskRun into the model (``tekton.model``), with every step's place in its file.

- ``load_file(path)``, ``load_text(text, file, search_dir)``: YAML with positions.
- ``load_object(obj, file)``: an already parsed dict (what the Kubernetes API returns); no positions.

Which document runs: a file may hold several Tasks and TaskRuns (``---``). The first TaskRun is
run; with no TaskRun, the first Task is run by a TaskRun named ``<task-name>-run``. A TaskRun's
``taskRef: {name: X}`` is found in the same file first, then in the other ``*.yaml``/``*.yml`` files
of the same directory (or ``search_dir``), in name order. A ``taskRef`` with a ``resolver`` (git,
http, bundles, hub, cluster) is asked of the ``resolver`` given (``tekton_debug.resolution``), its
params substituted from the run's params (``params`` overrides the TaskRun's); with no resolver
given, it is refused.

Everything is validated first (``tekton.validation``); a document Tekton would reject raises
``ValidationError`` carrying every problem found.
"""

from __future__ import annotations

import random
import string
from typing import TYPE_CHECKING, Mapping

from tekton_debug.errors import Problem, UserError, ValidationError
from tekton_debug.tekton.duration import parse_duration
from tekton_debug.tekton.finder import Finder
from tekton_debug.tekton.files import read_text
from tekton_debug.tekton.model import (DebugSpec, Document, EnvVar, ParamSpec, Pos, ResultSpec,
                                       Step, StepActionUse, TaskRun, TaskSpec, WorkspaceDecl,
                                       param_value, yaml_text)
from tekton_debug.tekton.stepactions import apply as apply_step_action
from tekton_debug.tekton.validation import (check_document, debug_fields, declared_type,
                                            in_order, kind_of, merge_step_template,
                                            validate_document, validate_taskrun)
from tekton_debug.tekton.references import is_remote, remote_reference
from tekton_debug.tekton.yamlpos import Path, YamlDoc, load_documents

if TYPE_CHECKING:
    from tekton_debug.resolution.reference import Resolver


def load_file(path: str, resolver: Resolver | None = None,
              params: Mapping[str, object] | None = None, *,
              cluster_resolves: bool = False) -> TaskRun:
    """The TaskRun to run from a Task or TaskRun YAML file.

    ``cluster_resolves``: a remote Task that cannot be fetched here is left to the cluster's
    resolvers: the TaskRun comes back without steps and with ``unresolved`` saying why."""
    return load_text(read_source(path), file=path, resolver=resolver, params=params,
                     cluster_resolves=cluster_resolves)


#: A YAML file's text (a regular file of at most ``MAX_YAML_SIZE`` bytes); UserError when it
#: cannot be read.
read_source = read_text


def load_text(text: str, file: str | None = None, search_dir: str | None = None, *,
              resolver: Resolver | None = None, params: Mapping[str, object] | None = None,
              cluster_resolves: bool = False) -> TaskRun:
    """The TaskRun to run from YAML text (see the module docstring for which document)."""
    docs = load_documents(text, file)
    return _load(docs, text, file, search_dir, resolver, params, cluster_resolves)


def load_object(obj: dict, file: str | None = None) -> TaskRun:
    """The TaskRun to run from an already parsed Task or TaskRun (positions unknown)."""
    if not isinstance(obj, dict):
        raise UserError(f"expected a Task or TaskRun object, got {type(obj).__name__}", file=file)
    return _load([YamlDoc.from_object(obj, file)], None, file, None, None, None, False)


def choose_document(docs: list[YamlDoc]) -> YamlDoc:
    """The document to run: the first TaskRun, else the first Task."""
    for kind in ("TaskRun", "Task"):
        for d in docs:
            if kind_of(d) == kind:
                return d
    if not docs:
        raise UserError("the file holds no YAML document",
                        fix="write a Task or a TaskRun (apiVersion: tekton.dev/v1)")
    return docs[0]


def _load(docs: list[YamlDoc], text: str | None, file: str | None, search_dir: str | None,
          resolver: Resolver | None, params: Mapping[str, object] | None,
          cluster_resolves: bool) -> TaskRun:
    if not docs:
        raise UserError("the file holds no YAML document", file=file,
                        fix="write a Task or a TaskRun (apiVersion: tekton.dev/v1)")
    chosen = choose_document(docs)
    meta = chosen.data.get("metadata") if isinstance(chosen.data, dict) else None
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    finder = Finder(docs, file, search_dir, resolver, namespace=namespace, values=params)
    if kind_of(chosen) == "StepAction":
        name = meta.get("name") if isinstance(meta, dict) else None
        raise UserError("the file holds a StepAction, which runs as a step of a Task", file=file,
                        line=chosen.span(()).line if chosen.span(()) else None,
                        fix="write a Task whose step uses it: `steps: [{name: s, ref: {name: "
                            + (name or "<its name>") + "}}]`")
    spec = chosen.data.get("spec") if kind_of(chosen) == "TaskRun" else None
    ref = spec.get("taskRef") if isinstance(spec, dict) else None
    if is_remote(ref) and spec.get("taskSpec") is None:
        if resolver is None:
            problems = [p for p in validate_taskrun(chosen, None) if p.is_error]
            span = chosen.nearest(("spec", "taskRef", "resolver"), key=True)
            problems.append(Problem(
                f"taskRef.resolver ({yaml_text(ref['resolver'])}): the remote Task is not "
                "resolved here", chosen.file, span.line if span else None,
                span.column if span else None,
                "run it with `tekton-debug run`, which resolves remote references"))
            raise ValidationError("", problems=in_order(problems))
        return _load_remote(chosen, ref, resolver, params, cluster_resolves, finder)
    if kind_of(chosen) == "TaskRun":
        problems, task_doc = check_document(chosen, finder)
    else:
        problems, task_doc = validate_document(chosen, finder=finder), chosen
    errors = [p for p in problems if p.is_error]
    if errors or task_doc is None:
        raise ValidationError("", problems=in_order(errors or problems))
    base: Path = ("spec", "taskSpec") if task_doc is chosen and kind_of(chosen) == "TaskRun" \
        else ("spec",)
    run = _build(chosen, task_doc, base, finder)
    run.warnings = in_order([p for p in problems if not p.is_error])
    return run


def _load_remote(run_doc: YamlDoc, ref: dict, resolver: Resolver,
                 params: Mapping[str, object] | None, cluster_resolves: bool,
                 finder: Finder) -> TaskRun:
    """A TaskRun whose taskRef names a resolver: checked, resolved, checked with its Task."""
    problems = [p for p in validate_taskrun(run_doc, None) if p.is_error]
    if problems:
        raise ValidationError("", problems=in_order(problems))
    values: dict[str, object] = {p["name"]: param_value(p.get("value"))
                                 for p in run_doc.data["spec"].get("params") or []}
    values.update(params or {})
    meta = run_doc.data.get("metadata") or {}
    context = {"context.taskRun.name": str(meta.get("name") or ""),
               "context.taskRun.namespace": str(meta.get("namespace") or "default")}
    reference = remote_reference(run_doc, ("spec", "taskRef"), ref, values, context=context)
    try:
        resolved = resolver.resolve(reference)
    except UserError as e:
        if not cluster_resolves:
            raise
        run = _build(run_doc, YamlDoc.from_object({"kind": "Task", "spec": {"steps": []}}),
                     ("spec",), finder)
        run.unresolved = e.first.message
        return run
    task_doc = resolved_task(reference, resolved)
    problems = validate_taskrun(run_doc, task_doc, finder=finder)
    if any(p.is_error for p in problems):
        raise ValidationError("", problems=in_order([p for p in problems if p.is_error]))
    run = _build(run_doc, task_doc, ("spec",), finder)
    run.task_origin = resolved.source
    run.warnings = in_order(problems)
    return run


def resolved_task(reference, resolved, kinds: tuple[str, ...] = ("Task", "ClusterTask")
                  ) -> YamlDoc:
    """The one Task (or ``kinds``) in what a resolver returned (Tekton wants exactly one
    object)."""
    try:
        docs = [d for d in load_documents(resolved.text, resolved.file) if d.data is not None]
    except UserError as e:
        raise reference.error(f"what it resolved to ({resolved.source}) is not valid YAML: "
                              f"{e.first.message}", "check the reference's params") from None
    found = [kind_of(d) for d in docs]
    if len(docs) != 1 or found[0] not in kinds:
        got = ", ".join(str(k) for k in found) or "nothing"
        raise reference.error(f"it resolved to {got} ({resolved.source}), not one {kinds[0]}",
                              f"point the reference at a file or entry that holds one {kinds[0]}")
    return docs[0]


def find_task(name: str, docs: list[YamlDoc], file: str | None, search_dir: str | None, *,
              kinds: tuple[str, ...] = ("Task", "ClusterTask")
              ) -> tuple[YamlDoc | None, list[str]]:
    """The Task (or the ``kinds[0]``) named ``name``: in ``docs``, else in the YAML files of the
    directory (``tekton.finder``). Returns it (or None) and the places searched."""
    return Finder(docs, file, search_dir).local(
        "Task" if kinds[0] in ("Task", "ClusterTask") else kinds[0], name)


# ---- building the model from validated YAML ------------------------------------------------------

def _build(run_doc: YamlDoc, task_doc: YamlDoc, task_base: Path, finder: Finder) -> TaskRun:
    data = run_doc.data
    meta = data.get("metadata") or {}
    api_version = data.get("apiVersion") or "tekton.dev/v1"
    task_spec_raw = task_doc.data["spec"] if task_base == ("spec",) else \
        task_doc.data["spec"]["taskSpec"]
    run_spec = data.get("spec") if kind_of(run_doc) == "TaskRun" else None
    run_values = {p["name"]: p.get("value") for p in (run_spec or {}).get("params") or []}
    task = _task_spec(task_doc, task_base, task_spec_raw, finder,
                      _param_keys(task_spec_raw, run_spec), run_values)
    source = Document(task_doc.file, task_doc.text) if task_doc.located else None
    if kind_of(run_doc) == "Task":
        task_name = meta.get("name")
        return TaskRun(name=f"{task_name}-run", task=task, task_name=task_name,
                       namespace=meta.get("namespace"), api_version=api_version,
                       source=source, pos=run_doc.pos(()), raw=data)
    spec = data["spec"]
    task_meta = (task_doc.data.get("metadata") or {}) if task_doc is not run_doc else {}
    ref = spec.get("taskRef")
    task_ref = ref.get("name") if isinstance(ref, dict) else None
    task_name = task_meta.get("name") if task_doc is not run_doc else task_ref
    name = meta.get("name") or _generated(meta.get("generateName")) or \
        f"{task_name or 'task'}-run"
    timeout = parse_duration(spec["timeout"]) if spec.get("timeout") is not None else None
    params = {p["name"]: param_value(p.get("value")) for p in spec.get("params") or []}
    return TaskRun(name=name, task=task, task_name=task_name, namespace=meta.get("namespace"),
                   api_version=api_version, params=params,
                   workspaces=list(spec.get("workspaces") or []), debug=_debug(run_doc, spec),
                   timeout=timeout, service_account=spec.get("serviceAccountName"),
                   task_ref=task_ref, source=source, pos=run_doc.pos(()), raw=data)


def _generated(prefix: str | None) -> str | None:
    if not prefix:
        return None
    return prefix + "".join(random.choices(string.ascii_lowercase + string.digits, k=5))


def _debug(doc: YamlDoc, spec: dict) -> DebugSpec | None:
    on_failure, before, spelling = debug_fields(spec)
    if spelling is None:
        return None
    where = ("spec", "breakpoint") if spelling == "seed" else ("spec", "debug")
    key, value = doc.key_span(where), doc.span(where)
    pos = Pos(doc.file, key.line, key.column, value.end_line if value else key.end_line) \
        if key else None
    return DebugSpec(on_failure=on_failure, before_steps=list(before), spelling=spelling, pos=pos)


def task_spec_at(doc: YamlDoc, base: Path, spec: dict, finder: Finder | None = None,
                 run_spec: dict | None = None) -> TaskSpec:
    """The (validated) Task spec ``spec``, standing at ``base`` in ``doc``; its steps' StepActions
    found with ``finder`` (default: in ``doc``'s file and directory)."""
    return _task_spec(doc, base, spec, finder or Finder([doc], doc.file),
                      _param_keys(spec, run_spec))


def _param_keys(task_spec: dict, run_spec: dict | None) -> dict[str, set]:
    """The keys of each param of a run (empty for strings and arrays): declared properties,
    defaults and the run's own values."""
    keys: dict[str, set] = {}
    for p in task_spec.get("params") or []:
        keys[p["name"]] = set(p.get("properties") or {}) | (
            set(p["default"]) if isinstance(p.get("default"), dict) else set())
    for p in (run_spec or {}).get("params") or []:
        keys.setdefault(p["name"], set()).update(
            p["value"] if isinstance(p.get("value"), dict) else ())
    return keys


def _task_spec(doc: YamlDoc, base: Path, spec: dict, finder: Finder,
               param_keys: dict[str, set], run_values: dict | None = None) -> TaskSpec:
    template = spec.get("stepTemplate") or {}
    steps = []
    for i, raw in enumerate(spec.get("steps") or []):
        action = None
        if isinstance(raw.get("ref"), dict):  # validated: the StepAction is there
            found = finder.find("StepAction", raw["ref"], doc, base + ("steps", i, "ref"),
                                run_values)
            if found.doc is None:
                raise ValidationError("", problems=[found.problem] if found.problem else [])
            action = _action_use(found.doc, found.source)
            resolved = apply_step_action(raw, found.doc, param_keys)
            step = _step(doc, base + ("steps", i), i, merge_step_template(template, resolved),
                         resolved, found.doc if resolved.get("script") is not None else None)
        else:
            step = _step(doc, base + ("steps", i), i, merge_step_template(template, raw), raw)
        step.action = action
        steps.append(step)
    params = []
    for i, p in enumerate(spec.get("params") or []):
        props = p.get("properties") or {}
        params.append(ParamSpec(
            name=p["name"], type=declared_type(p),
            default=param_value(p["default"]) if p.get("default") is not None else None,
            description=p.get("description") or "",
            properties={str(k): (v if isinstance(v, dict) else {"type": "string"})
                        for k, v in props.items()},
            pos=doc.pos(base + ("params", i))))
    results = [ResultSpec(name=r["name"], type=r.get("type") or "string",
                          description=r.get("description") or "",
                          pos=doc.pos(base + ("results", i)))
               for i, r in enumerate(spec.get("results") or [])]
    workspaces = [WorkspaceDecl(name=w["name"], description=w.get("description") or "",
                                mount_path=w.get("mountPath"), optional=bool(w.get("optional")),
                                read_only=bool(w.get("readOnly")),
                                pos=doc.pos(base + ("workspaces", i)))
                  for i, w in enumerate(spec.get("workspaces") or [])]
    return TaskSpec(steps=steps, params=params, results=results, workspaces=workspaces,
                    step_template=dict(template), sidecars=list(spec.get("sidecars") or []),
                    description=spec.get("description") or "", pos=doc.pos(base), raw=spec)


def _action_use(doc: YamlDoc, remote: str | None) -> StepActionUse:
    meta = doc.data.get("metadata") if isinstance(doc.data.get("metadata"), dict) else {}
    return StepActionUse(name=meta.get("name"), pos=doc.pos(()),
                         script_pos=doc.text_pos(("spec", "script")),
                         source=Document(doc.file, doc.text) if doc.located else None,
                         remote=remote)


def _step(doc: YamlDoc, path: Path, index: int, merged: dict, raw: dict,
          script_doc: YamlDoc | None = None) -> Step:
    env = []
    own_env = {e.get("name"): j for j, e in enumerate(raw.get("env") or [])}
    for e in merged.get("env") or []:
        j = own_env.get(e.get("name"))
        value = e.get("value")
        env.append(EnvVar(name=e["name"], value=yaml_text(value) if value is not None else None,
                          value_from=e.get("valueFrom"),
                          pos=doc.pos(path + ("env", j)) if j is not None else None))
    timeout = parse_duration(raw["timeout"]) if raw.get("timeout") is not None else None
    script = merged.get("script")
    if script_doc is not None:
        script_pos = script_doc.text_pos(("spec", "script"))
    else:
        script_pos = doc.text_pos(path + ("script",)) if script is not None else None
    results = [ResultSpec(name=r["name"], type=r.get("type") or "string",
                          description=r.get("description") or "")
               for r in merged.get("results") or [] if isinstance(r, dict) and r.get("name")]
    return Step(index=index, name=raw.get("name") or None, image=merged.get("image"),
                script=script, command=[yaml_text(c) for c in merged.get("command") or []],
                args=[yaml_text(a) for a in merged.get("args") or []], env=env,
                env_from=list(merged.get("envFrom") or []), working_dir=merged.get("workingDir"),
                on_error=raw.get("onError"), timeout=timeout, pos=doc.pos(path),
                script_pos=script_pos, raw=merged, results=results)

