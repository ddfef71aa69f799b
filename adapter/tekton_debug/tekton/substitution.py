"""Tekton's variable substitution: ``$(params.x)``, ``$(results.x.path)``, ``$(context.…)``…

Build a :class:`Context` once per run with :func:`substitution_context`, then:

- ``substitute(text, ctx)``: a string field (script, env value, workingDir);
- ``substitute_list(items, ctx)``: command or args, where an item that is exactly
  ``$(params.arr[*])`` becomes the array's elements;
- ``substitute_step(step, ctx)``: a copy of a step with all of those replaced;
- ``variables(ctx)``: every known variable, as written (``$(params.x)``), with its value.

As in Tekton, a reference to an unknown variable is left as written. Using a whole array inside a
string (``"-f $(params.files[*])"``) is an error, as is an array index out of range.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from tekton_debug.errors import UserError
from tekton_debug.tekton.model import ParamValue, Step, TaskRun
from tekton_debug.tekton.variables import param_ref, references, sole_reference


@dataclass
class Context:
    """The values variables stand for in one run."""

    strings: dict[str, str] = field(default_factory=dict)  # normalised name -> value
    params: dict[str, ParamValue] = field(default_factory=dict)
    param_types: dict[str, str] = field(default_factory=dict)
    file: str | None = None  # for error messages
    steps_dir: str = "/tekton/steps"  # $(step.results.<name>.path) of each step


def substitution_context(run: TaskRun, params: Mapping[str, ParamValue], *,
                         results_dir: str = "/tekton/results",
                         workspaces: Mapping[str, str] | None = None,
                         task_run_name: str | None = None, namespace: str | None = None,
                         uid: str = "",
                         steps_dir: str = "/tekton/steps",
                         credentials_path: str = "/tekton/creds") -> Context:
    """The variables of ``run`` with ``params`` (see ``params.resolve_params``).

    ``workspaces`` maps a workspace name to its path as the step sees it; a declared workspace
    left out is unbound (its path is empty and ``bound`` is "false", as Tekton does for optional
    workspaces)."""
    workspaces = dict(workspaces or {})
    s: dict[str, str] = {}
    types = {p.name: p.type for p in run.task.params}
    for name, value in params.items():
        types.setdefault(name, "array" if isinstance(value, list)
                         else "object" if isinstance(value, dict) else "string")
        if isinstance(value, str):
            s[f"params.{name}"] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                s[f"params.{name}.{k}"] = v
    root = results_dir.rstrip("/") or "/"
    for r in run.task.results:
        s[f"results.{r.name}.path"] = f"{root.rstrip('/')}/{r.name}"
    for w in run.task.workspaces:
        path = workspaces.get(w.name)
        bound = path is not None
        s[f"workspaces.{w.name}.path"] = path if bound else ""
        s[f"workspaces.{w.name}.bound"] = "true" if bound else "false"
        s[f"workspaces.{w.name}.claim"] = ""
        s[f"workspaces.{w.name}.volume"] = f"ws-{w.name}" if bound else ""
    for name, path in workspaces.items():  # bound but not declared (propagated)
        s.setdefault(f"workspaces.{name}.path", path)
        s.setdefault(f"workspaces.{name}.bound", "true")
    s["context.taskRun.name"] = task_run_name or run.name
    s["context.taskRun.namespace"] = namespace or run.namespace or "default"
    s["context.taskRun.uid"] = uid
    s["context.task.name"] = run.task_name or run.name
    s["context.task.retry-count"] = str(run.retry_count)
    s["credentials.path"] = credentials_path
    sroot = steps_dir.rstrip("/")
    for step in run.task.steps:
        s[f"steps.{step.container}.exitCode.path"] = f"{sroot}/{step.container}/exitCode"
    return Context(strings=s, params=dict(params), param_types=types,
                   file=run.source.file if run.source else None, steps_dir=sroot)


def _array_ref(name: str, ctx: Context):
    """The ParamRef when ``name`` names a whole array (``params.a[*]`` or ``params.a``)."""
    p = param_ref(name, ctx.param_types)
    if p and p.key is None and p.index is None and isinstance(ctx.params.get(p.name), list):
        return p
    return None


def _value(name: str, written: str, ctx: Context) -> str | None:
    """The string a reference stands for, None when unknown (left as written)."""
    if name in ctx.strings:
        return ctx.strings[name]
    p = param_ref(name, ctx.param_types)
    if p is None or p.name not in ctx.params:
        return None
    value = ctx.params[p.name]
    if p.index is not None and isinstance(value, list):
        if p.index >= len(value):
            raise UserError(f'{written}: index {p.index} is out of range: param "{p.name}" has '
                            f"{len(value)} element{'' if len(value) == 1 else 's'}",
                            file=ctx.file, fix=f"use an index below {len(value)}, or give "
                            f'"{p.name}" more elements')
        return value[p.index]
    if isinstance(value, list) and p.key is None:
        raise UserError(f'{written}: the array param "{p.name}" cannot be used inside a string',
                        file=ctx.file, fix=f"make it an args item of its own "
                        f"(- $(params.{p.name}[*])) or use one element, $(params.{p.name}[0])")
    if isinstance(value, dict) and p.key is None and p.star:
        raise UserError(f'{written}: the object param "{p.name}" cannot be used whole',
                        file=ctx.file, fix=f"use one key: $(params.{p.name}.<key>)")
    return None  # e.g. an object key that was not given: left as written


def substitute(text: str | None, ctx: Context) -> str | None:
    """``text`` with every known variable replaced (unknown ones kept)."""
    if not text or "$(" not in text:
        return text
    out: list[str] = []
    last = 0
    for ref in references(text):
        value = _value(ref.name, ref.text, ctx)
        if value is None:
            continue
        out.append(text[last:ref.start])
        out.append(value)
        last = ref.end
    out.append(text[last:])
    return "".join(out)


def substitute_list(items: Iterable[str], ctx: Context) -> list[str]:
    """command/args: each item substituted; an item that is exactly a whole array param
    (``$(params.a[*])``) becomes the array's elements."""
    out: list[str] = []
    for item in items:
        sole = sole_reference(item)
        whole = _array_ref(sole.name, ctx) if sole is not None else None
        if whole is not None:
            out.extend(ctx.params[whole.name])
        else:
            out.append(substitute(item, ctx))  # type: ignore[arg-type]
    return out


