"""`tekton-debug run` on a TaskRun whose Task is remote: fetched, run, then run again offline."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

from .conftest import task_yaml


def run(*args: str, cwd, cache) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tekton_debug", "run", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=60,
                          env={**os.environ, "NO_COLOR": "1", "XDG_CACHE_HOME": str(cache)})


def taskrun(url: str) -> str:
    return textwrap.dedent(f"""\
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata:
          name: remote-run
        spec:
          params:
            - name: path
              value: tasks/say.yaml
          taskRef:
            resolver: git
            params:
              - name: url
                value: {url}
              - name: pathInRepo
                value: $(params.path)
        """)


def test_run_fetches_a_git_task_runs_it_and_runs_it_again_offline(tmp_path, repo):
    repo.commit({"tasks/say.yaml": task_yaml("say", "hello from git").replace(
        "spec:\n", "spec:\n  params:\n    - name: path\n")})
    (tmp_path / "run.yaml").write_text(taskrun(repo.url))
    cache = tmp_path / "xdg"
    res = run("run.yaml", "--on-failure", "stop", cwd=tmp_path, cache=cache)
    assert res.returncode == 0, res.stderr
    assert "[say] hello from git" in res.stdout
    shutil.rmtree(repo.path)
    res = run("run.yaml", "--offline", "--on-failure", "stop", cwd=tmp_path, cache=cache)
    assert res.returncode == 0, res.stderr
    assert "[say] hello from git" in res.stdout


def test_run_offline_with_nothing_cached_says_where_and_why(tmp_path, repo):
    (tmp_path / "run.yaml").write_text(taskrun(repo.url))
    res = run("run.yaml", "--offline", cwd=tmp_path, cache=tmp_path / "xdg")
    assert res.returncode == 2
    assert res.stderr.startswith("error: run.yaml:10:5: taskRef (resolver git, url: file://")
    assert "not in the cache" in res.stderr and "Traceback" not in res.stderr


def test_a_launch_configuration_asks_for_offline_with_a_boolean():
    import pytest

    from tekton_debug.dap.launch_config import parse_launch
    from tekton_debug.errors import UserError

    assert parse_launch({"task": "t.yaml", "offline": True})[0].offline
    assert not parse_launch({"task": "t.yaml"})[0].offline
    with pytest.raises(UserError) as err:
        parse_launch({"task": "t.yaml", "offline": "yes"})
    assert '"offline" must be true or false' in err.value.first.message


PIPELINE_RUN = """\
apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  name: remote-pipeline
spec:
  params:
    - name: path
      value: tasks/say.yaml
  pipelineSpec:
    params:
      - name: path
      - name: url
        default: {url}
    tasks:
      - name: greet
        taskRef:
          resolver: git
          params:
            - name: url
              value: $(params.url)
            - name: pathInRepo
              value: $(params.path)
"""


def test_a_pipeline_task_with_a_git_task_is_fetched_with_the_pipelines_params(tmp_path, repo):
    repo.commit({"tasks/say.yaml": task_yaml("say", "hello from a pipeline")})
    (tmp_path / "plr.yaml").write_text(PIPELINE_RUN.format(url=repo.url))
    res = run("plr.yaml", "--on-failure", "stop", cwd=tmp_path, cache=tmp_path / "xdg")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "hello from a pipeline" in res.stdout


def test_a_pipeline_task_whose_task_cannot_be_fetched_says_which_task_and_where(tmp_path):
    (tmp_path / "plr.yaml").write_text(PIPELINE_RUN.format(url=f"file://{tmp_path}/none"))
    res = run("plr.yaml", cwd=tmp_path, cache=tmp_path / "xdg")
    assert res.returncode == 2, res.stdout + res.stderr
    assert res.stderr.startswith('error: plr.yaml:17:11: task "greet" taskRef (resolver git')
    assert "not found: no git repository" in res.stderr and "Traceback" not in res.stderr


def test_a_remote_pipeline_over_http_with_a_task_from_git(tmp_path, repo, http_server):
    repo.commit({"tasks/say.yaml": task_yaml("say", "hello from a remote pipeline")})
    pipeline = PIPELINE_RUN.format(url=repo.url).split("  pipelineSpec:\n", 1)[1]
    pipeline = "\n".join(line[2:] for line in pipeline.splitlines())
    http_server.files["/pipelines/greet.yaml"] = (200, (
        "apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: greet\n"
        "spec:\n" + pipeline + "\n").encode())
    (tmp_path / "plr.yaml").write_text(textwrap.dedent(f"""\
        apiVersion: tekton.dev/v1
        kind: PipelineRun
        metadata:
          name: remote-pipeline
        spec:
          params:
            - name: path
              value: tasks/say.yaml
          pipelineRef:
            resolver: http
            params:
              - name: url
                value: {http_server.base}/pipelines/greet.yaml
        """))
    res = run("plr.yaml", "--on-failure", "stop", cwd=tmp_path, cache=tmp_path / "xdg")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "hello from a remote pipeline" in res.stdout
    http_server.files.clear()
    res = run("plr.yaml", "--on-failure", "stop", cwd=tmp_path, cache=tmp_path / "xdg")
    assert res.returncode == 2 and "pipelineRef (resolver http" in res.stderr
    assert "not found" in res.stderr and "--offline" in res.stderr
    res = run("plr.yaml", "--offline", "--on-failure", "stop", cwd=tmp_path, cache=tmp_path / "xdg")
    assert res.returncode == 0, res.stdout + res.stderr
