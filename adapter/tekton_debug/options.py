"""What the user asked for, shared by the CLI and the DAP launch request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class LaunchOptions:
    """The options of one run, from the command line or a launch configuration."""

    task_file: str | None = None
    params: Mapping[str, object] = field(default_factory=dict)
    workspaces: Mapping[str, str] = field(default_factory=dict)  # name -> host dir
    runtime: str = "auto"  # "auto", "container", "local" or "kubernetes"
    engine: str | None = None  # container runtime: "podman" or "docker" (default: the first that works)
    network: str | None = None  # container runtime: the engine's network ("none": no network)
    namespace: str | None = None
    context: str | None = None
    kubeconfig: str | None = None
    timeout: str | None = None  # a Go duration ("1h", "30m", "0s" for none)
    task_run: str | None = None  # attach: an existing TaskRun's name
    secrets: tuple[str, ...] = ()  # params and env vars whose values are masked, as from Secrets
    offline: bool = False  # remote references (taskRef.resolver) from the cache only
    rerun: str | None = None  # a finished TaskRun on the cluster to run again with debug on
    from_step: str | None = None  # skip the steps before this one (host and container runtimes)
    keep_claims: bool = False  # a Pipeline on a cluster: keep the claims made for its workspaces
    pipeline_run: str | None = None  # attach: the group id (or name) of a PipelineRun's TaskRuns
