"""Every way `run` and `dap` end leaves nothing behind: no run directory (it holds substituted
scripts and secret values), no step process, no traceback.

Each test gives the command a temp dir of its own (TMPDIR) and looks there for `tekton-debug-*`.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.dap.dapclient import DapClient

WAIT = 30  # seconds: only a hung process gets near this

TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: slow
spec:
  steps:
    - name: wait
      image: alpine
      script: |
        echo started $$
        sleep 300
"""

FAILING = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: fails
spec:
  steps:
    - name: fail
      image: alpine
      script: |
        echo failing $$
        exit 3
"""


@pytest.fixture
def tmpdir_env(tmp_path):
    temp = tmp_path / "temp"
    temp.mkdir()
    (tmp_path / "task.yaml").write_text(TASK)
    (tmp_path / "failing.yaml").write_text(FAILING)
    return temp, {**os.environ, "TMPDIR": str(temp), "NO_COLOR": "1"}


def gone(pid: int, timeout: float = 5.0) -> bool:
    """Whether process ``pid`` ends (or is a zombie) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(") ", 1)[-1][:1] == "Z":
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


def run_dirs(temp: Path) -> list[Path]:
    return sorted(temp.glob("tekton-debug-*"))


def start_run(tmp_path: Path, env: dict, *args: str, file: str = "task.yaml",
              started: str = r"\[wait\] started (\d+)") -> tuple[subprocess.Popen, int]:
    """``run`` of ``file``, once a step has printed ``started`` (its group 1: the step's PID)."""
    proc = subprocess.Popen([sys.executable, "-m", "tekton_debug", "run",
                             str(tmp_path / file), *args], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    for line in proc.stdout:
        m = re.search(started, line)
        if m:
            return proc, int(m.group(1))
    raise AssertionError(f"the step never started: {proc.stderr.read()}")


# ---- run ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129),
                                       (signal.SIGINT, 130)])
def test_run_ended_by_a_signal_removes_its_run_directory_and_step(sig, code, tmp_path,
                                                                  tmpdir_env):
    temp, env = tmpdir_env
    proc, step_pid = start_run(tmp_path, env)
    assert len(run_dirs(temp)) == 1

    proc.send_signal(sig)
    proc.wait(WAIT)

    stderr = proc.stderr.read()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr and "cancelling the TaskRun" in stderr
    assert run_dirs(temp) == []
    assert gone(step_pid)


def test_run_interrupted_twice_at_once_still_cleans_up(tmp_path, tmpdir_env):
    temp, env = tmpdir_env
    proc, step_pid = start_run(tmp_path, env)

    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    proc.send_signal(signal.SIGINT)
    proc.wait(WAIT)

    assert "Traceback" not in proc.stderr.read()
    assert run_dirs(temp) == []
    assert gone(step_pid)


def test_a_killed_runs_directory_is_swept_by_the_next_run(tmp_path, tmpdir_env):
    temp, env = tmpdir_env
    proc, step_pid = start_run(tmp_path, env)
    proc.kill()  # SIGKILL: no cleanup is possible
    proc.wait(WAIT)
    left = run_dirs(temp)
    assert len(left) == 1

    again = subprocess.run([sys.executable, "-m", "tekton_debug", "run",
                            str(tmp_path / "failing.yaml"), "--on-failure", "stop"],
                           capture_output=True, text=True, env=env, timeout=WAIT)

    assert "[fail] failing" in again.stdout, again.stderr
    assert not left[0].exists()
    assert run_dirs(temp) == []


# ---- dap on stdio -------------------------------------------------------------------------------

def paused_adapter(tmp_path: Path, env: dict) -> DapClient:
    client = DapClient(cwd=str(tmp_path), env=env)
    client.start({"type": "tekton", "request": "launch", "name": "t",
                  "task": str(tmp_path / "failing.yaml")})
    client.wait_event("stopped")
    return client


@pytest.mark.parametrize("attempt", range(4))
def test_dap_stdin_closed_and_sigint_at_once_ends_like_eof(attempt, tmp_path, tmpdir_env):
    """What nvim-dap does when its session ends."""
    temp, env = tmpdir_env
    client = paused_adapter(tmp_path, env)
    assert len(run_dirs(temp)) == 1

    client.proc.stdin.close()
    client.proc.send_signal(signal.SIGINT)
    client.proc.wait(WAIT)

    assert client.proc.returncode == 0
    assert "Traceback" not in client.stderr.decode()
    assert run_dirs(temp) == []


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_dap_ended_by_a_signal_removes_the_run_directory(sig, tmp_path, tmpdir_env):
    temp, env = tmpdir_env
    client = paused_adapter(tmp_path, env)

    client.proc.send_signal(sig)
    client.proc.wait(WAIT)

    assert client.proc.returncode == 0
    assert "Traceback" not in client.stderr.decode()
    assert run_dirs(temp) == []


