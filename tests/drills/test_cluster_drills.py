"""Fault drills on a cluster, through `tekton-debug dap` on stdio against the test cluster: the
adapter killed while a step is paused, watches and log streams cut in the middle of output, the API
server gone for ten seconds."""

from __future__ import annotations

import os
import signal

import pytest

from tests.dap.conftest import cluster_config, cluster_dap  # noqa: F401
from tests.drills.test_local_drills import task_file


def only_taskrun(cluster) -> dict:
    from tests.cluster.store import TASKRUNS
    [tr] = cluster.call(lambda: [dict(o) for o in cluster.cluster.store.list(TASKRUNS, "default")])
    return tr


def condition(tr: dict) -> dict:
    return next((c for c in (tr.get("status") or {}).get("conditions") or []
                 if c["type"] == "Succeeded"), {})


def numbers(first: int, last: int) -> str:
    return "".join(f"{n}\n" for n in range(first, last + 1))


def step_output(dap) -> str:
    return dap.output("stdout")


def test_adapter_killed_while_paused_leaves_the_taskrun_paused_for_a_new_session(
        cluster_dap, cluster, tmp_path):
    first = cluster_dap()
    first.start(cluster_config(cluster, task=task_file(tmp_path, "echo one", "echo two\nexit 5",
                                               "echo three")))
    assert first.wait_event("stopped")["body"]["threadId"] == 2
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)
    tr = only_taskrun(cluster)
    assert "status" not in tr["spec"] and condition(tr)["status"] == "Unknown"

    second = cluster_dap()
    second.start(cluster_config(cluster, request="attach", taskRun=tr["metadata"]["name"]),
                 request="attach")
    stopped = second.wait_event("stopped")["body"]
    assert (stopped["reason"], stopped["threadId"]) == ("exception", 2)
    second.request("continue", {"threadId": 2})
    assert second.wait_event("exited")["body"]["exitCode"] == 0
    assert "three\n" in step_output(second)
    assert condition(only_taskrun(cluster))["status"] == "True"


def test_watches_and_log_stream_cut_mid_output_lose_and_repeat_no_line(cluster_dap, cluster,
                                                                       tmp_path):
    dap = cluster_dap()
    dap.start(cluster_config(cluster, task=task_file(
        tmp_path,
        "seq 1 1000\n"
        "while [ ! -f /workspace/go ]; do sleep 0.02; done\n"
        "seq 1001 2000")))
    dap.wait_event("output", lambda b: b.get("category") == "stdout"
                   and step_output(dap).endswith("\n1000\n"))
    # the watches: cut (resumed from their resourceVersion) and the next ones expired (a 410: list
    # again); the log stream: the server goes away for a moment (resumed with sinceTime)
    cluster.expire_next_watch(2)
    assert cluster.drop_watches(abrupt=True) == 2
    cluster.go_away(0.5)
    pod = only_taskrun(cluster)["status"]["podName"]
    open(os.path.join(cluster.pod_dir(pod), "workspace", "go"), "w").close()
    assert dap.wait_event("exited")["body"]["exitCode"] == 0
    assert step_output(dap) == numbers(1, 2000)


def test_log_stream_cut_while_output_flows_loses_and_repeats_no_line(cluster_dap, cluster,
                                                                     tmp_path):
    dap = cluster_dap()
    dap.start(cluster_config(cluster, task=task_file(tmp_path, "seq 1 50000")))
    dap.wait_event("output", lambda b: b.get("category") == "stdout")
    cluster.go_away(0.3)
    assert dap.wait_event("exited", timeout=60)["body"]["exitCode"] == 0
    assert step_output(dap) == numbers(1, 50000)


def wait_until_listening(port: int, within: float = 30.0) -> None:
    """Until the API server accepts connections again (there is no event to wait for)."""
    import socket
    import time
    deadline = time.monotonic() + within
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise AssertionError(f"the API server did not come back within {within} s")
            time.sleep(0.05)


@pytest.mark.slow
def test_api_server_away_for_ten_seconds_while_paused_then_continue(cluster_dap, cluster,
                                                                    tmp_path):
    dap = cluster_dap()
    dap.start(cluster_config(cluster, task=task_file(tmp_path, "echo one", "echo two\nexit 5",
                                             "echo three")))
    assert dap.wait_event("stopped")["body"]["threadId"] == 2
    seen = len(dap.events)
    cluster.go_away(10)
    # while it is away: a clear answer, not a crash
    away = dap.request("evaluate", {"expression": "echo here", "context": "repl"}, check=False,
                       timeout=60)
    assert away["success"] is False
    assert "cannot be reached" in away["body"]["error"]["format"]
    wait_until_listening(cluster.port)
    # back: the session is still paused and works as before
    answer = dap.request("evaluate", {"expression": "echo still here", "context": "repl"},
                         timeout=60)["body"]
    assert answer["result"] == "still here"
    assert [e["event"] for e in dap.events[seen:] if e["event"] in ("exited", "terminated")] == []
    assert dap.request("threads")["body"]["threads"][1]["name"].startswith("s2 (paused")
    dap.request("continue", {"threadId": 2})
    assert dap.wait_event("exited", timeout=60)["body"]["exitCode"] == 0
    out = step_output(dap)
    assert "Breakpoint exiting with exit code 0" in out and out.endswith("three\n")
