"""A remote Task with the kubernetes runtime: the reference goes to the cluster unchanged (its own
resolver fetches it), and the run is debugged with the local copy placing the steps."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import yaml
from kubernetes import client

from tests.cluster.fixtures import cluster  # noqa: F401
from tests.cluster.helpers import api_client

STEPS = [
    {"name": "first", "image": "alpine", "script": "echo first ran"},
    {"name": "second", "image": "alpine", "script": "echo second failing\nexit 4"},
]

RUN = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: TaskRun
    metadata:
      generateName: remote-
    spec:
      params:
        - name: task
          value: shared
      taskRef:
        resolver: cluster
        params:
          - name: name
            value: $(params.task)
          - name: namespace
            value: default
    """)


def debug_remotely(cluster, tmp_path) -> subprocess.CompletedProcess:  # noqa: F811
    client.CustomObjectsApi(api_client(cluster.kubeconfig)).create_namespaced_custom_object(
        "tekton.dev", "v1", "default", "tasks",
        {"apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "shared"},
         "spec": {"params": [{"name": "task", "default": "x"}], "steps": STEPS}})
    (tmp_path / "run.yaml").write_text(RUN)
    env = {**os.environ, "NO_COLOR": "1", "KUBECACHEDIR": str(tmp_path / "kube-cache"),
           "HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    return subprocess.run(
        [sys.executable, "-m", "tekton_debug", "run", "run.yaml", "--runtime", "kubernetes",
         "--kubeconfig", cluster.kubeconfig, "-n", "default", "--on-failure", "shell"],
        input="debug-continue\n", capture_output=True, text=True, cwd=tmp_path, timeout=90,
        env=env)


def test_the_cluster_resolves_the_reference_and_the_failed_step_pauses_at_its_cached_line(
        cluster, tmp_path):  # noqa: F811
    res = debug_remotely(cluster, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    name = res.stdout.split("TaskRun ", 2)[2].split(" created")[0]
    sent = cluster.get("taskruns.tekton.dev", name)["spec"]
    assert "taskSpec" not in sent
    assert sent["taskRef"] == yaml.safe_load(RUN)["spec"]["taskRef"]
    pause = next(line for line in res.stdout.splitlines() if line.startswith("⏸ step second"))
    copy = pause.rsplit(" ", 1)[1]
    path, line = copy.rsplit(":", 1)
    assert path.endswith("shared.yaml")
    assert open(os.path.join(tmp_path, path)).read().splitlines()[int(line) - 1] \
        .strip() == "- name: second"
    assert "✓ step second succeeded (marked passed)" in res.stdout


def test_a_task_that_cannot_be_fetched_here_is_still_debugged_with_the_clusters_copy(
        cluster, tmp_path):  # noqa: F811
    cluster.deny("get", "tasks")  # you may not read Tasks; the cluster's resolver may
    res = debug_remotely(cluster, tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "steps from the cluster's resolver" in res.stdout
    assert "the remote Task was not fetched here" in res.stderr and "no permission" in res.stderr
    assert "⏸ step second failed" in res.stdout and "[second] second failing" in res.stdout
    assert "✓ step second succeeded (marked passed)" in res.stdout


def test_attaching_to_a_taskrun_whose_remote_task_the_cluster_could_not_resolve_says_why(
        cluster, tmp_path):  # noqa: F811
    from tests.cluster.helpers import create_taskrun, done, watch_taskrun
    api = api_client(cluster.kubeconfig)
    create_taskrun(api, {"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                         "metadata": {"name": "unresolvable"},
                         "spec": {"taskRef": {"resolver": "git", "params": [
                             {"name": "url", "value": "https://git.invalid/r.git"}]}}})
    watch_taskrun(api, "unresolvable", done)
    env = {**os.environ, "NO_COLOR": "1", "KUBECACHEDIR": str(tmp_path / "kube-cache"),
           "HOME": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-m", "tekton_debug", "run", "--attach", "unresolvable", "--runtime",
         "kubernetes", "--kubeconfig", cluster.kubeconfig, "-n", "default"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60, env=env)
    assert res.returncode == 2, res.stdout + res.stderr
    assert "the cluster has not resolved its remote Task (resolver git)" in res.stderr
    assert "Traceback" not in res.stderr
