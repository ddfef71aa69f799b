"""What the language server knows about one YAML text: its Tekton objects and their declarations.

The loader (``tekton.loader``) builds the model only from documents that pass validation; an
editor shows documents that do not, most of the time. :func:`analyse` therefore reads the same
YAML (``tekton.yamlpos``) without judging it, and keeps, for each Task or TaskRun, the params,
results, workspaces and steps it can find, with their paths in the YAML so that features can point
at a name, a key or a whole entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Union

from tekton_debug.errors import Problem, UserError
from tekton_debug.tekton.model import ParamSpec, ResultSpec, Step, WorkspaceDecl
from tekton_debug.tekton.validation import declared_type
from tekton_debug.tekton.yamlpos import Path, Span, YamlDoc, load_documents

KINDS = ("Task", "TaskRun")

_API_LINE = re.compile(r"""^apiVersion:\s*["']?tekton\.dev/""", re.MULTILINE)
_KIND_LINE = re.compile(r"""^kind:\s*["']?(Task|TaskRun)["']?\s*(#.*)?$""", re.MULTILINE)

Spec = Union[ParamSpec, ResultSpec, WorkspaceDecl, Step]


@dataclass
class Declared:
    """A param, result, workspace or step, and where it stands (``path`` in ``doc``)."""

    name: str
    path: Path
    spec: Spec
    doc: YamlDoc

    @property
    def name_span(self) -> Span | None:
        """Where its name is written, else where the entry starts."""
        return self.doc.span(self.path + ("name",)) or self.doc.span(self.path)

    @property
    def span(self) -> Span | None:
        return self.doc.span(self.path)


@dataclass
class TaskInfo:
    """The declarations of a Task spec found at ``base`` in ``doc``."""

    doc: YamlDoc
    base: Path
    params: list[Declared] = field(default_factory=list)
    results: list[Declared] = field(default_factory=list)
    workspaces: list[Declared] = field(default_factory=list)
    steps: list[Declared] = field(default_factory=list)

    def param_types(self) -> dict[str, str]:
        return {d.name: d.spec.type for d in self.params}  # type: ignore[union-attr]

    def find(self, group: str, name: str) -> Declared | None:
        return next((d for d in getattr(self, group) if d.name == name), None)


@dataclass
class TektonObject:
    """One Task or TaskRun document of the text."""

    doc: YamlDoc
    kind: str
    task: TaskInfo | None  # the Task itself, a TaskRun's taskSpec, or the Task its taskRef names
    task_ref: str | None = None  # a TaskRun's taskRef.name

    @property
    def name(self) -> str | None:
        meta = self.doc.data.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if name is None and isinstance(meta, dict):
            name = meta.get("generateName")
        return name if isinstance(name, str) else None

    @property
    def span(self) -> Span | None:
        return self.doc.span(())

    def contains(self, line: int) -> bool:
        s = self.span
        return s is not None and s.line <= line <= s.end_line


@dataclass
class Analysis:
    """A text as the language server sees it."""

    text: str
    file: str | None
    docs: list[YamlDoc] = field(default_factory=list)
    objects: list[TektonObject] = field(default_factory=list)
    syntax_error: Problem | None = None
    # a taskRef or a step's ref names what is not in the text (or goes through a resolver):
    # answering about it reads other files (:func:`refers_elsewhere`)
    elsewhere: bool = False

    @property
    def tekton(self) -> bool:
        """The text holds a Task or TaskRun (judged by its lines when the YAML does not parse)."""
        return bool(self.objects) or (self.syntax_error is not None and looks_tekton(self.text))

    def object_at(self, line: int) -> TektonObject | None:
        """The object whose lines hold ``line`` (1-based); else the last one that starts above."""
        best = None
        for o in self.objects:
            s = o.span
            if s is None:
                continue
            if s.line <= line <= s.end_line:
                return o
            if s.line <= line:
                best = o
        if best is None and len(self.objects) == 1:
            return self.objects[0]
        return best


def looks_tekton(text: str) -> bool:
    return bool(_API_LINE.search(text) and _KIND_LINE.search(text))


def is_tekton(doc: YamlDoc) -> bool:
    data = doc.data
    return isinstance(data, dict) and isinstance(data.get("apiVersion"), str) \
        and data["apiVersion"].startswith("tekton.dev/") and data.get("kind") in KINDS


def analyse(text: str, file: str | None = None) -> Analysis:
    """The Tekton objects of ``text``. Never raises: a syntax error is kept as a Problem."""
    try:
        docs = load_documents(text, file)
    except UserError as e:
        return Analysis(text, file, syntax_error=e.first)
    except Exception:  # noqa: BLE001 - an editor's buffer must never break the server
        return Analysis(text, file)
    objects: list[TektonObject] = []
    tasks: dict[str, TaskInfo] = {}
    for d in docs:
        if not is_tekton(d):
            continue
        spec = d.data.get("spec")
        spec = spec if isinstance(spec, dict) else {}
        if d.data["kind"] == "Task":
            info = task_info(d, ("spec",))
            objects.append(TektonObject(d, "Task", info))
            name = objects[-1].name
            if name:
                tasks.setdefault(name, info)
        elif spec.get("taskSpec") is not None:
            objects.append(TektonObject(d, "TaskRun", task_info(d, ("spec", "taskSpec"))))
        else:
            ref = spec.get("taskRef")
            ref_name = ref.get("name") if isinstance(ref, dict) else None
            objects.append(TektonObject(d, "TaskRun", None,
                                        ref_name if isinstance(ref_name, str) else None))
    for o in objects:  # a taskRef to a Task of the same text
        if o.task is None and o.task_ref in tasks:
            o.task = tasks[o.task_ref]
    return Analysis(text, file, docs, objects, elsewhere=refers_elsewhere(docs))


