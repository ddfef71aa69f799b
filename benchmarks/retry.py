"""Retry in place against continue, in the same run, on the local runtime.

One TaskRun: a step that fails, then a step that prints. Measured per repetition (a fresh run each):
- restart: ``Session.retry`` on the paused step (the Task file edited so that the step prints and
  passes) until the retried step's first output event;
- continue: ``Session.release(CONTINUE)`` on the same pause until the next step's first output.
Both go from the user's action to the first line the user sees; budget: restart <= 1.5x continue.
"""

from __future__ import annotations

import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapter"))

from tekton_debug.events import Release, RunFinished, StepLog, StepPaused  # noqa: E402
from tekton_debug.options import LaunchOptions  # noqa: E402
from tekton_debug.session.session import Session  # noqa: E402

TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata: {{name: retry-bench}}
spec:
  steps:
    - name: flaky
      image: alpine
      script: |
        {body}
    - name: next
      image: alpine
      script: echo next step
"""


def _one(directory: Path, action: str) -> float:
    task = directory / "task.yaml"
    task.write_text(TASK.format(body="exit 1"))
    events: queue.Queue = queue.Queue()
    s = Session(LaunchOptions(task_file=str(task), runtime="local"), events.put)
    s.start()
    try:
        while not isinstance(events.get(timeout=30), StepPaused):
            pass
        want = 0 if action == "retry" else 1
        if action == "retry":
            task.write_text(TASK.format(body="echo retried"))
            t0 = time.perf_counter()
            threading.Thread(target=s.retry, args=(0,), daemon=True).start()
        else:
            t0 = time.perf_counter()
            threading.Thread(target=s.release, args=(Release.CONTINUE, 0), daemon=True).start()
        while True:
            ev = events.get(timeout=30)
            if isinstance(ev, StepLog) and ev.index == want and ev.data:
                took = time.perf_counter() - t0
                break
        while not isinstance(events.get(timeout=30), RunFinished):
            pass
        return took * 1000
    finally:
        s.close()


def measure(reps: int = 10) -> tuple[list[float], list[float]]:
    """(restart -> first output ms, continue -> next step's output ms), interleaved."""
    retried, continued = [], []
    with tempfile.TemporaryDirectory(prefix="retry-bench-") as d:
        for _ in range(reps):
            retried.append(_one(Path(d), "retry"))
            continued.append(_one(Path(d), "continue"))
    return retried, continued


if __name__ == "__main__":
    r, c = measure()
    print(f"restartFrame -> retried step's first output: {statistics.median(r):.1f} ms")
    print(f"continue -> next step's first output:       {statistics.median(c):.1f} ms")
    print(f"ratio: {statistics.median(r) / statistics.median(c):.2f}x (budget <= 1.5x)")
