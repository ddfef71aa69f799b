"""Pipelines on the host, each figure beside a baseline measured in the same run.

  (i)  20 independent one-step tasks (a PipelineRun, start to PipelineRunFinished)
       vs  a bare parallel runner of the same commands (20 `sh -c CMD` started at once, waited)
  (ii) step exit -> StepPaused at the pipeline's listener while 10 other tasks log at full speed
       vs  the same with no other task running

Run: .venv/bin/python benchmarks/pipeline.py [--reps N]
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time

from tekton_debug.events import PipelineRunFinished, Release, StepPaused, TaskEvent
from tekton_debug.options import LaunchOptions
from tekton_debug.pipeline.run import PipelineSession

TIMEOUT = 120.0


def _pipeline(directory: str, tasks: dict[str, str]) -> str:
    lines = ["apiVersion: tekton.dev/v1", "kind: Pipeline", "metadata: {name: bench}", "spec:",
             "  tasks:"]
    for name, script in tasks.items():
        lines += [f"    - name: {name}",
                  "      taskSpec:",
                  "        steps:",
                  "          - name: s",
                  "            image: alpine",
                  "            script: |",
                  textwrap.indent(script, " " * 14)]
    path = os.path.join(directory, "pipeline.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def _run_pipeline(path: str, *, on_failure: bool, on_event=None) -> float:
    """Seconds from start() to PipelineRunFinished."""
    events: queue.Queue = queue.Queue()

    def listener(ev):
        if on_event is not None:
            on_event(ps, ev)
        if isinstance(ev, PipelineRunFinished):
            events.put(ev)

    ps = PipelineSession(LaunchOptions(task_file=path), listener)
    ps.load()
    ps.plan.on_failure = on_failure
    t = time.perf_counter()
    ps.start()
    try:
        events.get(timeout=TIMEOUT)
        return time.perf_counter() - t
    finally:
        ps.close()


def _bare_parallel(command: str, n: int) -> float:
    t = time.perf_counter()
    procs = [subprocess.Popen(["sh", "-c", command], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(n)]
    for p in procs:
        p.communicate(timeout=TIMEOUT)
    return time.perf_counter() - t


def measure_fanout(command: str, tasks: int = 20, reps: int = 5) -> tuple[list[float],
                                                                           list[float]]:
    """(pipeline wall times, bare parallel runner wall times) for ``tasks`` tasks of ``command``."""
    ours, bare = [], []
    with tempfile.TemporaryDirectory() as d:
        path = _pipeline(d, {f"t{i}": command for i in range(tasks)})
        _run_pipeline(path, on_failure=False)  # warm up (imports, first spawn)
        for _ in range(reps):
            ours.append(_run_pipeline(path, on_failure=False))
            bare.append(_bare_parallel(command, tasks))
    return ours, bare


def measure_pause_under_load(loggers: int = 10, reps: int = 5) -> list[float]:
    """Step exit -> StepPaused at the listener, in ms, while ``loggers`` tasks print at full
    speed (0: alone). The step writes the time just before it exits."""
    out = []
    with tempfile.TemporaryDirectory() as d:
        stamp = os.path.join(d, "exit-time")
        tasks = {f"log{i}": "yes 'a log line at full speed, about sixty characters long ....' "
                            "| head -n 3000000" for i in range(loggers)}
        tasks["fails"] = f"sleep 0.3\npython3 -c 'import time; print(time.time())' > {stamp}\nexit 1"
        path = _pipeline(d, tasks)
        for _ in range(reps):
            seen: list[float] = []

            def on_event(ps, ev):
                if isinstance(ev, TaskEvent) and isinstance(ev.event, StepPaused):
                    seen.append(time.time())
                    ps.session_of(ev.task).release(Release.FAIL_CONTINUE)
                    ps.terminate()
                    ps.terminate()

            _run_pipeline(path, on_failure=True, on_event=on_event)
            with open(stamp) as f:
                exited = float(f.read())
            # the stamp is written by a process that still has to exit, with the step's shell
            out.append((seen[0] - exited) * 1000.0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    med = statistics.median
    for command in ("true", "sleep 0.5"):
        ours, bare = measure_fanout(command, reps=args.reps)
        print(f"20 tasks of `{command}`: pipeline {med(ours) * 1000:.0f} ms, bare parallel "
              f"{med(bare) * 1000:.0f} ms, ratio {med(ours) / med(bare):.2f}x")
    loaded = measure_pause_under_load(10, args.reps)
    alone = measure_pause_under_load(0, args.reps)
    print(f"step exit -> StepPaused: {med(loaded):.1f} ms with 10 tasks logging, "
          f"{med(alone):.1f} ms alone")
    return 0


if __name__ == "__main__":
    sys.exit(main())
