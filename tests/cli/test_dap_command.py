"""`tekton-debug dap --port`: loopback only, a token before anything is served."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys

import pytest


def _message(sock: socket.socket) -> dict:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(1)
    length = int(re.search(rb"Content-Length: (\d+)", data).group(1))
    body = b""
    while len(body) < length:
        body += sock.recv(length - len(body))
    return json.loads(body)


def _send(sock: socket.socket, seq: int, command: str, arguments: dict) -> None:
    body = json.dumps({"seq": seq, "type": "request", "command": command,
                       "arguments": arguments}).encode()
    sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)


@pytest.fixture
def server(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("s3cret-token\n")
    proc = subprocess.Popen([sys.executable, "-m", "tekton_debug", "dap", "--port", "0",
                             "--token-file", str(token_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    yield proc, line
    proc.terminate()
    proc.wait(timeout=10)


def test_port_zero_prints_the_loopback_port_and_hides_a_file_token(server):
    proc, line = server
    m = re.match(r"tekton-debug dap listening on 127\.0\.0\.1:(\d+) token \(from --token-file\)", line)
    assert m, line
    assert "s3cret-token" not in line


def test_a_launch_without_the_token_is_refused_and_with_it_served(server, tmp_path):
    proc, line = server
    port = int(re.search(r":(\d+)", line).group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        _send(sock, 1, "initialize", {"adapterID": "tekton"})
        assert _message(sock)["success"] is True
        _send(sock, 2, "threads", {})
        refused = _message(sock)
        while refused.get("type") != "response":
            refused = _message(sock)
        assert refused["success"] is False and "token" in refused["message"]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        _send(sock, 1, "initialize", {"adapterID": "tekton"})
        _message(sock)
        _send(sock, 2, "launch", {"task": str(tmp_path / "missing.yaml"), "token": "s3cret-token"})
        answer = _message(sock)
        while answer.get("type") != "response":
            answer = _message(sock)
        # past the token check: the launch itself is judged (the file does not exist)
        assert answer["command"] == "launch" and "no such file" in answer["message"]


def test_an_empty_token_file_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty"
    empty.write_text("")
    res = subprocess.run([sys.executable, "-m", "tekton_debug", "dap", "--port", "0",
                          "--token-file", str(empty)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "is empty" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_a_token_file_that_is_no_regular_file_is_a_clear_error_not_a_hang(tmp_path, special):
    if special == "fifo":
        special = str(tmp_path / "fifo")
        os.mkfifo(special)
    res = subprocess.run([sys.executable, "-m", "tekton_debug", "dap", "--port", "0",
                          "--token-file", special], capture_output=True, text=True, timeout=30)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert f"{special}: this is a" in res.stderr and "not a regular file" in res.stderr
    assert "give the path of a readable file holding the token" in res.stderr
