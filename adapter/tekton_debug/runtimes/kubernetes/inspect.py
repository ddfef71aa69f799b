"""A look at a TaskRun on a cluster as it is now, for `tekton-debug shell`: which step is paused.

It reads the TaskRun, its pod and the last lines of each running step's log (a few GETs: no watch,
nothing left behind), and finds the step whose latest debug banner still waits for a decision (a
paused step's container just keeps running: the banner is the only sign, tekton-facts.md section 4).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tekton_debug.errors import UserError
from tekton_debug.options import LaunchOptions
from tekton_debug.events import PauseKind
from tekton_debug.runtimes.kubernetes import podexec
from tekton_debug.runtimes.kubernetes import steps as st
from tekton_debug.runtimes.kubernetes.connect import call, connect, user_error

LOG_TAIL = 200  # lines of a running step's log read to find its latest banner


@dataclass(frozen=True)
class StepView:
    index: int
    name: str
    container: str
    state: str  # running, terminated, waiting, unknown
    pause: PauseKind | None


def pause_in(lines: list[str]) -> PauseKind | None:
    """The pause a step's log leaves it in: its latest banner, unless released after it."""
    pause: PauseKind | None = None
    for line in lines:
        signal = st.classify(line)
        if signal.paused is not None:
            pause = signal.paused
        elif signal.resumed is not None:
            pause = None
        elif not signal.banner and line.strip() and pause is PauseKind.BEFORE_STEP:
            pause = None  # the step's own output: it was let run
    return pause


def _step_names(taskrun: dict, pod: dict) -> list[tuple[str, str]]:
    """(step name, container) in order: from the TaskRun's status, else the pod's containers."""
    steps = [(s.get("name") or "", s.get("container") or f"step-{s.get('name')}")
             for s in (taskrun.get("status") or {}).get("steps") or [] if isinstance(s, dict)]
    if steps:
        return steps
    return [(c["name"][len("step-"):], c["name"])
            for c in (pod.get("spec") or {}).get("containers") or []
            if c.get("name", "").startswith("step-")]


def inspect(cluster, name: str) -> tuple[dict, dict, list[StepView]]:
    """The TaskRun, its pod and its steps as they are now. Raises UserError."""
    custom = client.CustomObjectsApi(cluster.api)
    core = client.CoreV1Api(cluster.api)
    try:
        taskrun = call(cluster, f"read TaskRun {name}", lambda: custom.get_namespaced_custom_object(
            "tekton.dev", "v1", cluster.namespace, "taskruns", name))
    except ApiException as e:
        if e.status == 404:
            raise UserError(f"there is no TaskRun {name!r} in namespace {cluster.namespace!r} "
                            f"({cluster.where})",
                            fix=f"list them with: kubectl get taskruns -n {cluster.namespace}; "
                                "use -n NAMESPACE for another namespace") from None
        raise user_error(cluster, f"read TaskRun {name}", e) from None
    done = st.final(taskrun)
    if done is not None:
        _, reason, message = done
        said = f"{reason}: {message}" if message else reason
        raise UserError(f"TaskRun {name} has finished ({said}): no step of it runs any more to "
                        "open a shell in",
                        fix="run the Task again with tekton-debug run FILE --runtime kubernetes")
    pod_name = (taskrun.get("status") or {}).get("podName") or ""
    if not pod_name:
        raise UserError(f"TaskRun {name} has no pod yet", fix="wait for its steps to start")
    try:
        pod = json.loads(call(cluster, f"read pod {pod_name}", lambda: core.read_namespaced_pod(
            pod_name, cluster.namespace, _preload_content=False)).data)
    except ApiException as e:
        raise user_error(cluster, f"read pod {pod_name} of TaskRun {name}", e) from None
    # a shell goes only into the TaskRun's own pod: the one it names, and owns
    podexec.check_owned(pod, name, ((taskrun.get("metadata") or {}).get("uid") or ""),
                        None, pod_name=pod_name)
    views = []
    for index, (step, container) in enumerate(_step_names(taskrun, pod)):
        state = st.container_state(pod, container)[0]
        pause = None
        if state == "running":
            try:
                resp = call(cluster, f"read the log of {container}",
                            lambda c=container: core.read_namespaced_pod_log(
                                pod_name, cluster.namespace, container=c, tail_lines=LOG_TAIL,
                                _preload_content=False))
            except ApiException as e:
                raise user_error(cluster, f"read the log of {container} in pod {pod_name}",
                                 e) from None
            pause = pause_in(resp.data.decode("utf-8", "replace").split("\n"))
        views.append(StepView(index, step, container, state, pause))
    return taskrun, pod, views


