"""kubectl 1.32 against the test cluster: discovery, create with validation, logs, exec."""

from __future__ import annotations

import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

TASKRUN = """\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: {name}
spec:
  debug:
    breakpoints:
      onFailure: enabled
  taskSpec:
    steps:
      - name: build
        image: alpine
        script: |
          echo building
          echo broken >&2
          exit 3
      - name: report
        image: alpine
        script: echo report ran
"""


def kubectl(env, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    proc = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout}{proc.stderr}")
    return proc


@pytest.fixture
def created(kubectl_env, tmp_path):
    path = tmp_path / "taskrun.yaml"
    path.write_text(TASKRUN.format(name="demo"))
    out = kubectl(kubectl_env, "create", "-f", str(path))
    assert out.stdout.strip() == "taskrun.tekton.dev/demo created"
    return "demo"


def test_get_taskruns_lists_them_with_tekton_columns(kubectl_env, created):
    out = kubectl(kubectl_env, "get", "taskruns").stdout
    header, row = out.splitlines()[:2]
    assert header.split() == ["NAME", "SUCCEEDED", "REASON", "STARTTIME", "COMPLETIONTIME"]
    assert row.split()[0] == "demo"
    assert kubectl(kubectl_env, "get", "tr", "demo", "-o", "jsonpath={.spec.timeout}").stdout \
        == "1h0m0s"


def test_create_validates_fields_on_the_server(kubectl_env, tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text(TASKRUN.format(name="typo").replace("  debug:", "  debugg:\n    x: 1\n  debug:"))
    out = kubectl(kubectl_env, "create", "-f", str(path), check=False)
    assert out.returncode != 0
    assert 'unknown field "spec.debugg"' in out.stderr


def test_alpha_gate_rejection_reaches_kubectl(kubectl_env, cluster, tmp_path):
    cluster.set_feature_flag("enable-api-fields", "beta")
    path = tmp_path / "gated.yaml"
    path.write_text(TASKRUN.format(name="gated"))
    out = kubectl(kubectl_env, "create", "-f", str(path), check=False)
    assert out.returncode != 0
    assert 'Error from server (BadRequest): error when creating' in out.stderr
    assert 'debug requires "enable-api-fields" feature gate to be "alpha" but it is "beta"' \
        in out.stderr


def test_logs_follow_then_exec_debug_continue_lets_the_run_succeed(kubectl_env, created):
    kubectl(kubectl_env, "wait", "--for=jsonpath={.status.phase}=Running", "pod/demo-pod",
            "--timeout=20s")
    logs = subprocess.Popen(["kubectl", "logs", "-f", "demo-pod", "-c", "step-build"],
                            env=kubectl_env, stdout=subprocess.PIPE, text=True)
    try:
        seen = []
        for line in logs.stdout:
            seen.append(line)
            if "onFailure breakpoint has taken effect" in line:
                break
        assert seen[:2] == ["building\n", "broken\n"]
        out = kubectl(kubectl_env, "exec", "demo-pod", "-c", "step-build", "--",
                      "/tekton/debug/scripts/debug-continue")
        rest = logs.stdout.read()  # -f ends when the container does
        assert logs.wait(20) == 0
    finally:
        if logs.poll() is None:
            logs.kill()
            logs.wait()
    assert "debug-fail-continue" in rest
    kubectl(kubectl_env, "wait", "--for=condition=Succeeded", "taskrun/demo", "--timeout=20s")
    assert kubectl(kubectl_env, "logs", "demo-pod", "-c", "step-report").stdout == "report ran\n"
    del out


def test_exec_passes_the_exit_code_and_stdin(kubectl_env, created):
    kubectl(kubectl_env, "wait", "--for=jsonpath={.status.phase}=Running", "pod/demo-pod",
            "--timeout=20s")
    failed = kubectl(kubectl_env, "exec", "demo-pod", "-c", "step-build", "--", "sh", "-c",
                     "exit 5", check=False)
    assert failed.returncode == 5
    echoed = subprocess.run(["kubectl", "exec", "-i", "demo-pod", "-c", "step-build", "--", "cat"],
                            env=kubectl_env, input="through stdin\n", capture_output=True,
                            text=True, timeout=30)
    assert (echoed.returncode, echoed.stdout) == (0, "through stdin\n")
    where = kubectl(kubectl_env, "exec", "demo-pod", "-c", "step-build", "--", "sh", "-c",
                    "test -x /tekton/debug/scripts/debug-continue && ls /tekton/debug/info")
    assert where.stdout == "0\n"


def test_forbidden_exec_is_reported_in_kubectls_words(kubectl_env, cluster, created):
    cluster.deny("create", "pods", "exec")
    out = kubectl(kubectl_env, "exec", "demo-pod", "-c", "step-build", "--", "true", check=False)
    assert out.returncode != 0
    assert 'pods "demo-pod" is forbidden: User "test-user" cannot create resource "pods/exec" ' \
           'in API group "" in the namespace "default"' in out.stderr
    can = kubectl(kubectl_env, "auth", "can-i", "create", "pods", "--subresource=exec", check=False)
    assert (can.returncode, can.stdout.split()[0]) == (1, "no")
