"""Fault drills on the local runtime, through `tekton-debug dap` on stdio: the adapter killed, the
client gone without a word, daemons started by steps, output that is not text."""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path

import pytest

from tests.dap.dapclient import DapClient

_ids = itertools.count(1)


def marker() -> str:
    """A number no other process on this machine passes to ``sleep``: it finds a step's processes
    in /proc."""
    return f"{1000 + os.getpid() % 1000}.{next(_ids):03d}7"


def with_marker(mark: str) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if mark.encode() in argv and state != "Z":
            found.append(int(pid))
    return found


def appears(mark: str, within: float = 5.0) -> bool:
    """Whether a process carrying ``mark`` shows up: a step's ``sleep`` is spawned (forked, then
    exec'd) a moment after the step printed or exited."""
    deadline = time.monotonic() + within
    while not with_marker(mark):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def gone(mark: str, within: float = 10.0) -> bool:
    """Whether every process carrying ``mark`` has gone (it may take the watchdog a moment: there
    is no event to wait for from outside)."""
    deadline = time.monotonic() + within
    while with_marker(mark):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def task_file(tmp_path: Path, *scripts: str) -> str:
    path = tmp_path / "task.yaml"
    steps = "".join(f"    - name: s{i}\n      image: alpine\n      script: |\n"
                    + "".join(f"        {line}\n" for line in script.splitlines())
                    for i, script in enumerate(scripts, 1))
    path.write_text("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: drill\nspec:\n"
                    f"  steps:\n{steps}")
    return str(path)


@pytest.fixture
def dap(tmp_path):
    client = DapClient(cwd=str(tmp_path))
    yield client
    client.close()


def launch(dap, task: str) -> None:
    dap.start({"type": "tekton", "request": "launch", "task": task})


def test_adapter_killed_while_a_step_is_paused_leaves_no_process(dap, tmp_path):
    mark = marker()
    launch(dap, task_file(tmp_path, f"sleep {mark} &\necho daemon started\nexit 1"))
    assert dap.wait_event("stopped")["body"]["reason"] == "exception"
    assert appears(mark), "the paused step's daemon lives as long as its container"
    dap.proc.send_signal(signal.SIGKILL)
    dap.proc.wait(timeout=10)
    assert gone(mark), f"left behind: {with_marker(mark)}"


def test_adapter_killed_while_a_step_runs_leaves_no_process(dap, tmp_path):
    mark = marker()
    launch(dap, task_file(tmp_path, f"echo running\nsleep {mark}"))
    dap.wait_event("output", lambda b: b.get("output") == "running\n")
    assert appears(mark)
    dap.proc.send_signal(signal.SIGKILL)
    dap.proc.wait(timeout=10)
    assert gone(mark), f"left behind: {with_marker(mark)}"


def test_client_gone_without_disconnect_ends_the_adapter_and_its_steps(dap, tmp_path):
    mark = marker()
    launch(dap, task_file(tmp_path, f"sleep {mark} &\nexit 2"))
    dap.wait_event("stopped")
    dap.proc.stdin.close()
    assert dap.proc.wait(timeout=20) == 0
    assert gone(mark), f"left behind: {with_marker(mark)}"


def test_daemon_of_a_step_ends_with_its_step(dap, tmp_path):
    mark = marker()
    launch(dap, task_file(tmp_path, f"sleep {mark} &\necho daemon started",
                          "echo second step\nexit 1"))
    stopped = dap.wait_event("stopped")["body"]
    assert stopped["threadId"] == 2
    # the first step's container ended before the second started: its daemon with it
    assert with_marker(mark) == []
    dap.request("continue", {"threadId": 2})
    assert dap.wait_event("exited")["body"]["exitCode"] == 0


def test_daemon_of_a_paused_step_ends_when_the_run_is_cancelled(dap, tmp_path):
    mark = marker()
    launch(dap, task_file(tmp_path, f"sleep {mark} &\nexit 1", "echo never"))
    dap.wait_event("stopped")
    assert appears(mark)
    dap.request("terminate")
    assert dap.wait_event("exited")["body"]["exitCode"] != 0
    dap.wait_event("terminated")
    assert gone(mark), f"left behind: {with_marker(mark)}"
    assert "never" not in dap.output("stdout")


def test_invalid_utf8_and_a_10_mb_line_arrive_as_output(dap, tmp_path):
    launch(dap, task_file(
        tmp_path,
        "printf 'bad \\377\\376 bytes \\303(\\n'\n"
        "head -c 10000000 /dev/zero | tr '\\000' x\n"
        "printf '\\nend\\n'"))
    assert dap.wait_event("exited", timeout=60)["body"]["exitCode"] == 0
    out = dap.output("stdout")
    assert out.startswith("bad \ufffd\ufffd bytes \ufffd(\n")
    assert out.endswith("\nend\n")
    assert out.count("x") == 10_000_000
    assert dap.proc.poll() is None  # still serving
    assert dap.request("threads")["body"]["threads"][0]["name"].startswith("s1 (succeeded")
