"""Random DAP conversations with `tekton-debug dap` over its real stdio, and what it must do.

A conversation is a list of actions: requests of every command the adapter serves with plausible,
random or wrongly typed arguments, in any order; unknown commands; odd messages (events,
responses to nothing, JSON that is no object, invalid JSON); large bodies; waiting for the run to
stop. It may end with bytes that are no DAP framing any more (a bad or missing Content-Length, a
body over the size limit, a header line that never ends).

What is checked (:meth:`Adapter.problems`):
- every request the adapter can parse is answered exactly once: success, or an error whose body
  has ``error.format``; a handler never fails with an internal error;
- what the adapter writes is DAP: framed JSON objects with ``seq`` increasing by one;
- on a corrupt stream it exits by itself with status 1 and says why on stderr; at the end of the
  stream it exits with status 0; never a traceback on stderr;
- no process started by the adapter (steps, shells) outlives it.

Used by tests/hardening/test_dap_fuzz.py (a few hundred messages) and benchmarks/fuzz_dap.py.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

COMMANDS = (
    "initialize", "launch", "attach", "setBreakpoints", "setFunctionBreakpoints",
    "setExceptionBreakpoints", "configurationDone", "threads", "stackTrace", "scopes", "variables",
    "evaluate", "continue", "next", "stepIn", "stepOut", "pause", "terminate", "restart",
    "disconnect", "exceptionInfo", "source", "breakpointLocations", "tekton/failContinue",
    "tekton/openShell",
)

#: Largest body the adapter accepts (dap.wire.MAX_BODY_SIZE); one byte more ends the session.
MAX_BODY_SIZE = 64 * 1024 * 1024

TASK = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: fuzzed
    spec:
      params:
        - name: greeting
          default: hello
      results:
        - name: summary
      steps:
        - name: prepare
          image: alpine
          script: |
            echo "preparing: $(params.greeting)"
            printf done > $(results.summary.path)
        - name: test
          image: alpine
          script: |
            echo "assertion failed" >&2
            exit 3
        - name: report
          image: alpine
          script: echo report
    """)

TIMEOUT = 20.0  # seconds for any one answer; only reached when something is wrong


# ---- the conversation -------------------------------------------------------------------------

@dataclass(frozen=True)
class Request:
    """A request; ``arguments`` is sent as is (any JSON, or left out when None and not given)."""
    command: Any
    arguments: Any = None
    has_arguments: bool = True
    seq_ok: bool = True  # False: a seq that is not an integer, so no answer is due
    padding: int = 0  # bytes of filler in the arguments (large bodies)


@dataclass(frozen=True)
class Raw:
    """Bytes written as they are. With ``answer_seq_slot`` the body holds ``{seq}``, replaced by
    a fresh seq: a malformed request that still shows its type and seq, which is answered."""
    data: bytes
    answer_seq_slot: bool = False


@dataclass(frozen=True)
class Corrupt:
    """Bytes after which the stream is no DAP any more: the adapter must stop by itself."""
    data: bytes
    what: str


@dataclass(frozen=True)
class WaitStopped:
    """Wait (briefly) for the run to stop or end, so the paused-state handlers see a pause."""


Action = Request | Raw | Corrupt | WaitStopped


@dataclass
class Files:
    """The paths a launch configuration may name."""
    task: str
    broken: str
    missing: str
    directory: str


def json_values(max_leaves: int = 6) -> st.SearchStrategy:
    scalars = (st.none() | st.booleans() | st.integers(-2**40, 2**40)
               | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12))
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                        | st.dictionaries(st.text(max_size=8), inner, max_size=3),
                        max_leaves=max_leaves)


