"""From a ready pipeline task to the TaskRuns that run it, as Tekton's pipelinerun reconciler
builds them: params with ``$(params.x)``, ``$(tasks.X.results.Y)`` (and ``[*]``, ``[N]``,
``.key`` of array and object results), ``$(tasks.X.status)``, ``$(tasks.status)``,
``$(tasks.X.matrix.length)`` and ``$(context.pipelineRun.*)`` replaced; pipeline params propagated
into an inline ``taskSpec``; a ``matrix`` fanned out into its combinations; each TaskRun named
``<pipelinerun>-<task>`` (``-<index>`` for a combination) with Tekton's labels. A finished
TaskRun's results are read as their declared types (``typed_results``)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from tekton_debug.errors import UserError
from tekton_debug.pipeline.graph import TaskState, aggregate_status
from tekton_debug.tekton import substitution
from tekton_debug.tekton.matrix import MAX_COMBINATIONS, Combination, fan_out
from tekton_debug.tekton.model import ParamValue, TaskRun, TaskSpec
from tekton_debug.tekton.pipeline import (GROUP_LABEL, MATRIX_INDEX_LABEL, RETRY_LABEL,
                                          TASKS_STATUS, PipelineRun, PipelineTask,
                                          result_selector, task_references)
from tekton_debug.tekton.variables import param_ref, sole_reference

MEMBER_OF = "tekton.dev/memberOf"
#: the volume sources a PipelineRun's workspace binding may carry into its TaskRuns
VOLUME_SOURCES = ("persistentVolumeClaim", "emptyDir", "configMap", "secret", "projected", "csi")


class MissingResult(Exception):
    """A ``$(tasks.X.results.Y)`` whose task produced no such result."""


@dataclass
class PipelineContext(substitution.Context):
    """The variables of a pipeline task, with the task results whole (``tasks.X.results.Y`` ->
    a string, an array or an object), for ``[*]`` and for results that are missing."""

    results: dict[str, ParamValue] = field(default_factory=dict)

    def for_task(self, task: PipelineTask) -> PipelineContext:
        """The variables as ``task`` sees them: with its ``$(context.pipelineTask.retries)``."""
        return dataclasses.replace(self, strings={**self.strings, "context.pipelineTask.retries":
                                                  str(task.retries)})


def pipeline_context(run: PipelineRun, params: Mapping[str, ParamValue],
                     states: Mapping[str, TaskState], *, uid: str = "") -> PipelineContext:
    """The variables the pipeline's results see, and every pipeline task's params, ``when`` and
    results (``PipelineContext.for_task``)."""
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
    results: dict[str, ParamValue] = {}
    for name, st in states.items():
        for result, value in st.results.items():
            key = f"tasks.{name}.results.{result}"
            results[key] = value
            if isinstance(value, str):
                strings[key] = value
            elif isinstance(value, list):
                strings.update((f"{key}[{i}]", v) for i, v in enumerate(value))
            else:
                strings.update((f"{key}.{k}", v) for k, v in value.items())
            if st.children:
                strings[f"tasks.{name}.matrix.{result}.length"] = str(len(value))
        if st.children:
            strings[f"tasks.{name}.matrix.length"] = str(len(st.children))
        if st.ended:
            strings[f"tasks.{name}.status"] = st.execution_status
            strings[f"tasks.{name}.reason"] = st.reason
    main = [st for st in states.values() if not st.task.is_finally]
    strings[TASKS_STATUS] = aggregate_status(main)
    strings["context.pipelineRun.name"] = run.name
    strings["context.pipelineRun.namespace"] = run.namespace or "default"
    strings["context.pipelineRun.uid"] = uid
    strings["context.pipeline.name"] = run.pipeline.name
    file = run.pipeline.source.file if run.pipeline.source else None
    return PipelineContext(strings=strings, params=dict(params), param_types=types,
                           file=file, results=results)


def resolve_value(value: Any, ctx: PipelineContext) -> ParamValue:
    """A param value with its references replaced. A string that is exactly a whole array or
    object (``$(params.a[*])``, ``$(tasks.X.results.Y[*])``) becomes that array or object; in a
    list, such an item becomes the array's elements. Raises MissingResult, and UserError for an
    index past an array result's end."""
    if isinstance(value, list):
        _check_results(value, ctx)
        out: list[str] = []
        for item in value:
            whole = _whole(item, ctx)
            if isinstance(whole, list):
                out.extend(whole)
            else:
                out.append(substitution.substitute(item, ctx) or "")
        return out
    if isinstance(value, dict):
        _check_results(list(value.values()), ctx)
        return {k: substitution.substitute(v, ctx) or "" for k, v in value.items()}
    text = "" if value is None else str(value)
    _check_results([text], ctx)
    whole = _whole(text, ctx)
    if whole is not None:
        return whole
    return substitution.substitute(text, ctx) or ""


