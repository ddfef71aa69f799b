"""`tekton-debug run` never prints a secret: step output, the last lines of a failed step, notices,
and the error report."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: t}
spec:
  params:
    - {name: token}
    - {name: hosts, type: array}
  steps:
    - name: early
      image: alpine
      script: |
        echo "early sees: $(params.hosts[1]) and the api key api-key-8080 by chance"
        env | grep -c TEKTON_DEBUG_SECRET || true
    - name: uses
      image: alpine
      workingDir: WORKDIR
      env:
        - name: API_KEY
          valueFrom: {secretKeyRef: {name: api, key: key}}
      script: |
        echo "key $API_KEY token $(params.token)"
        exit 2
"""


def run(tmp_path: Path, workdir: str, *args: str) -> subprocess.CompletedProcess:
    task = tmp_path / "task.yaml"
    task.write_text(TASK.replace("WORKDIR", workdir))
    return subprocess.run(
        [sys.executable, "-m", "tekton_debug", "run", str(task), "-p", "token=tok-1234abcd",
         "-p", "hosts=host-a.internal,host-b.internal", "--secret", "token", "--secret", "hosts",
         *args], capture_output=True, text=True, cwd=tmp_path, timeout=60,
        env={**os.environ, "NO_COLOR": "1", "TEKTON_DEBUG_SECRET_API_KEY": "api-key-8080"})


def test_output_and_the_failed_steps_last_lines_show_no_secret(tmp_path):
    res = run(tmp_path, "$(params.token)-dir", "--on-failure", "fail")
    shown = res.stdout + res.stderr
    assert res.returncode == 1, shown
    for secret in ("tok-1234abcd", "host-b.internal", "api-key-8080"):
        assert secret not in shown
    assert "[early] early sees: ******** and the api key ******** by chance" in res.stdout
    assert "[early] 0" in res.stdout  # no step inherits the TEKTON_DEBUG_SECRET_* variables
    assert "[uses] key ******** token ********" in res.stdout
    assert "  | key ******** token ********" in res.stdout  # the paused step's last lines


def test_an_error_quoting_a_secret_shows_it_masked(tmp_path):
    (tmp_path / "blocker").write_text("")
    res = run(tmp_path, f"{tmp_path}/blocker/$(params.token)", "--on-failure", "fail")
    assert res.returncode == 2
    assert "tok-1234abcd" not in res.stderr + res.stdout
    assert f"cannot create its workingDir {tmp_path}/blocker/********" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_pipeline_masks_every_tasks_secrets_in_every_tasks_output(tmp_path):
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text("""
apiVersion: tekton.dev/v1
kind: Pipeline
metadata: {name: p}
spec:
  params: [{name: token}]
  tasks:
    - name: first
      params: [{name: t, value: "$(params.token)"}]
      taskSpec:
        params: [{name: t}]
        steps: [{name: a, image: alpine, script: 'echo "first: $(params.t) and api-key-8080"'}]
    - name: second
      runAfter: [first]
      taskSpec:
        steps:
          - name: b
            image: alpine
            env: [{name: K, valueFrom: {secretKeyRef: {name: api, key: key}}}]
            script: 'echo "second: $K"; exit 3'
""")
    res = subprocess.run(
        [sys.executable, "-m", "tekton_debug", "run", str(pipeline), "-p", "token=tok-1234abcd",
         "--secret", "token"], capture_output=True, text=True, cwd=tmp_path, timeout=90,
        env={**os.environ, "NO_COLOR": "1", "TEKTON_DEBUG_SECRET_API_KEY": "api-key-8080"})
    shown = res.stdout + res.stderr
    assert res.returncode == 1, shown
    assert "tok-1234abcd" not in shown and "api-key-8080" not in shown
    assert "first: ******** and ********" in shown
    assert "second: ********" in shown