def _maybe_wrong(good: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly ``good``, sometimes any JSON value at all."""
    return st.one_of(good, good, good, json_values(3))


def _thread_ids() -> st.SearchStrategy:
    return _maybe_wrong(st.sampled_from([1, 2, 3, 2, 0, -1, 4, 99]))


def _frame_ids() -> st.SearchStrategy:
    return _maybe_wrong(st.sampled_from([10000, 10001, 20001, 30002, 20000, 0, 5, -10001, 10**12]))


def _arguments_for(command: str, files: Files) -> st.SearchStrategy:
    """Arguments in the command's shape, each field sometimes of a wrong type."""
    paths = st.sampled_from([files.task, files.task, files.broken, files.missing,
                             files.directory, "relative/task.yaml", ""])
    source = _maybe_wrong(st.fixed_dictionaries({}, optional={"path": _maybe_wrong(paths),
                                                              "name": st.text(max_size=8)}))
    line = _maybe_wrong(st.integers(-3, 40))
    d = st.fixed_dictionaries
    shapes: dict[str, st.SearchStrategy] = {
        "initialize": d({"adapterID": st.just("tekton")}, optional={
            "linesStartAt1": _maybe_wrong(st.booleans()),
            "supportsRunInTerminalRequest": _maybe_wrong(st.booleans()),
            "supportsProgressReporting": _maybe_wrong(st.booleans()),
            "clientID": st.text(max_size=8)}),
        "launch": launch_configs(files),
        "attach": d({"request": st.just("attach")}, optional={
            "taskRun": _maybe_wrong(st.sampled_from(["run-1", ""])),
            "runtime": _maybe_wrong(st.sampled_from(["local", "kubernetes", "docker"])),
            "namespace": _maybe_wrong(st.just("default")),
            "kubeconfig": _maybe_wrong(st.just(files.missing))}),
        "setBreakpoints": d({"source": source}, optional={
            "breakpoints": _maybe_wrong(st.lists(_maybe_wrong(d({"line": line})), max_size=4)),
            "lines": _maybe_wrong(st.lists(line, max_size=3))}),
        "setFunctionBreakpoints": d({"breakpoints": _maybe_wrong(st.lists(_maybe_wrong(d({
            "name": _maybe_wrong(st.sampled_from(["prepare", "test", "report", "nope", ""]))})),
            max_size=3))}),
        "setExceptionBreakpoints": d({"filters": _maybe_wrong(st.lists(
            _maybe_wrong(st.sampled_from(["onFailure", "other"])), max_size=2))}, optional={
            "filterOptions": _maybe_wrong(st.lists(_maybe_wrong(d({"filterId": _maybe_wrong(
                st.just("onFailure"))})), max_size=2))}),
        "configurationDone": d({}),
        "threads": d({}),
        "stackTrace": d({"threadId": _thread_ids()}, optional={
            "startFrame": _maybe_wrong(st.integers(-2, 5)),
            "levels": _maybe_wrong(st.integers(-2, 5))}),
        "scopes": d({"frameId": _frame_ids()}),
        "variables": d({"variablesReference": _maybe_wrong(st.integers(-1, 40))}, optional={
            "start": _maybe_wrong(st.integers(-2, 10)), "count": _maybe_wrong(st.integers(-2, 10)),
            "filter": _maybe_wrong(st.sampled_from(["named", "indexed"]))}),
        "evaluate": d({"expression": _maybe_wrong(expressions())}, optional={
            "frameId": _frame_ids(),
            "context": _maybe_wrong(st.sampled_from(
                ["repl", "hover", "watch", "clipboard", "variables", "other"]))}),
        "continue": d({"threadId": _thread_ids()}),
        "next": d({"threadId": _thread_ids()}),
        "stepIn": d({"threadId": _thread_ids()}),
        "stepOut": d({"threadId": _thread_ids()}),
        "pause": d({"threadId": _thread_ids()}),
        "terminate": d({}, optional={"restart": _maybe_wrong(st.booleans())}),
        "restart": d({}, optional={"arguments": _maybe_wrong(launch_configs(files))}),
        "disconnect": d({}, optional={"terminateDebuggee": _maybe_wrong(st.booleans()),
                                      "restart": _maybe_wrong(st.booleans())}),
        "exceptionInfo": d({"threadId": _thread_ids()}),
        "source": d({}, optional={"source": source,
                                  "sourceReference": _maybe_wrong(st.integers(0, 3))}),
        "breakpointLocations": d({"source": source}, optional={
            "line": line, "endLine": line, "column": _maybe_wrong(st.integers(0, 5))}),
        "tekton/failContinue": d({}, optional={"threadId": _thread_ids()}),
        "tekton/openShell": d({}, optional={"threadId": _thread_ids()}),
    }
    return shapes[command]


def expressions() -> st.SearchStrategy:
    """REPL text that is harmless as a shell command: known commands, or words of no command."""
    return st.one_of(
        st.sampled_from(["echo hi", "exit 3", "true", "pwd", "echo $(params.greeting)",
                         "env | wc -l", "greeting", "params.greeting", "$(params.greeting)",
                         "exitCode", "", "   "]),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz ._-", max_size=10).map(
            lambda s: "tekton-fuzz-none " + s))


