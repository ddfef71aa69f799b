"""Local runtime latency and overhead, each figure beside its bare baseline.

  (i)   step exit -> StepPaused event     vs  a bare Popen + pipe noticing the same exit
  (ii)  release() -> next StepStarted      vs  running the same debug script with a bare subprocess
  (iii) per-step cost of 100 trivial steps vs  plain `sh -c CMD` run one after another
  (iv)  the search for a step's marked processes when it ends (its PIDs only) vs the same search
        through every process in /proc (how it was done before)

Run: .venv/bin/python benchmarks/local_steps.py [--pauses N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from tekton_debug.entrypoint.layout import DEBUG_INFO_ENV, RunLayout
from tekton_debug.entrypoint.scripts import write_debug_scripts
from tekton_debug.events import DebugPlan, Release, RunFinished, StepLog, StepPaused, StepStarted
from tekton_debug.runtimes.local import LocalRuntime
from tekton_debug.tekton.model import Step, TaskRun, TaskSpec

MARK = b"about-to-exit\n"


def ms(seconds: float) -> float:
    return seconds * 1000.0


def measure_runtime_pauses(n: int) -> tuple[list[float], list[float]]:
    """(exit -> StepPaused, release -> next StepStarted) over n failing steps."""
    steps = [Step(i, f"s{i}", command=["sh", "-c", "echo about-to-exit; exit 1"])
             for i in range(n)] + [Step(n, "last", command=["true"])]
    run = TaskRun("bench-pauses", TaskSpec(steps))
    marks: dict[int, float] = {}
    paused: dict[int, float] = {}
    started: dict[int, float] = {}
    pause_events = {i: threading.Event() for i in range(n)}
    done = threading.Event()

    def listener(ev):
        now = time.perf_counter()
        if isinstance(ev, StepLog) and ev.data.endswith(MARK):
            marks[ev.index] = now
        elif isinstance(ev, StepPaused):
            paused[ev.index] = now
            pause_events[ev.index].set()
        elif isinstance(ev, StepStarted):
            started[ev.index] = now
        elif isinstance(ev, RunFinished):
            done.set()

    rt = LocalRuntime()
    released: dict[int, float] = {}
    try:
        rt.start(run, DebugPlan(on_failure=True), listener)
        for i in range(n):
            pause_events[i].wait(30)
            released[i] = time.perf_counter()
            rt.release(i, Release.CONTINUE)
        done.wait(30)
    finally:
        rt.close()
    to_pause = [ms(paused[i] - marks[i]) for i in range(n)]
    to_start = [ms(started[i + 1] - released[i]) for i in range(n)]
    return to_pause, to_start


def measure_bare_exit(n: int) -> list[float]:
    """A bare Popen reading the same line, then noticing the exit."""
    out = []
    for _ in range(n):
        p = subprocess.Popen(["sh", "-c", "echo about-to-exit; exit 1"], stdout=subprocess.PIPE)
        assert p.stdout is not None
        p.stdout.readline()
        t = time.perf_counter()
        p.wait()
        p.stdout.read()
        out.append(ms(time.perf_counter() - t))
    return out


def measure_bare_script(n: int) -> list[float]:
    """Running debug-continue itself with a bare subprocess (the floor of a release)."""
    out = []
    with tempfile.TemporaryDirectory() as d:
        layout = RunLayout(Path(d), 1)
        layout.create()
        write_debug_scripts(layout.debug_scripts_dir, tekton_root=str(layout.tekton),
                            step_count=1)
        env = {DEBUG_INFO_ENV: str(layout.step_info_dir(0)), "PATH": "/usr/bin:/bin"}
        for _ in range(n):
            t = time.perf_counter()
            subprocess.run([str(layout.debug_scripts_dir / "debug-continue")], env=env,
                           stdout=subprocess.DEVNULL, check=True)
            out.append(ms(time.perf_counter() - t))
    return out


def measure_steps(count: int) -> tuple[float, float]:
    """(seconds for the local runtime, seconds for plain sh) for `count` trivial steps."""
    cmd = "true"
    steps = [Step(i, f"s{i}", command=["sh", "-c", cmd]) for i in range(count)]
    run = TaskRun("bench-steps", TaskSpec(steps))
    done = threading.Event()
    first: list[float] = []
    end: list[float] = []

    def listener(ev):
        if isinstance(ev, StepStarted) and ev.index == 0:
            first.append(time.perf_counter())
        if isinstance(ev, RunFinished):
            end.append(time.perf_counter())
            assert ev.succeeded, ev
            done.set()

    rt = LocalRuntime()
    try:
        rt.start(run, DebugPlan(), listener)
        done.wait(120)
    finally:
        rt.close()
    t = time.perf_counter()
    for _ in range(count):
        subprocess.run(["sh", "-c", cmd], check=True)
    bare = time.perf_counter() - t
    return end[0] - first[0], bare


def measure_sweeps(n: int) -> tuple[list[float], list[float]]:
    """(the step-end search for marked processes among the PIDs handed out since the step
    began, the same search through every process), ms each, over ``n`` trivial steps: each step
    is `sh -c true` marked as a step's processes are."""
    import os
    from tekton_debug.runtimes.local.process import MARK_ENV, PidWindow, kill_marked, mark_of

    windowed, full = [], []
    env = dict(os.environ)
    for i in range(n):
        mark = mark_of("bench", i)
        window = PidWindow()
        env[MARK_ENV] = mark.decode()[len(MARK_ENV) + 1:-1]
        subprocess.run(["sh", "-c", "true"], env=env, check=True)
        t = time.perf_counter()
        kill_marked(mark, windows=[window])
        windowed.append(ms(time.perf_counter() - t))
        t = time.perf_counter()
        kill_marked(mark)
        full.append(ms(time.perf_counter() - t))
    return windowed, full


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pauses", type=int, default=30)
    ap.add_argument("--steps", type=int, default=100)
    args = ap.parse_args()
    measure_steps(5)  # warm up imports and caches
    to_pause, to_start = measure_runtime_pauses(args.pauses)
    bare_exit = measure_bare_exit(args.pauses)
    bare_script = measure_bare_script(args.pauses)
    local, bare = measure_steps(args.steps)
    windowed, full = measure_sweeps(args.steps)
    med = statistics.median
    rows = [
        ("(i) step exit -> StepPaused (median ms)", med(to_pause), med(bare_exit)),
        ("(i) step exit -> StepPaused (max ms)", max(to_pause), max(bare_exit)),
        ("(ii) release -> next StepStarted (median ms)", med(to_start), med(bare_script)),
        ("(ii) release -> next StepStarted (max ms)", max(to_start), max(bare_script)),
        (f"(iii) per step, {args.steps} trivial steps (ms)", ms(local / args.steps),
         ms(bare / args.steps)),
        ("(iv) search for marked processes (median ms)", med(windowed), med(full)),
    ]
    print(f"{'figure':48} {'local':>9} {'baseline':>9} {'ratio':>7}")
    for name, value, base in rows:
        ratio = value / base if base else float("inf")
        print(f"{name:48} {value:9.2f} {base:9.2f} {ratio:7.2f}")
    overhead = ms((local - bare) / args.steps)
    print(f"\nper-step overhead of the local runtime over plain sh: {overhead:.2f} ms "
          f"(budget 5 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
