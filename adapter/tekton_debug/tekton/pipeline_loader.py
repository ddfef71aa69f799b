"""Loading a Pipeline or PipelineRun into the model (``tekton.pipeline``).

Which document runs: the first PipelineRun of the file; with none, the first Pipeline, run by a
PipelineRun named ``<pipeline>-run``. A ``pipelineRef`` and every pipeline task's ``taskRef`` are
found as Tasks are for TaskRuns (``loader.find_task``): in the same file first, then in the other
``*.yaml`` / ``*.yml`` files of its directory; a ``taskRef`` with a ``resolver`` is asked of the
resolver given (``tekton_debug.resolution``), its params substituted from the pipeline's params as
Tekton does. Everything is validated first
(``tekton.pipeline_validation``); every problem found is raised at once in a ``ValidationError``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from tekton_debug.errors import Problem, UserError, ValidationError
from tekton_debug.tekton.duration import parse_duration
from tekton_debug.tekton.loader import (_generated, find_task, read_source, resolved_task,
                                        task_spec_at)
from tekton_debug.tekton.matrix import Matrix, MatrixInclude, is_fanned_out
from tekton_debug.tekton.model import Document, param_value, yaml_text
from tekton_debug.tekton.pipeline import (Pipeline, PipelineResult, PipelineRun, PipelineTask,
                                          PipelineWorkspace, WhenExpression, WorkspaceBinding)
from tekton_debug.tekton.pipeline_validation import PipelineSources, validate_pipeline
from tekton_debug.tekton.validation import in_order, kind_of
from tekton_debug.tekton.references import is_remote, remote_reference
from tekton_debug.tekton.yamlpos import Path, YamlDoc, load_documents

if TYPE_CHECKING:
    from tekton_debug.resolution.reference import Resolver

PIPELINE_KINDS = ("PipelineRun", "Pipeline")


def is_pipeline_text(text: str, file: str | None = None) -> bool:
    """The text holds a PipelineRun or a Pipeline to run (and no TaskRun, which would run
    first). A text that is not YAML is not a pipeline: the Task loader reports its error."""
    try:
        docs = load_documents(text, file)
    except UserError:
        return False
    kinds = {kind_of(d) for d in docs}
    return "TaskRun" not in kinds and bool(kinds & set(PIPELINE_KINDS))


def is_pipeline_file(path: str) -> bool:
    try:
        return is_pipeline_text(read_source(path), path)
    except UserError:
        return False


def load_pipeline_file(path: str, *, given_params: Iterable[str] = (),
                       bound_workspaces: Iterable[str] = (),
                       resolver: Resolver | None = None) -> PipelineRun:
    """The PipelineRun to run from a Pipeline or PipelineRun file. ``given_params`` and
    ``bound_workspaces`` name what the user gives besides the file (not reported missing);
    ``given_params`` may map them to their values (resolver params use them)."""
    return load_pipeline_text(read_source(path), file=path, given_params=given_params,
                              bound_workspaces=bound_workspaces, resolver=resolver)


def load_pipeline_text(text: str, file: str | None = None, search_dir: str | None = None, *,
                       given_params: Iterable[str] = (),
                       bound_workspaces: Iterable[str] = (),
                       resolver: Resolver | None = None) -> PipelineRun:
    docs = load_documents(text, file)
    values = dict(given_params) if isinstance(given_params, Mapping) else {}
    sources, problems = find_sources(docs, file, search_dir, resolver=resolver, values=values,
                                     resolve=True)
    problems += validate_pipeline(sources, given_params=given_params,
                                  bound_workspaces=bound_workspaces)
    if any(p.is_error for p in problems):  # warnings: what Tekton accepts
        raise ValidationError("", problems=in_order([p for p in problems if p.is_error]))
    assert sources.pipeline_doc is not None
    return _build(sources)


def diagnose_pipeline(doc: YamlDoc, docs: list[YamlDoc], file: str | None) -> list[Problem]:
    """The problems of one Pipeline or PipelineRun document of a file (for the language server:
    params and workspaces may come with the launch, so their absence from a PipelineRun is not
    one)."""
    sources, problems = find_sources(docs, file, None, chosen=doc)
    return problems + validate_pipeline(sources, launched=False)


def find_sources(docs: list[YamlDoc], file: str | None, search_dir: str | None, *,
                 chosen: YamlDoc | None = None, resolver: Resolver | None = None,
                 values: Mapping[str, object] | None = None,
                 resolve: bool = False) -> tuple[PipelineSources, list[Problem]]:
    """The run's documents: the PipelineRun (``chosen``, else the first one), its Pipeline, the
    Tasks of its taskRefs; with a problem for each reference not found. ``resolve``: remote
    taskRefs are asked of ``resolver`` (none given: each is a problem); otherwise they are left
    alone (the language server checks the rest)."""
    chosen = chosen or next((d for kind in PIPELINE_KINDS for d in docs if kind_of(d) == kind),
                            None)
    if chosen is None:
        raise UserError("the file holds no Pipeline or PipelineRun", file=file,
                        fix="write a Pipeline (apiVersion: tekton.dev/v1, kind: Pipeline)")
    problems: list[Problem] = []
    sources = PipelineSources(pipeline_doc=chosen)
    if kind_of(chosen) == "PipelineRun":
        sources.run_doc = chosen
        spec = chosen.data.get("spec") if isinstance(chosen.data, dict) else None
        ref = spec.get("pipelineRef") if isinstance(spec, dict) else None
        if isinstance(spec, dict) and spec.get("pipelineSpec") is not None:
            sources.pipeline_base = ("spec", "pipelineSpec")
        elif resolve and is_remote(ref):
            try:
                sources.pipeline_doc = _remote_pipeline(chosen, ref, resolver, values or {})
                sources.pipeline_base = ("spec",)
                # its named taskRefs are looked for beside this file, not beside the cached copy
                search_dir = search_dir or (os.path.dirname(os.path.abspath(file)) if file
                                            else None)
            except UserError as e:
                problems.extend(e.problems)
                sources.pipeline_doc = None
        elif isinstance(ref, dict) and isinstance(ref.get("name"), str) and \
                not ref.get("resolver") and not ref.get("bundle"):
            found, searched = find_task(ref["name"], docs, file, search_dir, kinds=("Pipeline",))
            sources.pipeline_doc = found
            if found is None:
                span = chosen.nearest(("spec", "pipelineRef", "name"))
                problems.append(Problem(
                    f'Pipeline "{ref["name"]}" (pipelineRef) was not found; searched: '
                    f'{", ".join(searched)}', file, span.line if span else None,
                    span.column if span else None,
                    f"put the Pipeline (kind: Pipeline, metadata.name: {ref['name']}) in this "
                    "file or next to it, or embed it under pipelineSpec"))
        else:
            sources.pipeline_doc = None  # the PipelineRun's own checks say what is wrong
    doc = sources.pipeline_doc
    if doc is None:
        return sources, problems
    spec = _at(doc.data, sources.pipeline_base)
    for key in ("tasks", "finally"):
        entries = spec.get(key) if isinstance(spec, dict) else None
        for i, pt in enumerate(entries if isinstance(entries, list) else []):
            ref = pt.get("taskRef") if isinstance(pt, dict) else None
            if resolve and is_remote(ref) and pt.get("taskSpec") is None:
                path = sources.pipeline_base + (key, i)
                try:
                    sources.task_docs[path] = _remote_task(
                        sources, doc, path, pt, ref, resolver, spec, values or {})
                except UserError as e:
                    problems.extend(e.problems)
                continue
            if not isinstance(ref, dict) or not isinstance(ref.get("name"), str) or \
                    ref.get("resolver") or ref.get("bundle") or pt.get("taskSpec") is not None:
                continue
            path = sources.pipeline_base + (key, i)
            task_doc, searched = find_task(ref["name"], docs, doc.file, search_dir)
            if task_doc is not None:
                sources.task_docs[path] = task_doc
                continue
            span = doc.nearest(path + ("taskRef", "name"))
            problems.append(Problem(
                f'task "{pt.get("name")}": Task "{ref["name"]}" (taskRef) was not found; '
                f'searched: {", ".join(searched)}', doc.file, span.line if span else None,
                span.column if span else None,
                f"put the Task (kind: Task, metadata.name: {ref['name']}) in this file or next "
                "to it, or write it inline under taskSpec"))
    return sources, problems


def _remote_pipeline(run_doc: YamlDoc, ref: dict, resolver: Resolver | None,
                     given: Mapping[str, object]) -> YamlDoc:
    """The Pipeline a PipelineRun's remote pipelineRef names, its params substituted from the
    PipelineRun's params and the values given."""
    if resolver is None:
        span = run_doc.nearest(("spec", "pipelineRef", "resolver"), key=True)
        raise UserError(f"pipelineRef.resolver ({yaml_text(ref.get('resolver'))}): the remote "
                        "Pipeline is not resolved here", file=run_doc.file,
                        line=span.line if span else None, column=span.column if span else None,
                        fix="run it with `tekton-debug run`, which resolves remote references")
    spec = run_doc.data.get("spec") or {}
    values: dict[str, object] = {p["name"]: param_value(p.get("value"))
                                 for p in spec.get("params") or []
                                 if isinstance(p, dict) and isinstance(p.get("name"), str)}
    values.update(given)
    reference = remote_reference(run_doc, ("spec", "pipelineRef"), ref, values,
                                 kind="Pipeline", where="pipelineRef")
    return resolved_task(reference, resolver.resolve(reference), kinds=("Pipeline",))