def _whole(text: Any, ctx: PipelineContext) -> list[str] | dict[str, str] | None:
    """The array or object ``text`` is exactly a reference to, whole; else None."""
    ref = sole_reference(text)
    if ref is None:
        return None
    p = param_ref(ref.name, ctx.param_types)
    if p and p.key is None and p.index is None and \
            isinstance(ctx.params.get(p.name), (list, dict)):
        whole = ctx.params[p.name]
        return list(whole) if isinstance(whole, list) else dict(whole)
    for r in task_references(ref.text):
        value = ctx.results.get(f"tasks.{r.task}.results.{r.result}")
        if r.what == "results" and result_selector(r) in ("", "[*]") and \
                isinstance(value, (list, dict)):
            return list(value) if isinstance(value, list) else dict(value)
    return None


def _check_results(values: list, ctx: PipelineContext) -> None:
    for text in values:
        for r in task_references(text if isinstance(text, str) else ""):
            if r.what != "results":
                continue
            value = ctx.results.get(f"tasks.{r.task}.results.{r.result}")
            if value is None:
                raise MissingResult(r.text)
            sel = result_selector(r)
            if sel[1:-1].isdigit() and isinstance(value, list) and int(sel[1:-1]) >= len(value):
                raise UserError(f"{r.text}: index {sel[1:-1]} is out of range: result "
                                f'"{r.result}" of task "{r.task}" has {len(value)} element'
                                f"{'' if len(value) == 1 else 's'}", file=ctx.file,
                                fix=f"use an index below {len(value)}")


def typed_results(spec: TaskSpec, results: Mapping[str, str]) -> dict[str, ParamValue]:
    """A TaskRun's results (as its steps wrote them) as their declared types: an array or object
    result is JSON. Raises UserError for one that is not, with Tekton's message."""
    types = {r.name: r.type for r in spec.results}
    out: dict[str, ParamValue] = {}
    wrong: list[str] = []
    for name, text in results.items():
        kind = types.get(name, "string")
        if kind == "string":
            out[name] = text
            continue
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value) \
            if kind == "array" else \
            isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
        if ok:
            out[name] = value
        else:
            wrong.append(f'"{name}": task result is expected to be "{kind}" type')
    if wrong:
        raise UserError("Provided results don't match declared results; may be invalid JSON "
                        "or missing result declaration: " + ", ".join(sorted(wrong)),
                        fix="write the array result as JSON, e.g. "
                            "echo -n '[\"a\", \"b\"]' > $(results.<name>.path) (an object: "
                            "'{\"key\": \"value\"}')")
    return out


def matrix_combinations(task: PipelineTask, ctx: PipelineContext) -> list[Combination] | None:
    """The combinations of ``task``'s matrix with its values resolved; None when one of its
    params is an empty array (Tekton skips the task). Raises MissingResult, and UserError for
    a value of the wrong type or too many combinations."""
    assert task.matrix is not None
    params: list[tuple[str, list[str]]] = []
    for name, value in task.matrix.params.items():
        resolved = resolve_value(value, ctx)
        if not isinstance(resolved, list):
            raise UserError(f'task "{task.name}": matrix param "{name}" is not an array once '
                            f"resolved ({json.dumps(resolved)})", file=ctx.file,
                            line=task.matrix.pos.line if task.matrix.pos else None,
                            fix="give it a list of values, or a whole array reference "
                                "($(params.<array>[*]), $(tasks.<task>.results.<array>[*]))")
        if not resolved:
            return None
        params.append((name, resolved))
    include = []
    for inc in task.matrix.include:
        combination: Combination = {}
        for name, value in inc.params.items():
            resolved = resolve_value(value, ctx)
            if not isinstance(resolved, str):
                raise UserError(f'task "{task.name}": matrix include param "{name}" is not a '
                                f"string once resolved ({json.dumps(resolved)})", file=ctx.file,
                                fix="give it one value")
            combination[name] = resolved
        include.append(combination)
    combinations = fan_out(params, include)
    if len(combinations) > MAX_COMBINATIONS:
        raise UserError(f'task "{task.name}": its matrix makes {len(combinations)} combinations, '
                        f"more than Tekton's limit of {MAX_COMBINATIONS} TaskRuns", file=ctx.file,
                        fix="use fewer values (or split the task)")
    return combinations


