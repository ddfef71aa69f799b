"""`tekton-debug run --runtime kubernetes` against the test cluster, as a user runs it: the shell in
a paused step is `kubectl exec` into its container (kubectl is on PATH)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.cluster.fixtures import cluster  # noqa: F401
from tests.cluster.helpers import (api_client, create_taskrun, done, follow_log_until, succeeded,
                                   taskrun, watch_taskrun)

ROOT = Path(__file__).resolve().parents[2]
FAILING = ROOT / "examples" / "failing-task.yaml"
# the shell's commands come from its stdin, where the test cluster maps no /tekton path: a step's
# own environment variable tells which container the shell is in
STEPS = [
    {"name": "first", "image": "alpine", "env": [{"name": "WHERE", "value": "in-first"}],
     "script": "echo first ran"},
    {"name": "second", "image": "alpine", "env": [{"name": "WHERE", "value": "in-second"}],
     "script": "echo second failing\nexit 4"},
    {"name": "third", "image": "alpine", "env": [{"name": "WHERE", "value": "in-third"}],
     "script": "echo third ran"},
]


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "KUBECACHEDIR": str(tmp_path / "kube-cache"),
            "HOME": str(tmp_path)}


def run(cluster,  # noqa: F811
        *args: str, stdin: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tekton_debug", "run", *args, "--runtime", "kubernetes",
         "--kubeconfig", cluster.kubeconfig, "-n", "default"],
        input=stdin, capture_output=True, text=True, cwd=cwd, timeout=60, env=env)


def taskrun_condition(cluster, name: str) -> dict:  # noqa: F811
    tr = cluster.get("taskruns.tekton.dev", name) or {}
    return next((c for c in (tr.get("status") or {}).get("conditions") or []
                 if c["type"] == "Succeeded"), {})


def paused_taskrun(cluster, name: str) -> str:  # noqa: F811
    api = api_client(cluster.kubeconfig)
    create_taskrun(api, taskrun(name, STEPS))
    follow_log_until(api, f"{name}-pod", "step-second", "debug onFailure breakpoint")
    return name


def test_piped_debug_continue_in_the_cluster_shell_marks_the_step_passed(cluster, env,  # noqa: F811
                                                                         tmp_path):
    res = run(cluster, str(FAILING), "--on-failure", "shell", stdin="debug-continue\n", env=env,
              cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "step test failed (exit code not known while paused): paused" in res.stdout
    assert "✓ step test succeeded (marked passed)" in res.stdout
    assert "[publish] publishing build/report.txt" in res.stdout
    # a pipe is not a terminal: kubectl is not asked for one, and the shell prints no prompts
    assert "Unable to use a TTY" not in res.stderr
    assert "job control" not in res.stderr and "# " not in res.stderr


def test_piped_commands_run_in_the_paused_steps_container(cluster, env, tmp_path):  # noqa: F811
    import yaml
    task = tmp_path / "task.yaml"
    task.write_text(yaml.safe_dump({"apiVersion": "tekton.dev/v1", "kind": "Task",
                                    "metadata": {"name": "where"}, "spec": {"steps": STEPS}}))
    res = run(cluster, str(task), "--on-failure", "shell", stdin=(
        'echo "shell $WHERE at $(pwd)"\n'
        "debug-fail-continue\n"), env=env, cwd=tmp_path)
    assert res.returncode == 1, res.stdout + res.stderr
    # the shell has the paused step's environment and working directory (its pod's /workspace)
    name = res.stdout.split("TaskRun ", 2)[2].split(" created")[0]
    workspace = os.path.join(cluster.pod_dir(f"{name}-pod"), "workspace")
    assert f"shell in-second at {workspace}\n" in res.stdout
    assert "✗ step second failed (exit code 1)" in res.stdout
    assert "[third] third ran" in res.stdout


def test_attach_opens_a_shell_in_the_paused_step_of_a_running_taskrun(cluster, env,  # noqa: F811
                                                                     tmp_path):
    name = paused_taskrun(cluster, "attach-from-cli")
    res = run(cluster, "--attach", name, "--on-failure", "shell",
              stdin="echo attached-$WHERE\ndebug-continue\n", env=env,
              cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "⏸ step second" in res.stdout and "attached-in-second" in res.stdout
    assert "[third] third ran" in res.stdout
    assert taskrun_condition(cluster, name)["status"] == "True"


def test_terminal_gets_an_interactive_kubectl_shell_in_the_step(cluster,  # noqa: F811
                                                                env, tmp_path):
    child = pexpect.spawn(sys.executable, [
        "-m", "tekton_debug", "run", str(FAILING), "--runtime", "kubernetes", "--kubeconfig",
        cluster.kubeconfig, "-n", "default"], cwd=str(tmp_path), env={**env, "TERM": "dumb"},
        encoding="utf-8", timeout=30, dimensions=(40, 200))
    try:
        child.expect("exit +leave without deciding")
        child.sendline("echo tty=$(tty >/dev/null && echo yes) in $(basename $PWD)")
        child.expect("tty=yes in workspace")
        child.sendline("debug-continue")
        child.expect("publishing build/report.txt")
        child.expect("Succeeded")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0


# ---- tekton-debug shell --------------------------------------------------------------------

def shell(cluster,  # noqa: F811
          *args: str, stdin: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tekton_debug", "shell", *args, "--kubeconfig", cluster.kubeconfig,
         "-n", "default"], input=stdin, capture_output=True, text=True, cwd=cwd, timeout=60,
        env=env)


def test_shell_opens_in_the_paused_step_and_its_script_releases_it(cluster,  # noqa: F811
                                                                   env, tmp_path):
    name = paused_taskrun(cluster, "shell-into-paused")
    res = shell(cluster, name, stdin="echo shell-$WHERE\ndebug-continue\n", env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("shell-in-second\n")
    assert f"TaskRun {name}, step second (container step-second of pod {name}-pod)" in res.stderr
    assert "paused: the step failed" in res.stderr and "debug-continue" in res.stderr
    api = api_client(cluster.kubeconfig)
    assert succeeded(watch_taskrun(api, name, done))["status"] == "True"


def test_shell_in_a_named_step_leaves_the_pause_as_it_is(cluster, env, tmp_path):  # noqa: F811
    name = paused_taskrun(cluster, "shell-into-named")
    res = shell(cluster, name, "--step", "third", stdin="echo shell-$WHERE\n", env=env,
                cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout == "shell-in-third\n"
    assert "running, not paused" in res.stderr
    # still paused: a second shell finds the failed step
    again = shell(cluster, name, stdin="echo shell-$WHERE\n", env=env, cwd=tmp_path)
    assert again.stdout == "shell-in-second\n", again.stderr
    assert taskrun_condition(cluster, name)["status"] == "Unknown"


def test_shell_names_the_steps_when_the_step_is_unknown(cluster, env, tmp_path):  # noqa: F811
    name = paused_taskrun(cluster, "shell-unknown-step")
    res = shell(cluster, name, "--step", "fourth", stdin="", env=env, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr == (f"error: TaskRun {name} has no step named 'fourth'\n"
                          "  fix: use one of: first, second, third\n")


def test_shell_into_a_missing_taskrun_is_a_clear_error(cluster, env, tmp_path):  # noqa: F811
    res = shell(cluster, "nope", stdin="", env=env, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error: there is no TaskRun 'nope' in namespace 'default'")
    assert "kubectl get taskruns -n default" in res.stderr and "Traceback" not in res.stderr


def test_shell_when_nothing_is_paused_says_what_runs(cluster, env, tmp_path):  # noqa: F811
    api = api_client(cluster.kubeconfig)
    create_taskrun(api, taskrun("busy", [
        {"name": "work", "image": "alpine",
         "script": "echo working\nwhile [ ! -f /workspace/stop ]; do sleep 0.05; done"}]))
    follow_log_until(api, "busy-pod", "step-work", "working")
    res = shell(cluster, "busy", stdin="", env=env, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error: no step of TaskRun busy is paused (running: work)")
    assert "--step" in res.stderr
    open(os.path.join(cluster.pod_dir("busy-pod"), "workspace", "stop"), "w").close()
    assert succeeded(watch_taskrun(api, "busy", done))["status"] == "True"


def test_shell_into_a_finished_taskrun_says_it_has_finished(cluster, env, tmp_path):  # noqa: F811
    api = api_client(cluster.kubeconfig)
    create_taskrun(api, taskrun("over", [{"name": "quick", "image": "alpine",
                                          "script": "echo done"}]))
    watch_taskrun(api, "over", done)
    res = shell(cluster, "over", stdin="", env=env, cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.startswith("error: TaskRun over has finished (Succeeded")


def test_shell_without_kubectl_prints_the_command(cluster, env, tmp_path):  # noqa: F811
    name = paused_taskrun(cluster, "shell-no-kubectl")
    res = shell(cluster, name, stdin="", env={**env, "PATH": str(tmp_path)}, cwd=tmp_path)
    assert res.returncode == 1
    assert "kubectl is not on PATH" in res.stderr
    assert res.stdout.startswith(f"kubectl exec -i -n default --kubeconfig {cluster.kubeconfig} "
                                 f"{name}-pod -c step-second -- sh -c ")


def test_rerun_debugs_a_copy_of_a_finished_taskrun(cluster, env, tmp_path):  # noqa: F811
    api = api_client(cluster.kubeconfig)
    create_taskrun(api, taskrun("failed-last-night", STEPS, on_failure=False))
    watch_taskrun(api, "failed-last-night", lambda tr: succeeded(tr).get("status") == "False")
    res = run(cluster, "--rerun", "failed-last-night", "--on-failure", "shell",
              stdin='echo "shell $WHERE"\ndebug-continue\n', env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "shell in-second" in res.stdout
    assert "[third] third ran" in res.stdout
    assert "TaskRun failed-last-night-debug-" in res.stdout


def test_rerun_refuses_a_running_taskrun_and_exits_2(cluster, env, tmp_path):  # noqa: F811
    api = api_client(cluster.kubeconfig)
    create_taskrun(api, taskrun("busy", [{"name": "s", "image": "alpine", "script": "sleep 30"}]))
    res = run(cluster, "--rerun", "busy", stdin="", env=env, cwd=tmp_path)
    assert res.returncode == 2
    assert "still running" in res.stderr and "Traceback" not in res.stderr


def test_taskruns_lists_the_failed_ones_for_a_rerun(cluster, env, tmp_path):  # noqa: F811
    import json
    api = api_client(cluster.kubeconfig)
    create_taskrun(api, taskrun("broke", STEPS, on_failure=False))
    create_taskrun(api, taskrun("fine", [STEPS[0]], on_failure=False))
    watch_taskrun(api, "broke", lambda tr: succeeded(tr).get("status") == "False")
    watch_taskrun(api, "fine", lambda tr: succeeded(tr).get("status") == "True")
    base = [sys.executable, "-m", "tekton_debug", "taskruns", "--kubeconfig", cluster.kubeconfig,
            "-n", "default"]
    listed = subprocess.run(base + ["--failed", "--json"], capture_output=True, text=True,
                            env=env, timeout=30)
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["name"] for r in rows] == ["broke"]
    assert rows[0]["status"] == "Failed" and rows[0]["succeeded"] is False
    assert "exited with code 4" in rows[0]["message"]
    table = subprocess.run(base, capture_output=True, text=True, env=env, timeout=30).stdout
    assert "broke" in table and "fine" in table and "--rerun NAME" in table
