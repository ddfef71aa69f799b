"""The adapter as the DAP client of debugpy inside one Python step.

The step's Python connects to the port this debugger listens on (loopback; for a step in a
container, a Unix socket in a directory the container shares, reached through a relay inside
it: see ``container``) twice: first ``debugpy_cli.step_bootstrap``'s control channel (it gets
the breakpoint lines, the exception filter and pause requests while debugpy is not started),
then debugpy itself, once the script needs it. The adapter talks DAP to debugpy with its own
wire code (``dap.wire``, here as the client side). Everything that comes back is translated for
the session's client:

- lines and paths: a frame in the step's script file stands at its line of the Task YAML
  (``script.ScriptMap``); frames in other files (imported modules) keep theirs, except in a
  container: there a file in a directory bound from this host (a workspace) shows at its host
  path, and any other file at its path in the container, marked so (``origin``), with a source
  reference whose text debugpy serves (``source_text``);
- ids: frame ids, variables references and source references are numbers of the adapter's own
  (``References``: from ``REF_BASE`` up, none given twice in the process); frame ids and
  variables references are valid until the step resumes, source references for the run's life;
  debugpy's thread ids stay debugpy's (the DAP handlers show them under the step's thread);
- stops and resumes become the events ``PythonStopped`` / ``PythonResumed`` of the step, through
  the runtime's ``emit`` so that they keep their order with the step's other events.

Threads: one accepts the connections and configures debugpy (within
``debugpy_cli.HANDSHAKE_SECONDS``), the wire's reader thread hands events over; requests made while stopped (``stack_frames``, ``variables``...) block their caller
until debugpy answers (``ANSWER_TIMEOUT``).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from typing import Any, Callable, Iterable, Sequence

from tekton_debug.dap import wire
from tekton_debug.errors import UserError, WrongTime
from tekton_debug.events import (
    PythonResumed, PythonStarted, PythonStopped, PythonUnavailable, RuntimeEvent,
)
from tekton_debug.python import References
from tekton_debug.python import debugpy_cli
from tekton_debug.python.script import ScriptMap

log = logging.getLogger(__name__)

ANSWER_TIMEOUT = 15.0  # seconds a request to debugpy may take


class PythonDebugger:
    """debugpy in step ``index``, from the bootstrap's connection to the end of the step.

    The step's Python connects twice to ``port``: first the bootstrap's control channel (it
    hears the breakpoint lines and pause requests while debugpy is not started), then, once the
    script needs it, debugpy itself, configured here in DAP."""

    def __init__(self, index: int, step_name: str, smap: ScriptMap, script_path: str, *,
                 source: dict | None, lines: Callable[[], Iterable[int]], exceptions: bool,
                 emit: Callable[[RuntimeEvent], None], unix_socket: str | None = None,
                 mappings: Sequence[tuple[str, str]] = (), container: str | None = None,
                 refs: References | None = None) -> None:
        """``mappings`` and ``container``, for a step in a container: (host directory, where the
        container has it) of its bind mounts, and how its container is named to the user.
        ``refs``: the run's references (where this debugger's numbers come from)."""
        self.index = index
        self.step_name = step_name
        self.smap = smap
        self._script = script_path  # as the step's Python opens it
        self.script_path = os.path.realpath(script_path)
        self.source = source  # the Task YAML as a DAP Source
        self._lines = lines
        self.exceptions = exceptions
        self._emit = emit
        self._lock = threading.RLock()
        self._control: socket.socket | None = None  # the bootstrap's channel
        self._conn: wire.Connection | None = None
        self._closed = False
        self._stopped: dict | None = None  # debugpy's stopped body while stopped
        self._breakpoint_lines: dict[Any, int] = {}  # debugpy's breakpoint id -> YAML line
        self._threads: set[Any] = set()  # debugpy's ids of the script's live threads
        self._sock: socket.socket | None = None
        self._refs: dict[int, tuple[str, int]] = {}  # our id -> ("frame"|"var", debugpy's id)
        self._numbers = refs if refs is not None else References()
        self._mappings = tuple(mappings)
        self._container = container
        # our sourceReference -> (debugpy's, the file's path), for the run's life (an editor may
        # ask again later): served by debugpy while the step's Python runs, then as read then
        self._sources: dict[int, tuple[int, str]] = {}
        self._source_refs: dict[int, int] = {}  # debugpy's -> ours
        self._texts: dict[int, str] = {}  # our sourceReference -> the text debugpy gave
        self.unix_socket = unix_socket
        if unix_socket is None:
            self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._server.bind(("127.0.0.1", 0))
            self.port = self._server.getsockname()[1]
        else:
            self._server = _unix_server(unix_socket)
            self.port = 0
        self._server.listen(2)  # the bootstrap's channel, then debugpy
        self._accepter = threading.Thread(target=self._accept, name=f"debugpy-{index}",
                                          daemon=True)
        self._accepter.start()

    def file_lines(self) -> list[int]:
        """The breakpoint lines of the script's file now (from the YAML lines)."""
        return sorted({n for n in (self.smap.to_file(line) for line in self._lines())
                       if n is not None})

    # ---- connection and configuration --------------------------------------------------------

    def _accept(self) -> None:
        """The bootstrap's control channel, then debugpy's connection (until the step ends)."""
        try:
            control = self._accept_own()
        except OSError:  # closed: the step ended first
            return
        with self._lock:
            if self._closed:
                control.close()
                return
            self._control = control
        self._tell(debugpy_cli.configuration(self.file_lines(), self.exceptions))
        self._emit(PythonStarted(self.index, self))
        try:
            sock = self._accept_own()
        except OSError:
            return
        finally:
            self._server.close()
        with self._lock:
            if self._closed:
                sock.close()
                return
            self._sock = sock
            conn = self._conn = wire.Connection.from_socket(sock, name=f"debugpy step {self.index}")
        threading.Thread(target=conn.serve, args=(self,), name=f"debugpy-read-{self.index}",
                         daemon=True).start()
        self._configure()

    def _accept_own(self) -> socket.socket:
        """The next connection from a process of this user. The loopback port is open to every
        user of the machine: a connection whose socket another user owns (``/proc/net/tcp``) is
        closed at once, so it can neither take the step's place nor see what it is sent. The
        Unix socket of a container step needs no check: it lies in the run directory, which only
        this user can reach."""
        while True:
            sock, peer = self._server.accept()
            if self.unix_socket is not None:
                return sock
            owner = _loopback_owner(peer[1], self.port)
            if owner is None or owner == os.geteuid():
                return sock
            log.warning("step %s: a connection to its Python debugger from another user "
                        "(uid %d) was closed", self.step_name, owner)
            sock.close()

    def _configure(self) -> None:
        """The handshake with debugpy, within ``HANDSHAKE_SECONDS``: past it (or refused), the
        step goes on without its Python debugger and the user is told."""
        deadline = time.monotonic() + debugpy_cli.HANDSHAKE_SECONDS
        try:
            self._call("initialize", {"clientID": "tekton-debug", "adapterID": "tekton",
                                      "linesStartAt1": True, "columnsStartAt1": True,
                                      "pathFormat": "path", "supportsVariableType": True},
                       deadline - time.monotonic())
            self._send("attach", debugpy_cli.attach_arguments(
                self._mappings, scripts=(self._script, self.script_path)))
            self.update_breakpoints()
            self._send("setExceptionBreakpoints",
                       {"filters": [debugpy_cli.UNCAUGHT] if self.exceptions else []})
            self._call("configurationDone", {}, deadline - time.monotonic())
        except UserError as exc:
            if self._closed:
                return
            log.warning("step %s: debugpy could not be configured: %s", self.step_name, exc)
            self._emit(PythonUnavailable(
                self.index, f"step {self.step_name!r} runs on without the Python debugger: "
                            f"debugpy connected but did not finish its handshake within "
                            f"{debugpy_cli.HANDSHAKE_SECONDS:g} s ({exc.first.message}); its "
                            f"Python breakpoints stop nothing in this run"))
            self.close()

    def _tell(self, message: bytes) -> bool:
        """Send a control message to the bootstrap; False when there is no channel (any more)."""
        control = self._control
        if control is None:
            return False
        try:
            control.sendall(message)
            return True
        except OSError:
            return False

    def _send(self, command: str, arguments: dict,
              on_answer: Callable[[bool, Any], None] | None = None) -> None:
        conn = self._conn
        if conn is None:
            raise WrongTime(f"the Python debugger of step {self.step_name!r} is not connected")
        conn.send_request(command, arguments, on_answer or self._log_failure(command))

    def _log_failure(self, command: str) -> Callable[[bool, Any], None]:
        def answered(success: bool, body: Any) -> None:
            if not success:
                log.info("step %s: debugpy refused %s: %s", self.step_name, command, body)
        return answered

    def _call(self, command: str, arguments: dict, timeout: float = ANSWER_TIMEOUT) -> dict:
        """Send a request to debugpy and wait for its answer's body (``timeout`` seconds at
        most). Raises UserError."""
        done = threading.Event()
        answer: list = []

        def answered(success: bool, body: Any) -> None:
            answer[:] = [success, body]
            done.set()

        self._send(command, arguments, answered)
        if not done.wait(max(0.0, timeout)):
            raise UserError(f"the Python debugger of step {self.step_name!r} did not answer "
                            f"{command} within {timeout:g} s")
        success, body = answer
        if not success:  # a Python error comes with its traceback: its last line says it
            lines = [line for line in str(body).strip().splitlines() if line.strip()]
            raise UserError(lines[-1].strip() if lines else f"{command} failed in Python")
        return body if isinstance(body, dict) else {}

    def update_breakpoints(self) -> None:
        """Send the breakpoints of the step's script (YAML lines) as lines of its file."""
        if self._conn is None:  # debugpy not started: the bootstrap starts it at these lines
            self._tell(debugpy_cli.lines_message(self.file_lines()))
            return
        wanted = sorted({line for line in self._lines() if self.smap.to_file(line) is not None})

        def answered(success: bool, body: Any) -> None:
            if success and isinstance(body, dict):
                for line, bp in zip(wanted, body.get("breakpoints") or []):
                    if isinstance(bp, dict) and "id" in bp:
                        self._breakpoint_lines[bp["id"]] = line
            elif not success:
                log.info("step %s: debugpy refused the breakpoints: %s", self.step_name, body)

        self._send("setBreakpoints", {
            "source": {"path": self.script_path},
            "breakpoints": [{"line": self.smap.to_file(line)} for line in wanted]}, answered)

    def close(self) -> None:
        """The step ended: stop listening and close the connection. Idempotent."""
        with self._lock:
            self._closed = True
            conn, self._conn = self._conn, None
            control, self._control = self._control, None
            self._stopped = None
            self._refs.clear()
        for sock in (self._server, control):
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
            except OSError:
                pass
            sock.close()
        if self.unix_socket is not None:
            try:
                os.unlink(self.unix_socket)
            except OSError:
                pass
        if conn is not None:
            conn.close()

    # ---- events from debugpy (on the wire's reader thread) -------------------------------------

    def on_event(self, message: dict) -> None:
        event = message.get("event")
        body = message.get("body") if isinstance(message.get("body"), dict) else {}
        if event == "stopped":
            with self._lock:
                self._stopped = body
                self._refs.clear()
            hit = tuple(self._breakpoint_lines[i] for i in body.get("hitBreakpointIds") or []
                        if i in self._breakpoint_lines)
            reason = str(body.get("reason") or "pause")
            self._emit(PythonStopped(self.index, reason, hit, str(body.get("text") or "")))
        elif event == "continued":
            self._resumed()
        elif event == "thread":
            if body.get("reason") == "started":
                self._threads.add(body.get("threadId"))
            elif body.get("reason") == "exited":
                self._threads.discard(body.get("threadId"))
                if not self._threads:  # the script is done: nothing is left to debug
                    self._done_sending()
        elif event in ("terminated", "exited"):
            self._resumed()
            conn = self._conn
            if conn is not None:
                conn.close()

    def _done_sending(self) -> None:
        """The script has ended: say we are done (half-close), so that debugpy's reader ends and
        winds the debugger down at once, while its last words (``terminated``) still reach us.
        Without it, its exit waits half a second for that reader; closing both ways instead
        makes its writer wait as long."""
        self._resumed()
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    def _resumed(self) -> bool:
        with self._lock:
            if self._stopped is None:
                return False
            self._stopped = None
            self._refs.clear()
        self._emit(PythonResumed(self.index))
        return True

    # ---- while stopped ---------------------------------------------------------------------------

    @property
    def stopped_thread(self) -> int | None:
        stopped = self._stopped
        return stopped.get("threadId") if stopped else None

    def _require_stopped(self) -> dict:
        stopped = self._stopped
        if stopped is None:
            raise WrongTime(f"step {self.step_name!r} is not stopped in its Python",
                            fix="wait for a Python breakpoint or exception")
        return stopped

    def _ref(self, kind: str, theirs: Any) -> int:
        if not isinstance(theirs, int) or theirs <= 0:
            return 0
        ours = self._numbers.new()
        with self._lock:
            self._refs[ours] = (kind, theirs)
        return ours

    def _theirs(self, kind: str, ours: Any) -> int:
        entry = self._refs.get(ours) if isinstance(ours, int) else None
        if entry is None or entry[0] != kind:
            raise UserError(f"unknown {'frame' if kind == 'frame' else 'variables reference'} "
                            f"{ours!r} (Python's references end when the step resumes)")
        return entry[1]

    def threads(self) -> list[dict]:
        """debugpy's threads: [{"id", "name"}] (debugpy's ids)."""
        self._require_stopped()
        return [t for t in self._call("threads", {}).get("threads") or [] if isinstance(t, dict)]

    def stack_frames(self, thread: int | None = None) -> list[dict]:
        """The frames of ``thread`` (default: the one that stopped), innermost first, with the
        script's frames at their lines of the Task YAML."""
        stopped = self._require_stopped()
        thread = thread if thread is not None else stopped.get("threadId")
        body = self._call("stackTrace", {"threadId": thread})
        frames = []
        theirs = [f for f in body.get("stackFrames") or [] if isinstance(f, dict)]
        while theirs and debugpy_cli.is_bootstrap_frame(theirs[-1]):
            theirs.pop()  # where the script was started from, not the step's
        for f in theirs:
            frame = {"id": self._ref("frame", f.get("id")), "name": str(f.get("name", "?")),
                     "line": f.get("line", 0), "column": f.get("column", 0)}
            path = (f.get("source") or {}).get("path")
            if path and os.path.realpath(path) == self.script_path:
                frame["line"] = self.smap.to_yaml(int(f.get("line") or 0)) or 0
                frame["name"] = f"{self.step_name}: {frame['name']}"
                if self.source:
                    frame["source"] = dict(self.source)
            elif path:
                frame["source"] = self._module_source(path, (f.get("source") or {}))
            frames.append(frame)
        return frames

    def _module_source(self, path: str, theirs: dict) -> dict:
        """The DAP source of a frame outside the script: its path (debugpy has mapped one under a
        bound directory to this host's); a file only the container has is marked as such and
        comes with a reference to its text."""
        source = {"path": path, "name": os.path.basename(path)}
        ref = theirs.get("sourceReference")
        if self._container is None or not isinstance(ref, int) or ref <= 0:
            return source
        with self._lock:
            ours = self._source_refs.get(ref)
            if ours is None:
                ours = self._source_refs[ref] = self._numbers.new_source(self)
                self._sources[ours] = (ref, path)
        return {**source, "sourceReference": ours,
                "origin": f"in {self._container}, not on this host"}

    def source_text(self, ref: int) -> str:
        """The text of a file only the step's container has (a ``sourceReference`` of one of
        this debugger's frames), whether the step's Python is stopped or not: from debugpy while
        it runs, and once it has ended, as debugpy gave it before (a file never read while it
        ran can no longer be). Raises UserError."""
        with self._lock:
            entry = self._sources.get(ref)
            text = self._texts.get(ref)
        if entry is None:
            raise UserError(f"unknown source reference {ref!r}")
        if text is not None:
            return text
        theirs, path = entry
        conn = self._conn
        if conn is None or conn.closed:
            raise WrongTime(f"{path} is only in {self._container}, and the Python of step "
                            f"{self.step_name!r} has ended: its text can no longer be read",
                            fix="open such a file while the step's Python runs")
        text = str(self._call("source", {"sourceReference": theirs}).get("content") or "")
        with self._lock:
            self._texts[ref] = text
        return text

    def scopes(self, frame: int) -> list[dict]:
        self._require_stopped()
        body = self._call("scopes", {"frameId": self._theirs("frame", frame)})
        out = []
        for s in body.get("scopes") or []:
            if isinstance(s, dict):
                s = {k: v for k, v in s.items() if k != "source"}
                s["variablesReference"] = self._ref("var", s.get("variablesReference"))
                out.append(s)
        return out

    def variables(self, ref: int, start: Any = None, count: Any = None) -> list[dict]:
        self._require_stopped()
        args: dict[str, Any] = {"variablesReference": self._theirs("var", ref)}
        if isinstance(start, int) and start > 0:
            args["start"] = start
        if isinstance(count, int) and count > 0:
            args["count"] = count
        out = []
        for v in self._call("variables", args).get("variables") or []:
            if isinstance(v, dict):
                v = dict(v)
                v["variablesReference"] = self._ref("var", v.get("variablesReference"))
                out.append(v)
        return out

    def evaluate(self, expression: str, frame: int | None, context: str) -> dict:
        """Evaluate Python in a frame (default: the innermost frame of the stopped thread)."""
        self._require_stopped()
        if frame is None:
            frames = self.stack_frames()
            if not frames:
                raise WrongTime(f"step {self.step_name!r} has no Python frame to evaluate in")
            frame = frames[0]["id"]
        body = self._call("evaluate", {"expression": expression, "context": context,
                                       "frameId": self._theirs("frame", frame)})
        result = {k: v for k, v in body.items() if k in ("result", "type", "presentationHint",
                                                          "namedVariables", "indexedVariables")}
        result["result"] = str(body.get("result", ""))
        result["variablesReference"] = self._ref("var", body.get("variablesReference"))
        return result

    def exception_info(self) -> dict:
        stopped = self._require_stopped()
        body = self._call("exceptionInfo", {"threadId": stopped.get("threadId")})
        details = body.get("details") if isinstance(body.get("details"), dict) else {}
        trace = details.get("stackTrace")
        if isinstance(trace, str):  # the script's file as the user knows it: the step's script
            details = {**details, "stackTrace": trace.replace(
                self.script_path, f"step {self.step_name}'s script")}
        return {**body, "details": details}

    def pause(self) -> None:
        """Stop the running script where it is (every thread); before debugpy is started, where
        the script next runs a line of its own file."""
        if self._stopped is not None:
            return
        if self._conn is None:
            if not self._tell(f"{debugpy_cli.PAUSE}\n".encode("ascii")):
                raise WrongTime(f"the Python of step {self.step_name!r} has not started yet",
                                fix="pause again in a moment")
            return
        self._call("pause", {"threadId": "*"})

    def resume(self, how: str, thread: int | None = None) -> None:
        """``continue``, ``next``, ``stepIn`` or ``stepOut`` the stopped thread."""
        stopped = self._require_stopped()
        thread = thread if thread is not None else stopped.get("threadId")
        # resumed first: debugpy's next stop may come before its answer to this request
        self._resumed()
        self._call(how, {"threadId": thread})


