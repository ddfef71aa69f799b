"""From a ready pipeline task to the TaskRun that runs it, as Tekton's pipelinerun reconciler
builds it: params with ``$(params.x)``, ``$(tasks.X.results.Y)``, ``$(tasks.X.status)``,
``$(tasks.status)`` and ``$(context.pipelineRun.*)`` replaced; pipeline params propagated into an
inline ``taskSpec``; the TaskRun named ``<pipelinerun>-<task>`` with Tekton's labels."""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from tekton_debug.pipeline.graph import TaskState, aggregate_status
from tekton_debug.tekton import substitution
from tekton_debug.tekton.model import ParamValue, TaskRun
from tekton_debug.tekton.pipeline import TASKS_STATUS, PipelineRun, PipelineTask
from tekton_debug.tekton.variables import param_ref, references

MEMBER_OF = "tekton.dev/memberOf"
#: tekton-debug's own label on the TaskRuns of one PipelineRun it runs (no PipelineRun object
#: exists on a cluster: this groups them, e.g. ``kubectl get taskruns -l`` with it)
GROUP_LABEL = "tekton-debug.dev/pipelinerun-uid"
#: the volume sources a PipelineRun's workspace binding may carry into its TaskRuns
VOLUME_SOURCES = ("persistentVolumeClaim", "emptyDir", "configMap", "secret", "projected", "csi")


class MissingResult(Exception):
    """A ``$(tasks.X.results.Y)`` whose task produced no such result."""


def pipeline_context(run: PipelineRun, params: Mapping[str, ParamValue],
                     states: Mapping[str, TaskState], *, uid: str = "",
                     task: PipelineTask | None = None) -> substitution.Context:
    """The variables a pipeline task's params, ``when`` and results see."""
    types = {p.name: p.type for p in run.pipeline.params}
    strings: dict[str, str] = {}
    for name, value in params.items():
        types.setdefault(name, "array" if isinstance(value, list)
                         else "object" if isinstance(value, dict) else "string")
        if isinstance(value, str):
            strings[f"params.{name}"] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                strings[f"params.{name}.{k}"] = v
    for name, st in states.items():
        for result, value in st.results.items():
            strings[f"tasks.{name}.results.{result}"] = value
        if st.ended:
            strings[f"tasks.{name}.status"] = st.execution_status
            strings[f"tasks.{name}.reason"] = st.reason
    main = [st for st in states.values() if not st.task.is_finally]
    strings[TASKS_STATUS] = aggregate_status(main)
    strings["context.pipelineRun.name"] = run.name
    strings["context.pipelineRun.namespace"] = run.namespace or "default"
    strings["context.pipelineRun.uid"] = uid
    strings["context.pipeline.name"] = run.pipeline.name
    if task is not None:
        strings["context.pipelineTask.retries"] = str(task.retries)
    file = run.pipeline.source.file if run.pipeline.source else None
    return substitution.Context(strings=strings, params=dict(params), param_types=types,
                                file=file)


def resolve_value(value: Any, ctx: substitution.Context) -> ParamValue:
    """A param value with its references replaced. A string that is exactly a whole array or
    object param (``$(params.a[*])``) becomes that array or object. Raises MissingResult."""
    if isinstance(value, list):
        _check_results(value, ctx)
        return substitution.substitute_list(value, ctx)
    if isinstance(value, dict):
        _check_results(list(value.values()), ctx)
        return {k: substitution.substitute(v, ctx) or "" for k, v in value.items()}
    text = "" if value is None else str(value)
    _check_results([text], ctx)
    refs = list(references(text.strip()))
    if len(refs) == 1 and refs[0].text == text.strip():
        p = param_ref(refs[0].name, ctx.param_types)
        if p and p.key is None and p.index is None and \
                isinstance(ctx.params.get(p.name), (list, dict)):
            whole = ctx.params[p.name]
            return list(whole) if isinstance(whole, list) else dict(whole)
    return substitution.substitute(text, ctx) or ""


def _check_results(values: list, ctx: substitution.Context) -> None:
    for text in values:
        for ref in references(text if isinstance(text, str) else ""):
            parts = ref.name.split(".")
            if len(parts) >= 4 and parts[0] == "tasks" and parts[2] == "results":
                name = f"tasks.{parts[1]}.results.{parts[3].split('[', 1)[0]}"
                if name not in ctx.strings:
                    raise MissingResult(ref.text)


def task_run_for(run: PipelineRun, task: PipelineTask, params: Mapping[str, ParamValue],
                 ctx: substitution.Context, *, timeout: float | None,
                 group: str = "", bindings: Mapping[str, dict] | None = None) -> TaskRun:
    """The TaskRun that runs ``task`` (``params``: the pipeline's resolved params). Its workspace
    bindings carry the PipelineRun's volume (a claim shared by the TaskRuns, on a cluster: the
    PipelineRun's bindings as ``bindings`` has them, its claims made) with the task's
    ``subPath``; ``group`` is this run's id, for the group label."""
    given = {name: resolve_value(value, ctx) for name, value in task.params.items()}
    spec = task.task
    if task.embedded:
        # Tekton substitutes the pipeline's variables into an inline taskSpec before it runs,
        # and propagates the pipeline's params into it (they need no declaration there)
        outer = substitution.Context(strings={k: v for k, v in ctx.strings.items()
                                              if k.startswith(("tasks.", "context.pipeline"))},
                                     file=ctx.file)
        spec = dataclasses.replace(spec, steps=[substitution.substitute_step(s, outer)
                                                for s in spec.steps])
        for name, value in params.items():
            given.setdefault(name, value)
    labels = {"tekton.dev/pipeline": run.pipeline.name, "tekton.dev/pipelineRun": run.name,
              "tekton.dev/pipelineTask": task.name,
              MEMBER_OF: "finally" if task.is_finally else "tasks"}
    if task.task_name:
        labels["tekton.dev/task"] = task.task_name
    if group:
        labels[GROUP_LABEL] = group
    name = f"{run.name}-{task.name}"
    workspaces = []
    for b in task.workspaces:
        binding = (run.binding(b.workspace) if bindings is None else
                   bindings.get(b.workspace)) or {}
        volume = {k: v for k, v in binding.items() if k in VOLUME_SOURCES}
        sub_path = "/".join(p for p in (binding.get("subPath"), b.sub_path) if p)
        workspaces.append({"name": b.name, **volume, **({"subPath": sub_path} if sub_path else {})})
    return TaskRun(
        name=name, task=spec, task_name=task.task_name or name, namespace=run.namespace,
        api_version="tekton.dev/v1", params=given,
        workspaces=workspaces, timeout=timeout, task_ref=task.task_name, source=task.source,
        pos=task.pos, raw={"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                           "metadata": {"name": name, "labels": labels}, "spec": {}})
