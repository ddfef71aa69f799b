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


def test_secrets_are_created_read_and_checked_as_kubectl_does_it(kubectl_env, cluster):
    out = kubectl(kubectl_env, "create", "secret", "generic", "db",
                  "--from-literal=password=db-pass-5150", "--from-literal=user=admin").stdout
    assert out.strip() == "secret/db created"
    assert kubectl(kubectl_env, "get", "secret", "db", "-o",
                   "jsonpath={.data.password}").stdout == "ZGItcGFzcy01MTUw"
    header, row = kubectl(kubectl_env, "get", "secrets").stdout.splitlines()[:2]
    assert header.split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert row.split()[:3] == ["db", "Opaque", "2"]
    assert kubectl(kubectl_env, "auth", "can-i", "get", "secrets").stdout.strip() == "yes"
    cluster.deny("get", "secrets")
    denied = kubectl(kubectl_env, "auth", "can-i", "get", "secrets", check=False)
    assert denied.stdout.startswith("no - RBAC: test-user may not get secrets")
    refused = kubectl(kubectl_env, "get", "secret", "db", check=False)
    assert refused.returncode != 0 and 'cannot get resource "secrets"' in refused.stderr


def test_a_step_gets_a_secrets_value_through_secretkeyref(kubectl_env, cluster, tmp_path):
    kubectl(kubectl_env, "create", "secret", "generic", "db", "--from-literal=password=p4ss")
    path = tmp_path / "taskrun.yaml"
    path.write_text("""\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: uses-secret}
spec:
  taskSpec:
    steps:
      - name: show
        image: alpine
        env:
          - name: PASSWORD
            valueFrom: {secretKeyRef: {name: db, key: password}}
        script: echo "got $PASSWORD"
""")
    kubectl(kubectl_env, "create", "-f", str(path))
    kubectl(kubectl_env, "wait", "--for=condition=Succeeded", "taskrun/uses-secret",
            "--timeout=30s")
    assert kubectl(kubectl_env, "logs", "uses-secret-pod", "-c", "step-show").stdout == "got p4ss\n"
    env = kubectl(kubectl_env, "get", "pod", "uses-secret-pod", "-o",
                  "jsonpath={.spec.containers[0].env[0].valueFrom.secretKeyRef.name}").stdout
    assert env == "db"


def test_a_missing_secret_fails_the_taskrun_with_a_config_error(kubectl_env, tmp_path):
    path = tmp_path / "taskrun.yaml"
    path.write_text("""\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: no-secret}
spec:
  taskSpec:
    steps:
      - name: show
        image: alpine
        env:
          - name: PASSWORD
            valueFrom: {secretKeyRef: {name: absent, key: password}}
        script: echo "got $PASSWORD"
""")
    kubectl(kubectl_env, "create", "-f", str(path))
    kubectl(kubectl_env, "wait", "--for=condition=Succeeded=False", "taskrun/no-secret",
            "--timeout=30s")
    reason = kubectl(kubectl_env, "get", "tr", "no-secret", "-o",
                     "jsonpath={.status.conditions[0].reason}: {.status.conditions[0].message}")
    assert reason.stdout == ('CreateContainerConfigError: failed to create containers: '
                             'secret "absent" not found')