def _remote_task(sources: PipelineSources, doc: YamlDoc, path: Path, pt: dict, ref: dict,
                 resolver: Resolver | None, spec: dict, given: Mapping[str, object]) -> YamlDoc:
    """The Task a pipeline task's remote taskRef names. Its params are substituted from the
    pipeline's params: their defaults, the PipelineRun's values, then the values given."""
    where = f'task "{pt.get("name")}" taskRef'
    if resolver is None:
        span = doc.nearest(path + ("taskRef", "resolver"), key=True)
        raise UserError(f"{where}.resolver ({yaml_text(ref.get('resolver'))}): the remote Task "
                        "is not resolved here", file=doc.file, line=span.line if span else None,
                        column=span.column if span else None,
                        fix="run it with `tekton-debug run`, which resolves remote references")
    values: dict[str, object] = {}
    for p in spec.get("params") or [] if isinstance(spec.get("params"), list) else []:
        if isinstance(p, dict) and isinstance(p.get("name"), str) and p.get("default") is not None:
            values[p["name"]] = param_value(p["default"])
    run_spec = sources.run_doc.data.get("spec") if sources.run_doc is not None else None
    for p in (run_spec or {}).get("params") or [] if isinstance(run_spec, dict) else []:
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            values[p["name"]] = param_value(p.get("value"))
    values.update(given)
    reference = remote_reference(doc, path + ("taskRef",), ref, values, where=where)
    return resolved_task(reference, resolver.resolve(reference))


