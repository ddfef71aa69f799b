"""The Pipeline model: Pipelines and PipelineRuns as the rest of tekton-debug sees them.

Loaded by ``tekton.pipeline_loader`` (validated by ``tekton.pipeline_validation`` first). Each
pipeline task carries its Task (``TaskSpec``, from a ``taskRef`` or an inline ``taskSpec``) and
where it stands in its file, so that the editor can point at the task in the Pipeline file and at
the step in the Task file. Param values, ``when`` inputs and pipeline results stay as written: the
``$(params.x)`` and ``$(tasks.X.results.Y)`` references in them are resolved by the pipeline layer
when the task becomes ready.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from tekton_debug.tekton.matrix import Matrix
from tekton_debug.tekton.model import Document, ParamSpec, Pos, TaskSpec
from tekton_debug.tekton.variables import references

#: ``$(tasks.status)``: the aggregate status of the ``tasks`` entries, in ``finally`` only.
TASKS_STATUS = "tasks.status"
#: tekton-debug's own label on the TaskRuns of one PipelineRun it runs on a cluster (no PipelineRun
#: object exists there: this groups them, e.g. ``kubectl get taskruns -l`` with it; its value is
#: the run's id, ``$(context.pipelineRun.uid)``)
GROUP_LABEL = "tekton-debug.dev/pipelinerun-uid"
#: beside it, on the TaskRun of a matrix combination: its index (Tekton's own labels name only the
#: pipeline task, the same on every combination); on a retry's TaskRun: how many retries preceded it
MATRIX_INDEX_LABEL = "tekton-debug.dev/matrix-index"
RETRY_LABEL = "tekton-debug.dev/retry-count"


@dataclass(frozen=True)
class TaskReference:
    """A ``$(tasks.X.…)`` reference: a result (``results.Y``, ``results.Y[*]``,
    ``results.Y[0]``, ``results.Y.key``), ``status``, ``reason``, or the length of a matrixed
    task's fan-out (``matrix.length``) or of one of its aggregated results
    (``matrix.Y.length``)."""

    task: str
    what: str  # "results", "status", "reason" or "matrix"
    result: str | None = None  # for "results" (and "matrix.Y.length"): the result's name
    text: str = ""  # as written
    name: str = ""  # normalised, without "$(" and ")"


def task_references(text: Any) -> Iterator[TaskReference]:
    """Every ``$(tasks.X.results.Y)``, ``$(tasks.X.status)``, ``$(tasks.X.reason)``,
    ``$(tasks.X.matrix.length)`` in a value (a string, or a list / mapping of them).
    ``$(tasks.status)`` is not one (no task named)."""
    for s in _strings(text):
        for ref in references(s):
            parts = ref.name.split(".")
            if len(parts) < 3 or parts[0] != "tasks":
                continue
            if parts[2] == "results" and len(parts) >= 4:
                name = parts[3].split("[", 1)[0]
                yield TaskReference(parts[1], "results", name, ref.text, ref.name)
            elif parts[2] in ("status", "reason") and len(parts) == 3:
                yield TaskReference(parts[1], parts[2], None, ref.text, ref.name)
            elif parts[2] == "matrix" and parts[-1] == "length" and len(parts) in (4, 5):
                yield TaskReference(parts[1], "matrix", parts[3] if len(parts) == 5 else None,
                                    ref.text, ref.name)


def result_selector(ref: TaskReference) -> str:
    """What a result reference takes of the result: "" (all of a string), "[*]" (a whole array
    or object), "[N]" (an array element) or ".key" (an object's key)."""
    rest = ref.name.split(".", 3)[3] if ref.name.count(".") >= 3 else ""
    rest = rest[len(ref.result or ""):]
    return rest


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


@dataclass
class WhenExpression:
    """``when: [{input, operator, values}]`` or ``[{cel}]``: the task runs only when every one
    holds."""

    input: str
    operator: str  # "in" or "notin" ("" with cel)
    values: list[str]
    pos: Pos | None = None
    cel: str | None = None  # a CEL expression, in place of input, operator and values


@dataclass
class WorkspaceBinding:
    """A pipeline task's ``workspaces`` entry: the Task's workspace ``name`` gets the Pipeline's
    ``workspace`` (the same name when not written), at ``sub_path`` inside it."""

    name: str
    workspace: str
    sub_path: str = ""


@dataclass
class PipelineTask:
    name: str
    task: TaskSpec
    task_name: str | None = None  # the referenced Task's metadata.name (None when inline)
    source: Document | None = None  # the file the Task's steps stand in
    params: dict[str, Any] = field(default_factory=dict)  # as written: $(...) not resolved
    workspaces: list[WorkspaceBinding] = field(default_factory=list)
    run_after: list[str] = field(default_factory=list)
    when: list[WhenExpression] = field(default_factory=list)
    retries: int = 0
    timeout: float | None = None  # seconds; None: what the PipelineRun's timeouts leave
    on_error: str | None = None  # "continue" or "stopAndFail" (the default)
    is_finally: bool = False
    embedded: bool = False  # inline taskSpec: pipeline params propagate into it
    matrix: Matrix | None = None  # fanned out: one TaskRun per combination of params
    pos: Pos | None = None  # the pipeline task's first line ("- name: ...") to its last
    raw: dict = field(default_factory=dict)

    @property
    def references(self) -> list[TaskReference]:
        """Task references in its params, matrix and ``when`` (what orders it after other
        tasks)."""
        values: list[Any] = list(self.params.values())
        if self.matrix is not None:
            values.extend(self.matrix.values())
        for w in self.when:
            values.append(w.input)
            values.extend(w.values)
            if w.cel is not None:
                values.append(w.cel)
        return list(task_references(values))

    @property
    def dependencies(self) -> list[str]:
        """The tasks that must end before this one starts: ``runAfter`` and result references,
        in order of appearance, without repeats."""
        out = list(self.run_after)
        out += [r.task for r in self.references if r.what == "results"]
        return list(dict.fromkeys(out))


@dataclass
class PipelineWorkspace:
    name: str
    description: str = ""
    optional: bool = False
    pos: Pos | None = None


@dataclass
class PipelineResult:
    name: str
    value: Any  # a string, list or mapping with $(tasks.X.results.Y) references
    type: str = "string"
    description: str = ""
    pos: Pos | None = None


@dataclass
class Pipeline:
    name: str
    tasks: list[PipelineTask]
    finally_tasks: list[PipelineTask] = field(default_factory=list)
    params: list[ParamSpec] = field(default_factory=list)
    workspaces: list[PipelineWorkspace] = field(default_factory=list)
    results: list[PipelineResult] = field(default_factory=list)
    description: str = ""
    source: Document | None = None  # the file the pipeline tasks stand in
    pos: Pos | None = None

    @property
    def all_tasks(self) -> list[PipelineTask]:
        return self.tasks + self.finally_tasks

    def task_named(self, name: str) -> PipelineTask | None:
        return next((t for t in self.all_tasks if t.name == name), None)

    def task_at_line(self, line: int) -> PipelineTask | None:
        """The pipeline task whose YAML contains ``line`` (1-based), if any."""
        for t in self.all_tasks:
            if t.pos and t.pos.line <= line <= (t.pos.end_line or t.pos.line):
                return t
        return None


@dataclass
class PipelineRun:
    """A PipelineRun to run. A file holding only a Pipeline yields one named ``<pipeline>-run``."""

    name: str
    pipeline: Pipeline
    pipeline_name: str | None = None
    namespace: str | None = None
    api_version: str = "tekton.dev/v1"
    params: dict[str, Any] = field(default_factory=dict)  # as given in the PipelineRun
    workspaces: list[dict] = field(default_factory=list)  # PipelineRun bindings, as written
    timeout: float | None = None  # timeouts.pipeline (v1beta1: timeout); None: Tekton's 1h
    tasks_timeout: float | None = None  # timeouts.tasks
    finally_timeout: float | None = None  # timeouts.finally
    source: Document | None = None
    pos: Pos | None = None
    raw: dict = field(default_factory=dict)

    def binding(self, workspace: str) -> dict | None:
        return next((w for w in self.workspaces
                     if isinstance(w, dict) and w.get("name") == workspace), None)


def strings_in(values: Iterable[Any]) -> Iterator[str]:
    """Every string in some params values (strings, lists, mappings)."""
    for v in values:
        yield from _strings(v)
