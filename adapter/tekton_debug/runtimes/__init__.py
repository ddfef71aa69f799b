"""Runtimes: where steps really run. ``create_runtime`` picks one from the launch options."""

from __future__ import annotations

from tekton_debug.errors import UserError
from tekton_debug.runtimes.base import Runtime
from tekton_debug.options import LaunchOptions

RUNTIMES = ("local", "kubernetes")


def create_runtime(options: LaunchOptions) -> Runtime:
    """"local" (the default) or "kubernetes". Each is imported only when chosen: the kubernetes
    client costs ~340 ms to import and is needed only on a cluster."""
    name = options.runtime or "local"
    if name == "kubernetes":
        from tekton_debug.runtimes.kubernetes import KubernetesRuntime
        return KubernetesRuntime(options)
    if name == "local":
        from tekton_debug.runtimes.local.runtime import LocalRuntime
        return LocalRuntime(workspaces=options.workspaces, params=options.params)
    raise UserError(f"unknown runtime {name!r}",
                    fix='set "runtime" to "local" (steps run on this machine) or "kubernetes" '
                        "(TaskRuns on a cluster)")