def launch_configs(files: Files) -> st.SearchStrategy:
    d = st.fixed_dictionaries
    task = st.sampled_from([files.task] * 4 + [files.broken, files.missing, files.directory])
    return d({"type": st.just("tekton"), "request": st.just("launch"),
              "task": _maybe_wrong(task)}, optional={
        "params": _maybe_wrong(d({}, optional={"greeting": _maybe_wrong(st.just("hi")),
                                               "nope": st.just("1")})),
        "stopOnEntry": _maybe_wrong(st.booleans()),
        "onFailure": _maybe_wrong(st.booleans()),
        "noDebug": _maybe_wrong(st.booleans()),
        "runtime": _maybe_wrong(st.sampled_from(["local", "local", "docker", "kubernetes"])),
        "timeout": _maybe_wrong(st.sampled_from(["1h", "0s", "soon", 30, -5, "10m"])),
        "workspaces": _maybe_wrong(d({}, optional={"a": _maybe_wrong(st.just(files.directory))})),
        "cwd": _maybe_wrong(st.just(files.directory)),
        "kubeconfig": st.just(files.missing),
    })


def valid_launches(files: Files) -> st.SearchStrategy:
    """Launch configurations that start the fuzzed Task."""
    return st.fixed_dictionaries(
        {"type": st.just("tekton"), "request": st.just("launch"), "task": st.just(files.task)},
        optional={"stopOnEntry": st.booleans(), "params": st.just({"greeting": "hi"}),
                  "onFailure": st.booleans()})


def requests(files: Files) -> st.SearchStrategy:
    known = st.sampled_from(COMMANDS).flatmap(
        lambda c: st.builds(Request, st.just(c), _arguments_for(c, files)))
    starts = st.one_of(
        st.builds(Request, st.just("launch"), valid_launches(files)),
        st.builds(Request, st.just("attach"), st.just(
            {"request": "attach", "runtime": "kubernetes", "taskRun": "run-1",
             "kubeconfig": files.missing})))
    unknown_command = st.builds(Request, st.one_of(
        st.sampled_from(["stepBack", "goto", "setVariable", "tekton/nope", "__init__",
                         "conn", "on_disconnect", "_begin", "launch/../x", "initialize_request"]),
        st.text(max_size=12), json_values(2)), json_values(3))
    arguments_not_an_object = st.builds(
        Request, st.sampled_from(COMMANDS),
        st.one_of(st.lists(json_values(2), max_size=2), st.text(max_size=5), st.integers(),
                  st.booleans()))
    no_arguments = st.builds(Request, st.sampled_from(COMMANDS), has_arguments=st.just(False))
    bad_seq = st.builds(Request, st.sampled_from(COMMANDS), st.just({}), seq_ok=st.just(False))
    large = st.builds(Request, st.sampled_from(["threads", "evaluate", "setBreakpoints"]),
                      st.just({}), padding=st.sampled_from([100_000, 1_000_000, 3_000_000]))
    return st.one_of(known, known, known, known, known, known, starts, unknown_command,
                     arguments_not_an_object, no_arguments, bad_seq, large)


