"""The Tekton variables a Task offers, and what a ``$(...)`` under the cursor refers to.

Shared by completion (what may follow ``$(params.``), hover (what ``$(params.x)`` is) and
go-to-definition (where ``x`` is declared).
"""

from __future__ import annotations

from dataclasses import dataclass

from tekton_debug.lsp.document import Declared, TaskInfo
from tekton_debug.tekton.model import ParamSpec, ResultSpec, WorkspaceDecl, shown
from tekton_debug.tekton.variables import Reference, param_ref, references

CONTEXT = {
    "context.taskRun.name": "the TaskRun's name",
    "context.taskRun.namespace": "the TaskRun's namespace",
    "context.taskRun.uid": "the TaskRun's uid",
    "context.task.name": "the Task's name",
    "context.task.retry-count": "how many times this TaskRun has been retried (0 on the first try)",
}
WORKSPACE_FIELDS = {
    "path": "where the workspace is mounted in the steps",
    "bound": '"true" when the TaskRun binds the workspace, "false" when an optional workspace '
             "is left out",
    "claim": "the PersistentVolumeClaim's name, empty for other volume sources",
    "volume": "the name of the volume that backs the workspace",
}
ROOTS = {
    "params": "a param of this Task",
    "results": "a result of this Task: $(results.<name>.path)",
    "workspaces": "a workspace of this Task: $(workspaces.<name>.path)",
    "context": "the TaskRun and Task: $(context.taskRun.name), ...",
}


@dataclass(frozen=True)
class Candidate:
    """Text that may follow ``head`` in a ``$(``…: ``head`` + ``label`` is a variable (or the
    beginning of one, when not ``complete``)."""

    head: str
    label: str
    detail: str
    documentation: str
    complete: bool
    kind: str  # "param", "result", "workspace", "field", "context", "root"


def candidates(task: TaskInfo | None) -> list[Candidate]:
    out = [Candidate("", root + ".", "", doc, False, "root") for root, doc in ROOTS.items()]
    for name, doc in CONTEXT.items():
        rest = name[len("context."):]
        out.append(Candidate("context.", rest, "context", doc, True, "context"))
        group, _, leaf = rest.partition(".")
        out.append(Candidate(f"context.{group}.", leaf, "context", doc, True, "context"))
    if task is None:
        return out
    for d in task.params:
        p: ParamSpec = d.spec  # type: ignore[assignment]
        out.append(Candidate("params.", d.name, p.type, describe_param(p), p.type != "object",
                             "param"))
        if p.type == "array":
            out.append(Candidate("params.", f"{d.name}[*]", "array, whole", describe_param(p),
                                 True, "param"))
        for key, prop in p.properties.items():
            t = prop.get("type", "string") if isinstance(prop, dict) else "string"
            out.append(Candidate(f"params.{d.name}.", key, f"{t} (key of {d.name})",
                                 describe_param(p), True, "field"))
    for d in task.results:
        r: ResultSpec = d.spec  # type: ignore[assignment]
        out.append(Candidate("results.", d.name, "result", describe_result(r), False, "result"))
        out.append(Candidate(f"results.{d.name}.", "path", "result file", describe_result(r),
                             True, "field"))
    for d in task.workspaces:
        w: WorkspaceDecl = d.spec  # type: ignore[assignment]
        out.append(Candidate("workspaces.", d.name, "workspace", describe_workspace(w), False,
                             "workspace"))
        for f, doc in WORKSPACE_FIELDS.items():
            out.append(Candidate(f"workspaces.{d.name}.", f, f"workspace {f}",
                                 f"{doc}.\n\n" + describe_workspace(w), True, "field"))
    return out


# ---- what a reference is ----------------------------------------------------------------------

def reference_at(line_text: str, column0: int) -> Reference | None:
    """The ``$(...)`` of ``line_text`` that holds the cursor at ``column0`` (code points)."""
    for ref in references(line_text):
        if ref.start <= column0 <= ref.end - 1:
            return ref
    return None


@dataclass(frozen=True)
class Target:
    """What a reference names: its declaration (when declared) and text to show for it."""

    declared: Declared | None
    markdown: str
    key: str | None = None  # an object param's key


def resolve(name: str, task: TaskInfo | None) -> Target | None:
    """What the normalised reference ``name`` (``params.x``) stands for; None when unknown."""
    if name in CONTEXT:
        return Target(None, f"`$({name})`: {CONTEXT[name]}.")
    root = name.split(".", 1)[0]
    if root not in ("params", "results", "workspaces"):
        return None
    if task is None:
        return Target(None, f"`$({name})`: the Task this TaskRun runs is not in this file or next "
                            "to it, so its declarations are unknown.")
    if root == "params":
        pr = param_ref(name, task.param_types())
        d = task.find("params", pr.name) if pr else None
        if d is None or pr is None:
            what = pr.name if pr else name[len("params."):]
            return Target(None, f'`$({name})`: param "{what}" is not declared by this Task.')
        p: ParamSpec = d.spec  # type: ignore[assignment]
        text = describe_param(p)
        if pr.key is not None:
            t = p.properties.get(pr.key, {}).get("type", "string") if pr.key in p.properties \
                else None
            head = f'key **{pr.key}** of object param **{p.name}**' + (f" ({t})" if t else
                                                                        " (not in its properties)")
            text = head + "\n\n" + text
        elif pr.index is not None:
            text = f"element {pr.index} of array param **{p.name}**\n\n" + text
        return Target(d, text, pr.key)
    parts = name.split(".")
    group = parts[1] if len(parts) > 1 else ""
    field = ".".join(parts[2:])
    if root == "results":
        d = task.find("results", group)
        if d is None:
            return Target(None, f'`$({name})`: result "{group}" is not declared by this Task.')
        return Target(d, f"`$({name})`: the file a step writes result **{group}** to "
                         f"(/tekton/results/{group}).\n\n" + describe_result(d.spec))  # type: ignore
    d = task.find("workspaces", group)
    if d is None:
        return Target(None, f'`$({name})`: workspace "{group}" is not declared by this Task.')
    w: WorkspaceDecl = d.spec  # type: ignore[assignment]
    doc = WORKSPACE_FIELDS.get(field)
    head = f"`$({name})`: {doc}" + (f": `{w.path}`" if field == "path" else "") + "." if doc \
        else f"`$({name})`"
    return Target(d, head + "\n\n" + describe_workspace(w))


def describe_param(p: ParamSpec) -> str:
    lines = [f"**param {p.name}** ({p.type})"]
    if p.description:
        lines.append(p.description.strip())
    if p.default is None:
        lines.append("Required: no default.")
    else:
        lines.append(f"Default: `{shown(p.default)}`")
    if p.properties:
        lines.append("Keys: " + ", ".join(f"`{k}`" for k in p.properties))
    return "\n\n".join(lines)


def describe_result(r: ResultSpec) -> str:
    lines = [f"**result {r.name}** ({r.type})"]
    if r.description:
        lines.append(r.description.strip())
    return "\n\n".join(lines)


def describe_workspace(w: WorkspaceDecl) -> str:
    flags = [f for f, on in (("optional", w.optional), ("read-only", w.read_only)) if on]
    lines = [f"**workspace {w.name}**" + (f" ({', '.join(flags)})" if flags else ""),
             f"Mounted at `{w.path}`"]
    if w.description:
        lines.insert(1, w.description.strip())
    return "\n\n".join(lines)
