"""Python steps in containers: not yet under debugpy. A Python step with a breakpoint in its script
runs plainly, and the run says why (its breakpoints turn unverified in the editor)."""

from __future__ import annotations

from tekton_debug.events import PythonUnavailable, RunFinished, StepStarted
from tests.runtimes.container.conftest import WAIT


def test_a_python_step_with_a_breakpoint_runs_plainly_and_says_why(session, task_file):
    path = task_file("""\
        - name: py
          image: IMAGE
          script: |
            #!/usr/bin/env python3
            print("hello")
        """)
    line = next(n for n, text in enumerate(open(path).read().splitlines(), 1)
                if 'print("hello")' in text)
    def plan(plan):
        plan.on_failure = False  # the step fails (no Python in this image): no pause wanted
        plan.python_lines["py"] = {line}

    s, rec = session(path, plan=plan)
    unavailable = rec.wait_for(PythonUnavailable, timeout=WAIT)
    assert unavailable.index == 0
    assert "container runtime does not start Python steps under debugpy" in unavailable.reason
    assert "local runtime" in unavailable.reason
    rec.wait_for(RunFinished, timeout=WAIT)
    assert rec.of(StepStarted)  # the step ran (plainly: this image has no Python, so it fails)
