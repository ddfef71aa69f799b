"""The PersistentVolumeClaims that the TaskRuns of one PipelineRun share on a cluster.

Tekton's controller makes one claim per ``volumeClaimTemplate`` workspace of a PipelineRun, named
``pvc-<hash>`` (``<template name>-<hash>`` when the template names one; the hash: the first 10 hex
digits of the SHA-256 of the workspace name and the PipelineRun's uid, as in Tekton's
``pkg/reconciler/volumeclaim``), owned by the PipelineRun, and binds it into every TaskRun that
uses the workspace. tekton-debug does the same with the run's id in place of the PipelineRun's
uid. No PipelineRun object exists, and an owner that does not exist would have the garbage
collector delete the claim at once, so the claim has no owner: it carries the TaskRuns' labels
(``tekton.dev/pipeline``, ``tekton.dev/pipelineRun`` and the group label) and is deleted when the
run ends, unless the user keeps it (``keep_claims``) to look at the files afterwards.

A ``persistentVolumeClaim`` workspace binds a claim that must exist: it is checked before any
TaskRun is created (on a cluster, a pod whose claim is missing stays Pending until it times out).
"""

from __future__ import annotations

import copy
import hashlib
import logging
from typing import Callable, Mapping

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tekton_debug.errors import UserError
from tekton_debug.options import LaunchOptions
from tekton_debug.runtimes.kubernetes.connect import Cluster, call, connect, user_error

log = logging.getLogger(__name__)

#: the claim made for a workspace the run leaves unbound (as `tkn pipeline start` proposes)
DEFAULT_TEMPLATE = {"spec": {"accessModes": ["ReadWriteOnce"],
                             "resources": {"requests": {"storage": "1Gi"}}}}


def claim_name(template: Mapping, workspace: str, uid: str) -> str:
    """The name Tekton gives the claim of ``workspace``'s ``volumeClaimTemplate`` for the run
    ``uid``."""
    prefix = (template.get("metadata") or {}).get("name") or "pvc"
    return f"{prefix}-{hashlib.sha256((workspace + uid).encode()).hexdigest()[:10]}"


def bound_claim(binding: Mapping) -> str | None:
    """The claim a workspace binding names (``persistentVolumeClaim.claimName``), if it does."""
    volume = binding.get("persistentVolumeClaim")
    return volume.get("claimName") if isinstance(volume, dict) else None


