"""`tekton-debug check`, as a user (or CI, or pre-commit) runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]

TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: build}
spec:
  params: [{name: version}]
  steps:
    - name: compile
      image: golang:1.22
      script: go build -ldflags "-X main.v=$(params.version)"
"""

ACTION = """\
apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata: {name: greet}
spec:
  params: [{name: who}]
  image: alpine:3.20
  env: [{name: WHO, value: $(params.who)}]
  script: |
    #!/bin/sh
    echo "hello $WHO"
"""


def check(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tekton_debug", "check", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=60,
                          env={**os.environ, "NO_COLOR": "1"})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def test_a_clean_directory_passes(tmp_path):
    write(tmp_path / "task.yaml", TASK)
    write(tmp_path / "action.yaml", ACTION)
    write(tmp_path / "deploy" / "configmap.yml", "apiVersion: v1\nkind: ConfigMap\n"
                                                 "metadata: {name: c}\n")
    res = check(".", cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout == ""
    assert res.stderr == "0 errors, 0 warnings in 3 files\n"


def test_every_problem_of_every_file_at_once_with_file_line_column_and_fix(tmp_path):
    write(tmp_path / "a.yaml", TASK.replace("name: compile", "name: Compile"))
    write(tmp_path / "sub" / "b.yaml", """\
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          taskRef: {name: missing}
        """)
    res = check(".", cwd=tmp_path)
    assert res.returncode == 1
    lines = res.stdout.splitlines()
    assert lines[0] == ('./a.yaml:7:13: error: step name "Compile" is invalid: a step name must be '
                        "a DNS-1123 label (lowercase letters, digits and '-'); fix: rename it, "
                        'e.g. "compile"')
    assert lines[1].startswith('./sub/b.yaml:5:19: error: Task "missing" (taskRef) was not found;')
    assert len(lines) == 2 and res.stderr == "2 errors, 0 warnings in 2 files\n"


def test_a_taskrun_and_the_stepaction_next_to_it(tmp_path):
    write(tmp_path / "action.yaml", ACTION)
    run = write(tmp_path / "run.yaml", """\
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          taskSpec:
            steps:
              - name: hi
                ref: {name: greet}
                params: [{name: whom, value: Ada}]
        """)
    res = check(str(run), cwd=tmp_path)
    assert res.returncode == 1
    assert [line.split(": error: ")[1].split("; fix:")[0] for line in res.stdout.splitlines()] == [
        'StepAction "greet" needs the param who, which the step does not pass',
        'param "whom" is not declared by StepAction "greet"; Tekton refuses extra params passed '
        "to a StepAction"]


def test_json_output_lists_every_field(tmp_path):
    write(tmp_path / "t.yaml", TASK.replace("golang:1.22", "golang"))
    res = check("--format", "json", "t.yaml", cwd=tmp_path)
    assert res.returncode == 0  # a warning alone does not fail
    (w,) = json.loads(res.stdout)
    assert w == {"file": "t.yaml", "line": 8, "column": 14, "endLine": 8, "endColumn": 20,
                 "severity": "warning",
                 "message": "image 'golang' has neither tag nor digest: it runs whatever `latest` "
                            "is that day",
                 "fix": "pin it: golang:<tag> or golang@sha256:<digest>"}


def test_max_warnings(tmp_path):
    write(tmp_path / "t.yaml", TASK.replace("golang:1.22", "golang"))
    assert check("--max-warnings", "1", "t.yaml", cwd=tmp_path).returncode == 0
    res = check("--max-warnings", "0", "t.yaml", cwd=tmp_path)
    assert res.returncode == 1
    assert res.stderr.endswith("more warnings than --max-warnings 0\n")


def test_usage_errors_exit_2(tmp_path):
    res = check("nope.yaml", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr == ("error: nope.yaml: no such file or directory\n  fix: give Tekton YAML "
                          "files or directories that hold them\n")
    assert check("--format", "xml", cwd=tmp_path).returncode == 2
    assert check("--max-warnings", "-1", cwd=tmp_path).returncode == 2


def test_yaml_syntax_errors_are_problems_not_crashes(tmp_path):
    write(tmp_path / "t.yaml", "kind: Task\nspec:\n  steps: [\n")
    res = check("t.yaml", cwd=tmp_path)
    assert res.returncode == 1 and res.stdout.startswith("t.yaml:4:1: error: YAML syntax error")


def test_offline_remote_references_come_from_the_cache_only(tmp_path):
    write(tmp_path / "r.yaml", """\
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          taskRef:
            resolver: hub
            params: [{name: name, value: git-clone}, {name: version, value: "0.9"}]
        """)
    res = subprocess.run([sys.executable, "-m", "tekton_debug", "check", "--offline", "r.yaml"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=60,
                         env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")})
    assert res.returncode == 1
    assert res.stdout.startswith("r.yaml:6:5: error: taskRef (resolver hub, name: git-clone, "
                                 "version: 0.9): --offline, and it is not in the cache")


def test_the_pre_commit_hook_runs_check_on_yaml_files():
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "tekton-debug-check"
    assert hook["entry"] == "tekton-debug check" and hook["language"] == "python"
    assert hook["types"] == ["yaml"]


def test_run_shows_the_warnings_check_shows_and_runs_as_tekton_would(tmp_path):
    task = write(tmp_path / "t.yaml", """\
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: t}
        spec:
          steps:
            - name: s
              image: alpine:3.20
              env: [{name: A, value: "1"}, {name: A, value: "2"}]
              script: echo A=$A
        """)
    res = subprocess.run([sys.executable, "-m", "tekton_debug", "run", str(task), "--runtime",
                          "local"], capture_output=True, text=True, cwd=tmp_path, timeout=60,
                         env={**os.environ, "NO_COLOR": "1"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert (f'warning: {task}:8:43: env variable "A" is set twice in step "s"; Kubernetes keeps '
            "the last one") in res.stderr
    assert "[s] A=2" in res.stdout
