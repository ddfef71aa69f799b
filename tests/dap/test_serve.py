"""Serving DAP on stdio and on loopback TCP."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading

import pytest

from tekton_debug.dap.serve import TcpServer, serve_tcp
from tekton_debug.dap.wire import Connection, Request
from tekton_debug.errors import UserError
from tests.dap.test_wire import Client, assert_error

# -- stdio ------------------------------------------------------------------------------------

STDIO_ADAPTER = textwrap.dedent("""
    import os, subprocess, sys, threading
    from tekton_debug.dap.serve import serve_stdio
    from tekton_debug.dap.wire import DEFERRED

    class Handler:
        def __init__(self, connection):
            self.connection = connection

        def initialize_request(self, request):
            print("stray print")
            subprocess.run(["echo", "stray child"], check=True)
            os.write(1, b"stray write to fd 1\\n")
            child_stdin = subprocess.run(["cat"], capture_output=True, check=True).stdout
            return {"childReadFromStdin": child_stdin.decode()}

        def disconnect_request(self, request):
            # answered and closed from another thread, while serving reads stdin again
            threading.Thread(target=self.answer_and_close, args=(request,)).start()
            return DEFERRED

        def answer_and_close(self, request):
            self.connection.respond(request, {})
            with open("close-now") as fifo:  # the client says when: by then serving reads stdin
                fifo.read()
            self.connection.close()

        def on_disconnect(self):
            print("disconnected", file=sys.stderr)

    serve_stdio(Handler)