def _at(data: Any, path: Path) -> Any:
    for p in path:
        data = data.get(p) if isinstance(data, dict) else None
    return data


# ---- building the model from validated YAML ------------------------------------------------------

def _build(sources: PipelineSources) -> PipelineRun:
    doc = sources.pipeline_doc
    assert doc is not None
    base = sources.pipeline_base
    spec = _at(doc.data, base)
    meta = doc.data.get("metadata") or {}
    pipeline_name = meta.get("name") if doc is not sources.run_doc else None
    # a Pipeline's params and workspaces are shaped as a Task's: read them the same way
    shape = task_spec_at(doc, base, {k: spec[k] for k in ("params", "workspaces") if k in spec})
    pipeline = Pipeline(
        name=pipeline_name or "pipeline",
        tasks=[_task(sources, doc, base + ("tasks", i), pt, False)
               for i, pt in enumerate(spec.get("tasks") or [])],
        finally_tasks=[_task(sources, doc, base + ("finally", i), pt, True)
                       for i, pt in enumerate(spec.get("finally") or [])],
        params=shape.params,
        workspaces=[PipelineWorkspace(w.name, w.description, w.optional, w.pos)
                    for w in shape.workspaces],
        results=[PipelineResult(r["name"], r.get("value"), r.get("type") or "string",
                                r.get("description") or "", doc.pos(base + ("results", i)))
                 for i, r in enumerate(spec.get("results") or [])],
        description=spec.get("description") or "",
        source=Document(doc.file, doc.text) if doc.located else None,
        pos=doc.pos(base))
    run_doc = sources.run_doc
    if run_doc is None:
        return PipelineRun(name=f"{pipeline.name}-run", pipeline=pipeline,
                           pipeline_name=pipeline_name, namespace=meta.get("namespace"),
                           api_version=doc.data.get("apiVersion") or "tekton.dev/v1",
                           source=pipeline.source, pos=doc.pos(()), raw=doc.data)
    data = run_doc.data
    rmeta = data.get("metadata") or {}
    rspec = data["spec"]
    ref = rspec.get("pipelineRef")
    if pipeline_name is None and isinstance(ref, dict):
        pipeline_name = ref.get("name")
    name = rmeta.get("name") or _generated(rmeta.get("generateName")) or \
        f"{pipeline_name or 'pipeline'}-run"
    if pipeline.name == "pipeline":
        pipeline.name = pipeline_name or name
    timeouts = rspec.get("timeouts") or {}
    total = timeouts.get("pipeline", rspec.get("timeout"))
    return PipelineRun(
        name=name, pipeline=pipeline, pipeline_name=pipeline_name,
        namespace=rmeta.get("namespace"), api_version=data.get("apiVersion") or "tekton.dev/v1",
        params={p["name"]: param_value(p.get("value")) for p in rspec.get("params") or []},
        workspaces=list(rspec.get("workspaces") or []),
        timeout=parse_duration(total) if total is not None else None,
        tasks_timeout=parse_duration(timeouts["tasks"]) if timeouts.get("tasks") else None,
        finally_timeout=parse_duration(timeouts["finally"]) if timeouts.get("finally") else None,
        source=Document(run_doc.file, run_doc.text) if run_doc.located else None,
        pos=run_doc.pos(()), raw=data)