def task_run_name(run: PipelineRun, task: PipelineTask, index: int | None = None) -> str:
    """``<pipelinerun>-<task>``, and ``-<index>`` for one combination of a matrix."""
    return f"{run.name}-{task.name}" + (f"-{index}" if index is not None else "")


@dataclass
class ResolvedTask:
    """What every TaskRun of a pipeline task shares, resolved once for all its combinations and
    retries: its params with their references replaced, and its inline ``taskSpec`` with the
    pipeline's variables substituted and the pipeline's params propagated into it."""

    task: PipelineTask
    params: dict[str, ParamValue]  # the pipeline task's own params, resolved
    spec: TaskSpec
    propagated: Mapping[str, ParamValue]  # the pipeline's params an inline taskSpec sees too


def resolve_task(task: PipelineTask, params: Mapping[str, ParamValue],
                 ctx: PipelineContext) -> ResolvedTask:
    """``task`` resolved against ``ctx`` (``params``: the pipeline's resolved params). Raises
    MissingResult, and UserError for an index past an array result's end."""
    given = {name: resolve_value(value, ctx) for name, value in task.params.items()}
    if not task.embedded:
        return ResolvedTask(task, given, task.task, {})
    # Tekton substitutes the pipeline's variables into an inline taskSpec before it runs, and
    # propagates the pipeline's params into it (they need no declaration there)
    outer = substitution.Context(strings={k: v for k, v in ctx.strings.items()
                                          if k.startswith(("tasks.", "context.pipeline"))},
                                 file=ctx.file)
    spec = dataclasses.replace(task.task, steps=[substitution.substitute_step(s, outer)
                                                 for s in task.task.steps])
    return ResolvedTask(task, given, spec, params)


def task_run_for(run: PipelineRun, resolved: ResolvedTask, *, timeout: float | None,
                 group: str = "", bindings: Mapping[str, dict] | None = None,
                 index: int | None = None, combination: Mapping[str, str] | None = None,
                 attempt: int = 0) -> TaskRun:
    """The TaskRun that runs the pipeline task ``resolved`` stands for, or its combination
    ``index`` of a matrix with those params (``combination``). Its workspace bindings carry the
    PipelineRun's volume (a claim shared by the TaskRuns, on a cluster: the PipelineRun's
    bindings as ``bindings`` has them, its claims made) with the task's ``subPath``; ``group``
    is this run's id, for the group label; ``attempt`` counts the task's retries before this
    TaskRun (its ``$(context.task.retry-count)``)."""
    task = resolved.task
    given = dict(resolved.params)
    given.update(combination or {})
    for name, value in resolved.propagated.items():
        given.setdefault(name, value)
    labels = {"tekton.dev/pipeline": run.pipeline.name, "tekton.dev/pipelineRun": run.name,
              "tekton.dev/pipelineTask": task.name,
              MEMBER_OF: "finally" if task.is_finally else "tasks"}
    if task.task_name:
        labels["tekton.dev/task"] = task.task_name
    if group:
        labels[GROUP_LABEL] = group
    if index is not None:
        labels[MATRIX_INDEX_LABEL] = str(index)
    if attempt:
        labels[RETRY_LABEL] = str(attempt)
    name = task_run_name(run, task, index)
    workspaces = []
    for b in task.workspaces:
        binding = (run.binding(b.workspace) if bindings is None else
                   bindings.get(b.workspace)) or {}
        volume = {k: v for k, v in binding.items() if k in VOLUME_SOURCES}
        sub_path = "/".join(p for p in (binding.get("subPath"), b.sub_path) if p)
        workspaces.append({"name": b.name, **volume, **({"subPath": sub_path} if sub_path else {})})
    return TaskRun(
        name=name, task=resolved.spec, task_name=task.task_name or name, namespace=run.namespace,
        api_version="tekton.dev/v1", params=given,
        workspaces=workspaces, timeout=timeout, task_ref=task.task_name, source=task.source,
        pos=task.pos, retry_count=attempt, raw={"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                           "metadata": {"name": name, "labels": labels}, "spec": {}})
