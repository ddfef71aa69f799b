"""A launch configuration with "rerun": a finished TaskRun of the cluster debugged again."""

from __future__ import annotations

import pytest

from tests.cluster.fixtures import cluster  # noqa: F401
from tests.dap.conftest import cluster_config
from tests.dap.dapclient import DapError
from tests.runtimes.kubernetes.test_rerun import finished_failed_taskrun


def test_rerun_in_a_launch_configuration_stops_on_the_failed_step(cluster_dap, cluster):  # noqa: F811
    finished_failed_taskrun(cluster, "from-ci")
    dap = cluster_dap()
    dap.start(cluster_config(cluster, rerun="from-ci"))
    stopped = dap.wait_event("stopped")["body"]
    assert stopped["reason"] == "exception" and stopped["threadId"] == 2
    threads = dap.request("threads")["body"]["threads"]
    assert [t["name"].split(" ")[0] for t in threads] == ["build", "test", "after"]
    dap.request("continue", {"threadId": 2})
    assert dap.wait_event("exited", timeout=60)["body"]["exitCode"] == 0


def test_rerun_needs_the_kubernetes_runtime_and_no_task(dap):
    with pytest.raises(DapError, match='"rerun" reads TaskRun x from a cluster'):
        dap.start({"type": "tekton", "request": "launch", "rerun": "x"})
