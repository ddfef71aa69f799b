"""Running a command in a step's container (``pods/exec`` over a WebSocket), and the check that the
pod is the TaskRun's own before doing so.

The exit code comes from the error channel (3): a ``Status`` whose ``status`` is ``Success``, or
``Failure`` with ``reason: NonZeroExitCode`` and the code in ``details.causes[{reason: ExitCode}]``;
any other failure there (the command could not be started, the container is not running) is the
cluster's answer and is reported as such.
"""

from __future__ import annotations

import json
import re
import time
from typing import Callable, Sequence

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from kubernetes.stream.ws_client import ERROR_CHANNEL, STDERR_CHANNEL, STDOUT_CHANNEL

from tekton_debug.errors import RuntimeUnavailable, UserError
from tekton_debug.events import MAX_EXEC_OUTPUT, ExecResult
from tekton_debug.runtimes.kubernetes.connect import Cluster, unreachable

TASKRUN_LABEL = "tekton.dev/taskRun"


class ExecFailed(UserError):
    """The cluster would not run the command (refused, container gone, no such program...)."""


def check_owned(pod: dict | None, taskrun_name: str, taskrun_uid: str,
                container: str | None, *, pod_name: str | None) -> None:
    """Refuse (UserError) unless ``pod`` is the TaskRun's own: the pod its ``status.podName``
    (``pod_name``) names, whose owner reference carries the TaskRun's uid, whose
    ``tekton.dev/taskRun`` label is the TaskRun's name, and which has ``container`` (if given)."""
    if not pod_name:
        raise UserError(f"TaskRun {taskrun_name!r} names no pod yet (status.podName)",
                        fix="wait for its steps to start")
    if not pod:
        raise UserError(f"the pod of TaskRun {taskrun_name!r}, {pod_name!r} (status.podName), "
                        "is not known: it does not exist (not created yet, or deleted), or the "
                        "TaskRun does not own it", fix="wait for the step to start; if the pod "
                        "exists, check who created it")
    meta = pod.get("metadata") or {}
    name = meta.get("name", "?")
    if name != pod_name:
        raise UserError(f"refusing to run a command in pod {name!r}: TaskRun {taskrun_name!r} "
                        f"runs in pod {pod_name!r} (status.podName)",
                        fix="this is not the TaskRun's own pod; check who created it")
    owners = [o for o in meta.get("ownerReferences") or []
              if o.get("kind") == "TaskRun" and o.get("uid") == taskrun_uid]
    label = (meta.get("labels") or {}).get(TASKRUN_LABEL)
    if not taskrun_uid or not owners or label != taskrun_name:
        raise UserError(
            f"refusing to run a command in pod {name!r}: it does not belong to TaskRun "
            f"{taskrun_name!r} (owner uid {[o.get('uid') for o in meta.get('ownerReferences') or []]}"
            f", label {TASKRUN_LABEL}={label!r})",
            fix="this is not the TaskRun's own pod; check who created it")
    names = [c.get("name") for c in (pod.get("spec") or {}).get("containers") or []]
    if container is not None and container not in names:
        raise UserError(f"pod {name!r} has no container {container!r} (it has {', '.join(names)})")


def exit_code_of(status_text: str | bytes) -> tuple[int | None, str]:
    """(exit code, message) from the error channel's Status; (None, message) when the command did
    not run to an exit code."""
    if isinstance(status_text, bytes):
        status_text = status_text.decode("utf-8", "replace")
    if not status_text:
        return None, "the connection closed without an exit status"
    try:
        status = json.loads(status_text)
    except ValueError:
        return None, status_text.strip()
    if status.get("status") == "Success":
        return 0, ""
    for cause in (status.get("details") or {}).get("causes") or []:
        if cause.get("reason") == "ExitCode":
            try:
                return int(cause.get("message")), status.get("message") or ""
            except (TypeError, ValueError):
                break
    return None, str(status.get("message") or status_text).strip()


