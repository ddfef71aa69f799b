"""A DAP launch or attach configuration, checked field by field into LaunchOptions."""

from __future__ import annotations

import json
import os
from typing import Any, Mapping

from tekton_debug.errors import UserError
from tekton_debug.options import LaunchOptions

RUNTIMES = ("auto", "container", "local", "kubernetes")
ENGINES = ("podman", "docker")


def _json(value: Any) -> str:
    """A value as launch.json spells it (null, "yes", [1, 2]), not as Python does."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _field(args: Mapping[str, Any], name: str, kind: type | tuple, what: str) -> Any:
    value = args.get(name)
    if value is None:
        return None
    if isinstance(kind, tuple) and bool in kind and isinstance(value, bool):
        return value
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise UserError(f'launch configuration: "{name}" must be {what}, not {_json(value)}',
                        fix=f'change "{name}" in launch.json')
    if not isinstance(value, kind):
        raise UserError(f'launch configuration: "{name}" must be {what}, not {_json(value)}',
                        fix=f'change "{name}" in launch.json')
    return value


def parse_launch(args: Mapping[str, Any], *, attach: bool = False) -> tuple[LaunchOptions, dict]:
    """Check a launch/attach request's arguments. Returns the options and the adapter-only flags
    (stopOnEntry, onFailure, terminateDebuggee...). Raises UserError naming the field."""
    if not isinstance(args, Mapping):
        raise UserError("launch configuration: the arguments must be an object")
    task = _field(args, "task", str, "the path of a Task or TaskRun YAML file")
    task_run = _field(args, "taskRun", str, "the name of a TaskRun")
    pipeline_run = _field(args, "pipelineRun", str,
                          "the id or name of a PipelineRun that tekton-debug runs on a cluster")
    params = _field(args, "params", dict, 'an object of param values, e.g. {"name": "value"}') or {}
    for key, value in params.items():
        if not isinstance(value, (str, list, dict, int, float)) or isinstance(value, bool):
            raise UserError(f'launch configuration: param "{key}" must be a string, an array or an '
                            f"object, not {_json(value)}", fix='change "params" in launch.json')
    params = {k: (str(v) if isinstance(v, (int, float)) else v) for k, v in params.items()}
    workspaces = _field(args, "workspaces", dict, 'an object of directories, e.g. {"source": "."}') or {}
    for key, value in workspaces.items():
        if not isinstance(value, str):
            raise UserError(f'launch configuration: workspace "{key}" must be a directory path, not '
                            f"{_json(value)}", fix='change "workspaces" in launch.json')
    runtime = _field(args, "runtime", str, '"auto", "container", "local" or "kubernetes"') or \
        "auto"
    if runtime not in RUNTIMES:
        raise UserError(f'launch configuration: unknown runtime "{runtime}"',
                        fix='set "runtime" to "auto" (the default), "container" (steps in their '
                            'images), "local" (processes on this machine) or "kubernetes" (a '
                            'cluster)')
    engine = _field(args, "engine", str, '"podman" or "docker"')
    if engine is not None and engine not in ENGINES:
        raise UserError(f'launch configuration: unknown engine "{engine}"',
                        fix='set "engine" to "podman" or "docker", or leave it out (the first '
                            'that works)')
    network = _field(args, "network", str, 'a network name, e.g. "none"')
    timeout = _field(args, "timeout", (str, int, float), 'a duration such as "1h" or "30m"')
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        timeout = f"{timeout}s"
    if timeout is not None:
        from tekton_debug.tekton.duration import parse_duration
        if not timeout.strip():  # parse_duration("") fails with an IndexError
            raise UserError('launch configuration: "timeout" is empty',
                            fix='write a duration such as "1h" or "30m", or leave it out')
        try:
            seconds = parse_duration(timeout)
        except UserError as exc:
            raise UserError(f'launch configuration: "timeout": {exc.first.message}',
                            fix=exc.first.fix) from None
        if seconds < 0:
            raise UserError(f'launch configuration: "timeout" {_json(timeout)} is negative',
                            fix='write a positive duration such as "1h" ("0s" for none)')
    flags = {
        "stopOnEntry": bool(_field(args, "stopOnEntry", bool, "true or false")),
        "onFailure": _field(args, "onFailure", bool, "true or false"),
        "noDebug": bool(args.get("noDebug")),
    }
    secrets = _field(args, "secrets", list, "a list of param or env var names") or []
    if not all(isinstance(n, str) for n in secrets):
        raise UserError('launch configuration: "secrets" must list names (strings)',
                        fix='write e.g. "secrets": ["TOKEN", "password"]')
    for name in ("namespace", "context", "kubeconfig"):
        _field(args, name, str, "a string")
    offline = bool(_field(args, "offline", bool, "true or false"))
    keep_claims = bool(_field(args, "keepClaims", bool, "true or false"))
    rerun = _field(args, "rerun", str, "the name of a finished TaskRun on the cluster")
    from_step = _field(args, "fromStep", str, "the name of a step")
    cwd = _field(args, "cwd", str, "a directory")
    if attach:
        if task_run and pipeline_run:
            raise UserError('attach: "taskRun" and "pipelineRun" exclude each other',
                            fix='keep "taskRun" for one TaskRun, or "pipelineRun" for the '
                                "TaskRuns of a PipelineRun")
        if not task_run and not pipeline_run:
            raise UserError('attach: "taskRun" is required (or "pipelineRun")',
                            fix='name the TaskRun to attach to, or set "pipelineRun" to the id '
                                "(label tekton-debug.dev/pipelinerun-uid) or name of a "
                                "PipelineRun")
    elif rerun:
        if task:
            raise UserError('launch configuration: "rerun" and "task" exclude each other: a re-run '
                            "copies the TaskRun from the cluster",
                            fix='keep "rerun" to debug that TaskRun again, or "task" to run a file')
        if runtime != "kubernetes":
            raise UserError(f'launch configuration: "rerun" reads TaskRun {rerun} from a cluster',
                            fix='add "runtime": "kubernetes" (and "context"/"namespace" as needed)')
    elif not task:
        raise UserError('launch configuration: "task" is required',
                        fix='set "task" to the path of a Task or TaskRun YAML file, e.g. "${file}"')
    if task and cwd and not os.path.isabs(task):
        task = os.path.join(cwd, task)
    if cwd:
        workspaces = {k: (v if os.path.isabs(v) else os.path.join(cwd, v)) for k, v in workspaces.items()}
    options = LaunchOptions(
        task_file=task, params=params, workspaces=workspaces, runtime=runtime, engine=engine,
        network=network,
        namespace=args.get("namespace"), context=args.get("context"),
        kubeconfig=args.get("kubeconfig"), timeout=timeout, task_run=task_run,
        secrets=tuple(secrets), offline=offline, rerun=rerun, from_step=from_step,
        keep_claims=keep_claims, pipeline_run=pipeline_run if attach else None)
    return options, flags