""")


def frame(seq: int, command: str) -> bytes:
    body = json.dumps({"seq": seq, "type": "request", "command": command}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def read_frame(stream) -> bytes:
    """One whole message, header included, from a byte stream."""
    header = stream.readline()
    blank = stream.readline()
    assert header.startswith(b"Content-Length: ") and blank == b"\r\n", header
    return header + blank + stream.read(int(header[len(b"Content-Length: "):]))


def parse_frames(data: bytes) -> list[dict]:
    """Every byte must belong to a DAP message."""
    messages = []
    while data:
        header, sep, rest = data.partition(b"\r\n\r\n")
        assert sep and header.startswith(b"Content-Length: "), data[:80]
        length = int(header[len(b"Content-Length: "):])
        messages.append(json.loads(rest[:length]))
        data = rest[length:]
    return messages


@pytest.fixture
def stdio_adapter(tmp_path):
    script = tmp_path / "adapter.py"
    script.write_text(STDIO_ADAPTER)
    process = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=str(tmp_path))
    yield process
    if process.poll() is None:
        process.kill()
        process.wait()


def test_stdio_adapter_exits_when_stdin_closes_and_stray_output_goes_to_stderr(stdio_adapter):
    out, err = stdio_adapter.communicate(frame(1, "initialize"), timeout=60)  # then EOF
    assert stdio_adapter.returncode == 0, err.decode()
    (response,) = parse_frames(out)
    assert response["request_seq"] == 1 and response["success"] is True
    assert response["body"] == {"childReadFromStdin": ""}  # children cannot read the wire
    for stray in (b"stray print", b"stray child", b"stray write to fd 1", b"disconnected"):
        assert stray in err


def test_stdio_adapter_closed_from_another_thread_exits_while_stdin_stays_open(stdio_adapter,
                                                                              tmp_path):
    os.mkfifo(tmp_path / "close-now")
    stdio_adapter.stdin.write(frame(1, "disconnect"))
    stdio_adapter.stdin.flush()
    (response,) = parse_frames(read_frame(stdio_adapter.stdout))
    assert response["command"] == "disconnect" and response["success"] is True
    with open(tmp_path / "close-now", "w") as fifo:
        fifo.write("now")
    assert stdio_adapter.stdout.read() == b""  # ends when the adapter exits, stdin still open
    assert stdio_adapter.wait(timeout=60) == 0
    stdio_adapter.stdin.close()


# -- TCP --------------------------------------------------------------------------------------

class Handler:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.launched: queue.Queue[dict] = queue.Queue()
        self.disconnected = threading.Event()

    def initialize_request(self, request: Request) -> dict:
        return {"handler": id(self)}

    def launch_request(self, request: Request) -> dict:
        self.launched.put(request.arguments)
        return {}

    def threads_request(self, request: Request) -> dict:
        return {"threads": []}

    def on_disconnect(self) -> None:
        self.disconnected.set()


class Running:
    """A TcpServer accepting on a thread, with every handler it made."""

    def __init__(self, **kwargs) -> None:
        self.handlers: queue.Queue[Handler] = queue.Queue()
        self.server = TcpServer(self._make, **kwargs)
        self.thread = threading.Thread(target=self.server.serve_forever)
        self.thread.start()

    def _make(self, connection: Connection) -> Handler:
        handler = Handler(connection)
        self.handlers.put(handler)
        return handler

    def connect(self) -> Client:
        return Client(socket.create_connection(("127.0.0.1", self.server.port)))

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()
        self.server.join()


@pytest.fixture
def running():
    servers: list[Running] = []

    def start(**kwargs) -> Running:
        servers.append(Running(**kwargs))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def test_serve_tcp_on_port_zero_reports_the_port_it_listens_on(tmp_path):
    script = tmp_path / "tcp.py"
    script.write_text(textwrap.dedent("""
        import sys
        from tekton_debug.dap.serve import serve_tcp

        class Handler:
            def __init__(self, connection):
                pass
            def threads_request(self, request):
                return {"threads": []}

        serve_tcp(0, Handler, on_listening=lambda port: print(port, flush=True))
    """))
    process = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        port = int(process.stdout.readline())
        assert port > 0
        client = Client(socket.create_connection(("127.0.0.1", port)))
        assert client.response(client.request("threads"))["body"] == {"threads": []}
        client.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_two_clients_are_two_sessions(running):
    server = running()
    first, second = server.connect(), server.connect()
    a = first.response(first.request("initialize"))["body"]["handler"]
    b = second.response(second.request("initialize"))["body"]["handler"]
    assert a != b
    handlers = {h.connection: h for h in (server.handlers.get(timeout=20) for _ in range(2))}
    (first_handler,) = [h for h in handlers.values() if id(h) == a]
    first_handler.connection.send_event("output", {"output": "only for the first"})
    assert first.read()["body"] == {"output": "only for the first"}
    assert second.response(second.request("threads"))["body"] == {"threads": []}
    first.close()
    first_handler.disconnected.wait(timeout=20)
    assert first_handler.disconnected.is_set()
    assert second.response(second.request("threads"))["success"] is True
    second.close()


def test_shutdown_closes_listener_and_connected_clients(running):
    server = running()
    client = server.connect()
    client.response(client.request("initialize"))
    handler = server.handlers.get(timeout=20)
    server.stop()
    assert client.read() is None
    assert handler.disconnected.is_set()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.server.port))


def test_token_lets_initialize_then_launch_with_the_token_through(running):
    server = running(token="s3cret")
    client = server.connect()
    assert client.response(client.request("initialize"))["success"] is True
    response = client.response(client.request("launch", {"task": "t.yaml", "token": "s3cret"}))
    assert response["success"] is True
    assert server.handlers.get(timeout=20).launched.get(timeout=20) == {"task": "t.yaml"}
    assert client.response(client.request("threads"))["success"] is True
    client.close()


@pytest.mark.parametrize("requests", [
    [("threads", None)],
    [("initialize", {}), ("launch", {"task": "t.yaml"})],
    [("initialize", {}), ("attach", {"taskRun": "build-1", "token": "guess"})],
    [("launch", {"token": ["s3cret"]})],
    [("unknownCommand", {})],
])
def test_token_missing_or_wrong_is_refused_and_nothing_is_served(running, requests):
    server = running(token="s3cret")
    client = server.connect()
    for command, arguments in requests[:-1]:
        assert client.response(client.request(command, arguments))["success"] is True
    command, arguments = requests[-1]
    response = client.response(client.request(command, arguments))
    assert_error(response, "this adapter requires a token")
    assert client.read() is None  # the connection is closed
    handler = server.handlers.get(timeout=20)
    assert handler.launched.empty()
    client.close()


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::", "example.com", ""])
def test_non_loopback_host_is_refused(host):
    with pytest.raises(UserError, match="loopback only"):
        TcpServer(lambda connection: None, host=host)
    with pytest.raises(UserError, match="loopback only"):
        serve_tcp(0, lambda connection: None, host=host)


def test_localhost_is_accepted(running):
    server = running(host="localhost")
    client = server.connect()
    assert client.response(client.request("threads"))["success"] is True
    client.close()


def test_port_in_use_is_a_user_error(running):
    server = running()
    with pytest.raises(UserError, match=f"port {server.server.port}"):
        TcpServer(lambda connection: None, port=server.server.port)
