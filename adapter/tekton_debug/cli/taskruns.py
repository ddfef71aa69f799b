"""`tekton-debug taskruns`: the namespace's recent TaskRuns, to pick one to re-run with debugging
(``--rerun``); ``--json`` for the VS Code extension's "Re-run TaskRun with Debugging"."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from tekton_debug.options import LaunchOptions


def taskruns_main(args) -> int:
    from tekton_debug.runtimes.kubernetes.inspect import recent_taskruns

    found = recent_taskruns(LaunchOptions(runtime="kubernetes", namespace=args.namespace,
                                          context=args.context, kubeconfig=args.kubeconfig),
                            failed_only=args.failed, limit=args.limit)
    if args.json:
        json.dump([asdict(s) for s in found], sys.stdout)
        sys.stdout.write("\n")
        return 0
    if not found:
        print("no TaskRuns" + (" failed" if args.failed else "") + " in this namespace")
        return 0
    width = max(len(s.name) for s in found)
    for s in found:
        when = s.finished or s.started or ""
        print(f"{s.name:<{width}}  {s.status:<22} {when:<21} {s.task}")
    print("\nre-run one with debugging on: tekton-debug run --rerun NAME --runtime kubernetes")
    return 0
