"""A small DAP client for the tests: starts `tekton-debug dap` on stdio and talks to it."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from typing import Any, Callable

DEFAULT_TIMEOUT = 20.0


class DapError(Exception):
    def __init__(self, response: dict) -> None:
        self.response = response
        super().__init__(response.get("message"))


class DapClient:
    def __init__(self, *, cwd: str | None = None, env: dict | None = None,
                 args: list[str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tekton_debug", "dap", *(args or [])],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=cwd,
            env={**os.environ, **(env or {})})
        self._seq = 1
        self._lock = threading.Lock()
        self._pending: dict[int, queue.Queue] = {}
        self.events: list[dict] = []
        self.messages: list[dict] = []  # every message the adapter sent, in order
        self._events_cv = threading.Condition()
        self.reverse_handlers: dict[str, Callable[[dict], dict]] = {}
        self.reverse_requests: list[dict] = []
        self.stderr = b""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        threading.Thread(target=self._read_stderr, daemon=True).start()

    # ---- wire ------------------------------------------------------------------------------------

    def _send(self, message: dict, answer: queue.Queue | None = None) -> None:
        """Write ``message`` with the next seq; ``answer`` gets the response to it. One lock for
        both: the reader thread answers reverse requests meanwhile, and takes a seq too."""
        with self._lock:
            message["seq"] = self._seq
            self._seq += 1
            if answer is not None:
                self._pending[message["seq"]] = answer
            data = json.dumps(message).encode()
            self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
            self.proc.stdin.flush()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self._closed()
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            if length is None:
                raise AssertionError("adapter sent a message without Content-Length")
            message = json.loads(out.read(length))
            self.messages.append(message)
            kind = message.get("type")
            if kind == "response":
                q = self._pending.pop(message["request_seq"], None)
                if q is not None:
                    q.put(message)
            elif kind == "event":
                with self._events_cv:
                    self.events.append(message)
                    self._events_cv.notify_all()
            elif kind == "request":
                self.reverse_requests.append(message)
                handler = self.reverse_handlers.get(message["command"])
                body, success = ({}, False) if handler is None else (handler(message["arguments"]), True)
                self._send({"type": "response", "request_seq": message["seq"], "success": success,
                            "command": message["command"], "body": body})

    def _read_stderr(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self.stderr += chunk

    def _closed(self) -> None:
        for q in list(self._pending.values()):
            q.put(None)
        with self._events_cv:
            self._events_cv.notify_all()

    # ---- API ----------------------------------------------------------------------------------------

    def request(self, command: str, arguments: dict | None = None, *,
                timeout: float = DEFAULT_TIMEOUT, check: bool = True) -> dict:
        q = self.send(command, arguments)
        return self.response(q, timeout=timeout, check=check)

    def send(self, command: str, arguments: dict | None = None) -> queue.Queue:
        q: queue.Queue = queue.Queue()
        msg = {"type": "request", "command": command}
        if arguments is not None:
            msg["arguments"] = arguments
        self._send(msg, answer=q)
        return q

    def response(self, q: queue.Queue, *, timeout: float = DEFAULT_TIMEOUT, check: bool = True) -> dict:
        message = q.get(timeout=timeout)
        if message is None:
            raise AssertionError(f"adapter closed the stream; stderr: {self.stderr.decode()}")
        if check and not message["success"]:
            raise DapError(message)
        return message

    def wait_event(self, name: str, predicate: Callable[[dict], bool] | None = None, *,
                   timeout: float = DEFAULT_TIMEOUT, after: int = 0) -> dict:
        """The first event called ``name`` (from index ``after`` of all events) matching."""
        def find():
            for ev in self.events[after:]:
                if ev["event"] == name and (predicate is None or predicate(ev.get("body") or {})):
                    return ev
            return None
        with self._events_cv:
            if not self._events_cv.wait_for(lambda: find() is not None or self.proc.poll() is not None,
                                            timeout=timeout):
                raise AssertionError(f"no {name} event within {timeout} s; events: "
                                     f"{[e['event'] for e in self.events]}")
            ev = find()
        if ev is None:
            raise AssertionError(f"adapter exited before a {name} event; stderr: "
                                 f"{self.stderr.decode()}")
        return ev

    def output(self, category: str | None = None) -> str:
        return "".join(e["body"]["output"] for e in self.events if e["event"] == "output"
                       and (category is None or e["body"].get("category") == category))

    def start(self, config: dict, *, breakpoints: dict[str, list[int]] | None = None,
              function_breakpoints: list[str] | None = None,
              exception_filters: list[str] | None = None,
              client_capabilities: dict | None = None, request: str = "launch") -> dict:
        """initialize, launch, breakpoints, configurationDone; returns the launch response."""
        init = self.request("initialize", {"adapterID": "tekton", "clientID": "pytest",
                                           "linesStartAt1": True, "columnsStartAt1": True,
                                           "pathFormat": "path", **(client_capabilities or {})})
        self.capabilities = init.get("body") or {}
        launch = self.send(request, config)
        self.wait_event("initialized")
        for path, lines in (breakpoints or {}).items():
            self.last_breakpoints = self.request("setBreakpoints", {
                "source": {"path": path}, "breakpoints": [{"line": n} for n in lines]})
        if function_breakpoints is not None:
            self.request("setFunctionBreakpoints",
                         {"breakpoints": [{"name": n} for n in function_breakpoints]})
        self.request("setExceptionBreakpoints",
                     {"filters": ["onFailure"] if exception_filters is None else exception_filters})
        self.request("configurationDone")
        return self.response(launch)

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.request("disconnect", {"terminateDebuggee": True}, timeout=10, check=False)
            except Exception:
                pass
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
