"""The container runtime: each step in its own image, on podman or docker."""

from tekton_debug.runtimes.container.runtime import ContainerRuntime

__all__ = ["ContainerRuntime"]
