"""The TCP server (``tekton-debug dap --port``) against clients that never give the token.

A flood of connections neither ends the listener nor the sessions: connections over the caps are
closed at once, an untrusted client is closed after its deadline, and running out of file
descriptors makes the server wait and accept again. Every loop here is bounded in count and
time, and every socket is on 127.0.0.1.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import pytest

from tests.dap.test_wire import Client

SERVER = textwrap.dedent("""
    import logging, resource, sys
    from tekton_debug.dap.serve import TcpServer

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING, format="%(message)s")
    limit = int(sys.argv[1])
    if limit:
        resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))

    class Handler:
        def __init__(self, connection):
            pass
        def initialize_request(self, request):
            return {}
        def launch_request(self, request):
            return {"launched": sorted(request.arguments)}
        def threads_request(self, request):
            return {"threads": []}

    server = TcpServer(Handler, token="s3cret", **eval(sys.argv[2]))
    print(server.port, flush=True)
    server.serve_forever()
""")


class Server:
    def __init__(self, tmp_path, fd_limit: int = 0, **kwargs) -> None:
        script = tmp_path / "server.py"
        script.write_text(SERVER)
        self.stderr = tmp_path / "stderr"
        self.process = subprocess.Popen(
            [sys.executable, str(script), str(fd_limit), repr(kwargs)], stdout=subprocess.PIPE,
            stderr=open(self.stderr, "w"), text=True)
        self.port = int(self.process.stdout.readline())

    def connect(self, timeout: float = 5.0) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        return sock

    def threads(self) -> int:
        with open(f"/proc/{self.process.pid}/status") as f:
            return int(next(line for line in f if line.startswith("Threads:")).split()[1])

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def log(self) -> str:
        return self.stderr.read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture
def server(tmp_path):
    servers: list[Server] = []

    def start(**kwargs) -> Server:
        servers.append(Server(tmp_path, **kwargs))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def launch_with_token(server: Server) -> dict:
    client = Client(server.connect())
    try:
        assert client.response(client.request("initialize", {}))["success"] is True
        return client.response(client.request("launch", {"task": "t.yaml", "token": "s3cret"}))
    finally:
        client.close()


def flood(server: Server, count: int, seconds: float) -> list[socket.socket]:
    """Open up to ``count`` connections within ``seconds``, send nothing, keep them open."""
    held: list[socket.socket] = []
    deadline = time.monotonic() + seconds
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        try:
            held.append(server.connect(timeout=1.0))
        except OSError:  # the backlog is full while the server waits: the flood's problem
            pass
    return held


def close_all(socks: list[socket.socket]) -> None:
    for sock in socks:
        sock.close()


def wait_for(predicate, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_thousands_of_silent_connections_hold_a_bounded_number_of_threads(server):
    s = server()
    baseline_threads, baseline_fds = s.threads(), s.fds()
    held = []
    try:
        for _ in range(10):  # 2,000 connections, at most 16 of them served at once
            held += flood(s, 200, 10.0)
            assert s.threads() <= baseline_threads + 16
            assert s.fds() <= baseline_fds + 16 * 3 + 8  # a socket, a wake-up pipe each
            close_all(held[:-100])
            held = held[-100:]
        assert s.process.poll() is None
        assert launch_with_token(s)["body"] == {"launched": ["task"]}
    finally:
        close_all(held)
    assert "too many clients; closing new ones" in s.log()


def test_running_out_of_descriptors_does_not_end_the_listener(server):
    # no caps: the flood takes every descriptor the server may open
    s = server(fd_limit=48, max_untrusted=10_000, max_connections=10_000, untrusted_deadline=3)
    held = flood(s, 400, 20.0)
    try:
        assert wait_for(lambda: "cannot take a new client" in s.log())
        assert s.process.poll() is None
    finally:
        close_all(held)
    # the flood left: its sessions end, descriptors come back, the listener accepts again
    response = None
    for _ in range(50):
        try:
            response = launch_with_token(s)
            break
        except OSError:
            time.sleep(0.2)
    assert response is not None and response["success"] is True
    log = s.log()
    # said once each time it ran out (the held backlog may run it out again), not per attempt,
    # and each time its end is said too
    ran_out = log.count("cannot take a new client")
    assert 1 <= ran_out <= len(held) // 10, log
    assert log.count("accepting clients again") == ran_out, log
    assert "Traceback" not in log


def test_a_client_without_the_token_is_closed_at_its_deadline(server):
    s = server(untrusted_deadline=0.5)
    silent = Client(s.connect(timeout=20))
    chatty = Client(s.connect(timeout=20))
    assert chatty.response(chatty.request("initialize", {}))["success"] is True
    trusted = Client(s.connect(timeout=20))
    assert trusted.response(trusted.request("launch", {"token": "s3cret"}))["success"] is True
    started = time.monotonic()
    assert silent.read() is None
    assert chatty.read() is None
    assert time.monotonic() - started < 15
    time.sleep(1.0)  # well past the deadline: the trusted client is still served
    assert trusted.response(trusted.request("threads"))["body"] == {"threads": []}
    for c in (silent, chatty, trusted):
        c.close()
    assert "gave no token within 0.5 s; closing" in s.log()


def test_a_large_message_before_the_token_ends_the_connection_unread(server):
    s = server()
    client = Client(s.connect(timeout=20))
    client.send_raw(b"Content-Length: %d\r\n\r\n" % (2 * 1024 * 1024))
    assert client.read() is None  # closed without waiting for the 2 MiB
    client.close()
    assert "exceeds the 1 MiB limit" in s.log()
    # once the token is given, the full limit applies
    trusted = Client(s.connect(timeout=20))
    assert trusted.response(trusted.request("launch", {"token": "s3cret"}))["success"] is True
    big = trusted.request("threads", {"padding": "x" * (2 * 1024 * 1024)})
    assert trusted.response(big)["body"] == {"threads": []}
    trusted.close()
