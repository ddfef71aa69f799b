"""Pipelines on the host, each figure beside a baseline measured in the same run.

  (i)  20 independent one-step tasks on the host (a PipelineRun, start to PipelineRunFinished,
       and start to closed: what a CLI user waits for, since close ends what is left of the run
       and removes its directories)
       vs  a bare parallel runner of the same commands (20 `sh -c CMD` started at once by `sh`,
           waited), and the same 20 started from Python (`subprocess.Popen`, pipes read): the
           floor of any Python adapter that spawns each step as a process
       and the same PipelineRun with the `auto` runtime, whose images are not here: what deciding
           (the engine asked once about the image, the pull tried once) adds
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
from dataclasses import dataclass

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


def _run_pipeline(path: str, *, on_failure: bool, on_event=None, runtime: str = "local"
                  ) -> tuple[float, float]:
    """Seconds from start() to PipelineRunFinished, and to the end of close()."""
    events: queue.Queue = queue.Queue()

    def listener(ev):
        if on_event is not None:
            on_event(ps, ev)
        if isinstance(ev, PipelineRunFinished):
            events.put(ev)

    ps = PipelineSession(LaunchOptions(task_file=path, runtime=runtime), listener)
    ps.load()
    ps.plan.on_failure = on_failure
    t = time.perf_counter()
    ps.start()
    try:
        events.get(timeout=TIMEOUT)
        finished = time.perf_counter() - t
    finally:
        ps.close()
    return finished, time.perf_counter() - t


def _bare_parallel(command: str, n: int) -> float:
    """``n`` times ``sh -c command`` started at once by ``sh`` itself, and waited."""
    script = " ".join(["sh -c \"$0\" &"] * n) + " wait"
    t = time.perf_counter()
    subprocess.run(["sh", "-c", script, command], check=True, timeout=TIMEOUT)
    return time.perf_counter() - t


def _python_parallel(command: str, n: int) -> float:
    """``n`` times ``sh -c command`` started at once from Python, their pipes read, waited."""
    t = time.perf_counter()
    procs = [subprocess.Popen(["sh", "-c", command], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE) for _ in range(n)]
    for p in procs:
        p.communicate(timeout=TIMEOUT)
    return time.perf_counter() - t


@dataclass
class Fanout:
    ours: list[float]  # the PipelineRun on the host, seconds
    closed: list[float]  # the same, start to the end of close()
    bare: list[float]  # sh starting the commands
    python: list[float]  # Python starting the commands
    auto: list[float]  # the PipelineRun with runtime auto (images not here)


def measure_fanout(command: str, tasks: int = 20, reps: int = 5) -> Fanout:
    """Wall times for ``tasks`` one-step tasks of ``command`` and their baselines, interleaved."""
    out = Fanout([], [], [], [], [])
    with tempfile.TemporaryDirectory() as d:
        path = _pipeline(d, {f"t{i}": command for i in range(tasks)})
        _run_pipeline(path, on_failure=False)  # warm up (imports, first spawn)
        _run_pipeline(path, on_failure=False, runtime="auto")
        for _ in range(reps):
            finished, closed = _run_pipeline(path, on_failure=False)
            out.ours.append(finished)
            out.closed.append(closed)
            out.bare.append(_bare_parallel(command, tasks))
            out.python.append(_python_parallel(command, tasks))
            out.auto.append(_run_pipeline(path, on_failure=False, runtime="auto")[0])
    return out


def measure_pause_under_load(loggers: int = 10, reps: int = 5) -> list[float]:
    """Step exit -> StepPaused at the listener, in ms, while ``loggers`` tasks print at full
    speed (0: alone). The step's shell writes the time just before it exits."""
    out = []
    with tempfile.TemporaryDirectory() as d:
        stamp = os.path.join(d, "exit-time")
        tasks = {f"log{i}": "yes 'a log line at full speed, about sixty characters long ....' "
                            "| head -n 3000000" for i in range(loggers)}
        # bash takes the time without starting a process: the step exits right after
        tasks["fails"] = (f"#!/bin/bash\nsleep 0.3\nprintf '%s\\n' \"$EPOCHREALTIME\" > {stamp}\n"
                          "exit 1")
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
            out.append((seen[0] - exited) * 1000.0)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    med = statistics.median
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for command in ("true", "sleep 0.5"):
        f = measure_fanout(command, reps=args.reps)
        print(f"20 tasks of `{command}`: pipeline {med(f.ours) * 1000:.0f} ms, bare parallel sh "
              f"{med(f.bare) * 1000:.0f} ms, ratio {med(f.ours) / med(f.bare):.2f}x; Python "
              f"Popen {med(f.python) * 1000:.0f} ms, ratio {med(f.ours) / med(f.python):.2f}x; "
              f"auto (images absent) {med(f.auto) * 1000:.0f} ms")
        print(f"  start to closed: pipeline {med(f.closed) * 1000:.0f} ms, ratio "
              f"{med(f.closed) / med(f.bare):.2f}x the bare parallel sh")
        print(f"  pipeline runs: {' '.join(f'{x * 1000:.0f}' for x in f.ours)} ms; closed: "
              f"{' '.join(f'{x * 1000:.0f}' for x in f.closed)} ms; "
              f"sh: {' '.join(f'{x * 1000:.0f}' for x in f.bare)} ms")
    loaded = measure_pause_under_load(10, args.reps)
    alone = measure_pause_under_load(0, args.reps)
    print(f"step exit -> StepPaused: {med(loaded):.1f} ms with 10 tasks logging "
          f"({' '.join(f'{x:.1f}' for x in loaded)}), {med(alone):.1f} ms alone")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
