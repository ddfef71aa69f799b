"""Following a TaskRun on a cluster without polling: one watch per object, one log stream per step.

- :class:`ObjectWatch`: a thread running ``kubernetes.watch.Watch`` on one object (a field or
  label selector), calling back with each object as it changes. A dropped watch resumes from the
  last resourceVersion seen (bookmarks keep it fresh); ``410 Gone`` starts a new watch without a
  resourceVersion, which the server opens with the object's current state. Bounded retries with
  backoff, then ``on_lost``.
- :class:`LogReader`: the log of one container, followed (``follow=true``) as raw bytes.
  ``timestamps=true`` puts the time of each record in front of it; the reader strips it and
  remembers how far it has delivered (the last record's time and how many bytes of records with
  that time), so a dropped stream resumes with ``sinceTime`` and skips what was already delivered:
  no line is lost or repeated.

Kubernetes merges a container's stdout and stderr into one log; everything read here is reported
as stdout.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

from kubernetes import watch as k8s_watch
from kubernetes.client.exceptions import ApiException

from tekton_debug.runtimes.kubernetes.connect import (BACKOFF, Cluster, is_connection_error,
                                                      server_message)

log = logging.getLogger(__name__)

WATCH_RETRIES = 6  # consecutive failures before giving up (about 16 s of backoff)


class ObjectWatch:
    """Watch objects matched by ``selector`` with ``list_fn`` (a namespaced list method).

    ``on_event(type, obj)`` is called with raw dicts from the watch thread; ``on_lost(exc)`` once,
    when the watch cannot be restored."""

    def __init__(self, cluster: Cluster, name: str, list_fn: Callable, kwargs: dict,
                 on_event: Callable[[str, dict], None], on_lost: Callable[[BaseException], None],
                 resource_version: str | None = None,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.cluster = cluster
        self.name = name
        self.list_fn = list_fn
        self.kwargs = kwargs
        self.on_event = on_event
        self.on_lost = on_lost
        self.resource_version = resource_version
        self._stopped = threading.Event()
        self._sleep = sleep or self._stopped.wait
        self._watch: k8s_watch.Watch | None = None
        self.thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)
        self.requests = 0  # watch requests opened (for tests and the benchmark)

    def start(self) -> "ObjectWatch":
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        w = self._watch
        if w is not None:
            w.stop()
            _close_response(getattr(w, "_resp", None))

    def _run(self) -> None:
        failures = 0
        delay = BACKOFF
        while not self._stopped.is_set():
            w = self._watch = k8s_watch.Watch()
            kwargs = dict(self.kwargs, allow_watch_bookmarks=True)
            if self.resource_version:
                kwargs["resource_version"] = self.resource_version
            try:
                self.requests += 1
                for ev in w.stream(self.list_fn, **kwargs):
                    if self._stopped.is_set():
                        return
                    failures, delay = 0, BACKOFF
                    self.resource_version = w.resource_version or self.resource_version
                    if ev.get("type") == "BOOKMARK":
                        continue
                    raw = ev.get("raw_object")
                    if isinstance(raw, dict):
                        self.on_event(ev["type"], raw)
                # the server ended the watch (its timeout): resume from where it stopped
                self.resource_version = w.resource_version or self.resource_version
                continue
            except ApiException as e:
                if self._stopped.is_set():
                    return
                if e.status == 410:
                    log.info("watch %s: %s; watching again from now", self.name, e.reason)
                    self.resource_version = None
                    continue
                if not (is_connection_error(e) or (e.status or 0) >= 500 or e.status == 429):
                    self._lost(e)
                    return
                error: BaseException = e
            except Exception as e:  # noqa: BLE001 - connection dropped mid-stream
                if self._stopped.is_set():
                    return
                error = e
            self.resource_version = w.resource_version or self.resource_version
            failures += 1
            if failures > WATCH_RETRIES:
                self._lost(error)
                return
            log.info("watch %s dropped (%s); resuming from %s in %.2fs", self.name, error,
                     self.resource_version, delay)
            self._sleep(delay)
            delay = min(delay * 2, 8.0)

    def _lost(self, e: BaseException) -> None:
        if not self._stopped.is_set():
            self.on_lost(e)


def _close_response(resp: object) -> None:
    if resp is None:
        return
    try:
        conn = getattr(resp, "connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            import socket
            sock.shutdown(socket.SHUT_RDWR)
    except Exception:  # noqa: BLE001 - best effort: the reader thread ends either way
        pass
    try:
        resp.close()  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001
        pass


# ---- logs -----------------------------------------------------------------------------------------

_STAMP = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:\d\d)) ")
# A stamp inside a record's text ends a record written without a newline; only stamps with a
# fraction of a second count there (the kubelet writes RFC3339Nano), so a date a step prints is
# not taken for one.
_MID_STAMP = re.compile(rb"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{1,9}(?:Z|[+-]\d\d:\d\d)) ")
_STAMP_CHARS = frozenset(b"0123456789-T:.Z+ ")


def parse_time_ns(text: str) -> int:
    """Nanoseconds since the epoch for an RFC 3339 time with up to nine fraction digits."""
    import calendar
    m = re.fullmatch(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|([+-])(\d\d):(\d\d))",
                     text)
    if not m:
        raise ValueError(text)
    secs = calendar.timegm(tuple(int(m.group(i)) for i in range(1, 7)) + (0, 0, 0))
    if m.group(8) != "Z":
        offset = int(m.group(10)) * 3600 + int(m.group(11)) * 60
        secs -= offset if m.group(9) == "+" else -offset
    return secs * 1_000_000_000 + int((m.group(7) or "0").ljust(9, "0"))


def epoch_seconds(text: object) -> float | None:
    """Seconds since the epoch for an RFC 3339 time; None for anything else (absent, bad)."""
    try:
        return parse_time_ns(text) / 1e9 if isinstance(text, str) and text else None
    except ValueError:
        return None

def format_time_ns(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


@dataclass
class LogPosition:
    """How far a container's log has been delivered."""

    last_ns: int | None = None  # time of the last record delivered (a part of)
    bytes_at_last: int = 0  # bytes delivered from records carrying that time
    total: int = 0  # bytes delivered in all