def odd_messages() -> st.SearchStrategy:
    """Messages that are framed correctly but are no request the adapter can answer, or
    malformed requests it can still recognise (``answer_seq_slot``)."""
    def framed(body: bytes) -> bytes:
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    not_a_request = st.sampled_from([
        b"[1, 2, 3]", b'"request"', b"42", b"null", b"{}",
        b'{"type": "event", "seq": 1, "event": "stopped"}',
        b'{"type": "response", "seq": 2, "request_seq": 424242, "success": true}',
        b'{"type": "banana", "seq": 3}', b'{"type": "request", "command": "threads"}',
        b"{not json", b"\xff\xfe\x00garbage", b"", b"[" * 5000 + b"]" * 5000,
    ]).map(lambda b: Raw(framed(b)))
    malformed_request = st.sampled_from([
        b'{"type": "request", "seq": {seq}, "command": "threads", ',
        b'{"type": "request", "seq": {seq}, "command": "evaluate", "arguments": {"expression": }}',
        b'{"seq": {seq}, "type": "request", "command": "\xff\xfe"',
    ]).map(lambda b: Raw(framed(b), answer_seq_slot=True))
    extra_headers = st.just(Raw(
        b'Content-Type: application/json\r\nContent-Length: 47\r\n\r\n'
        b'{"type": "event", "seq": 9, "event": "ignored"}'))
    return st.one_of(not_a_request, malformed_request, extra_headers)


def corruptions() -> st.SearchStrategy:
    return st.sampled_from([
        Corrupt(b"Content-Length: abc\r\n\r\n{}", "a Content-Length that is no number"),
        Corrupt(b"Content-Length: -5\r\n\r\n{}", "a negative Content-Length"),
        Corrupt(b"\r\n{}", "a message without Content-Length"),
        Corrupt(b"Content-Type: json\r\n\r\n{}", "headers without Content-Length"),
        Corrupt(b"hello there\r\n\r\n", "a header line without a colon"),
        Corrupt(b"Content-Length: %d\r\n\r\n" % (MAX_BODY_SIZE + 1), "a body over the limit"),
        Corrupt(b"Content-Length: 99999999999999999999999\r\n\r\n", "an absurd Content-Length"),
        Corrupt(b"X" * (9 * 1024), "a header line that never ends"),
        Corrupt(b'{"type": "request", "seq": 1, "command": "threads"}\r\n\r\n',
                "JSON without framing"),
    ])


def paused_tour() -> st.SearchStrategy[list[Action]]:
    """What a user does at a failure of the fuzzed Task (step "test", thread 2, frame 20001):
    some of the views in any order, then one way to go on."""
    views = [Request("threads", {}), Request("stackTrace", {"threadId": 2}),
             Request("scopes", {"frameId": 20001}), Request("variables", {"variablesReference": 1}),
             Request("variables", {"variablesReference": 3}),
             Request("variables", {"variablesReference": 5, "start": 0, "count": 2}),
             Request("evaluate", {"expression": "echo hi", "frameId": 20001, "context": "repl"}),
             Request("evaluate", {"expression": "greeting", "frameId": 20001, "context": "hover"}),
             Request("exceptionInfo", {"threadId": 2}), Request("source", {"sourceReference": 1}),
             Request("tekton/openShell", {"threadId": 2}), Request("pause", {"threadId": 2})]
    ways_on = [Request("continue", {"threadId": 2}), Request("next", {"threadId": 2}),
               Request("tekton/failContinue", {"threadId": 2}), Request("terminate", {}),
               Request("restart", {}), Request("disconnect", {"terminateDebuggee": False})]
    return st.builds(lambda order, n, on: order[:n] + [on, WaitStopped()],
                     st.permutations(views), st.integers(2, len(views)), st.sampled_from(ways_on))


def conversations(files: Files) -> st.SearchStrategy[list[Action]]:
    """A list of actions: sometimes a proper start (initialize, launch, breakpoints,
    configurationDone) first, then anything; sometimes a corrupt stream at the end."""
    proper_start = st.builds(
        lambda init, launch, bps, exc: [
            Request("initialize", init), Request("launch", launch), bps, exc,
            Request("configurationDone", {}), WaitStopped()],
        _arguments_for("initialize", files), st.one_of(valid_launches(files),
                                                      launch_configs(files)),
        st.builds(Request, st.just("setBreakpoints"), _arguments_for("setBreakpoints", files)),
        st.builds(Request, st.just("setExceptionBreakpoints"),
                  st.just({"filters": ["onFailure"]})))
    start = st.one_of(st.builds(lambda a, b: a + b, proper_start, paused_tour()),
                      proper_start, st.just([]))
    middle = st.lists(st.one_of(requests(files), requests(files), requests(files),
                                odd_messages(), st.just(WaitStopped())), max_size=16)
    end = st.one_of(st.just([]), st.just([]), corruptions().map(lambda c: [c]))
    return st.builds(lambda a, b, c: a + b + c, start, middle, end)