#: The longest path a Unix socket may be bound to (``sun_path`` holds 108 bytes with its NUL).
_UNIX_PATH_MAX = 107


def _loopback_owner(peer_port: int, port: int) -> int | None:
    """The uid that owns the 127.0.0.1 socket at ``peer_port`` connected to ``port``, from
    ``/proc/net/tcp``; None where that table cannot be read (then no check is possible)."""
    local, remote = f"0100007F:{peer_port:04X}", f"0100007F:{port:04X}"
    try:
        with open("/proc/net/tcp", encoding="ascii") as f:
            next(f)  # the header
            for line in f:
                fields = line.split()
                if len(fields) > 7 and fields[1] == local and fields[2] == remote:
                    return int(fields[7])
    except (OSError, ValueError, StopIteration):
        return None
    return None


def _unix_server(path: str) -> socket.socket:
    """A Unix socket bound at ``path``, that any user may connect to (a step may run as any
    user; the directory around it keeps the host's other users out). A path too long for
    ``sun_path`` is reached through its directory's descriptor in ``/proc/self/fd``."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    if len(os.fsencode(path)) <= _UNIX_PATH_MAX:
        server.bind(path)
    else:
        fd = os.open(os.path.dirname(path), os.O_RDONLY | os.O_DIRECTORY)
        try:
            server.bind(f"/proc/self/fd/{fd}/{os.path.basename(path)}")
        finally:
            os.close(fd)
    os.chmod(path, 0o666)
    return server
