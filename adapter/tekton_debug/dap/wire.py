"""The DAP wire: framing, seq numbers, dispatch, responses, events and reverse requests.

This is the one module that reads and writes the Debug Adapter Protocol's bytes
(https://microsoft.github.io/debug-adapter-protocol/overview#base-protocol). Handlers above it
see :class:`Request` objects and answer with a dict, :data:`DEFERRED` or an exception.

Why the framing is written here rather than taken from debugpy's ``debugpy.common.messaging``:
that module is private API and most of it would have to be worked around rather than used. Its
channel calls ``os._exit(1)`` on an unexpected parse error and re-raises handler exceptions on its
handler thread; its error responses have no ``body.error``; events a handler sends go out before
the handler's response; and closing a stdio stream closes a ``BufferedReader`` another thread is
blocked in, which waits on that thread's lock forever. The base protocol itself is a
``Content-Length`` header and a JSON body, which takes fewer lines to write than those
work-arounds would, so nothing here imports debugpy.

Reading uses ``poll()`` on the input descriptor and a private wake-up pipe, so :meth:`Connection.close`
interrupts a blocked read on any descriptor (a socket, a pipe or a terminal on stdin) without
closing it under the reader's feet, and never waits on a lock a reader or writer may hold.
"""

from __future__ import annotations

import json
import logging
import os
import re
import select
import socket
import sys
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson

from tekton_debug.errors import UserError

log = logging.getLogger("tekton_debug.dap")

#: Largest message body accepted from the client; a larger ``Content-Length`` ends the session.
MAX_BODY_SIZE = 64 * 1024 * 1024
#: Most bytes of events held back while a handler runs; over it they are written at once
#: (before that handler's response), so a slow request never makes the adapter hold a step's
#: whole output.
MAX_HELD_BYTES = 4 * 1024 * 1024
#: Longest header line accepted (DAP's only header is ``Content-Length: <n>``).
MAX_HEADER_LINE = 8 * 1024

# ``body.error.id`` of the error responses this module sends (DAP's Message type).
USER_ERROR = 1  #: a UserError raised by a handler, or fail() with a message
INTERNAL_ERROR = 2  #: a handler raised anything else (a bug); the traceback is in the log
UNKNOWN_REQUEST = 3  #: no handler method for the command
BAD_REQUEST = 4  #: a request that is not valid DAP (no command, arguments not an object, bad JSON)

_READ_CHUNK = 256 * 1024
_COMMAND_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*(/[A-Za-z][A-Za-z0-9_]*)*\Z")


class _Deferred:
    def __repr__(self) -> str:
        return "DEFERRED"


#: Returned by a handler that answers later with :meth:`Connection.respond` / :meth:`Connection.fail`.
DEFERRED: Any = _Deferred()


@dataclass(eq=False)
class Request:
    """A request from the client."""

    seq: int
    command: str
    arguments: dict = field(default_factory=dict)
    _answered: bool = field(default=False, repr=False)


class FramingError(Exception):
    """The byte stream is not DAP framing any more; nothing after this point can be trusted."""


class _Closed(Exception):
    """close() was called while reading."""


class _Reader:
    """Buffered reads from a file descriptor that close() can interrupt via a wake-up pipe."""

    def __init__(self, fd: int, wake_fd: int) -> None:
        self._fd = fd
        self._buf = bytearray()
        self._poll: Any = None
        if hasattr(select, "poll"):
            self._poll = select.poll()
            self._poll.register(fd, select.POLLIN)
            self._poll.register(wake_fd, select.POLLIN)
        self._wake_fd = wake_fd

    def _fill(self, want: int) -> bool:
        """Read more bytes into the buffer; False at end of stream."""
        if self._poll is not None:
            while True:
                ready = dict(self._poll.poll())
                if self._wake_fd in ready:
                    raise _Closed()
                if ready.get(self._fd):
                    break
        data = os.read(self._fd, max(want, 4096))
        if not data:
            return False
        self._buf += data
        return True

    def readline(self) -> bytes | None:
        """One line including its b"\\n"; None at end of stream before any byte of it."""
        start = 0
        while True:
            end = self._buf.find(b"\n", start)
            if end >= 0:
                line = bytes(self._buf[:end + 1])
                del self._buf[:end + 1]
                return line
            if len(self._buf) > MAX_HEADER_LINE:
                raise FramingError(f"a header line is longer than {MAX_HEADER_LINE} bytes")
            start = len(self._buf)
            if not self._fill(4096):
                if self._buf:
                    raise EOFError("the stream ended inside a message header")
                return None

    def read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill(min(n - len(self._buf), _READ_CHUNK)):
                raise EOFError(f"the stream ended inside a message body ({n} bytes announced)")
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data