# ---- the adapter -------------------------------------------------------------------------------

@dataclass
class Stats:
    """What a run of conversations saw."""
    messages: int = 0
    requests: int = 0
    succeeded: int = 0
    failed: int = 0
    adapters: int = 0
    corrupt_exits: int = 0
    crashes: int = 0
    peak_rss_kb: int = 0
    errors_by_command: dict[str, int] = field(default_factory=dict)
    successes_by_command: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class Adapter:
    """One `tekton-debug dap` process on stdio, read strictly."""

    def __init__(self, cwd: str) -> None:
        self.marker = uuid.uuid4().hex
        env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
        env.update(KUBECONFIG=os.path.join(cwd, "no-kubeconfig"), TEKTON_DEBUG_FUZZ=self.marker)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tekton_debug", "dap"], cwd=cwd, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.seq = 0
        self.lock = threading.Condition()
        self.responses: dict[int, list[dict]] = {}
        self.events: list[dict] = []
        self.violations: list[str] = []
        self.stderr = b""
        self.last_seq = 0
        self.stdout_closed = False
        self.peak_rss_kb = 0
        threading.Thread(target=self._read, daemon=True).start()
        self._stderr_thread = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_thread.start()

    # reading -------------------------------------------------------------------------------

    def _read(self) -> None:
        out = self.proc.stdout
        try:
            while True:
                length = None
                while True:
                    line = out.readline()
                    if not line:
                        return
                    if line in (b"\r\n", b"\n"):
                        break
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length is None:
                    self._violation("the adapter wrote a message without Content-Length")
                    return
                body = out.read(length)
                message = json.loads(body)
                self._receive(message)
        except (ValueError, OSError) as exc:
            self._violation(f"the adapter wrote something that is no DAP: {exc}")
        finally:
            with self.lock:
                self.stdout_closed = True
                self.lock.notify_all()

    def _receive(self, message: Any) -> None:
        if not isinstance(message, dict) or not isinstance(message.get("seq"), int):
            self._violation(f"a message without seq: {message!r:.200}")
            return
        if message["seq"] != self.last_seq + 1:
            self._violation(f"seq {message['seq']} follows {self.last_seq}")
        self.last_seq = message["seq"]
        kind = message.get("type")
        if kind == "response":
            error = (message.get("body") or {}).get("error") if isinstance(
                message.get("body"), dict) else None
            if not message.get("success") and not (
                    isinstance(error, dict) and isinstance(error.get("format"), str)):
                self._violation(f"an error response without body.error: {message!r:.300}")
            with self.lock:
                self.responses.setdefault(message.get("request_seq"), []).append(message)
                self.lock.notify_all()
        elif kind == "event":
            with self.lock:
                self.events.append(message)
                self.lock.notify_all()
        elif kind == "request":
            self._reverse(message)
        else:
            self._violation(f"a message of type {kind!r}")

    def _reverse(self, request: dict) -> None:
        """runInTerminal: pretend to open one (every other time, fail), never run anything."""
        success = request.get("seq", 0) % 2 == 0
        self._write_message({"type": "response", "request_seq": request.get("seq"),
                             "command": request.get("command"), "success": success,
                             **({"body": {"processId": 1}} if success else
                                {"message": "no terminal here"})})

    def _read_stderr(self) -> None:
        for chunk in iter(lambda: self.proc.stderr.read1(65536), b""):
            self.stderr += chunk

    def _violation(self, text: str) -> None:
        with self.lock:
            self.violations.append(text)

    # writing -------------------------------------------------------------------------------

    def next_seq(self) -> int:
        with self.lock:
            self.seq += 1
            return self.seq

    def write(self, data: bytes) -> bool:
        try:
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def _write_message(self, message: dict) -> bool:
        message = {"seq": self.next_seq(), **message}
        body = json.dumps(message).encode()
        return self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def request(self, req: Request) -> int | None:
        """Send; the seq an answer is due for, or None."""
        seq = self.next_seq()
        message: dict = {"type": "request", "command": req.command}
        if req.has_arguments:
            message["arguments"] = req.arguments
        if req.padding:
            message["padding"] = "x" * req.padding
        message["seq"] = seq if req.seq_ok else str(seq)
        body = json.dumps(message).encode()
        self.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return seq if req.seq_ok else None

    # waiting ------------------------------------------------------------------------------

    def wait(self, predicate, timeout: float = TIMEOUT) -> bool:
        with self.lock:
            return self.lock.wait_for(lambda: predicate() or self.stdout_closed, timeout)

    def wait_stopped(self, after: int, timeout: float = 2.0) -> None:
        """Until the run stops or ends (if it runs: a refused launch gets no events)."""
        def launched() -> bool:
            return any(a.get("success") for a in sum(self.responses.values(), [])
                       if a.get("command") in ("launch", "restart"))

        def done() -> bool:
            if any(e.get("event") in ("stopped", "terminated") for e in self.events[after:]):
                return True
            answered = [a for a in sum(self.responses.values(), [])
                        if a.get("command") in ("launch", "restart")]
            return bool(answered) and not launched()

        self.wait(done, timeout)

    def memory(self) -> None:
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))
        except OSError:
            pass

    def left_behind(self) -> list[int]:
        """Processes still alive that the adapter (or a step it ran) started."""
        mine = f"TEKTON_DEBUG_FUZZ={self.marker}".encode()
        out = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if mine in f.read().split(b"\0"):
                        with open(f"/proc/{entry}/stat", "rb") as s:
                            state = s.read().rsplit(b")", 1)[1].split()[0]
                        if state != b"Z":
                            out.append(int(entry))
            except OSError:
                continue
        return out

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for pid in self.left_behind():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def converse(actions: list[Action], cwd: str, stats: Stats) -> list[str]:
    """Play ``actions`` to a new adapter; returns what went wrong (nothing, normally)."""
    adapter = Adapter(cwd)
    stats.adapters += 1
    problems: list[str] = []
    due: dict[int, str] = {}  # request seq -> command
    corrupt: Corrupt | None = None
    try:
        for action in actions:
            if adapter.proc.poll() is not None or adapter.stdout_closed:
                problems.append(f"the adapter ended in the middle (status {adapter.proc.poll()})")
                break
            stats.messages += 1
            if isinstance(action, Request):
                seq = adapter.request(action)
                stats.requests += 1
                if seq is not None:
                    due[seq] = str(action.command)
            elif isinstance(action, Raw):
                data = action.data
                if action.answer_seq_slot:
                    seq = adapter.next_seq()
                    body = data.split(b"\r\n\r\n", 1)[1].replace(b"{seq}", b"%d" % seq)
                    data = b"Content-Length: %d\r\n\r\n" % len(body) + body
                    due[seq] = "(malformed)"
                adapter.write(data)
            elif isinstance(action, WaitStopped):
                stats.messages -= 1
                if any(c in ("launch", "restart") for c in due.values()):
                    adapter.wait_stopped(len(adapter.events))
            elif isinstance(action, Corrupt):
                corrupt = action
                adapter.write(action.data)
        if corrupt is None and adapter.proc.poll() is None:
            # a launch or attach waits for configurationDone: send it, then a disconnect
            if any(c in ("launch", "attach") for c in due.values()):
                due[adapter.request(Request("configurationDone", {}))] = "configurationDone"
            seq = adapter.request(Request("disconnect", {"terminateDebuggee": True}))
            due[seq] = "disconnect"
            stats.messages += 2
        adapter.wait(lambda: all(s in adapter.responses for s in due))
        if corrupt is None:
            unanswered = [f"{c} (seq {s})" for s, c in due.items() if s not in adapter.responses]
            if unanswered:
                problems.append(f"requests never answered: {', '.join(unanswered)}")
        adapter.memory()
        if corrupt is None:
            adapter.proc.stdin.close()
        try:
            status = adapter.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            status = None
            what = corrupt.what if corrupt else "the end of its input"
            problems.append(f"the adapter did not exit after {what}")
        adapter._stderr_thread.join(5)
        stderr = adapter.stderr.decode("utf-8", "replace")
        if corrupt is not None:
            stats.corrupt_exits += 1
            if status != 1:
                problems.append(f"after {corrupt.what} the adapter exited with {status}, not 1")
            if "stopped reading" not in stderr:
                problems.append(f"after {corrupt.what} stderr does not say why: {stderr[-500:]}")
        elif status != 0:
            problems.append(f"the adapter exited with {status} at the end of its input")
        if "Traceback" in stderr:
            problems.append("a traceback on stderr:\n" + stderr[stderr.index("Traceback"):][:3000])
        for seq, answers in adapter.responses.items():
            if len(answers) > 1:
                problems.append(f"request {seq} ({due.get(seq)}) was answered {len(answers)} times")
            for answer in answers:
                if answer.get("success"):
                    stats.succeeded += 1
                    key = str(answer.get("command"))
                    stats.successes_by_command[key] = stats.successes_by_command.get(key, 0) + 1
                    continue
                stats.failed += 1
                error = answer["body"]["error"]
                if error.get("id") == 2 or str(error.get("format")).startswith("internal error"):
                    problems.append(f"'{answer.get('command')}' failed inside the adapter: "
                                    f"{error.get('format')}")
                key = str(answer.get("command"))
                key = key if key in COMMANDS else "(unknown command)"
                stats.errors_by_command[key] = stats.errors_by_command.get(key, 0) + 1
        problems += adapter.violations
        if status is not None:
            deadline = time.monotonic() + 5
            left = adapter.left_behind()
            while left and time.monotonic() < deadline:
                time.sleep(0.05)  # polling /proc: a process's end sends no event to a stranger
                left = adapter.left_behind()
            if left:
                problems.append(f"processes left behind: {left}")
    finally:
        stats.peak_rss_kb = max(stats.peak_rss_kb, adapter.peak_rss_kb)
        adapter.kill()
    if problems:
        stats.crashes += 1
        stats.problems.extend(problems)
    return problems


