"""Serving DAP on stdio (one session) or on a loopback TCP port (one session per client).

``make_handler(connection) -> handler`` builds the request handler of one session; the handler
keeps the :class:`~tekton_debug.dap.wire.Connection` to send events, responses and reverse
requests.
"""

from __future__ import annotations

import errno
import functools
import hmac
import ipaddress
import logging
import os
import select
import socket
import sys
import threading
import time
from typing import Any, Callable

from tekton_debug import pipes
from tekton_debug.dap.wire import DEFERRED, MAX_BODY_SIZE, UNKNOWN_REQUEST, Connection, Request
from tekton_debug.errors import UserError

log = logging.getLogger("tekton_debug.dap")

MakeHandler = Callable[[Connection], object]

#: Seconds serve_tcp() gives the sessions to end their runs once it is stopped.
SESSIONS_END_TIMEOUT = 30.0

#: ``body.error.id`` of the answer to a request sent without the token the adapter requires.
TOKEN_REQUIRED = 5

#: Before a client gave the token: the largest message body it may send ...
UNTRUSTED_BODY_LIMIT = 1024 * 1024
#: ... the seconds it has to give it (from connecting to a launch/attach with the token) ...
UNTRUSTED_DEADLINE = 10.0
#: ... and how many such clients may be connected at once: when a new client comes and this many
#: are connected (or the whole cap below is reached), the oldest of them is closed to make room.
MAX_UNTRUSTED = 16
#: Connected clients at most, trusted or not (each is a session on a thread of its own). Clients
#: with the token are never closed to make room: a new client is closed when they are this many.
MAX_CONNECTIONS = 64
#: When accepting fails for want of descriptors or memory: the longest wait before retrying.
_MAX_BACKOFF = 1.0