def read_frame(reader: _Reader, limit: int = MAX_BODY_SIZE) -> bytes | None:
    """The body of the next message, or None at a clean end of stream.

    Raises FramingError when the headers are not DAP's or announce a body over ``limit`` bytes,
    EOFError when the stream ends mid-message.
    """
    length: int | None = None
    while True:
        line = reader.readline()
        if line is None:
            if length is None:
                return None
            raise EOFError("the stream ended inside a message header")
        text = line.rstrip(b"\r\n")
        if not text:
            break
        name, colon, value = text.partition(b":")
        if not colon or not name.strip() or not name.strip().isascii():
            raise FramingError(f"expected a header like 'Content-Length: 42', got {text[:60]!r}")
        if name.strip().lower() == b"content-length":
            value = value.strip()
            if not value.isdigit():
                raise FramingError(f"invalid Content-Length {value[:30]!r}")
            length = int(value) if len(value) <= 18 else limit + 1
            if length > limit:
                raise FramingError(f"a message of {length} bytes exceeds the "
                                   f"{_size(limit)} limit")
    if length is None:
        raise FramingError("a message has no Content-Length header")
    return reader.read_exact(length)


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n // 1024} KiB"


def encode(message: dict) -> bytes:
    """The JSON of a message, without ``seq`` (added at write time) and without framing.

    orjson writes the compact UTF-8 that ``json.dumps(..., ensure_ascii=False)`` would, about ten
    times faster (step logs are relayed as output events of up to 64 KB: this is the adapter's
    hot path). The few values it refuses and ``json`` takes (integers beyond 64 bits, keys that
    are not strings) go through ``json``; a string that is no valid Unicode fails either way.
    """
    try:
        return orjson.dumps(message)
    except TypeError:
        return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _error_body(id: int, text: str, show_user: bool) -> dict:
    return {"error": {"id": id, "format": text, "showUser": show_user}}


def _short(text: str) -> str:
    first = text.strip().splitlines()[0] if text.strip() else "error"
    return first if len(first) <= 200 else first[:197] + "..."


def _for_log(message: Any) -> str:
    args = message.get("arguments") if isinstance(message, dict) else None
    if isinstance(args, dict) and "token" in args:
        args = dict(args, token="***")
        message = dict(message, arguments=args)
    if isinstance(args, dict) and isinstance(args.get("params"), dict) and \
            isinstance(args.get("secrets"), list):
        # a launch request: the values of params marked secret (nothing knows them yet)
        marked = {n for n in args["secrets"] if isinstance(n, str)}
        message = dict(message, arguments=dict(args, params={
            k: ("***" if k in marked else v) for k, v in args["params"].items()}))
    text = json.dumps(message, ensure_ascii=False)
    return text if len(text) <= 4000 else text[:4000] + f"... ({len(text)} chars)"