def refers_elsewhere(docs: list[YamlDoc]) -> bool:
    """Whether a taskRef (of a TaskRun or a pipeline task) or a step's ref in ``docs`` names a
    Task or StepAction that is not one of ``docs``, or goes through a resolver: the features
    that follow it then read the YAML files next to this one, or the resolver's cache."""
    here = set()
    for d in docs:
        meta = d.data.get("metadata") if isinstance(d.data, dict) else None
        if isinstance(meta, dict) and isinstance(meta.get("name"), str):
            kind = d.data.get("kind")
            here.add(("Task" if kind == "ClusterTask" else kind, meta["name"]))
    for d in docs:
        for path in d.keys:
            if path and path[-1] == "taskRef":
                kind = "Task"
            elif len(path) >= 3 and path[-1] == "ref" and path[-3] == "steps":
                kind = "StepAction"
            else:
                continue
            ref = _get(d.data, path)
            if isinstance(ref, dict) and (ref.get("resolver") is not None or (
                    isinstance(ref.get("name"), str) and (kind, ref["name"]) not in here)):
                return True
    return False


def referenced_task(analysis: Analysis, obj: TektonObject) -> TaskInfo | None:
    """The Task a TaskRun's taskRef names, also from the YAML files next to this one."""
    if obj.task is not None or obj.task_ref is None:
        return obj.task
    from tekton_debug.lsp.neighbours import NEIGHBOURS

    try:
        doc = NEIGHBOURS.local("Task", obj.task_ref, analysis.docs, analysis.file)
    except Exception:  # noqa: BLE001 - unreadable neighbours: no Task
        return None
    return task_info(doc, ("spec",)) if doc is not None and doc.located else None


def task_info(doc: YamlDoc, base: Path) -> TaskInfo:
    """Every declaration that has a name in the Task spec at ``base``; malformed ones skipped."""
    spec = _get(doc.data, base)
    info = TaskInfo(doc, base)
    if not isinstance(spec, dict):
        return info
    for i, item in _items(spec.get("params")):
        if isinstance(item.get("name"), str):
            t = item.get("type") if item.get("type") in ("string", "array", "object") \
                else declared_type({k: v for k, v in item.items() if k != "type"})
            props = item.get("properties")
            info.params.append(Declared(item["name"], base + ("params", i), ParamSpec(
                name=item["name"], type=t, default=item.get("default"),
                description=_str(item.get("description")),
                properties={str(k): (v if isinstance(v, dict) else {"type": "string"})
                            for k, v in props.items()} if isinstance(props, dict) else {},
                pos=doc.pos(base + ("params", i))), doc))
    for i, item in _items(spec.get("results")):
        if isinstance(item.get("name"), str):
            info.results.append(Declared(item["name"], base + ("results", i), ResultSpec(
                name=item["name"], type=_str(item.get("type")) or "string",
                description=_str(item.get("description")),
                pos=doc.pos(base + ("results", i))), doc))
    for i, item in _items(spec.get("workspaces")):
        if isinstance(item.get("name"), str):
            mount = item.get("mountPath")
            info.workspaces.append(Declared(item["name"], base + ("workspaces", i), WorkspaceDecl(
                name=item["name"], description=_str(item.get("description")),
                mount_path=mount if isinstance(mount, str) else None,
                optional=item.get("optional") is True, read_only=item.get("readOnly") is True,
                pos=doc.pos(base + ("workspaces", i))), doc))
    for i, item in _items(spec.get("steps")):
        name = item.get("name") if isinstance(item.get("name"), str) and item.get("name") else None
        image = item.get("image")
        step = Step(index=i, name=name, image=image if isinstance(image, str) else None,
                    pos=doc.pos(base + ("steps", i)), raw=item)
        info.steps.append(Declared(step.debug_name, base + ("steps", i), step, doc))
    return info


def _get(data: Any, path: Path) -> Any:
    for p in path:
        if isinstance(data, dict) and p in data:
            data = data[p]
        elif isinstance(data, list) and isinstance(p, int) and 0 <= p < len(data):
            data = data[p]  # a Pipeline's tasks: ("spec", "tasks", 2, "taskSpec")
        else:
            return None
    return data


def _items(value: Any) -> list[tuple[int, dict]]:
    if not isinstance(value, list):
        return []
    return [(i, v) for i, v in enumerate(value) if isinstance(v, dict)]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""