def test_dap_disconnect_that_keeps_a_launched_run_still_removes_it_when_the_client_goes(
        tmp_path, tmpdir_env):
    temp, env = tmpdir_env
    client = paused_adapter(tmp_path, env)

    client.request("disconnect", {"terminateDebuggee": False})
    client.proc.stdin.close()
    client.proc.wait(WAIT)

    assert run_dirs(temp) == []


# ---- dap --port ---------------------------------------------------------------------------------

def test_dap_port_ctrl_c_ends_every_session_and_exits_0(tmp_path, tmpdir_env):
    temp, env = tmpdir_env
    server = subprocess.Popen([sys.executable, "-m", "tekton_debug", "dap", "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    m = re.search(r"127\.0\.0\.1:(\d+) token (\S+)", server.stdout.readline())
    assert m, server.stderr.read()
    sock_client = _TcpDap(int(m.group(1)))
    try:
        sock_client.launch_and_wait_stopped(str(tmp_path / "failing.yaml"), m.group(2))
        assert len(run_dirs(temp)) == 1

        server.send_signal(signal.SIGINT)
        server.wait(WAIT)
    finally:
        sock_client.close()
        if server.poll() is None:
            server.kill()
            server.wait()

    assert server.returncode == 0
    assert "Traceback" not in server.stderr.read()
    assert run_dirs(temp) == []


class _TcpDap:
    """Just enough of a DAP client over TCP to launch a failing Task and see it pause."""

    def __init__(self, port: int) -> None:
        import socket
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self.seq = 1
        self.buf = b""

    def send(self, command: str, arguments: dict | None = None) -> None:
        import json
        body = json.dumps({"seq": self.seq, "type": "request", "command": command,
                           "arguments": arguments or {}}).encode()
        self.seq += 1
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def read(self) -> dict:
        import json
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"Content-Length: (\d+)", head).group(1))
        while len(self.buf) < length:
            self.buf += self._recv()
        body, self.buf = self.buf[:length], self.buf[length:]
        return json.loads(body)

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise AssertionError("the server closed the connection")
        return data

    def launch_and_wait_stopped(self, task: str, token: str) -> None:
        self.send("initialize", {"adapterID": "tekton"})
        self.send("launch", {"type": "tekton", "request": "launch", "task": task, "token": token})
        self.send("configurationDone")
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            message = self.read()
            if message.get("type") == "event" and message.get("event") == "stopped":
                return
            if message.get("type") == "response" and not message.get("success"):
                raise AssertionError(message)
        raise AssertionError("no stopped event")

    def close(self) -> None:
        self.sock.close()


PIPELINE = """\
apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: slow-pipeline
spec:
  tasks:
    - name: wait
      taskSpec:
        steps:
          - name: wait
            image: alpine
            script: |
              echo started $$
              sleep 300
"""


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_pipeline_run_ended_by_a_signal_removes_its_run_directories(sig, code, tmp_path,
                                                                     tmpdir_env):
    temp, env = tmpdir_env
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    proc, step_pid = start_run(tmp_path, env, file="pipeline.yaml", started=r"started (\d+)")
    assert run_dirs(temp)

    proc.send_signal(sig)
    proc.wait(WAIT)

    stderr = proc.stderr.read()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert run_dirs(temp) == []
    assert gone(step_pid)


def test_a_killed_pipeline_runs_directories_are_swept_by_the_next_run(tmp_path, tmpdir_env):
    temp, env = tmpdir_env
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    proc, step_pid = start_run(tmp_path, env, file="pipeline.yaml", started=r"started (\d+)")
    proc.kill()  # SIGKILL: no cleanup is possible; the watchdog ends the step
    proc.wait(WAIT)
    left = run_dirs(temp)
    assert len(left) == 1 and list(left[0].glob("tekton-debug-*"))  # its TaskRun's inside
    assert gone(step_pid)

    again = subprocess.run([sys.executable, "-m", "tekton_debug", "run",
                            str(tmp_path / "failing.yaml"), "--on-failure", "stop"],
                           capture_output=True, text=True, env=env, timeout=WAIT)

    assert "[fail] failing" in again.stdout, again.stderr
    assert not left[0].exists()
    assert run_dirs(temp) == []