class Connection:
    """One client connection: reads requests, calls the handler, writes responses and events.

    Every write goes through one lock, so messages never interleave and ``seq`` increases by one
    per message in the order they reach the wire. Events and reverse requests sent while a
    handler runs are held back and written right after that handler's response (up to
    :data:`MAX_HELD_BYTES`; beyond, they are written at once, before it).
    """

    def __init__(self, read_fd: int, write_fd: int, *, name: str = "dap",
                 on_close: Callable[[], None] | None = None,
                 release: Callable[[], None] | None = None) -> None:
        """``on_close`` is called by close() to interrupt blocked I/O (it must not block);
        ``release`` frees the descriptors once no thread reads or writes them any more."""
        self.name = name
        self._read_fd = read_fd
        self._write_fd = write_fd
        self._on_close = on_close
        self._release = release
        self._lock = threading.Lock()  # every write, seq, and the held messages
        self._state = threading.Lock()  # closing and the wake-up pipe
        self._pending_lock = threading.Lock()
        self._seq = 0
        self._closed = False
        self._served = False
        #: Why reading stopped when the input was no DAP any more (None: it was not corrupt).
        self.corrupt: str | None = None
        self._holding: Request | None = None
        self._held: list[tuple[bytes, str, Callable | None]] = []
        self._held_bytes = 0
        self._pending: dict[int, tuple[str, Callable[[bool, Any], None] | None]] = {}
        self._pending_closed = False
        #: Largest body read from now on (a server lowers it until the client is trusted).
        self.body_limit = MAX_BODY_SIZE
        self._wake_r, self._wake_w = os.pipe()
        #: Applied to every message before it is sent (and traced): the session's secret masking
        #: (``Masker.mask_data``), so that no response, event, error or reverse request shows a
        #: secret, whichever handler wrote it.
        self.mask: Callable[[Any], Any] | None = None

    @classmethod
    def from_socket(cls, sock: socket.socket, name: str | None = None) -> Connection:
        sock.setblocking(True)

        def shutdown() -> None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

        fd = sock.fileno()
        return cls(fd, fd, name=name or f"tcp {fd}", on_close=shutdown, release=sock.close)

    @property
    def closed(self) -> bool:
        return self._closed

    # -- serving --------------------------------------------------------------------------

    def serve(self, handler: object) -> None:
        """Read and dispatch requests until the client disconnects, the stream is corrupt or
        close() is called. ``handler.on_disconnect()``, if present, is called once at the end."""
        with self._state:
            if self._served:
                raise RuntimeError("Connection.serve() may be called only once")
            self._served = True
            closed_early = self._closed
        reason = "closed"
        try:
            if not closed_early:
                reader = _Reader(self._read_fd, self._wake_r)
                while not self._closed:
                    body = read_frame(reader, self.body_limit)
                    if body is None:
                        reason = "the client disconnected"
                        break
                    self._receive(body, handler)
        except _Closed:
            pass
        except FramingError as exc:
            reason = f"corrupt input: {exc}"
            self.corrupt = str(exc)
            print(f"tekton-debug: DAP {self.name}: {exc}; stopped reading", file=sys.stderr,
                  flush=True)
        except (EOFError, OSError) as exc:
            reason = f"the client went away: {exc}"
        finally:
            log.info("DAP %s: serving ended (%s)", self.name, reason)
            self._finish(handler)

    def _finish(self, handler: object) -> None:
        self._shut()
        with self._pending_lock:
            self._pending_closed = True
            pending, self._pending = self._pending, {}
        for command, callback in pending.values():
            self._call_back(callback, command, False, "the client disconnected")
        on_disconnect = getattr(handler, "on_disconnect", None)
        if callable(on_disconnect):
            try:
                on_disconnect()
            except Exception:
                log.exception("DAP %s: on_disconnect() failed", self.name)
        self._free()

    def _free(self) -> None:
        with self._state:
            if self._wake_r < 0:
                return
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._wake_r = self._wake_w = -1
        if self._release is not None:
            with self._lock:  # no writer is inside os.write() on the descriptor any more
                self._release()

    def _receive(self, body: bytes, handler: object) -> None:
        try:
            message = json.loads(body)
        except (ValueError, RecursionError) as exc:
            self._malformed(body, exc)
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("DAP %s --> %s", self.name, _for_log(message))
        if not isinstance(message, dict):
            log.warning("DAP %s: ignored a message that is not a JSON object", self.name)
            return
        kind = message.get("type")
        seq = message.get("seq")
        if kind == "request":
            if not isinstance(seq, int) or isinstance(seq, bool):
                log.warning("DAP %s: ignored a request without an integer seq", self.name)
                return
            self._dispatch(seq, message, handler)
        elif kind == "response":
            self._route_response(message)
        elif kind == "event":
            # a client of a debug adapter (python.debugger, talking to debugpy) hears its events
            on_event = getattr(handler, "on_event", None)
            if callable(on_event):
                try:
                    on_event(message)
                except Exception:
                    log.exception("DAP %s: the handler of event %r failed", self.name,
                                  message.get("event"))
            else:
                log.debug("DAP %s: ignored event %r from the client", self.name,
                          message.get("event"))
        else:
            log.warning("DAP %s: ignored a message of type %r", self.name, kind)

    def _malformed(self, body: bytes, exc: BaseException) -> None:
        """Answer an unparseable message if it recognisably is a request with a seq."""
        text = body[:4096].decode("utf-8", "replace")
        reason = f"malformed message: {exc}"
        seq = re.search(r'"seq"\s*:\s*(\d+)', text)
        if re.search(r'"type"\s*:\s*"request"', text) and seq:
            command = re.search(r'"command"\s*:\s*"([^"\\]{0,100})"', text)
            request = Request(int(seq.group(1)), command.group(1) if command else "")
            log.warning("DAP %s: %s", self.name, reason)
            self.fail(request, reason, id=BAD_REQUEST)
        else:
            log.warning("DAP %s: ignored a %s: %r", self.name, reason, body[:200])

    def _dispatch(self, seq: int, message: dict, handler: object) -> None:
        command = message.get("command")
        arguments = message.get("arguments", {})
        if arguments is None or arguments == []:
            arguments = {}  # clients built on Lua tables (nvim-dap) send [] for empty arguments
        request = Request(seq, command if isinstance(command, str) else "",
                          arguments if isinstance(arguments, dict) else {})
        if not isinstance(command, str) or not command:
            self.fail(request, "the request has no command", id=BAD_REQUEST)
            return
        if not isinstance(arguments, dict):
            self.fail(request, f"the arguments of '{command}' must be an object",
                      id=BAD_REQUEST)
            return
        method = None
        if _COMMAND_RE.match(command):
            method = getattr(handler, command.replace("/", "_") + "_request", None)
        if not callable(method):
            self.fail(request, f"unknown request '{command}'", id=UNKNOWN_REQUEST)
            return
        with self._lock:
            self._holding = request
        try:
            result = method(request)
        except UserError as exc:
            self.fail(request, exc)
        except Exception as exc:
            self.fail(request, exc)
        else:
            if result is DEFERRED:
                pass
            elif result is None or isinstance(result, dict):
                if not request._answered:
                    self.respond(request, result)
            else:
                self.fail(request, TypeError(
                    f"{command}_request returned {type(result).__name__}, not a dict"))
        finally:
            with self._lock:
                if self._holding is request:
                    self._release_held()

    def _route_response(self, message: dict) -> None:
        request_seq = message.get("request_seq")
        with self._pending_lock:
            entry = self._pending.pop(request_seq, None) if isinstance(request_seq, int) else None
        if entry is None:
            log.warning("DAP %s: ignored a response to unknown request %r", self.name, request_seq)
            return
        command, callback = entry
        if message.get("success") is True:
            body = message.get("body")
            self._call_back(callback, command, True, body if isinstance(body, dict) else {})
        else:
            error = (message.get("body") or {}).get("error") if isinstance(
                message.get("body"), dict) else None
            text = error.get("format") if isinstance(error, dict) else None
            self._call_back(callback, command, False,
                            str(text or message.get("message") or f"{command} failed"))

    def _call_back(self, callback: Callable | None, command: str, success: bool,
                   result: Any) -> None:
        if callback is None:
            return
        try:
            callback(success, result)
        except Exception:
            log.exception("DAP %s: the response handler of '%s' failed", self.name, command)

    # -- sending --------------------------------------------------------------------------

    def send_event(self, event: str, body: dict | None = None, *, masked: bool = False) -> None:
        """Send an event; thread-safe. Dropped silently once the connection is closed.

        ``masked``: the body holds only text the session has masked already (step output, masked
        as it arrives): it is not scanned again, which would cost as much as encoding it."""
        message: dict = {"type": "event", "event": event}
        if body is not None:
            message["body"] = body if masked else self._masked(body)
        self._send(encode(message))

    def send_request(self, command: str, arguments: dict,
                     on_response: Callable[[bool, Any], None] | None = None) -> None:
        """Send a reverse request (runInTerminal, startDebugging). ``on_response(success, x)``
        is called on the serving thread with the response body (a dict) or the error message;
        with (False, message) if the client goes away first. Keep it short: it blocks reading."""
        data = encode({"type": "request", "command": command,
                       "arguments": self._masked(arguments)})
        if not self._send(data, command=command, on_response=on_response):
            self._call_back(on_response, command, False, "the client disconnected")

    def respond(self, request: Request, body: dict | None = None) -> None:
        """Answer ``request`` successfully (for handlers that returned DEFERRED)."""
        message: dict = {"type": "response", "request_seq": request.seq, "success": True,
                         "command": request.command}
        if body is not None:
            message["body"] = self._masked(body)
        try:
            data = encode(message)
        except (TypeError, ValueError) as exc:
            self.fail(request, exc)
            return
        self._send(data, response_to=request)

    def fail(self, request: Request, error: BaseException | str, *, id: int = USER_ERROR,
             show_user: bool = True) -> None:
        """Answer ``request`` with an error response.

        A string or a UserError is shown as is; any other exception is a bug, shown as
        "internal error: <exc>" with its traceback in the log.
        """
        if isinstance(error, str) or isinstance(error, UserError):
            text = str(error)
        else:
            text = f"internal error: {str(error) or type(error).__name__}"
            log.error("DAP %s: '%s' failed", self.name, request.command,
                      exc_info=(type(error), error, error.__traceback__))
            if id == USER_ERROR:
                id = INTERNAL_ERROR
        text = self._masked(text)
        message = {"type": "response", "request_seq": request.seq, "success": False,
                   "command": request.command, "message": _short(text),
                   "body": _error_body(id, text, show_user)}
        self._send(encode(message), response_to=request)

    def _masked(self, data: Any) -> Any:
        mask = self.mask
        return data if mask is None else mask(data)

    def _send(self, data: bytes, *, response_to: Request | None = None, command: str = "",
              on_response: Callable | None = None) -> bool:
        """Write (or hold) one encoded message; False if the connection is closed."""
        with self._lock:
            if self._closed:
                log.debug("DAP %s: dropped a message after close: %s", self.name, data[:200])
                return False
            if response_to is not None:
                if response_to._answered:
                    log.warning("DAP %s: '%s' (seq %d) was already answered; dropped a second "
                                "response", self.name, response_to.command, response_to.seq)
                    return True
                response_to._answered = True
                self._write(data)
                if response_to is self._holding:
                    self._release_held()
            elif self._holding is not None:
                self._held.append((data, command, on_response))
                self._held_bytes += len(data)
                if self._held_bytes > MAX_HELD_BYTES:
                    log.debug("DAP %s: over %d bytes held while '%s' runs; writing them now",
                              self.name, MAX_HELD_BYTES, self._holding.command)
                    self._write_held()
            else:
                self._write(data, command, on_response)
            return True

    def _release_held(self) -> None:
        """Write the messages held while a handler ran; called with the lock held."""
        self._holding = None
        self._write_held()

    def _write_held(self) -> None:
        """Write the held messages in order; called with the lock held."""
        held, self._held, self._held_bytes = self._held, [], 0
        for data, command, on_response in held:
            self._write(data, command, on_response)

    def _write(self, data: bytes, command: str = "", on_response: Callable | None = None) -> None:
        """Frame and write one message; called with the lock held."""
        seq = self._seq + 1
        if command:
            with self._pending_lock:
                if self._pending_closed:
                    # Serving is over: answer on a thread of its own, as the lock is held here.
                    threading.Thread(target=self._call_back, daemon=True,
                                     args=(on_response, command, False,
                                           "the client disconnected")).start()
                    return
                self._pending[seq] = (command, on_response)
        if self._closed:
            return  # serving ends soon, and answers the pending request then
        self._seq = seq
        # the header and seq, then the encoded message as it is: one system call, no copy of it
        start = b'{"seq":%d,' % seq
        head = b"Content-Length: %d\r\n\r\n%s" % (len(start) + len(data) - 1, start)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("DAP %s <-- %s", self.name,
                      (start + data[1:4000]).decode("utf-8", "replace"))
        try:
            parts = [memoryview(head), memoryview(data)[1:]]
            while parts:
                written = os.writev(self._write_fd, parts)
                while parts and written >= len(parts[0]):
                    written -= len(parts[0])
                    parts.pop(0)
                if parts:
                    parts[0] = parts[0][written:]
        except OSError as exc:
            log.info("DAP %s: writing failed (%s); closing", self.name, exc)
            self._shut()

    # -- closing --------------------------------------------------------------------------

    def close(self) -> None:
        """Stop serving and close the connection. Idempotent; never waits on I/O or locks that
        a reader or writer may hold, so it cannot hang (on stdio either)."""
        self._shut()
        with self._state:
            free = not self._served
        if free:
            self._free()

    def _shut(self) -> None:
        """Mark closed, wake the reader and interrupt blocked I/O; the first call only."""
        with self._state:
            if self._closed:
                return
            self._closed = True
            if self._wake_w >= 0:
                try:
                    os.write(self._wake_w, b"x")
                except OSError:
                    pass
        if self._on_close is not None:
            try:
                self._on_close()
            except Exception:
                log.exception("DAP %s: closing failed", self.name)
