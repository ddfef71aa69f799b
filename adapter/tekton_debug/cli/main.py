"""The `tekton-debug` command: run, check, dap, lsp, entrypoint, shell, taskruns.

Each subcommand imports only what it uses, so that `entrypoint` (started once per step container)
and `dap` (started by an editor) start fast. User errors are printed here, in one place, as
``error: FILE:LINE: message`` with the fix, and exit with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

USAGE_EXIT = 2


def _parser() -> argparse.ArgumentParser:
    from tekton_debug import __version__

    parser = argparse.ArgumentParser(
        prog="tekton-debug",
        description="A debugger for Tekton TaskRuns: a failed step pauses, and you get its live "
                    "environment.")
    parser.add_argument("--version", action="version", version=f"tekton-debug {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a Task or TaskRun; pause failed steps and open a shell",
                         description="Run a Task or TaskRun file. When a step fails it pauses, and "
                                     "(on a terminal) you get a shell inside it.")
    run.add_argument("file", nargs="?",
                     help="a Task, TaskRun, Pipeline or PipelineRun YAML file")
    run.add_argument("-p", "--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a param value (arrays: a,b,c or JSON; objects: k=v,k2=v2 or JSON)")
    run.add_argument("-w", "--workspace", action="append", default=[], metavar="NAME=DIR",
                     help="bind a workspace to a directory of this machine")
    run.add_argument("--on-failure", choices=("shell", "continue", "fail", "stop"),
                     help="what a failed step does: open a shell (default on a terminal), mark it "
                          "passed, mark it failed, or stop as Tekton does without debug (default "
                          "when stdin is not a terminal)")
    run.add_argument("--break-before", action="append", default=[], metavar="STEP",
                     help="pause before this step (Tekton's beforeSteps); for a Pipeline, "
                          "TASK (before the task starts) or TASK/STEP")
    run.add_argument("--secret", action="append", default=[], metavar="NAME",
                     help="mask the value of this param or env var in all output, as a Secret's")
    run.add_argument("--runtime", choices=("auto", "container", "local", "kubernetes"),
                     default="auto",
                     help="where steps run: auto (default: in their images when podman or docker "
                          "works and the images can be had, else on this machine), container "
                          "(in their images), local (processes on this machine) or kubernetes "
                          "(a cluster)")
    run.add_argument("--engine", choices=("podman", "docker"),
                     help="the container engine (default: the first that works, podman then "
                          "docker)")
    run.add_argument("--network", metavar="NETWORK",
                     help="the step containers' network (default: the engine's; none: no "
                          "network)")
    run.add_argument("--timeout", help='the TaskRun timeout, a Go duration ("1h", "0s" for none)')
    run.add_argument("--attach", metavar="TASKRUN", help="attach to an existing TaskRun (cluster)")
    run.add_argument("--attach-pipeline", metavar="RUN",
                     help="attach to the running TaskRuns of a PipelineRun that tekton-debug runs "
                          "on a cluster: RUN is its id (label tekton-debug.dev/pipelinerun-uid) "
                          "or its name")
    run.add_argument("--rerun", metavar="TASKRUN",
                     help="run a finished TaskRun of the cluster again, with debugging on")
    run.add_argument("--from-step", metavar="STEP",
                     help="skip the steps before STEP (keep a workspace with -w between attempts)")
    run.add_argument("--keep-claims", action="store_true",
                     help="a Pipeline on a cluster: keep the claims made for its workspaces "
                          "(volumeClaimTemplate) when the run ends, to look at the files")
    run.add_argument("--offline", action="store_true",
                     help="resolve remote references (taskRef.resolver) from the cache only")
    _cluster_flags(run)

    check = sub.add_parser(
        "check", help="check Tekton YAML files as run and the editor do; all problems at once",
        description="Check every Task, TaskRun and StepAction in the files (directories: their "
                    "*.yaml and *.yml, recursively) as `run` and the language server check "
                    "them, references included. Exit 0 without errors, 1 with errors (or more "
                    "warnings than --max-warnings), 2 for a usage error.")
    check.add_argument("paths", nargs="*", metavar="FILE|DIR", help="default: .")
    check.add_argument("--format", choices=("text", "json"), default="text",
                       help="text (file:line:col: severity: message; fix: ...) or json")
    check.add_argument("--max-warnings", type=int, metavar="N",
                       help="fail (exit 1) with more than N warnings")
    check.add_argument("--offline", action="store_true",
                       help="resolve remote references from the cache only")

    dap = sub.add_parser("dap", help="serve the Debug Adapter Protocol (stdio, or TCP with --port)")
    dap.add_argument("--port", type=int, help="listen on 127.0.0.1:PORT (0: pick one and print it)")
    dap.add_argument("--token-file", help="TCP: read the token clients must send from this file")
    dap.add_argument("--log-file", help="write a log (with the DAP trace) to this file")

    sub.add_parser("lsp", help="serve the Tekton YAML language server on stdio")

    sub.add_parser("entrypoint", add_help=False,
                   help="the step lifecycle, with Tekton entrypoint's flags (for containers)")

    shell = sub.add_parser("shell", help="open a shell in a paused step of a TaskRun on a cluster")
    shell.add_argument("taskrun", help="the TaskRun's name")
    shell.add_argument("--step", help="the step (default: the paused one)")
    _cluster_flags(shell)

    runs = sub.add_parser("taskruns", help="list the recent TaskRuns of a namespace (for --rerun)")
    runs.add_argument("--failed", action="store_true", help="only those that failed")
    runs.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    runs.add_argument("--json", action="store_true", help="as JSON, for tools")
    _cluster_flags(runs)
    return parser


def _cluster_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", "--namespace", help="the namespace (default: the context's)")
    p.add_argument("--context", help="the kubeconfig context to use")
    p.add_argument("--kubeconfig", help="the kubeconfig file (default: $KUBECONFIG, ~/.kube/config)")


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["entrypoint"]:
        # Go-style flags that argparse cannot read; and the fastest path: nothing else imported
        from tekton_debug.entrypoint.command import main as entrypoint_main
        return entrypoint_main(argv[1:])
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return USAGE_EXIT
    from tekton_debug.cli import endings
    from tekton_debug.errors import UserError
    try:
        if args.command == "run":
            from tekton_debug.cli.run import run_main
            return run_main(args)
        if args.command == "check":
            from tekton_debug.cli.check import check_main
            return check_main(args)
        if args.command == "dap":
            from tekton_debug.cli.dap import dap_main
            return dap_main(args)
        if args.command == "lsp":
            from tekton_debug.lsp.server import main as lsp_main
            return lsp_main() or 0
        if args.command == "shell":
            from tekton_debug.cli.shell import shell_main
            return shell_main(args)
        if args.command == "taskruns":
            from tekton_debug.cli.taskruns import taskruns_main
            return taskruns_main(args)
    except UserError as exc:
        report(exc)
        return USAGE_EXIT
    except (KeyboardInterrupt, endings.Ended) as exc:  # before a front end took over its signals
        return endings.exit_code(exc)
    return USAGE_EXIT


def report(exc) -> None:
    for problem in exc.problems:
        text = str(problem)
        sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()


if __name__ == "__main__":
    raise SystemExit(main())
