"""The Secrets a TaskRun's pod gets, read so that their values can be masked.

A step sees a Secret's values through ``env`` (``valueFrom.secretKeyRef``), ``envFrom``
(``secretRef``), volumes and workspaces bound to a Secret; any of them may end up in its log or in
what the REPL prints. With the user's permission to ``get secrets`` they are read before the
TaskRun starts, so that every value is masked from the first line; without it, the user is told
once that the cluster's output cannot be masked.
"""

from __future__ import annotations

import base64
import binascii
import logging
from typing import Any, Iterable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tekton_debug.runtimes.kubernetes.connect import Cluster, call
from tekton_debug.tekton.model import TaskRun

log = logging.getLogger(__name__)


def _secret_names_in_volume(volume: Any) -> Iterable[str]:
    if not isinstance(volume, dict):
        return
    secret = volume.get("secret")
    if isinstance(secret, dict) and secret.get("secretName"):
        yield str(secret["secretName"])
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for source in projected.get("sources") or []:
            ref = source.get("secret") if isinstance(source, dict) else None
            if isinstance(ref, dict) and ref.get("name"):
                yield str(ref["name"])


def _secret_names_in_container(container: Any) -> Iterable[str]:
    if not isinstance(container, dict):
        return
    for e in container.get("env") or []:
        ref = ((e or {}).get("valueFrom") or {}).get("secretKeyRef") if isinstance(e, dict) else None
        if isinstance(ref, dict) and ref.get("name"):
            yield str(ref["name"])
    for source in container.get("envFrom") or []:
        ref = source.get("secretRef") if isinstance(source, dict) else None
        if isinstance(ref, dict) and ref.get("name"):
            yield str(ref["name"])


def referenced(run: TaskRun) -> list[str]:
    """The names of the Secrets the TaskRun's steps, sidecars, volumes and workspaces use."""
    names: list[str] = []
    task = run.task
    for step in task.steps:
        names += _secret_names_in_container(step.raw)
        names += _secret_names_in_container({"env": [{"name": e.name, "valueFrom": e.value_from}
                                                     for e in step.env if e.value_from],
                                             "envFrom": step.env_from})
    names += _secret_names_in_container(task.step_template)
    for sidecar in task.sidecars:
        names += _secret_names_in_container(sidecar)
    for volume in (task.raw or {}).get("volumes") or []:
        names += _secret_names_in_volume(volume)
    for binding in run.workspaces:
        names += _secret_names_in_volume(binding)
    return sorted(set(names))


def read_values(cluster: Cluster, names: Iterable[str]) -> frozenset[str]:
    """Every value of the named Secrets that exist (the ones that do not fail the pod, not us)."""
    core = client.CoreV1Api(cluster.api)
    values: set[str] = set()
    for name in names:
        try:
            secret = call(cluster, f"read Secret {name}",
                          lambda n=name: core.read_namespaced_secret(n, cluster.namespace))
        except ApiException as e:
            log.info("Secret %s not read (%s): its values are not masked", name, e.status)
            continue
        for value in (secret.data or {}).values():
            try:
                values.add(base64.b64decode(value).decode("utf-8", "replace"))
            except (binascii.Error, ValueError):
                continue
        values.update(str(v) for v in (secret.string_data or {}).values())
    return frozenset(v for v in values if v)


def unmasked_notice(cluster: Cluster, names: list[str]) -> str:
    return (f"you may not get secrets in namespace {cluster.namespace!r}, so the values of "
            f"Secret{'s' if len(names) > 1 else ''} {', '.join(names)} cannot be masked: what the "
            "cluster's steps print is shown as it is. To have them masked, ask for a Role with "
            '- apiGroups: [""], resources: ["secrets"], verbs: ["get"]')