def _task(sources: PipelineSources, doc: YamlDoc, path: Path, pt: dict,
          is_finally: bool) -> PipelineTask:
    task_doc = sources.task_docs.get(path)
    if task_doc is not None:
        task = task_spec_at(task_doc, ("spec",), task_doc.data["spec"])
        source = Document(task_doc.file, task_doc.text) if task_doc.located else None
        task_name = (task_doc.data.get("metadata") or {}).get("name")
    else:
        raw = {k: v for k, v in pt["taskSpec"].items() if k != "metadata"}
        task = task_spec_at(doc, path + ("taskSpec",), raw)
        source = Document(doc.file, doc.text) if doc.located else None
        task_name = None
    when = [WhenExpression(yaml_text(w.get("input")), w.get("operator") or "",
                           [yaml_text(v) for v in w.get("values") or []],
                           doc.pos(path + ("when", i)), w.get("cel"))
            for i, w in enumerate(pt.get("when") or [])]
    return PipelineTask(
        name=pt["name"], task=task, task_name=task_name, source=source,
        params={p["name"]: param_value(p.get("value")) for p in pt.get("params") or []},
        workspaces=[WorkspaceBinding(w["name"], w.get("workspace") or w["name"],
                                     w.get("subPath") or "")
                    for w in pt.get("workspaces") or []],
        run_after=list(pt.get("runAfter") or []) if not is_finally else [],
        when=when, retries=int(pt.get("retries") or 0),
        timeout=parse_duration(pt["timeout"]) if pt.get("timeout") is not None else None,
        on_error=pt.get("onError"), is_finally=is_finally, embedded=task_doc is None,
        matrix=_matrix(doc, path, pt.get("matrix")), pos=doc.pos(path), raw=pt)


def _matrix(doc: YamlDoc, path: Path, m: Any) -> Matrix | None:
    """A validated ``matrix`` (None when there is none, or it gives no params)."""
    if not is_fanned_out(m):
        return None
    return Matrix(params={p["name"]: param_value(p.get("value")) for p in m.get("params") or []},
                  include=[MatrixInclude(i.get("name") or "",
                                         {p["name"]: param_value(p.get("value"))
                                          for p in i.get("params") or []})
                           for i in m.get("include") or []],
                  pos=doc.pos(path + ("matrix",)))
