"""`tekton-debug check` over a directory of 300 Tekton files, in one process.

The files: 100 Tasks (four steps each, params, results, workspaces), 100 TaskRuns that reference
those Tasks by name (found in the directory) and 100 TaskRuns whose embedded taskSpec uses a
StepAction (found in the directory too; 20 StepActions among the 300). Baseline: a process
that only parses the same files with PyYAML's C composer (the floor of reading them).
Budget (issue 16): <= 3 s for the whole command.

Run: .venv/bin/python benchmarks/check.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

FILES = 300
BUDGET_S = 3.0

TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata: {{name: task-{i}}}
spec:
  params:
    - {{name: version, default: "1.0"}}
    - {{name: flags, type: array, default: [-v]}}
  results: [{{name: digest}}]
  workspaces: [{{name: source}}]
  steps:
{steps}
"""
STEP = """\
    - name: step-{j}
      image: alpine:3.20
      workingDir: $(workspaces.source.path)
      args: ["$(params.flags[*])"]
      env: [{{name: V, value: $(params.version)}}]
      script: |
        #!/bin/sh
        echo building $V > $(results.digest.path)
"""
REF_RUN = """\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {{name: run-{i}}}
spec:
  taskRef: {{name: task-{t}}}
  params: [{{name: version, value: "2.{i}"}}]
  workspaces: [{{name: source, emptyDir: {{}}}}]
"""
ACTION = """\
apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata: {{name: action-{i}}}
spec:
  params: [{{name: who, default: world}}]
  image: alpine:3.20
  env: [{{name: WHO, value: $(params.who)}}]
  script: |
    #!/bin/sh
    echo "hello $WHO"
"""
ACTION_RUN = """\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {{name: action-run-{i}}}
spec:
  params: [{{name: who, value: me}}]
  taskSpec:
    steps:
      - name: greet
        ref: {{name: action-{a}}}
        params: [{{name: who, value: $(params.who)}}]
      - name: after
        image: alpine:3.20
        script: echo done
"""


def write_corpus(root: Path) -> None:
    n = 0
    for i in range(100):
        steps = "".join(STEP.format(j=j) for j in range(4))
        (root / f"task-{i:03}.yaml").write_text(TASK.format(i=i, steps=steps))
        (root / f"run-{i:03}.yaml").write_text(REF_RUN.format(i=i, t=(i * 7) % 100))
        n += 2
    for i in range(20):
        (root / f"action-{i:03}.yaml").write_text(ACTION.format(i=i))
        n += 1
    for i in range(FILES - n):
        (root / f"action-run-{i:03}.yaml").write_text(ACTION_RUN.format(i=i, a=i % 20))


BASELINE = """
import glob, sys, yaml
for p in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
    with open(p) as f:
        list(yaml.compose_all(f.read(), Loader=yaml.CSafeLoader))
"""


@dataclass
class Result:
    check_s: float
    baseline_s: float
    files: int
    problems: int


def measure(runs: int = 3) -> Result:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_corpus(root)
        files = len(list(root.glob("*.yaml")))
        env = {**os.environ, "NO_COLOR": "1"}
        checks, bases, out = [], [], None
        for _ in range(runs):
            t0 = time.perf_counter()
            out = subprocess.run([sys.executable, "-m", "tekton_debug", "check", str(root)],
                                 capture_output=True, text=True, env=env, timeout=120)
            checks.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", BASELINE, str(root)], check=True, env=env,
                           timeout=120)
            bases.append(time.perf_counter() - t0)
        assert out is not None
        if out.returncode != 0:
            raise RuntimeError(f"check found problems in the benchmark's own files: {out.stdout}")
        return Result(statistics.median(checks), statistics.median(bases), files,
                      len(out.stdout.splitlines()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    r = measure(parser.parse_args().runs)
    print(f"tekton-debug check, {r.files} files: {r.check_s:.2f} s (budget {BUDGET_S:g} s); "
          f"PyYAML parse only: {r.baseline_s:.2f} s; ratio {r.check_s / r.baseline_s:.1f}x")


if __name__ == "__main__":
    main()