def serve_stdio(make_handler: MakeHandler) -> bool:
    """Serve one session on stdin/stdout until the client goes away. False when it ended
    because the input was no DAP any more (the reason is on stderr), True otherwise.

    The real stdin and stdout are moved to private descriptors for the wire. For the rest of the
    process, ``sys.stdout`` and descriptor 1 (inherited by child processes) write to stderr, and
    descriptor 0 reads /dev/null, so a stray ``print()`` or subprocess can neither corrupt the
    stream nor swallow the client's bytes.
    """
    sys.stdout.flush()
    wire_out = os.dup(1)  # os.dup() makes non-inheritable descriptors: children never see them
    pipes.widen(wire_out)  # an output event of a whole chunk of step output goes in one write
    wire_in = os.dup(0)
    os.dup2(2, 1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.stdout = sys.stderr
    sys.stdin = open(os.devnull, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    connection = Connection(wire_in, wire_out, name="stdio")
    try:
        handler = make_handler(connection)
        connection.serve(handler)
    finally:
        connection.close()
    return connection.corrupt is None


class TcpServer:
    """A DAP server on a loopback port: every client connection is one session on its own thread.

    The socket is bound and listening once the constructor returns (``port`` says which port,
    also when 0 asked for a free one); :meth:`serve_forever` accepts clients until
    :meth:`shutdown`.

    With a token, a client is untrusted until its launch/attach gives it: meanwhile its messages
    are limited to ``UNTRUSTED_BODY_LIMIT`` bytes, it is closed ``untrusted_deadline`` seconds
    after connecting, and no more than ``max_untrusted`` such clients are served at once. When a
    new client comes and a cap is reached, the oldest untrusted client (the one that had the most
    time to give the token) is closed, and the new one is accepted once its session has ended: a
    flood of silent connections never locks a real client out, and the threads and descriptors
    stay bounded, since a closed session still holds its slot until its thread ends. The
    listener outlives running out of descriptors: it waits, says so once, and accepts again.
    """

    def __init__(self, make_handler: MakeHandler, *, port: int = 0, host: str = "127.0.0.1",
                 token: str | None = None, untrusted_deadline: float = UNTRUSTED_DEADLINE,
                 max_untrusted: int = MAX_UNTRUSTED,
                 max_connections: int = MAX_CONNECTIONS) -> None:
        family, address = _loopback(host)
        if not 0 <= port <= 65535:
            raise UserError(f"port {port} is not a TCP port", fix="use a port from 1 to 65535, "
                            "or 0 to pick a free one")
        self._make_handler = make_handler
        self._token = token
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            self._listener.bind((address, port))
            self._listener.listen()
        except OSError as exc:
            self._listener.close()
            raise UserError(f"cannot listen on {address} port {port}: {exc.strerror or exc}",
                            fix="choose another port, or 0 to pick a free one") from None
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._connections: set[Connection] = set()
        #: the connections that have not given the token yet, with their deadlines, oldest first
        self._untrusted: dict[Connection, float] = {}
        #: untrusted connections the server closed (late, or to make room) whose sessions have
        #: not ended yet: they keep their slot, so that threads and descriptors stay bounded
        self._closing: set[Connection] = set()
        #: session threads that have ended their work, to be joined before new ones start
        self._ended: list[threading.Thread] = []
        self._untrusted_deadline = untrusted_deadline
        self._max_untrusted = max_untrusted
        self._max_connections = max_connections
        self._starved = False  # accepting failed for want of resources (said once)
        self._refused = 0  # new clients closed at once (all slots trusted), since the last report
        self._pushed_out = 0  # untrusted clients closed to make room, since the last report
        self._threads: list[threading.Thread] = []
        self._stopped = False
        self._accepting = False
        self._wake_r, self._wake_w = os.pipe()  # shutdown() and ending sessions wake the loop
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        log.info("DAP server listening on %s port %d", address, self.port)

    def serve_forever(self) -> None:
        """Accept clients until shutdown(); closes the listening socket before returning."""
        with self._lock:
            if self._stopped:
                return
            self._accepting = True
        listener = self._listener.fileno()
        poll = select.poll()
        poll.register(self._wake_r, select.POLLIN)
        listening = False
        backoff = 0.0
        try:
            while not self._stopped:
                timeout = self._close_late()
                if backoff:  # out of descriptors: wait (for shutdown only) before accepting again
                    if self._wait_wake(backoff):
                        break
                # while a closed session still holds the slot a new client needs, the new client
                # waits in the backlog: the loop wakes when that session ends
                waiting = self._waiting_for_room()
                if listening == waiting:
                    if waiting:
                        poll.unregister(listener)
                    else:
                        poll.register(listener, select.POLLIN)
                    listening = not waiting
                ready = dict(poll.poll(None if timeout is None else max(timeout, 0) * 1000))
                if self._wake_r in ready:
                    self._drain_wake()
                if self._stopped:
                    break
                if listener not in ready:
                    continue
                if self._accept_one():
                    backoff = 0.0
                else:
                    backoff = min(_MAX_BACKOFF, backoff * 2 or 0.05)
        finally:
            with self._lock:
                self._accepting = False
                self._stopped = True
                self._close_listener()

    def _close_listener(self) -> None:
        """Called with the lock held, by whoever is last to use the listener."""
        self._listener.close()
        if self._wake_r >= 0:
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1

    def _wait_wake(self, seconds: float) -> bool:
        """Sleep ``seconds`` unless shutdown() comes first (then True)."""
        poll = select.poll()
        poll.register(self._wake_r, select.POLLIN)
        deadline = time.monotonic() + seconds
        while not self._stopped:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if poll.poll(left * 1000):  # shutdown(), or a session ended
                self._drain_wake()
        return self._stopped

    def _wake(self) -> None:
        """Called with the lock held: wake serve_forever()."""
        if self._wake_w >= 0:
            try:
                os.write(self._wake_w, b"x")
            except BlockingIOError:  # the pipe is full: the loop will wake anyway
                pass

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass

    def _join_ended(self) -> None:
        """Join the session threads that freed their slots (they are returning)."""
        with self._lock:
            ended, self._ended = self._ended, []
        for thread in ended:
            thread.join()

    def _accept_one(self) -> bool:
        """Accept one client and start its session, or first close the oldest untrusted client
        to make room for it; False when resources ran out."""
        pushed_out, refuse = self._make_room()
        if pushed_out is not None:
            pushed_out.close()  # the new client is accepted once this session has ended
            return True
        # a session frees its slot and says its thread ends in one step: joined here, after
        # the room was seen, no such thread is still alive when the new one starts
        self._join_ended()
        sock = None
        try:
            sock, peer = self._listener.accept()
            if refuse:
                sock.close()
                return True
            self._start_session(sock, peer)
        except (OSError, RuntimeError) as exc:  # EMFILE, ENFILE, ENOMEM; no thread to start
            if sock is not None:
                sock.close()
            if isinstance(exc, OSError) and exc.errno in (errno.EAGAIN, errno.ECONNABORTED,
                                                          errno.EINTR):
                return True
            if not self._starved:
                self._starved = True
                log.warning("DAP server: cannot take a new client (%s); waiting, the sessions "
                            "go on", exc)
            return False
        if self._starved:
            self._starved = False
            log.warning("DAP server: accepting clients again")
        return True

    def _full(self) -> bool:
        """Called with the lock held: whether a new client is over a cap."""
        return len(self._connections) >= self._max_connections or (
            self._token is not None
            and len(self._untrusted) + len(self._closing) >= self._max_untrusted)

    def _waiting_for_room(self) -> bool:
        """Whether a new client must wait for a closed session to end before it is accepted."""
        with self._lock:
            return bool(self._closing) and self._full()

    def _make_room(self) -> tuple[Connection | None, bool]:
        """For a client waiting to be accepted: the oldest untrusted client to close first if
        a cap is reached (None if there is room), and whether to close the new client instead
        (every slot is taken by a client with the token)."""
        with self._lock:
            if not self._full():
                self._report_caps()
                return None, False
            if self._untrusted:
                oldest = next(iter(self._untrusted))  # dicts keep the order of connecting
                del self._untrusted[oldest]
                self._closing.add(oldest)
                self._pushed_out += 1
                if self._pushed_out == 1:
                    log.warning("DAP server: too many clients without the token; closing the "
                                "oldest ones to make room for new ones")
                return oldest, False
            self._refused += 1
            if self._refused == 1:
                log.warning("DAP server: %d clients with the token are connected; closing new "
                            "ones until some leave", len(self._connections))
            return None, True

    def _report_caps(self) -> None:
        """Called with the lock held when a client fits again: how many were closed meanwhile."""
        if self._pushed_out:
            log.warning("DAP server: closed %d clients without the token to make room (%d of "
                        "them at most)", self._pushed_out, self._max_untrusted)
            self._pushed_out = 0
        if self._refused:
            log.warning("DAP server: closed %d new clients over the limit of %d connected",
                        self._refused, self._max_connections)
            self._refused = 0

    def _close_late(self) -> float | None:
        """Close the untrusted clients past their deadline; seconds to the next deadline."""
        now = time.monotonic()
        with self._lock:
            late = [c for c, deadline in self._untrusted.items() if deadline <= now]
            for connection in late:
                del self._untrusted[connection]
                self._closing.add(connection)
            nearest = min(self._untrusted.values(), default=None)
        if late:
            log.warning("DAP server: %s gave no token within %g s; closing %s",
                        late[0].name if len(late) == 1 else f"{len(late)} clients",
                        self._untrusted_deadline, "it" if len(late) == 1 else "them")
        for connection in late:
            connection.close()
        return None if nearest is None else nearest - now

    def _trusted(self, connection: Connection) -> None:
        connection.body_limit = MAX_BODY_SIZE
        with self._lock:
            self._untrusted.pop(connection, None)

    def _start_session(self, sock: socket.socket, peer: Any) -> None:
        connection = Connection.from_socket(sock, name=f"tcp {peer[0]}:{peer[1]}")
        with self._lock:
            if self._stopped:
                connection.close()
                return
            self._connections.add(connection)
            if self._token is not None:
                connection.body_limit = UNTRUSTED_BODY_LIMIT
                self._untrusted[connection] = time.monotonic() + self._untrusted_deadline
            thread = threading.Thread(target=self._session, args=(connection,),
                                      name=f"DAP session {peer[1]}", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        try:
            thread.start()
        except RuntimeError:
            with self._lock:
                self._connections.discard(connection)
                self._untrusted.pop(connection, None)
                self._threads.remove(thread)
            connection.close()
            raise

    def _session(self, connection: Connection) -> None:
        log.info("DAP %s: client connected", connection.name)
        try:
            handler = self._make_handler(connection)
            if self._token is not None:
                handler = _TokenGate(handler, connection, self._token,
                                     on_admitted=functools.partial(self._trusted, connection))
            connection.serve(handler)
        except Exception:
            log.exception("DAP %s: the session failed", connection.name)
        finally:
            connection.close()
            with self._lock:
                self._connections.discard(connection)
                self._untrusted.pop(connection, None)
                self._closing.discard(connection)
                self._ended.append(threading.current_thread())
                self._wake()

    def shutdown(self) -> None:
        """Stop accepting, close the listening socket and every client connection.
        Idempotent; does not wait for the sessions' handlers to finish."""
        with self._lock:
            self._stopped = True
            connections = list(self._connections)
            if self._accepting:
                self._wake()  # serve_forever() closes the listener
            else:
                self._close_listener()
        for connection in connections:
            connection.close()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the session threads to end (after shutdown(), or when clients leave)."""
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout)


def serve_tcp(port: int, make_handler: MakeHandler, *, host: str = "127.0.0.1",
              on_listening: Callable[[int], None] | None = None,
              token: str | None = None,
              on_server: Callable[[Callable[[], None]], None] | None = None) -> None:
    """Serve DAP on a loopback TCP port until interrupted (Ctrl-C), one session per client.

    ``port`` 0 picks a free port; ``on_listening(port)`` is told which one once clients can
    connect; ``on_server(stop)`` gets the function that stops the server. With ``token``, a client must give it as ``arguments.token`` of its launch or
    attach request before anything but ``initialize`` is served.
    """
    server = TcpServer(make_handler, port=port, host=host, token=token)
    if on_server is not None:
        on_server(server.shutdown)  # e.g. to stop on a signal
    try:
        if on_listening is not None:
            on_listening(server.port)
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
        # every session stops its run and removes its run directory before the process exits
        server.join(SESSIONS_END_TIMEOUT)


def _loopback(host: str) -> tuple[socket.AddressFamily, str]:
    """The address family and address to bind for ``host``, which must be a loopback address."""
    if host == "localhost":
        return socket.AF_INET, "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is None or not address.is_loopback:
        raise UserError(f"the DAP server listens on loopback only, not on {host!r}",
                        fix="use 127.0.0.1 (the default), ::1 or localhost; to reach it from "
                            "another machine, forward the port (e.g. ssh -L)")
    return (socket.AF_INET6 if address.version == 6 else socket.AF_INET), str(address)


class _TokenGate:
    """Serves nothing but ``initialize`` until a launch/attach request carries the token.

    Any other request first, or a wrong token, is answered with an error and the connection is
    closed. The token is removed from the arguments the handler sees.
    """

    _ADMITTING = ("launch", "attach")

    def __init__(self, handler: object, connection: Connection, token: str, *,
                 on_admitted: Callable[[], None] | None = None) -> None:
        self._handler = handler
        self._connection = connection
        self._token = token.encode("utf-8")
        self._admitted = False
        self._on_admitted = on_admitted

    def __getattr__(self, name: str) -> Any:
        if self._admitted or not name.endswith("_request"):
            return getattr(self._handler, name)
        return functools.partial(self._check, getattr(self._handler, name, None))

    def _check(self, method: Callable[[Request], Any] | None, request: Request) -> Any:
        if request.command == "initialize":
            return self._call(method, request)
        given = request.arguments.get("token") if request.command in self._ADMITTING else None
        if isinstance(given, str) and hmac.compare_digest(given.encode("utf-8"), self._token):
            self._admitted = True
            if self._on_admitted is not None:
                self._on_admitted()
            request.arguments = {k: v for k, v in request.arguments.items() if k != "token"}
            return self._call(method, request)
        if given is None:
            text = ("this adapter requires a token: give it as \"token\" in the launch or "
                    "attach configuration")
        else:
            text = ("this adapter requires a token: the \"token\" given does not match the one "
                    "the adapter was started with")
        log.warning("DAP %s: refused '%s' without a valid token; closing", self._connection.name,
                    request.command)
        self._connection.fail(request, text, id=TOKEN_REQUIRED)
        self._connection.close()
        return DEFERRED

    def _call(self, method: Callable[[Request], Any] | None, request: Request) -> Any:
        if method is None:
            self._connection.fail(request, f"unknown request '{request.command}'",
                                  id=UNKNOWN_REQUEST)
            return DEFERRED
        return method(request)
