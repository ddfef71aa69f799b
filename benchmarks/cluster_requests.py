"""Kubernetes runtime over the test cluster: how fast a failure is seen, and what a pause costs.

1. step failure -> StepPaused: from the time the kubelet stamped the banner's log record to the
   runtime's StepPaused event (median of N runs), and launch -> StepPaused.
2. API requests while paused for S seconds, counted by the test server's request counter:
   - this runtime (watches + one log stream per step): goal 0;
   - the old VS Code Tekton extension's way, simulated with the same client: on every watch event
     of the TaskRun or pod, an exec into every step container reading its termination file
     (`kubectl exec ... awk ... /tekton/termination`); while paused the watch still gets events
     (bookmarks, status refreshes), and each costs one exec per step.

Run: .venv/bin/python benchmarks/cluster_requests.py [--runs N] [--pause S]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from kubernetes import client, watch  # noqa: E402

from tests.cluster import ClusterServer  # noqa: E402
from tests.cluster.helpers import wait_annotation  # noqa: E402
from tekton_debug.runtimes.kubernetes.annotate import STEP  # noqa: E402
from tekton_debug.events import DebugPlan, Release, RunFinished, StepPaused  # noqa: E402
from tekton_debug.options import LaunchOptions  # noqa: E402
from tekton_debug.runtimes.kubernetes import KubernetesRuntime, podexec  # noqa: E402
from tekton_debug.tekton.loader import load_text  # noqa: E402

TASK = """
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: bench}
spec:
  steps:
  - {name: a, image: alpine, script: "echo a"}
  - {name: b, image: alpine, script: "echo failing; exit 1"}
  - {name: c, image: alpine, script: "echo c"}
"""


def one_run(server: ClusterServer, pause: float | None) -> tuple[float, float, int]:
    """(banner -> StepPaused s, launch -> StepPaused s, requests while paused)."""
    paused, done = threading.Event(), threading.Event()
    marks: dict[str, float] = {}

    def listener(ev) -> None:
        if isinstance(ev, StepPaused):
            marks["paused"] = time.perf_counter()
            marks["paused_wall"] = time.time()
            paused.set()
        if isinstance(ev, RunFinished):
            done.set()

    rt = KubernetesRuntime(LaunchOptions(runtime="kubernetes", kubeconfig=server.kubeconfig))
    t0 = time.perf_counter()
    rt.start(load_text(TASK), DebugPlan(), listener)
    paused.wait(60)
    # the test cluster's kubelet stamps each log record with this host's clock: the banner's time
    logged = rt._readers[-1].position.last_ns / 1e9
    requests = -1
    if pause:
        wait_annotation(server, rt.taskrun_name, STEP)  # one patch as the pause begins
        server.reset_request_counts()
        time.sleep(pause)  # the quantity measured: what happens while nobody acts
        requests = sum(server.request_counts().values())
    rt.release(1, Release.CONTINUE)
    done.wait(60)
    rt.close()
    return marks["paused_wall"] - logged, marks["paused"] - t0, requests


def exec_polling_baseline(server: ClusterServer, pause: float) -> int:
    """Requests made while paused by exec-polling every step on every watch event."""
    rt_paused = threading.Event()
    rt = KubernetesRuntime(LaunchOptions(runtime="kubernetes", kubeconfig=server.kubeconfig))
    rt.start(load_text(TASK), DebugPlan(), lambda ev: isinstance(ev, StepPaused) and rt_paused.set())
    rt_paused.wait(60)
    name, cluster = rt.taskrun_name, rt.cluster
    assert cluster is not None
    core = client.CoreV1Api(cluster.api)
    containers = [f"step-{s}" for s in "abc"]
    stop = threading.Event()

    def poll() -> None:
        try:
            watch_and_exec()
        except Exception:  # noqa: BLE001 - the server goes away at the end
            pass

    def watch_and_exec() -> None:
        w = watch.Watch()
        for _ in w.stream(core.list_namespaced_pod, namespace=cluster.namespace,
                          label_selector=f"tekton.dev/taskRun={name}",
                          allow_watch_bookmarks=True):
            if stop.is_set():
                w.stop()
                return
            for c in containers:
                try:
                    podexec.run(cluster, f"{name}-pod", c,
                                ["awk", "{print}", "/tekton/termination"], timeout=10)
                except Exception:  # noqa: BLE001 - a finished container answers an error
                    pass

    server.reset_request_counts()
    t = threading.Thread(target=poll, daemon=True)
    t.start()
    time.sleep(pause)
    stop.set()
    count = sum(server.request_counts().values())
    rt.release(1, Release.CONTINUE)
    rt.close()
    return count


@dataclass
class ClusterFigures:
    seen_ms: float  # banner logged -> StepPaused, median
    launch_ms: float  # launch -> StepPaused, median
    ours: int  # API requests while paused, this runtime
    theirs: int  # API requests while paused, exec-polling
    pause: float  # seconds paused


@contextlib.contextmanager
def test_cluster():
    """A test cluster on loopback with a kubeconfig file for it (``server.kubeconfig``)."""
    with tempfile.TemporaryDirectory() as tmp, \
            ClusterServer(root=os.path.join(tmp, "pods")) as server:
        server.write_kubeconfig(os.path.join(tmp, "kubeconfig"))
        yield server


def measure(server: ClusterServer, runs: int, pause: float) -> ClusterFigures:
    results = [one_run(server, None) for _ in range(runs)]
    seen = statistics.median(r[0] for r in results) * 1000
    launch = statistics.median(r[1] for r in results) * 1000
    ours = one_run(server, pause)[2]
    theirs = exec_polling_baseline(server, pause)
    return ClusterFigures(seen, launch, ours, theirs, pause)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pause", type=float, default=12.0,
                        help="seconds paused (the test cluster sends a bookmark every 5 s)")
    args = parser.parse_args()
    with test_cluster() as srv:
        f = measure(srv, args.runs, args.pause)
    print(f"{'measure':<44}{'tekton-debug':>14}{'baseline':>12}{'ratio':>10}")
    print(f"{'banner logged -> StepPaused (ms, median)':<44}{f.seen_ms:>14.2f}{'-':>12}{'-':>10}")
    print(f"{'launch -> StepPaused (ms, median)':<44}{f.launch_ms:>14.1f}{'-':>12}{'-':>10}")
    ratio = f"{f.theirs}:0" if f.ours == 0 else f"{f.theirs / f.ours:.1f}x"
    print(f"{f'API requests while paused {f.pause:g}s':<44}{f.ours:>14d}{f.theirs:>12d}"
          f"{ratio:>10}")
    print("baseline: exec into every step on every pod watch event (the 2021 VS Code Tekton "
          "extension's detection); goal for tekton-debug: 0")


if __name__ == "__main__":
    main()
