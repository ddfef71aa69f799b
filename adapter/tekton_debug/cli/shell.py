"""`tekton-debug shell TASKRUN`: an interactive shell in the paused step of a TaskRun on a cluster.

The kubernetes runtime finds the paused step (``runtimes.kubernetes.inspect``); this says where it
is and how to go on, then becomes ``kubectl exec -it`` into that step's container, with the debug
scripts on PATH. With ``--step`` it opens the shell in that step, paused or still running. Without
kubectl on PATH it prints the command to run where kubectl is.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys

from tekton_debug.options import LaunchOptions
from tekton_debug.events import PauseKind


def banner(name: str, pod: str, view) -> str:
    lines = [f"TaskRun {name}, step {view.name} (container {view.container} of pod {pod}):"]
    if view.pause is PauseKind.ON_FAILURE:
        lines += ["  paused: the step failed (onFailure breakpoint)",
                  "    debug-continue        mark the step passed and go on",
                  "    debug-fail-continue   mark the step failed and go on"]
    elif view.pause is PauseKind.BEFORE_STEP:
        lines += ["  paused before the step runs (beforeSteps breakpoint)",
                  "    debug-beforestep-continue       run the step",
                  "    debug-beforestep-fail-continue  skip it and mark it failed"]
    else:
        lines += ["  running, not paused: the shell shares its container"]
    lines += ["  leaving the shell decides nothing: the step stays as it is"]
    return "\n".join(lines)


def shell_main(args) -> int:
    """The `shell` subcommand, with parsed arguments. Replaces this process with kubectl."""
    from tekton_debug.cli.run import piped_shell
    from tekton_debug.runtimes.kubernetes.inspect import shell_target

    target = shell_target(LaunchOptions(runtime="kubernetes", namespace=args.namespace,
                                        context=args.context, kubeconfig=args.kubeconfig),
                          args.taskrun, args.step)
    argv, pod_name, view = target.argv, target.pod, target.step
    if not sys.stdin.isatty():
        argv = piped_shell(argv)
    sys.stderr.write(banner(args.taskrun, pod_name, view) + "\n")
    kubectl = shutil.which(argv[0])
    if kubectl is None:
        sys.stderr.write("kubectl is not on PATH: run this where it is:\n")
        sys.stdout.write(shlex.join(argv) + "\n")
        sys.stdout.flush()
        return 1
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(kubectl, argv)
    return 1  # not reached
