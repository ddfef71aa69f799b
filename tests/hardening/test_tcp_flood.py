"""The TCP server (``tekton-debug dap --port``) against clients that never give the token.

A flood of connections neither ends the listener nor the sessions nor locks a real client out:
when the caps are reached the oldest client without the token is closed to make room, an
untrusted client is closed after its deadline, and running out of file descriptors makes the
server wait and accept again. Every loop here is bounded in count and
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


#: A session thread that returned may stay in the process's thread list for an instant after the
#: server joined it (Python's join() does not wait for the system thread to be gone).
LEAVING = 3


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
            assert s.threads() <= baseline_threads + 16 + LEAVING
            assert s.fds() <= baseline_fds + 16 * 3 + 8  # a socket, a wake-up pipe each
            close_all(held[:-100])
            held = held[-100:]
        assert s.process.poll() is None
        assert launch_with_token(s)["body"] == {"launched": ["task"]}
    finally:
        close_all(held)
    assert "too many clients without the token; closing the oldest ones" in s.log()


def held_by_server(s: Server, threads: int) -> None:
    """Wait until the server runs ``threads`` threads (its sessions took the connections)."""
    assert wait_for(lambda: s.threads() == threads), (s.threads(), threads)


def test_a_real_client_gets_through_while_silent_connections_fill_every_slot(server):
    # the silent clients are not closed at a deadline while the test runs
    s = server(untrusted_deadline=600)
    baseline = s.threads()
    held = flood(s, 100, 20.0)
    try:
        assert len(held) == 100
        held_by_server(s, baseline + 16)
        # every slot is taken by a silent client that is still connected: the real one is served
        assert launch_with_token(s)["body"] == {"launched": ["task"]}
        # to make room, the oldest was closed: the newest 15 are still served, the one before not
        for sock in held[-15:]:
            client = Client(sock)
            assert client.response(client.request("initialize", {}))["success"] is True
        assert Client(held[-16]).read() is None
        assert Client(held[0]).read() is None
        assert s.threads() <= baseline + 16 + LEAVING
    finally:
        close_all(held)
    assert s.process.poll() is None


def test_clients_with_the_token_are_never_closed_to_make_room(server):
    s = server(untrusted_deadline=600, max_connections=6)
    trusted = []
    try:
        for _ in range(3):
            trusted.append(Client(s.connect(timeout=20)))
            launch = trusted[-1].request("launch", {"token": "s3cret"})
            assert trusted[-1].response(launch)["success"] is True
        held = flood(s, 50, 20.0)
        try:
            # the whole cap (6) is reached before the untrusted one (16): the oldest silent
            # clients make room, not the sessions with the token
            assert launch_with_token(s)["success"] is True
            for _ in range(3):
                trusted.append(Client(s.connect(timeout=20)))
                launch = trusted[-1].request("launch", {"token": "s3cret"})
                assert trusted[-1].response(launch)["success"] is True
        finally:
            close_all(held)
        # six sessions with the token: a seventh client is closed, the six are still served
        late = Client(s.connect(timeout=20))
        assert late.read() is None
        late.close()
        for client in trusted:
            assert client.response(client.request("threads"))["body"] == {"threads": []}
    finally:
        for client in trusted:
            client.close()
    log = s.log()
    assert "closing the oldest ones to make room" in log
    assert "6 clients with the token are connected; closing new ones" in log


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
