"""Runtimes: where steps really run. ``create_runtime`` picks one from the launch options."""

from __future__ import annotations

from tekton_debug.runtimes.base import LaunchOptions, Runtime


def create_runtime(options: LaunchOptions) -> Runtime:
    # imported here: the kubernetes client costs ~340 ms to import, and is needed only on a cluster
    if options.runtime == "kubernetes":
        from tekton_debug.runtimes.kubernetes import KubernetesRuntime
        return KubernetesRuntime(options)
    from tekton_debug.runtimes.local.runtime import LocalRuntime
    return LocalRuntime(workspaces=options.workspaces, params=options.params)
