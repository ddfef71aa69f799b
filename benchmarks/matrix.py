"""A matrixed task on the host, beside baselines measured in the same run:

  a matrix of 20 combinations of a one-step task (one pipeline task fanned out, start to
  PipelineRunFinished)
    vs  20 independent one-step tasks of the same command (pipeline.py's figure)
    vs  a bare parallel runner of the same commands (20 `sh -c CMD` started at once, waited)

Run: .venv/bin/python benchmarks/matrix.py [--reps N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import textwrap

from pipeline import _bare_parallel, _pipeline, _run_pipeline


def _matrix_pipeline(directory: str, command: str, combinations: int) -> str:
    values = ", ".join(f'"{i}"' for i in range(combinations))
    text = textwrap.dedent(f"""\
        apiVersion: tekton.dev/v1
        kind: Pipeline
        metadata: {{name: bench-matrix}}
        spec:
          tasks:
            - name: m
              matrix:
                params: [{{name: i, value: [{values}]}}]
              taskSpec:
                params: [{{name: i}}]
                steps:
                  - name: s
                    image: alpine
                    script: |
                      {command}
        """)
    path = os.path.join(directory, "matrix.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def measure_matrix(command: str, combinations: int = 20, reps: int = 5
                   ) -> tuple[list[float], list[float], list[float]]:
    """(matrix wall times, independent tasks wall times, bare parallel wall times)."""
    matrix, tasks, bare = [], [], []
    with tempfile.TemporaryDirectory() as d:
        m = _matrix_pipeline(d, command, combinations)
        t = _pipeline(d, {f"t{i}": command for i in range(combinations)})
        _run_pipeline(m, on_failure=False)  # warm up (imports, first spawn)
        for _ in range(reps):
            matrix.append(_run_pipeline(m, on_failure=False)[0])
            tasks.append(_run_pipeline(t, on_failure=False)[0])
            bare.append(_bare_parallel(command, combinations))
    return matrix, tasks, bare


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args()
    med = statistics.median
    for command in ("true", "sleep 0.5"):
        matrix, tasks, bare = measure_matrix(command, reps=args.reps)
        print(f"20 combinations of `{command}`: matrix {med(matrix) * 1000:.0f} ms, 20 tasks "
              f"{med(tasks) * 1000:.0f} ms ({med(matrix) / med(tasks):.2f}x), bare parallel "
              f"{med(bare) * 1000:.0f} ms ({med(matrix) / med(bare):.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