def _handshake_status(e: ApiException) -> tuple[int | None, str]:
    """A refused WebSocket upgrade surfaces as ``ApiException(status=0)`` whose reason quotes the
    HTTP status and body; dig them out."""
    text = str(e.reason or "")
    m = re.search(r"Handshake status (\d+)", text)
    if not m:
        return None, text
    message = text
    body = re.search(r"(\{.*\})", text, re.S)
    if body:
        raw = body.group(1).replace("\\n", "\n").replace("\\'", "'")
        try:
            message = json.loads(raw).get("message") or message
        except ValueError:
            pass
    return int(m.group(1)), message


def run(cluster: Cluster, pod: str, container: str, argv: Sequence[str], *,
        stdin: bytes | None = None, timeout: float | None = 30.0,
        on_output: Callable[[str, bytes], None] | None = None) -> ExecResult:
    """Run ``argv`` in ``container`` of ``pod``; stdout and stderr apart, the exit code from the
    error channel. With ``on_output`` the output goes there as it comes instead of into the
    result. Raises ExecFailed when the cluster refuses or cannot run it."""
    api = client.CoreV1Api(cluster.new_api())
    try:
        ws = stream(api.connect_get_namespaced_pod_exec, pod, cluster.namespace,
                    container=container, command=list(argv), stdin=stdin is not None,
                    stdout=True, stderr=True, tty=False, _preload_content=False, binary=True)
    except ApiException as e:
        code, message = (e.status, str(e.reason)) if e.status else _handshake_status(e)
        if code == 403:
            raise ExecFailed(f"the cluster refused to run a command in {pod}/{container}: "
                             f"{message}",
                             fix=f"you need permission to create pods/exec in namespace "
                                 f"{cluster.namespace!r}; ask a cluster admin for a Role with "
                                 '- apiGroups: [""], resources: ["pods/exec"], verbs: ["create"]'
                             ) from None
        if code is None:
            raise unreachable(cluster, f"run a command in {pod}/{container}", e) from None
        raise ExecFailed(f"cannot run a command in {pod}/{container}: the cluster answered "
                         f"{code}: {message}") from None
    except Exception as e:  # noqa: BLE001 - socket errors from the WebSocket library
        raise unreachable(cluster, f"run a command in {pod}/{container}", e) from None
    out, err, status = bytearray(), bytearray(), b""

    def take() -> None:
        for channel, name, kept in ((STDOUT_CHANNEL, "stdout", out),
                                    (STDERR_CHANNEL, "stderr", err)):
            data = ws.read_channel(channel) or b""
            if data and on_output is not None:
                on_output(name, data)
            elif data:
                kept += data

    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        if stdin is not None:
            if stdin:
                ws.write_channel(0, stdin)
            if ws.subprotocol == "v5.channel.k8s.io":
                ws.close_channel(0)
        while ws.is_open():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise ExecFailed(f"the command {' '.join(argv)!r} in {pod}/{container} did not "
                                 f"finish within {timeout:g}s; it was left running",
                                 fix="give it a longer timeout, or run it in a shell")
            ws.update(timeout=min(left, 1.0) if left is not None else 1.0)
            take()
            if len(out) + len(err) > MAX_EXEC_OUTPUT:
                # closing the stream (below) stops the command: its next write fails
                del out[MAX_EXEC_OUTPUT:]
                del err[MAX_EXEC_OUTPUT - len(out):]
                return ExecResult(-1, bytes(out), bytes(err), truncated=True)
        take()
        status = ws.read_channel(ERROR_CHANNEL) or b""
    except ExecFailed:
        raise
    except Exception as e:  # noqa: BLE001 - the connection broke
        raise RuntimeUnavailable(f"the connection to {cluster.where} broke while running "
                                 f"{' '.join(argv)!r} in {pod}/{container}: {e}") from None
    finally:
        ws.close()
    code, message = exit_code_of(status)
    if code is None:
        raise ExecFailed(f"cannot run {' '.join(argv)!r} in {pod}/{container}: {message}")
    return ExecResult(code, bytes(out), bytes(err))