def choose(name: str, views: list[StepView], wanted: str | None, taskrun: dict) -> StepView:
    """The step to open the shell in: ``wanted``, else the paused one. Raises UserError."""
    if wanted is not None:
        view = next((v for v in views if v.name == wanted), None)
        if view is None:
            raise UserError(f"TaskRun {name} has no step named {wanted!r}",
                            fix=f"use one of: {', '.join(v.name for v in views)}")
        if view.state != "running":
            raise UserError(f"step {wanted!r} of TaskRun {name} is not running ({view.state}): "
                            "there is no container to open a shell in",
                            fix="name a step that is paused or running")
        return view
    paused = [v for v in views if v.pause is not None]
    if paused:
        return paused[0]
    running = [v.name for v in views if v.state == "running"]
    debug = (taskrun.get("spec") or {}).get("debug")
    why = "" if debug else f"; TaskRun {name} was created without debug, so its steps never pause"
    raise UserError(f"no step of TaskRun {name} is paused (running: "
                    f"{', '.join(running) or 'none'}){why}",
                    fix="wait for a step to fail or reach a breakpoint, or name a running step "
                        "with --step")




@dataclass(frozen=True)
class ShellTarget:
    """Where `tekton-debug shell` opens its shell, and the kubectl argv that does it."""

    taskrun: dict
    pod: str
    step: StepView
    argv: list[str]


def shell_target(options: LaunchOptions, name: str, wanted: str | None) -> ShellTarget:
    """The step of TaskRun ``name`` to open a shell in (``wanted``, else the paused one)."""
    cluster = connect(options)
    taskrun, pod, views = inspect(cluster, name)
    view = choose(name, views, wanted, taskrun)
    pod_name = pod["metadata"]["name"]
    working_dir = st.container_spec(pod, view.container).get("workingDir") or "/workspace"
    argv = st.shell_argv(cluster.namespace, pod_name, view.container, working_dir,
                         cluster.kubectl_flags())
    return ShellTarget(taskrun, pod_name, view, argv)


@dataclass(frozen=True)
class TaskRunSummary:
    """One line of `tekton-debug taskruns`: a TaskRun as `tkn taskrun list` shows it."""

    name: str
    status: str  # "Succeeded", "Failed", "Running"... (the Succeeded condition's reason)
    succeeded: bool | None  # None while it runs
    task: str
    started: str | None
    finished: str | None
    message: str


def recent_taskruns(options: LaunchOptions, *, failed_only: bool = False,
                    limit: int = 50) -> list[TaskRunSummary]:
    """The namespace's TaskRuns, most recent first. Raises UserError."""
    cluster = connect(options)
    api = client.CustomObjectsApi(cluster.api)
    try:
        listed = call(cluster, "list TaskRuns", lambda: api.list_namespaced_custom_object(
            "tekton.dev", "v1", cluster.namespace, "taskruns"))
    except ApiException as e:
        raise user_error(cluster, f"list TaskRuns in namespace {cluster.namespace}", e) from None
    out = []
    for tr in listed.get("items") or []:
        meta, status = tr.get("metadata") or {}, tr.get("status") or {}
        c = st.condition(tr)
        done = c.get("status") in ("True", "False")
        succeeded = c.get("status") == "True" if done else None
        if failed_only and succeeded is not False:
            continue
        spec = tr.get("spec") or {}
        ref = spec.get("taskRef") if isinstance(spec.get("taskRef"), dict) else {}
        task = (meta.get("labels") or {}).get("tekton.dev/task") or ref.get("name") or \
            ref.get("resolver") or "(embedded)"
        out.append(TaskRunSummary(
            name=meta.get("name", ""), status=str(c.get("reason") or "Pending"),
            succeeded=succeeded, task=str(task),
            started=status.get("startTime") or meta.get("creationTimestamp"),
            finished=status.get("completionTime"), message=str(c.get("message") or "")))
    out.sort(key=lambda s: s.finished or s.started or "", reverse=True)
    return out[:limit]
