"""The kubernetes runtime: TaskRuns with breakpoints on a cluster with Tekton (``runtime.py``).

Modules: ``connect`` (kubeconfig, contexts, errors), ``preflight`` (Tekton, feature gate, RBAC),
``manifest`` (the TaskRun to create), ``follow`` (watches and log streams), ``steps`` (reading
state from the objects), ``podexec`` (exec into a step's container).
"""

from tekton_debug.runtimes.kubernetes.runtime import KubernetesRuntime

__all__ = ["KubernetesRuntime"]
