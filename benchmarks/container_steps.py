"""The container runtime on podman, each figure beside a bare podman baseline measured in the same run.

  (1) per-step cost of N trivial steps (``sh -c "echo step-i"``) run by the container runtime,
      from ``start`` to RunFinished, divided by N   vs  ``podman run --rm IMAGE sh -c CMD`` for the
      same N commands one after another (a naive runner)
  (2) step exit -> ``stopped`` at a DAP client (the adapter on stdio, runtime "container")
      vs  nothing (the budget is absolute: 50 ms)
  (3) ``continue`` -> the next step's first ``output`` event at the client (``continue`` sent
      2 s after ``stopped``, as a user reads the failure first)  vs  a bare
      ``podman exec CONTAINER true`` into a running container

The step's exit time is the modification time of a file it touches in a bound workspace just before
``exit 1`` (the kernel's coarse clock: a few ms of resolution); the client's times are the wall
clock at which its reader got the bytes. Images are built locally (tests/containers.py) and the
engine runs with the tests' containers.conf.

Run: .venv/bin/python benchmarks/container_steps.py [--steps N] [--pauses N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for _p in (str(HERE), str(REPO)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from tests import containers  # noqa: E402

med = statistics.median
# seconds between `stopped` and `continue`: a user reads the failure first; meanwhile the next
# step's container starts, as all of a pod's do on a cluster (without it, "continue" would also
# measure that start, which a user never waits for)
THINK = 2.0


def _task(steps: list[dict], name: str = "bench-containers") -> str:
    return json.dumps({"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": name},
                       "spec": {"workspaces": [{"name": "stamps"}], "steps": steps}})


def image() -> str:
    if containers.podman() is None:
        raise RuntimeError("podman does not work here")
    return containers.busybox()


# ---- (1) per-step cost -----------------------------------------------------------------------

def measure_steps(count: int) -> tuple[float, float]:
    """(seconds for ``count`` trivial steps in the container runtime, the same with podman run)."""
    from tekton_debug.events import RunFinished
    from tekton_debug.options import LaunchOptions
    from tekton_debug.session.session import Session

    img = image()
    steps = [{"name": f"s{i}", "image": img, "command": ["sh", "-c", f"echo step-{i}"]}
             for i in range(count)]
    with tempfile.TemporaryDirectory(prefix="bench-ctr-") as tmp:
        task = Path(tmp) / "task.yaml"
        task.write_text(_task(steps))
        done = threading.Event()
        result: list = []

        def on(ev) -> None:
            if isinstance(ev, RunFinished):
                result.append(ev)
                done.set()

        s = Session(LaunchOptions(task_file=str(task), runtime="container",
                                  workspaces={"stamps": tmp}), on)
        s.load()
        t0 = time.perf_counter()
        s.start()
        if not done.wait(600) or not result[0].succeeded:
            raise RuntimeError(f"the run did not succeed: {result}")
        ours = time.perf_counter() - t0
        s.close()
    t0 = time.perf_counter()
    for i in range(count):
        subprocess.run(["podman", "run", "--rm", img, "sh", "-c", f"echo step-{i}"],
                       check=True, capture_output=True)
    theirs = time.perf_counter() - t0
    return ours, theirs


# ---- (2) + (3) through the adapter -----------------------------------------------------------

def measure_pauses(count: int) -> tuple[list[float], list[float]]:
    """(step exit -> stopped, continue -> next output) in ms, for ``count`` failing steps."""
    import dap

    img = image()
    steps = [{"name": f"s{i}", "image": img,
              "script": f"echo running-{i}\ntouch $(workspaces.stamps.path)/exit-{i}\nexit 1\n"}
             for i in range(count)]
    steps.append({"name": "last", "image": img, "command": ["echo", "running-last"]})
    stopped, continued = [], []
    with tempfile.TemporaryDirectory(prefix="bench-ctr-dap-") as tmp:
        stamps = Path(tmp) / "stamps"
        stamps.mkdir()
        task = Path(tmp) / "task.yaml"
        task.write_text(_task(steps, "bench-container-pauses"))
        client = dap.Dap(dap.ADAPTER, cwd=tmp)
        try:
            client.launch({"type": "tekton", "request": "launch", "task": str(task),
                           "runtime": "container", "workspaces": {"stamps": str(stamps)}})
            after = 0
            for i in range(count):
                after, t_stop, _ = client.event("stopped", after=after, timeout=120)
                exited = os.stat(stamps / f"exit-{i}").st_mtime_ns / 1e9
                stopped.append(dap.ms(t_stop - exited))
                after += 1
                time.sleep(THINK)
                t_cont = time.time()
                client.send("continue", {"threadId": i + 1})
                marker = f"running-{i + 1}" if i + 1 < count else "running-last"
                after, t_out, _ = client.event(
                    "output", after=after, timeout=120,
                    where=lambda b: marker + "\n" in b.get("output", ""))
                continued.append(dap.ms(t_out - t_cont))
            client.event("terminated", timeout=120)
        finally:
            client.close()
    return stopped, continued


def measure_bare_exec(count: int) -> list[float]:
    """``podman exec CONTAINER true`` into a running container, ms each."""
    img = image()
    name = f"bench-exec-{os.getpid()}"
    subprocess.run(["podman", "run", "-d", "--rm", "--name", name, img, "sleep", "600"],
                   check=True, capture_output=True)
    try:
        out = []
        for _ in range(count):
            t0 = time.perf_counter()
            subprocess.run(["podman", "exec", name, "true"], check=True, capture_output=True)
            out.append((time.perf_counter() - t0) * 1000)
        return out
    finally:
        subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--pauses", type=int, default=10)
    args = ap.parse_args()
    ours, theirs = measure_steps(args.steps)
    print(f"per step: {ours / args.steps * 1000:.0f} ms vs podman run --rm "
          f"{theirs / args.steps * 1000:.0f} ms ({ours / theirs:.2f}x)")
    stopped, continued = measure_pauses(args.pauses)
    bare = measure_bare_exec(args.pauses)
    print(f"step exit -> stopped: median {med(stopped):.1f} ms (max {max(stopped):.1f})")
    print(f"continue -> next output: median {med(continued):.0f} ms vs podman exec "
          f"{med(bare):.0f} ms ({med(continued) / med(bare):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