def substitute_step(step: Step, ctx: Context) -> Step:
    """A copy of ``step`` with its script, command, args, env values, workingDir, image and
    onError substituted (and its own ``$(step.results.<name>.path)``)."""
    if step.results:
        own = {f"step.results.{r.name}.path": f"{ctx.steps_dir}/{step.container}/results/{r.name}"
               for r in step.results}
        ctx = dataclasses.replace(ctx, strings={**ctx.strings, **own})
    env = [dataclasses.replace(e, value=substitute(e.value, ctx)) for e in step.env]
    return dataclasses.replace(
        step, image=substitute(step.image, ctx), script=substitute(step.script, ctx),
        command=substitute_list(step.command, ctx), args=substitute_list(step.args, ctx),
        env=env, working_dir=substitute(step.working_dir, ctx),
        on_error=substitute(step.on_error, ctx))


def variables(ctx: Context) -> dict[str, str]:
    """Every known variable as written in YAML (``$(params.x)``) and its value.

    Arrays and objects appear whole (``$(params.a[*])``, as JSON) and per element or key."""
    out: dict[str, str] = {}
    for name, value in ctx.params.items():
        if isinstance(value, list):
            out[f"$(params.{name}[*])"] = json.dumps(value)
            for i, v in enumerate(value):
                out[f"$(params.{name}[{i}])"] = v
        elif isinstance(value, dict):
            out[f"$(params.{name}[*])"] = json.dumps(value)
    for name, value in ctx.strings.items():
        out[f"$({name})"] = value
    return dict(sorted(out.items()))


def lookup(expression: str, ctx: Context) -> str | None:
    """The value of one variable as a user may type it (``$(params["x"])``, ``params.x``),
    or None when unknown. For hovers and watch expressions."""
    text = expression.strip()
    if not text.startswith("$("):
        text = f"$({text})"
    ref = sole_reference(text)
    if ref is None:
        return None
    arr = _array_ref(ref.name, ctx)
    if arr is not None:
        return json.dumps(ctx.params[arr.name])
    p = param_ref(ref.name, ctx.param_types)
    if p and p.key is None and p.star and isinstance(ctx.params.get(p.name), dict):
        return json.dumps(ctx.params[p.name])
    try:
        return _value(ref.name, ref.text, ctx)
    except UserError:
        return None
