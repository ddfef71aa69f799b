"""The Tekton model: Tasks and TaskRuns as the rest of tekton-debug sees them.

Loaded from YAML by ``tekton.loader``; every object keeps where it stands in its file so that the
editor can point at it. Names follow Tekton's API (``onError``, ``workingDir``, ``beforeSteps``) in
snake_case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Union

ParamValue = Union[str, list, dict]


def yaml_text(value: Any) -> str:
    """A YAML scalar as the string Tekton sees (``true``, not ``True``; null is empty)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    return str(value)


def param_value(value: Any) -> ParamValue:
    """A param value as Tekton keeps it: a string, a list of strings or a mapping of strings."""
    if isinstance(value, list):
        return [yaml_text(v) for v in value]
    if isinstance(value, dict):
        return {str(k): yaml_text(v) for k, v in value.items()}
    return yaml_text(value)


def shown(value: Any) -> str:
    """A param or result value as shown: a string as it is, an array or object as JSON (as
    Tekton substitutes a whole one)."""
    return value if isinstance(value, str) else json.dumps(value)


@dataclass(frozen=True)
class Pos:
    """A place in a source file. Lines and columns are 1-based."""

    file: str | None
    line: int
    column: int = 1
    end_line: int | None = None  # last line of the object (inclusive), where it spans several


@dataclass
class EnvVar:
    name: str
    value: str | None = None
    value_from: dict | None = None  # Kubernetes valueFrom, as written
    pos: Pos | None = None

    @property
    def secret(self) -> bool:
        """Its value comes from a Kubernetes Secret (and must be masked)."""
        return bool(self.value_from and "secretKeyRef" in self.value_from)


@dataclass
class StepActionUse:
    """The StepAction a step uses (``ref``), and where it stands: the debugger shows it as a
    frame under the step's own line."""

    name: str | None  # the StepAction's metadata.name
    pos: Pos | None = None  # the StepAction document (its first to last line), in its file
    script_pos: Pos | None = None  # where its script's text starts
    source: "Document | None" = None  # its file and text
    remote: str | None = None  # where a remote one came from (resolver, url, ...)


@dataclass
class Step:
    index: int  # 0-based position in the Task
    name: str | None  # as written; None for an unnamed step
    image: str | None = None
    script: str | None = None
    command: list[str] = field(default_factory=list)
    args: list[str] = field(default_factory=list)
    env: list[EnvVar] = field(default_factory=list)
    env_from: list[dict] = field(default_factory=list)
    working_dir: str | None = None
    on_error: str | None = None  # "continue" or "stopAndFail"
    timeout: float | None = None  # seconds
    pos: Pos | None = None  # the step's first line ("- name: ...") to its last line (end_line)
    script_pos: Pos | None = None  # where the script's text starts (in the action's file for
    # a step that uses a StepAction)
    raw: dict = field(default_factory=dict)
    results: list["ResultSpec"] = field(default_factory=list)  # step results (StepActions)
    action: StepActionUse | None = None  # the StepAction it uses, if any

    @property
    def debug_name(self) -> str:
        """The name breakpoints use: the step's name, or ``unnamed-<i>`` (its container's suffix)."""
        return self.name if self.name else f"unnamed-{self.index}"

    @property
    def container(self) -> str:
        return f"step-{self.debug_name}"


@dataclass
class ParamSpec:
    name: str
    type: str = "string"  # "string", "array" or "object"
    default: ParamValue | None = None
    description: str = ""
    properties: dict[str, Any] = field(default_factory=dict)  # object params: key -> {type}
    pos: Pos | None = None

    @property
    def required(self) -> bool:
        return self.default is None


@dataclass
class ResultSpec:
    name: str
    type: str = "string"
    description: str = ""
    pos: Pos | None = None


@dataclass
class WorkspaceDecl:
    name: str
    description: str = ""
    mount_path: str | None = None  # default /workspace/<name>
    optional: bool = False
    read_only: bool = False
    pos: Pos | None = None

    @property
    def path(self) -> str:
        return self.mount_path or f"/workspace/{self.name}"


@dataclass
class TaskSpec:
    steps: list[Step]
    params: list[ParamSpec] = field(default_factory=list)
    results: list[ResultSpec] = field(default_factory=list)
    workspaces: list[WorkspaceDecl] = field(default_factory=list)
    step_template: dict = field(default_factory=dict)  # already merged into steps
    sidecars: list[dict] = field(default_factory=list)
    description: str = ""
    pos: Pos | None = None
    raw: dict = field(default_factory=dict)

    def step_named(self, name: str) -> Step | None:
        return next((s for s in self.steps if s.debug_name == name), None)

    def step_at_line(self, line: int) -> Step | None:
        """The step whose YAML contains ``line`` (1-based), if any."""
        for s in self.steps:
            if s.pos and s.pos.line <= line <= (s.pos.end_line or s.pos.line):
                return s
        return None


@dataclass
class DebugSpec:
    """The TaskRun's debug field, whichever of the three spellings it was written in."""

    on_failure: bool = False
    before_steps: list[str] = field(default_factory=list)
    # "breakpoints" (v0.53+: breakpoints.onFailure: enabled), "breakpoint" (v0.26-v0.52:
    # breakpoint: [onFailure]) or "seed" (TEP-0042 draft: spec.breakpoint.onFailure: true)
    spelling: str = "breakpoints"
    pos: Pos | None = None


@dataclass
class Document:
    """A source file as loaded: its path (None when it came from elsewhere) and its text."""

    file: str | None
    text: str


@dataclass
class TaskRun:
    """A TaskRun to run. A file holding only a Task yields a TaskRun that references it."""

    name: str  # metadata.name, or generated from generateName / the Task's name
    task: TaskSpec
    task_name: str | None = None  # the Task's metadata.name (taskRef or the loaded Task)
    namespace: str | None = None
    api_version: str = "tekton.dev/v1"
    params: dict[str, ParamValue] = field(default_factory=dict)  # as given in the TaskRun
    workspaces: list[dict] = field(default_factory=list)  # TaskRun workspace bindings, as written
    debug: DebugSpec | None = None
    timeout: float | None = None  # seconds; None = Tekton's default (1h); 0 = none
    service_account: str | None = None
    task_ref: str | None = None  # set when the Task is referenced, not embedded
    source: Document | None = None  # the file the Task's steps stand in
    pos: Pos | None = None
    raw: dict = field(default_factory=dict)
    task_origin: str | None = None  # where a remote taskRef resolved to (git url @ commit ...)
    # why a remote taskRef could not be fetched here; the cluster resolves it (steps then unknown
    # until it has)
    unresolved: str | None = None
    warnings: list = field(default_factory=list)  # Problems Tekton accepts (severity warning)
    retry_count: int = 0  # a pipeline task's retries so far ($(context.task.retry-count))
