from __future__ import annotations

import textwrap

import pytest

from tests.dap.dapclient import DapClient

FAILING_TASK = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: unit-tests
    spec:
      params:
        - name: greeting
          type: string
          default: hello
      results:
        - name: summary
      steps:
        - name: prepare
          image: alpine
          env:
            - name: GREETING
              value: $(params.greeting)
          script: |
            echo "preparing: $GREETING"
            echo -n prepared > $(results.summary.path)
        - name: test
          image: alpine
          env:
            - name: GREETING
              value: $(params.greeting)
          script: |
            echo "running tests"
            echo "assertion failed: expected 2, got 3" >&2
            exit 3
        - name: report
          image: alpine
          script: |
            echo "report written"
    """)


@pytest.fixture
def failing_task(tmp_path):
    path = tmp_path / "failing-task.yaml"
    path.write_text(FAILING_TASK)
    return path


def line_of(path, text: str) -> int:
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


@pytest.fixture
def dap(tmp_path):
    client = DapClient(cwd=str(tmp_path))
    yield client
    client.close()


@pytest.fixture
def cluster_dap(tmp_path, cluster):
    """A factory of DAP clients for the test cluster, their kubectl cache and home in a temporary
    directory (ended before the cluster stops). Needs the ``cluster`` fixture in scope."""
    made: list[DapClient] = []

    def make() -> DapClient:
        client = DapClient(cwd=str(tmp_path), env={"KUBECACHEDIR": str(tmp_path / "kube-cache"),
                                                   "HOME": str(tmp_path)})
        made.append(client)
        return client
    yield make
    for client in made:
        client.close()


def cluster_config(cluster, **more) -> dict:
    """A launch configuration for the kubernetes runtime against the test cluster."""
    return {"type": "tekton", "request": "launch", "runtime": "kubernetes",
            "kubeconfig": cluster.kubeconfig, "namespace": "default", **more}