class PipelineClaims:
    """The claims of one PipelineRun: checked or made before its first TaskRun, deleted at its
    end. Not thread-safe: the pipeline calls it from one thread at a time."""

    def __init__(self, options: LaunchOptions, *,
                 connector: Callable[[LaunchOptions], Cluster] = connect) -> None:
        self.options = options
        self._connector = connector
        self._cluster: Cluster | None = None
        self.made: dict[str, str] = {}  # workspace -> the claim made for this run

    def _api(self) -> client.CoreV1Api:
        if self._cluster is None:
            self._cluster = self._connector(self.options)
        return client.CoreV1Api(self._cluster.api)

    def prepare(self, bindings: Mapping[str, dict], *, uid: str, labels: Mapping[str, str],
                file: str | None = None,
                lines: Mapping[str, int | None] | None = None) -> dict[str, dict]:
        """The TaskRuns' binding of each workspace of ``bindings`` (the PipelineRun's: name ->
        binding): a ``volumeClaimTemplate`` becomes the claim made for it; a claim named by
        ``persistentVolumeClaim`` must exist (``file`` and ``lines``: where each binding is
        written, for the error). Raises UserError (nothing is left made then)."""
        api = self._api()
        cluster = self._cluster
        assert cluster is not None
        out: dict[str, dict] = {}
        try:
            for workspace, binding in bindings.items():
                if "volumeClaimTemplate" in binding:
                    template = binding.get("volumeClaimTemplate") or {}
                    name = self._make(api, cluster, workspace, template, uid, labels)
                    rest = {k: v for k, v in binding.items() if k != "volumeClaimTemplate"}
                    out[workspace] = {**rest, "persistentVolumeClaim": {"claimName": name}}
                    continue
                if "persistentVolumeClaim" in binding:
                    self._check(api, cluster, workspace, str(bound_claim(binding) or ""), file,
                                (lines or {}).get(workspace))
                out[workspace] = dict(binding)
        except BaseException:
            self.release(keep=False)
            raise
        return out

    def _make(self, api: client.CoreV1Api, cluster: Cluster, workspace: str, template: dict,
              uid: str, labels: Mapping[str, str]) -> str:
        name = claim_name(template, workspace, uid)
        meta = copy.deepcopy(template.get("metadata") or {})
        meta.update(name=name, namespace=cluster.namespace,
                    labels={**(meta.get("labels") or {}), **labels})
        body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": meta,
                "spec": copy.deepcopy(template.get("spec") or {})}
        try:
            call(cluster, f"create claim {name}", lambda: api.create_namespaced_persistent_volume_claim(
                cluster.namespace, body))
        except ApiException as e:
            if e.status == 409:  # a run with the same id made it: it is this run's
                self.made[workspace] = name
                return name
            raise user_error(cluster, f"create the claim for workspace {workspace!r} "
                             "(volumeClaimTemplate)", e,
                             fix="fix the volumeClaimTemplate, or bind the workspace to an "
                                 "existing claim (persistentVolumeClaim: {claimName: ...})"
                             if e.status in (400, 422) else None) from None
        self.made[workspace] = name
        return name

    def _check(self, api: client.CoreV1Api, cluster: Cluster, workspace: str, claim: str,
               file: str | None, line: int | None) -> None:
        if not claim:
            raise UserError(f"workspace {workspace!r}: persistentVolumeClaim has no claimName",
                            file=file, line=line, fix="name the claim: persistentVolumeClaim: "
                                           "{claimName: NAME}")
        try:
            call(cluster, f"read claim {claim}", lambda: api.read_namespaced_persistent_volume_claim(
                claim, cluster.namespace))
        except ApiException as e:
            if e.status == 404:
                raise UserError(
                    f"workspace {workspace!r} binds the claim {claim!r}, which does not exist in "
                    f"namespace {cluster.namespace!r} ({cluster.where})", file=file, line=line,
                    fix=f"create it first (kubectl create -f claim.yaml -n {cluster.namespace}), "
                        "or bind the workspace with a volumeClaimTemplate to have a claim made "
                        "for this run") from None
            raise user_error(cluster, f"read claim {claim} (workspace {workspace!r})", e) from None

    def release(self, *, keep: bool | None = None) -> list[str]:
        """Delete the claims made for the run (``keep``: leave them; default: the options').
        Returns what to tell the user; never raises."""
        keep = self.options.keep_claims if keep is None else keep
        made, self.made = self.made, {}
        if not made or self._cluster is None:
            return []
        cluster = self._cluster
        ns = cluster.namespace
        if keep:
            return [f"kept claim {name} (workspace {ws}) in namespace {ns}: delete it with "
                    f"kubectl delete pvc {name} -n {ns}" for ws, name in made.items()]
        api = client.CoreV1Api(cluster.api)
        notes = []
        for ws, name in made.items():
            try:
                call(cluster, f"delete claim {name}",
                     lambda name=name: api.delete_namespaced_persistent_volume_claim(name, ns))
            except ApiException as e:
                if e.status != 404:
                    notes.append(f"could not delete claim {name} (workspace {ws}): "
                                 f"{user_error(cluster, 'delete it', e).first.message}; delete it with "
                                 f"kubectl delete pvc {name} -n {ns}")
            except UserError as e:
                notes.append(f"could not delete claim {name} (workspace {ws}): "
                             f"{e.first.message}; delete it "
                             f"with kubectl delete pvc {name} -n {ns}")
        return notes
