"""Runtimes: where steps really run. ``create_runtime`` picks one from the launch options."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, TypeVar

from tekton_debug.errors import RuntimeUnavailable, UserError
from tekton_debug.runtimes.base import Runtime
from tekton_debug.options import LaunchOptions

RUNTIMES = ("auto", "container", "local", "kubernetes")
T = TypeVar("T")


class SharedStart:
    """What the runs that start together (a PipelineRun's TaskRuns) find out once: whether a
    container engine works, whether an image is here (``auto`` then chooses for every TaskRun
    from the same answers), each asked by the first run that needs it while the others wait; and
    the directory their run directories go in."""

    def __init__(self, run_root: Path | str | None = None) -> None:
        self.run_root = run_root
        self._lock = threading.Lock()
        self._answers: dict[object, list] = {}  # key -> [lock, (value, error) or None]

    def once(self, key: object, compute: Callable[[], T]) -> T:
        """``compute()``'s value (or exception) for ``key``, computed by the first caller."""
        with self._lock:
            entry = self._answers.setdefault(key, [threading.Lock(), None])
        with entry[0]:
            if entry[1] is None:
                try:
                    entry[1] = (compute(), None)
                except (UserError, OSError) as exc:
                    entry[1] = (None, exc)
        value, error = entry[1]
        if error is not None:
            raise error
        return value


def create_runtime(options: LaunchOptions, shared: SharedStart | None = None) -> Runtime:
    """"auto" (the default: containers when they can run, else this host), "container",
    "local" or "kubernetes". Each is imported only when chosen: the kubernetes client costs
    ~340 ms to import and is needed only on a cluster. ``shared``: what runs started together
    find out once."""
    name = options.runtime or "auto"
    if name == "kubernetes":
        from tekton_debug.runtimes.kubernetes import KubernetesRuntime
        return KubernetesRuntime(options)
    if name == "local":
        from tekton_debug.runtimes.local.runtime import LocalRuntime
        return LocalRuntime(shared.run_root if shared else None, workspaces=options.workspaces,
                            params=options.params)
    if name == "container":
        from tekton_debug.runtimes.container import ContainerRuntime
        return ContainerRuntime(options, shared=shared)
    if name == "auto":
        return AutoRuntime(options, shared)
    raise UserError(f"unknown runtime {name!r}",
                    fix='set "runtime" to "auto" (the default), "container" (steps in their '
                        'images), "local" (processes on this machine) or "kubernetes" (TaskRuns '
                        "on a cluster)")


def pipeline_claims(options: LaunchOptions):
    """What makes and deletes the claims a PipelineRun's TaskRuns share (``PipelineClaims``), on
    a cluster; None elsewhere (workspaces are directories of this machine there)."""
    if options.runtime != "kubernetes":
        return None
    from tekton_debug.runtimes.kubernetes.claims import PipelineClaims
    return PipelineClaims(options)


def pipeline_group(options: LaunchOptions, wanted: str):
    """The TaskRuns of a PipelineRun that tekton-debug runs on a cluster (``Group``), found by its
    group label (its id) or its name. Raises UserError (also where there is no cluster)."""
    if options.runtime != "kubernetes":
        raise UserError(f"PipelineRun {wanted}: attaching to a PipelineRun needs the cluster it "
                        "runs on (on this machine its TaskRuns live inside the process that runs "
                        "them)", fix="add --runtime kubernetes (\"runtime\": \"kubernetes\"), "
                                     "with --context / -n as needed")
    from tekton_debug.runtimes.kubernetes.group import find_group
    return find_group(options, wanted)


class AutoRuntime:
    """Steps in their images when a container engine works and every image can be had (here or
    pulled); otherwise processes on this host, with a notice naming what was missing and what to
    install. Decided at ``start``; then every call goes to the runtime chosen."""

    def __init__(self, options: LaunchOptions, shared: SharedStart | None = None) -> None:
        self.options = options
        self.shared = shared
        self.chosen: Runtime | None = None

    @property
    def name(self) -> str:
        return self.chosen.name if self.chosen is not None else "auto"

    def start(self, run, plan, listener) -> None:
        from tekton_debug.runtimes.container import ContainerRuntime
        from tekton_debug.runtimes.container.runtime import ImageUnavailable
        from tekton_debug.runtimes.local.runtime import LocalRuntime

        containers = ContainerRuntime(self.options, shared=self.shared)
        try:
            containers.start(run, plan, listener)
            self.chosen = containers
            return
        except (RuntimeUnavailable, ImageUnavailable) as exc:
            problem = exc.first
            where = (f"{problem.file}:{problem.line}: " if problem.file and problem.line else "")
            why, fix = where + problem.message, problem.fix
        finally:
            if self.chosen is None:
                containers.close()
        local = LocalRuntime(self.shared.run_root if self.shared else None,
                             workspaces=self.options.workspaces, params=self.options.params,
                             not_in_images=f"{why}. {fix[:1].upper() + fix[1:]}" if fix else why)
        self.chosen = local
        local.start(run, plan, listener)

    def attach(self, task_run, plan, listener):
        from tekton_debug.runtimes.local.runtime import LocalRuntime
        self.chosen = LocalRuntime()
        return self.chosen.attach(task_run, plan, listener)

    def _runtime(self) -> Runtime:
        if self.chosen is None:
            from tekton_debug.errors import WrongTime
            raise WrongTime("the TaskRun has not started", fix="start it first")
        return self.chosen

    def deadline(self):
        return self.chosen.deadline() if self.chosen is not None else None

    def step_environment(self, index):
        return self._runtime().step_environment(index)

    def exec(self, index, argv, *, stdin=None, timeout=30.0):
        return self._runtime().exec(index, argv, stdin=stdin, timeout=timeout)

    def shell_command(self, index):
        return self._runtime().shell_command(index)

    def release(self, index, release):
        return self._runtime().release(index, release)

    def rerun(self, index, run):
        return self._runtime().rerun(index, run)

    def __getattr__(self, name: str):
        # what a runtime offers beyond the protocol goes to the one chosen, once there is one
        chosen = self.__dict__.get("chosen")
        if chosen is None or name.startswith("__"):
            raise AttributeError(name)
        return getattr(chosen, name)

    def cancel(self, reason: str = "TaskRunCancelled") -> None:
        if self.chosen is not None:
            self.chosen.cancel(reason)

    def close(self) -> None:
        if self.chosen is not None:
            self.chosen.close()
