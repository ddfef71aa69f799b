"""The local runtime: a TaskRun's steps as processes on this host (the embedded default)."""

from tekton_debug.runtimes.local.runtime import LocalRuntime

__all__ = ["LocalRuntime"]