class LogDecoder:
    """Turns a ``timestamps=true`` log stream back into the container's bytes.

    Each record starts with ``<RFC 3339 time> `` and runs to its newline (a record the container
    wrote without one ends where the next time stamp starts). Records already delivered (per
    ``position``) are skipped, so a stream re-opened with ``sinceTime`` continues exactly."""

    def __init__(self, position: LogPosition) -> None:
        self.pos = position
        self._buf = b""
        self._in_record = False  # inside a record's text (its stamp has been read)
        self._ns = 0
        self._skip = 0  # bytes of the current timestamp group still to skip on resume
        self._resume_ns = position.last_ns
        self._resume_bytes = position.bytes_at_last

    def feed(self, data: bytes, final: bool = False) -> bytes:
        """The new bytes of the container's output found in ``data`` (``final``: the stream ended,
        flush what is held back)."""
        self._buf += data
        out = bytearray()
        while self._buf:
            buf = self._buf
            if not self._in_record:
                m = _STAMP.match(buf)
                if m is not None:
                    self._ns = parse_time_ns(m.group(1).decode())
                    self._buf = buf[m.end():]
                    self._in_record = True
                    continue
                if not final and _stamp_prefix(buf) == 0:
                    break  # a stamp cut in two: wait for the rest
                self._ns = self.pos.last_ns or 0  # not stamped: pass it through
                self._in_record = True
                continue
            nl = buf.find(b"\n")
            limit = nl + 1 if nl >= 0 else len(buf)
            m = _MID_STAMP.search(buf, 0, limit)
            if m is not None:
                piece, self._buf = buf[:m.start()], buf[m.start():]
                self._in_record = False
            elif nl >= 0:
                piece, self._buf = buf[:nl + 1], buf[nl + 1:]
                self._in_record = False
            else:
                hold = 0 if final else len(buf) - _stamp_prefix(buf)
                piece, self._buf = buf[:len(buf) - hold], buf[len(buf) - hold:]
                if not piece:
                    break
            if piece:
                out += self._deliver(piece)
        return bytes(out)

    def _deliver(self, piece: bytes) -> bytes:
        ns = self._ns
        if self._resume_ns is not None:
            if ns < self._resume_ns:
                return b""
            if ns == self._resume_ns and self._resume_bytes > 0:
                drop = min(self._resume_bytes, len(piece))
                self._resume_bytes -= drop
                piece = piece[drop:]
                if not piece:
                    return b""
            elif ns > self._resume_ns:
                self._resume_ns = None
        if ns == self.pos.last_ns:
            self.pos.bytes_at_last += len(piece)
        else:
            self.pos.last_ns, self.pos.bytes_at_last = ns, len(piece)
        self.pos.total += len(piece)
        return piece