def make_files(directory: Path) -> Files:
    (directory / "task.yaml").write_text(TASK)
    (directory / "broken.yaml").write_text("kind: Task\nspec: [\n")
    (directory / "workspace").mkdir(exist_ok=True)
    return Files(task=str(directory / "task.yaml"), broken=str(directory / "broken.yaml"),
                 missing=str(directory / "missing.yaml"), directory=str(directory / "workspace"))


def report(stats: Stats, seconds: float) -> str:
    lines = [
        f"messages sent        {stats.messages}",
        f"requests             {stats.requests}",
        f"responses            {stats.succeeded + stats.failed} "
        f"({stats.succeeded} success, {stats.failed} error)",
        f"adapter processes    {stats.adapters} "
        f"({stats.adapters - 1} restarts, {stats.corrupt_exits} after a corrupt stream)",
        f"crashes              {stats.crashes}",
        f"peak RSS of adapter  {stats.peak_rss_kb / 1024:.1f} MiB",
        f"time                 {seconds:.1f} s ({stats.messages / max(seconds, 1e-9):.0f} msg/s)",
        "successes by command " + ", ".join(
            f"{k} {v}" for k, v in sorted(stats.successes_by_command.items(),
                                          key=lambda kv: -kv[1])),
        "errors by command    " + ", ".join(
            f"{k} {v}" for k, v in sorted(stats.errors_by_command.items(), key=lambda kv: -kv[1])),
    ]
    kinds: dict[str, list[str]] = {}
    for problem in stats.problems:
        key = re.sub(r"\d+", "N", problem.splitlines()[0])[:160]
        kinds.setdefault(key, []).append(problem)
    for key, seen in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"problem ({len(seen)}x): {key}")
        lines.extend("    " + line for line in seen[0].splitlines()[1:40])
    return "\n".join(lines)


__all__ = ["Action", "Adapter", "Corrupt", "Files", "Raw", "Request", "Stats", "WaitStopped",
           "conversations", "converse", "make_files", "report"]
