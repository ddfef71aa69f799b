"""The DAP wire: framing, seq, dispatch, error responses, events and reverse requests."""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading

import pytest

from tekton_debug.dap.wire import (DEFERRED, MAX_BODY_SIZE, MAX_HELD_BYTES, Connection,
                                   Request)
from tekton_debug.errors import UserError


class Client:
    """A minimal DAP client with its own framing, independent of the code under test."""

    def __init__(self, sock: socket.socket) -> None:
        sock.settimeout(20)  # a hang fails the test instead of blocking the run
        self.sock = sock
        self.file = sock.makefile("rb")
        self.seq = 0

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_body(self, body: bytes) -> None:
        self.send_raw(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def send(self, message: dict) -> int:
        self.seq += 1
        self.send_body(json.dumps({"seq": self.seq, **message}).encode())
        return self.seq

    def request(self, command: str, arguments: dict | None = None) -> int:
        message: dict = {"type": "request", "command": command}
        if arguments is not None:
            message["arguments"] = arguments
        return self.send(message)

    def read(self) -> dict | None:
        """The next message, or None when the adapter closed the connection."""
        length = None
        while True:
            try:
                line = self.file.readline()
            except ConnectionResetError:  # closed with our unread garbage in its buffer
                return None
            if not line:
                return None
            assert line.endswith(b"\r\n"), line
            if line == b"\r\n":
                break
            name, _, value = line.decode("ascii").partition(":")
            assert name == "Content-Length", line
            length = int(value)
        assert length is not None
        return json.loads(self.file.read(length))

    def response(self, request_seq: int) -> dict:
        message = self.read()
        assert message is not None, "the adapter closed the connection"
        assert message["type"] == "response", message
        assert message["request_seq"] == request_seq, message
        return message

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def assert_error(response: dict, text: str, *, show_user: bool = True) -> None:
    assert response["success"] is False
    assert text in response["message"]
    error = response["body"]["error"]
    assert isinstance(error["id"], int)
    assert text in error["format"]
    assert error["showUser"] is show_user


class Handler:
    """A handler with one method per behaviour the tests need."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.disconnects = 0
        self.deferred: queue.Queue[Request] = queue.Queue()
        self.reverse: queue.Queue[tuple[bool, object]] = queue.Queue()
        self.seen: list[Request] = []

    def initialize_request(self, request: Request) -> dict:
        self.seen.append(request)
        self.connection.send_event("initialized")
        return {"supportsConfigurationDoneRequest": True}

    def threads_request(self, request: Request) -> dict:
        return {"threads": [{"id": 1, "name": "build"}]}

    def configurationDone_request(self, request: Request) -> None:
        return None

    def launch_request(self, request: Request) -> object:
        self.deferred.put(request)
        return DEFERRED

    def pause_request(self, request: Request) -> dict:
        sender = threading.Thread(target=self.connection.send_event,
                                  args=("output", {"output": "from another thread"}))
        sender.start()
        sender.join()
        return {}

    def stepOut_request(self, request: Request) -> dict:
        """A slow request: meanwhile another thread sends ``count`` output events."""
        count, size = request.arguments["count"], request.arguments["size"]
        sender = threading.Thread(target=lambda: [
            self.connection.send_event("output", {"output": f"{i:08d}" + "x" * size})
            for i in range(count)])
        sender.start()
        sender.join()
        return {"slow": True}

    def evaluate_request(self, request: Request) -> dict:
        raise UserError("no step is paused", fix="wait for a step to fail")

    def continue_request(self, request: Request) -> dict:
        raise RuntimeError("boom")

    def next_request(self, request: Request) -> object:
        return {"not json": object()}

    def stepIn_request(self, request: Request) -> object:
        return ["not", "a", "dict"]

    def tekton_openShell_request(self, request: Request) -> dict:
        self.connection.send_request("runInTerminal", {"kind": "integrated", "args": ["sh"]},
                                     lambda ok, result: self.reverse.put((ok, result)))
        return {"step": request.arguments.get("step")}

    def on_disconnect(self) -> None:
        self.disconnects += 1


@pytest.fixture
def session():
    """A Connection serving a Handler over a socketpair, and a Client on the other end."""
    ours, theirs = socket.socketpair()
    connection = Connection.from_socket(ours, name="test")
    handler = Handler(connection)
    thread = threading.Thread(target=connection.serve, args=(handler,))
    thread.start()
    client = Client(theirs)
    yield client, connection, handler, thread
    client.close()
    thread.join()
    assert handler.disconnects == 1


def test_response_carries_request_seq_command_and_body(session):
    client, _, _, _ = session
    seq = client.request("threads")
    response = client.response(seq)
    assert response["success"] is True
    assert response["command"] == "threads"
    assert response["body"] == {"threads": [{"id": 1, "name": "build"}]}


def test_events_held_during_a_slow_request_are_bounded_and_none_is_lost(session):
    client, _, _, _ = session
    size = 64 * 1024
    # a few events wait for the response, as events a handler causes must follow it
    seq = client.request("stepOut", {"count": 3, "size": size})
    assert client.response(seq)["body"] == {"slow": True}
    assert [client.read()["body"]["output"][:8] for _ in range(3)] == ["00000000", "00000001",
                                                                       "00000002"]
    # more than MAX_HELD_BYTES: they go out before the response instead of piling up
    count = MAX_HELD_BYTES // size * 2
    seq = client.request("stepOut", {"count": count, "size": size})
    first = client.read()
    assert first["type"] == "event"  # the response had to wait, the events did not
    outputs, message = [first["body"]["output"][:8]], client.read()
    while message["type"] == "event":
        outputs.append(message["body"]["output"][:8])
        message = client.read()
    assert message["request_seq"] == seq
    while len(outputs) < count:
        outputs.append(client.read()["body"]["output"][:8])
    assert outputs == [f"{i:08d}" for i in range(count)]


def test_handler_returning_none_gives_success_without_body(session):
    client, _, _, _ = session
    response = client.response(client.request("configurationDone"))
    assert response["success"] is True and "body" not in response


def test_event_sent_by_handler_follows_its_response(session):
    client, _, _, _ = session
    seq = client.request("initialize", {"adapterID": "tekton"})
    response = client.response(seq)
    assert response["body"] == {"supportsConfigurationDoneRequest": True}
    event = client.read()
    assert event["type"] == "event" and event["event"] == "initialized"
    assert event["seq"] == response["seq"] + 1


def test_event_from_another_thread_while_handler_runs_follows_its_response(session):
    client, _, _, _ = session
    seq = client.request("pause", {"threadId": 1})
    client.response(seq)
    assert client.read()["body"] == {"output": "from another thread"}


def test_seq_increases_by_one_per_message(session):
    client, _, _, _ = session
    client.request("initialize")
    client.request("threads")
    seqs = [client.read()["seq"] for _ in range(3)]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]


def test_deferred_request_is_answered_later_from_another_thread(session):
    client, connection, handler, _ = session
    launch = client.request("launch", {"task": "task.yaml"})
    pending = handler.deferred.get(timeout=20)
    assert pending.arguments == {"task": "task.yaml"}
    # serving goes on while the launch is pending
    assert client.response(client.request("threads"))["success"] is True
    answer = threading.Thread(target=connection.respond, args=(pending, {"started": True}))
    answer.start()
    answer.join()
    response = client.response(launch)
    assert response["success"] is True and response["body"] == {"started": True}


def test_second_answer_to_a_request_is_dropped(session):
    client, connection, handler, _ = session
    launch = client.request("launch")
    pending = handler.deferred.get(timeout=20)
    connection.respond(pending, {})
    connection.fail(pending, "too late")
    assert client.response(launch)["success"] is True
    threads = client.request("threads")
    assert client.response(threads)["command"] == "threads"


def test_deferred_request_can_fail_later(session):
    client, connection, handler, _ = session
    launch = client.request("launch")
    connection.fail(handler.deferred.get(timeout=20), UserError("task.yaml: no such file"))
    assert_error(client.response(launch), "task.yaml: no such file")


def test_user_error_becomes_error_response_shown_to_user(session):
    client, _, _, _ = session
    response = client.response(client.request("evaluate", {"expression": "ls"}))
    assert_error(response, "no step is paused")
    assert "fix: wait for a step to fail" in response["body"]["error"]["format"]
    assert "\n" not in response["message"]


def test_handler_crash_becomes_internal_error_and_serving_continues(session, caplog):
    client, _, _, _ = session
    with caplog.at_level(logging.ERROR, logger="tekton_debug.dap"):
        response = client.response(client.request("continue", {"threadId": 1}))
    assert_error(response, "internal error: boom")
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)
    assert client.response(client.request("threads"))["success"] is True


def test_unserialisable_body_becomes_internal_error(session):
    client, _, _, _ = session
    assert_error(client.response(client.request("next")), "internal error")
    assert_error(client.response(client.request("stepIn")), "internal error")
    assert client.response(client.request("threads"))["success"] is True


def test_unknown_command_is_answered_as_unknown_request(session):
    client, _, _, _ = session
    assert_error(client.response(client.request("readMemory")), "unknown request 'readMemory'")
    assert_error(client.response(client.request("__init__")), "unknown request '__init__'")


def test_slash_in_command_dispatches_to_underscore_method(session):
    client, _, handler, _ = session
    seq = client.request("tekton/openShell", {"step": "build"})
    response = client.response(seq)
    assert response["command"] == "tekton/openShell" and response["body"] == {"step": "build"}


def test_reverse_request_follows_response_and_its_answer_reaches_on_response(session):
    client, _, handler, _ = session
    client.response(client.request("tekton/openShell", {"step": "build"}))
    reverse = client.read()
    assert reverse["type"] == "request" and reverse["command"] == "runInTerminal"
    assert reverse["arguments"]["args"] == ["sh"]
    client.send({"type": "response", "request_seq": reverse["seq"], "success": True,
                 "command": "runInTerminal", "body": {"processId": 42}})
    assert handler.reverse.get(timeout=20) == (True, {"processId": 42})


def test_failed_reverse_request_reports_its_message(session):
    client, _, handler, _ = session
    client.response(client.request("tekton/openShell"))
    reverse = client.read()
    client.send({"type": "response", "request_seq": reverse["seq"], "success": False,
                 "command": "runInTerminal", "message": "no terminal"})
    assert handler.reverse.get(timeout=20) == (False, "no terminal")


def test_pending_reverse_request_fails_when_client_disconnects(session):
    client, _, handler, thread = session
    client.response(client.request("tekton/openShell"))
    assert client.read()["command"] == "runInTerminal"
    client.sock.shutdown(socket.SHUT_WR)
    thread.join()
    ok, message = handler.reverse.get(timeout=20)
    assert ok is False and "disconnected" in message


def test_bad_json_request_with_seq_is_answered_and_serving_continues(session):
    client, _, _, _ = session
    client.send_body(b'{"seq": 7, "type": "request", "command": "threads", "arguments": {')
    response = client.response(7)
    assert response["command"] == "threads"
    assert_error(response, "malformed message")
    assert client.response(client.request("threads"))["success"] is True


def test_unparseable_message_without_seq_is_ignored_and_serving_continues(session):
    client, _, _, _ = session
    client.send_body(b"\xff\xfe not json")
    client.send_body(b"[1, 2, 3]")
    client.send_body(b'"a string"')
    client.send_body(b"[" * 100_000)
    client.send_body(b'{"type": "request", "command": "threads"}')  # no seq: nothing to answer
    client.send({"type": "event", "event": "whatever"})
    assert client.response(client.request("threads"))["success"] is True


def test_request_without_command_or_with_bad_arguments_gets_error_response(session):
    client, _, _, _ = session
    no_command = client.send({"type": "request", "arguments": {}})
    assert_error(client.response(no_command), "no command")
    bad_args = client.send({"type": "request", "command": "threads", "arguments": [1]})
    response = client.response(bad_args)
    assert response["command"] == "threads"
    assert_error(response, "must be an object")
    assert client.response(client.request("threads"))["success"] is True


def test_an_empty_list_of_arguments_is_no_arguments(session):
    """nvim-dap encodes an empty Lua table as [] (it cannot tell a list from an object)."""
    client, _, _, _ = session
    response = client.response(client.send({"type": "request", "command": "threads",
                                             "arguments": []}))
    assert response["success"] is True


@pytest.mark.parametrize("garbage, said", [
    (b"this is not a header\r\n\r\n{}", "expected a header like 'Content-Length: 42'"),
    (b"Content-Type: application/json\r\n\r\n{}", "no Content-Length"),
    (b"Content-Length: twelve\r\n\r\n{}", "invalid Content-Length"),
    (b"Content-Length: -3\r\n\r\n{}", "invalid Content-Length"),
    (b"x" * 20_000, "longer than"),
])
def test_corrupt_framing_ends_serve_cleanly_with_one_line_on_stderr(session, capfd, garbage,
                                                                     said):
    client, connection, _, thread = session
    client.send_raw(garbage)
    thread.join()
    assert connection.closed
    assert client.read() is None
    err = capfd.readouterr().err
    assert said in err and err.count("\n") == 1


@pytest.mark.parametrize("length", [b"%d" % (MAX_BODY_SIZE + 1), b"9" * 5000])
def test_oversized_content_length_ends_serve_naming_the_limit(session, capfd, length):
    client, connection, _, thread = session
    client.send_raw(b"Content-Length: " + length + b"\r\n\r\n{")
    thread.join()
    assert "exceeds the 64 MiB limit" in capfd.readouterr().err


def test_stream_ending_mid_message_ends_serve(session):
    client, connection, handler, thread = session
    client.send_raw(b"Content-Length: 100\r\n\r\n{\"seq\":")
    client.sock.shutdown(socket.SHUT_WR)
    thread.join()
    assert connection.closed


def test_close_from_another_thread_ends_serve_and_send_after_close_is_dropped(session):
    client, connection, handler, thread = session
    assert client.response(client.request("threads"))["success"] is True
    closer = threading.Thread(target=connection.close)
    closer.start()
    closer.join()
    thread.join()
    connection.close()  # idempotent
    connection.send_event("output", {"output": "late"})
    connection.send_request("runInTerminal", {}, lambda ok, r: handler.reverse.put((ok, r)))
    assert handler.reverse.get(timeout=20)[0] is False
    assert client.read() is None


def test_messages_from_many_threads_never_interleave(session):
    client, connection, _, _ = session
    text = "x" * 50_000

    def burst(n: int) -> None:
        for i in range(20):
            connection.send_event("output", {"output": text, "thread": n, "i": i})

    senders = [threading.Thread(target=burst, args=(n,)) for n in range(8)]
    for sender in senders:
        sender.start()
    received = [client.read() for _ in range(8 * 20)]
    for sender in senders:
        sender.join()
    assert sorted(m["seq"] for m in received) == [m["seq"] for m in received]
    assert [m["seq"] for m in received] == list(range(received[0]["seq"],
                                                      received[0]["seq"] + 160))
    for n in range(8):
        assert [m["body"]["i"] for m in received if m["body"]["thread"] == n] == list(range(20))


def test_messages_are_logged_at_debug_with_token_hidden(session, caplog):
    client, _, _, _ = session
    with caplog.at_level(logging.DEBUG, logger="tekton_debug.dap"):
        client.request("launch", {"token": "s3cret", "task": "t.yaml"})
        threads = client.request("threads")
        client.response(threads)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert '"command": "launch"' in text and "s3cret" not in text
    assert f'"request_seq":{threads}' in text


def test_connection_over_pipes_serves_until_end_of_input():
    import os
    to_adapter_r, to_adapter_w = os.pipe()
    from_adapter_r, from_adapter_w = os.pipe()
    connection = Connection(to_adapter_r, from_adapter_w, name="pipes")
    handler = Handler(connection)
    thread = threading.Thread(target=connection.serve, args=(handler,))
    thread.start()
    body = json.dumps({"seq": 1, "type": "request", "command": "threads"}).encode()
    os.write(to_adapter_w, b"Content-Length: %d\r\n\r\n" % len(body) + body)
    os.close(to_adapter_w)
    thread.join()
    os.close(from_adapter_w)
    with os.fdopen(from_adapter_r, "rb") as out:
        header, _, rest = out.read().partition(b"\r\n\r\n")
    assert json.loads(rest)["body"]["threads"][0]["name"] == "build"
    assert handler.disconnects == 1
    os.close(to_adapter_r)