def _stamp_prefix(buf: bytes) -> int:
    """Where a possible beginning of a time stamp starts at the end of ``buf`` (len(buf) if none):
    output held back until the next bytes tell whether a new record starts there."""
    start = len(buf)
    for i in range(len(buf) - 1, max(-1, len(buf) - 37), -1):
        if buf[i] not in _STAMP_CHARS:
            break
        if 48 <= buf[i] <= 57:
            start = i
    if start < len(buf) and b" " in buf[start:]:
        return len(buf)  # a space ends a stamp: this is complete text, not a stamp being cut
    return start


class LogReader:
    """One container's log, followed. ``read()`` blocks, calling ``on_data`` with each chunk of the
    container's output, and returns when the stream ends (the container stopped, or the connection
    dropped: the caller tells them apart and calls ``read()`` again to resume)."""

    def __init__(self, cluster: Cluster, pod: str, container: str,
                 on_data: Callable[[bytes], None]) -> None:
        self.cluster = cluster
        self.pod = pod
        self.container = container
        self.on_data = on_data
        self.position = LogPosition()
        self.requests = 0
        self._resp: object = None
        self._closed = False

    def close(self) -> None:
        self._closed = True
        _close_response(self._resp)

    def read(self) -> None:
        """Raises ApiException (the server refused: 400 waiting, 404 gone...) or a connection
        error when the stream cannot be opened."""
        query: list[tuple[str, object]] = [("container", self.container), ("follow", "true"),
                                           ("timestamps", "true")]
        if self.position.last_ns is not None:
            query.append(("sinceTime", format_time_ns(self.position.last_ns)))
        api = self.cluster.api
        method, url, headers, body, post = api.param_serialize(
            "GET", "/api/v1/namespaces/{namespace}/pods/{name}/log",
            path_params={"namespace": self.cluster.namespace, "name": self.pod},
            query_params=query, header_params={"Accept": "*/*"}, auth_settings=["BearerToken"])
        self.requests += 1
        response = api.call_api(method, url, header_params=headers, body=body, post_params=post)
        resp = response.response
        if response.status >= 400:
            data = resp.read()
            resp.release_conn()
            raise ApiException(status=response.status, reason=resp.reason,
                               body=data.decode("utf-8", "replace"))
        self._resp = resp
        decoder = LogDecoder(self.position)
        try:
            while not self._closed:
                chunk = resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536)
                if not chunk:
                    break
                data = decoder.feed(chunk)
                if data:
                    self.on_data(data)
            rest = decoder.feed(b"", final=True)
            if rest:
                self.on_data(rest)
        finally:
            self._resp = None
            try:
                resp.release_conn()
            except Exception:  # noqa: BLE001
                pass


def describe(e: BaseException) -> str:
    if isinstance(e, ApiException):
        return f"{e.status}: {server_message(e)}"
    return str(e) or type(e).__name__
