"""The DAP server over its real stdio, each figure beside a bare baseline measured in the same run.

  (1) step exit -> `stopped` at the client   vs  a bare Python relay (subprocess + pipe) telling
                                                 the client that the same script exited
  (2) `continue` -> next step's first stdout  vs  running debug-continue alone
      `output` event
  (3) log throughput through `output` events  vs  raw `cat` of the same file through a pipe
  (4) adapter start -> `initialize` answered  vs  `python -m debugpy.adapter` on stdio
  (5) peak RSS of the adapter while a step prints a million lines (the client reading), vs the
      adapter's own RSS when paused before that step
  (6) step exit -> `stopped` over the test cluster (runtime "kubernetes"), same measuring points
      (measure_cluster_pauses; benchmarks/run starts the test cluster for it)

Exit times are written by the step itself with bash's $EPOCHREALTIME (no process spawned) just
before `exit 1`, and compared with the wall clock at which the client's reader got the bytes.

Run: .venv/bin/python benchmarks/dap.py [--pauses N] [--mb M]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
for _p in (str(HERE), str(REPO)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from local_steps import measure_bare_script  # noqa: E402

PY = sys.executable
ADAPTER = [PY, "-m", "tekton_debug", "dap"]
DEBUGPY = [PY, "-m", "debugpy.adapter"]


def ms(seconds: float) -> float:
    return seconds * 1000.0


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10)[-1] if len(values) >= 2 else values[0]


def _is_log(body: bytes) -> bool:
    """An output event of category stdout or stderr, told from its first bytes (the adapter
    writes compact JSON: {"seq":N,"type":"event","event":"output","body":{"category":...)."""
    start = body[:120]
    return b'"event":"output"' in start and (b'"category":"stdout"' in start
                                              or b'"category":"stderr"' in start)


def log_text(body: bytes) -> str:
    return json.loads(body)["body"]["output"]


# ---- a lean DAP client ------------------------------------------------------------------------

class Dap:
    """Talks DAP to a process on its stdio. One reader thread reads up to 1 MB at a time, stamps
    every message with the wall clock of the read that completed it, and keeps it; except the
    step logs (output events of category stdout/stderr) when a ``sink(body, t)`` is set: those
    are handed over as raw JSON (a memoryview of the read buffer, valid during the call), not
    decoded, so that the client costs the adapter as little CPU as possible on a 2-core machine
    (the sink may copy them and check them afterwards)."""

    READ_SIZE = 1 << 20

    def __init__(self, argv: list[str], *, cwd: str | None = None) -> None:
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, cwd=cwd, bufsize=0)
        self.messages: list[tuple[float, dict]] = []
        self.sink: Callable[[memoryview, float], None] | None = None
        self._cv = threading.Condition()
        self._seq = 0
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        # read into one buffer, reused (no fresh megabyte, and its page faults, per read), and
        # copy each body out once: the client's CPU is taken from the adapter's on 2 cores
        buf = bytearray(self.READ_SIZE)
        have = 0  # bytes in buf; buf[:have] begins with the start of a message
        stream = self.proc.stdout
        while True:
            if have == len(buf):
                buf.extend(bytes(len(buf)))  # a message larger than the buffer
            with memoryview(buf) as view:
                got = stream.readinto(view[have:])
            now = time.time()
            if not got:
                break
            have += got
            pos = 0
            while True:
                head = buf.find(b"\r\n\r\n", pos, have)
                if head < 0:
                    break
                length = int(buf[pos:head].split(b":", 1)[1])
                end = head + 4 + length
                if have < end:
                    break
                pos = end
                sink = self.sink
                with memoryview(buf) as view:
                    body = view[head + 4:end]
                    if sink is not None and _is_log(bytes(body[:120])):
                        sink(body, now)  # valid during the call only: the sink copies it
                        body.release()
                        continue
                    message = json.loads(bytes(body))
                    body.release()
                with self._cv:
                    self.messages.append((now, message))
                    self._cv.notify_all()
            buf[:have - pos] = buf[pos:have]
            have -= pos
        with self._cv:
            self._closed = True
            self._cv.notify_all()

    def send(self, command: str, arguments: dict | None = None) -> int:
        self._seq += 1
        message = {"seq": self._seq, "type": "request", "command": command,
                   "arguments": arguments or {}}
        data = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
        return self._seq

    def wait(self, match: Callable[[dict], bool], *, after: int = 0,
             timeout: float = 30.0) -> tuple[int, float, dict]:
        """(index, receipt time, message) of the first message from index ``after`` matching."""
        deadline = time.monotonic() + timeout
        with self._cv:
            i = after
            while True:
                while i < len(self.messages):
                    t, m = self.messages[i]
                    if match(m):
                        return i, t, m
                    i += 1
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    names = [m.get("event") or m.get("command") for _, m in self.messages[-8:]]
                    raise RuntimeError(f"no matching message within {timeout:g}s; "
                                       f"last: {names}")
                self._cv.wait(left)

    def event(self, name: str, *, after: int = 0, timeout: float = 30.0,
              where: Callable[[dict], bool] | None = None) -> tuple[int, float, dict]:
        return self.wait(lambda m: m.get("event") == name
                         and (where is None or where(m.get("body") or {})),
                         after=after, timeout=timeout)

    def request(self, command: str, arguments: dict | None = None, *,
                timeout: float = 30.0) -> dict:
        seq = self.send(command, arguments)
        _, _, m = self.wait(lambda m: m.get("type") == "response" and m.get("request_seq") == seq,
                            timeout=timeout)
        if not m.get("success"):
            raise RuntimeError(f"{command} failed: {m.get('message')}")
        return m

    def launch(self, config: dict) -> None:
        self.request("initialize", {"adapterID": "tekton", "clientID": "bench",
                                    "linesStartAt1": True, "columnsStartAt1": True})
        launch = self.send("launch", config)
        self.event("initialized")
        self.request("setExceptionBreakpoints", {"filters": ["onFailure"]})
        self.request("configurationDone")
        self.wait(lambda m: m.get("type") == "response" and m.get("request_seq") == launch)

    def count(self) -> int:
        with self._cv:
            return len(self.messages)

    def rss_kb(self, field_name: str = "VmHWM") -> int:
        """A memory figure of the adapter process from /proc (kB)."""
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1])
        return -1

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.request("disconnect", {"terminateDebuggee": True}, timeout=10)
            except (RuntimeError, OSError):
                pass
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---- Tasks --------------------------------------------------------------------------------------

def failing_steps_task(stamps: Path, count: int) -> str:
    """A Task of ``count`` steps, each: print a line, write its exit time, exit 1; then one more."""
    steps = []
    for i in range(count):
        script = (f"#!/bin/bash\necho running-{i}\n"
                  f"printf '%s\\n' \"$EPOCHREALTIME\" > {stamps}/exit-{i}\nexit 1\n")
        steps.append({"name": f"s{i}", "image": "bash", "script": script})
    steps.append({"name": "last", "image": "bash", "script": "#!/bin/bash\necho running-last\n"})
    return json.dumps({"apiVersion": "tekton.dev/v1", "kind": "Task",
                       "metadata": {"name": "bench-pauses"}, "spec": {"steps": steps}})


def write_task(directory: Path, name: str, text: str) -> str:
    path = directory / name
    path.write_text(text)  # JSON is YAML
    return str(path)


# ---- (1) + (2) step exit -> stopped, continue -> next step's output -------------------------------

@dataclass
class Pauses:
    exit_to_stopped: list[float] = field(default_factory=list)  # ms
    continue_to_output: list[float] = field(default_factory=list)  # ms


def measure_pauses(count: int, *, config: dict | None = None) -> Pauses:
    """Run a Task of ``count`` failing steps under the adapter; continue each pause at once."""
    result = Pauses()
    with tempfile.TemporaryDirectory(prefix="bench-dap-") as tmp:
        d = Path(tmp)
        stamps = d / "stamps"
        stamps.mkdir()
        task = write_task(d, "task.yaml", failing_steps_task(stamps, count))
        dap = Dap(ADAPTER, cwd=tmp)
        try:
            dap.launch({"type": "tekton", "request": "launch", "task": task, **(config or {})})
            after = 0
            for i in range(count):
                after, t_stop, _ = dap.event("stopped", after=after, timeout=60)
                exited = float((stamps / f"exit-{i}").read_text())
                result.exit_to_stopped.append(ms(t_stop - exited))
                after += 1
                t_cont = time.time()
                dap.send("continue", {"threadId": i + 1})
                marker = f"running-{i + 1}" if i + 1 < count else "running-last"
                after, t_out, _ = dap.event("output", after=after, timeout=60,
                                            where=lambda b: marker + "\n" in b.get("output", ""))
                result.continue_to_output.append(ms(t_out - t_cont))
            dap.event("terminated", timeout=60)
        finally:
            dap.close()
    return result


_RELAY = r"""
import subprocess, sys
out = sys.stdout.buffer
for line in sys.stdin.buffer:
    p = subprocess.Popen(["bash", line.strip().decode()], stdout=subprocess.PIPE)
    p.stdout.read()
    p.wait()
    out.write(b"exited %d\n" % p.returncode)
    out.flush()
"""


def measure_bare_relay(count: int) -> list[float]:
    """The floor of (1): a Python process that spawns the same script, reads its pipe to the end,
    reaps it and writes one line to its client, who stamps the line's arrival (ms)."""
    out = []
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp:
        stamp = Path(tmp) / "exit"
        script = Path(tmp) / "step"
        script.write_text(f"echo running\nprintf '%s\\n' \"$EPOCHREALTIME\" > {stamp}\nexit 1\n")
        relay = subprocess.Popen([PY, "-c", _RELAY], stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, bufsize=0)
        try:
            for _ in range(count + 2):
                relay.stdin.write(str(script).encode() + b"\n")
                relay.stdout.readline()
                now = time.time()
                out.append(ms(now - float(stamp.read_text())))
        finally:
            relay.stdin.close()
            relay.wait()
    return out[2:]  # the first spawns warm up the relay


# ---- (3) throughput -------------------------------------------------------------------------------

@dataclass
class Throughput:
    size: int  # bytes in the file
    lines: int
    adapter_mbs: float
    cat_mbs: float
    relay_mbs: float  # a bare Python relay of 64 KB chunks as output events
    lost_lines: int  # lines the client did not get (0: nothing lost)
    intact: bool  # the bytes the client got are the file's, in order


def make_data(path: Path, megabytes: float) -> tuple[int, int, int]:
    """A file of numbered lines; (size, lines, crc32)."""
    lines = 0
    crc = 0
    size = 0
    target = int(megabytes * 1_000_000)
    with open(path, "wb") as f:
        n = 0
        while size < target:
            chunk = "".join(f"{k:09d} log line of a step\n" for k in range(n, n + 50_000)).encode()
            n += 50_000
            f.write(chunk)
            size += len(chunk)
            lines += 50_000
            crc = zlib.crc32(chunk, crc)
    return size, lines, crc


def measure_cat(path: Path, repeat: int = 3) -> float:
    """Best MB/s of `cat FILE` into a pipe read here in 64 KB chunks."""
    best = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        p = subprocess.Popen(["cat", str(path)], stdout=subprocess.PIPE, bufsize=0)
        fd = p.stdout.fileno()
        size = 0
        while chunk := os.read(fd, 65536):
            size += len(chunk)
        p.wait()
        best = max(best, size / 1e6 / (time.perf_counter() - t))
    return best


_LOG_RELAY = r"""
import codecs, os, subprocess, sys
import orjson  # the adapter's encoder (dap/wire.py), so the floor is measured with the same
sys.stdin.readline()
p = subprocess.Popen(["cat", sys.argv[1]], stdout=subprocess.PIPE, bufsize=0)
fd, seq = p.stdout.fileno(), 0
decoder = codecs.getincrementaldecoder("utf-8")("replace")
while data := os.read(fd, 65536):
    seq += 1
    body = orjson.dumps({"seq": seq, "type": "event", "event": "output",
                         "body": {"category": "stdout", "output": decoder.decode(data)}})
    os.write(1, b"Content-Length: %d\r\n\r\n" % len(body) + body)
"""


def measure_bare_log_relay(path: Path, size: int, repeat: int = 3) -> float:
    """Best MB/s of the floor of any Python DAP server: one thread reading `cat FILE` 64 KB at a
    time and writing each chunk as an output event, read by the same client as the adapter."""
    best = 0.0
    for _ in range(repeat):
        last = [0.0]

        def sink(body: memoryview, t: float) -> None:
            last[0] = t

        relay = Dap([PY, "-c", _LOG_RELAY, str(path)])
        relay.sink = sink
        time.sleep(0.2)  # let it start: its start-up is not the relay's cost
        t0 = time.time()
        relay.proc.stdin.write(b"go\n")
        relay._reader.join(120)
        relay.proc.wait()
        best = max(best, size / 1e6 / (last[0] - t0))
    return best


def adapter_log_run(task: str, cwd: str, arena_size: int = 0) -> tuple[float, list[bytes]]:
    """Run the one-step Task under the adapter: (seconds from the step's start to the last log
    event received, the raw log events). ``arena_size``: about the bytes of events to come."""
    # the events are copied into memory touched beforehand: a fresh page per 4 KB of events
    # (a page fault each) would cost the client more CPU than reading them
    arena = bytearray(arena_size)
    spans: list[tuple[int, int]] = []
    at = [0]
    last = [0.0]

    def sink(body: memoryview, t: float) -> None:
        start, end = at[0], at[0] + len(body)
        if end > len(arena):
            arena.extend(bytes(end - len(arena)))
        arena[start:end] = body
        spans.append((start, end))
        at[0] = end
        last[0] = t

    dap = Dap(ADAPTER, cwd=cwd)
    dap.sink = sink
    try:
        dap.launch({"type": "tekton", "request": "launch", "task": task})
        # the step's header line in the Debug Console ("step log"), sent as the step starts
        _, t0, _ = dap.event("output", timeout=60, where=lambda b: b.get("category") == "console"
                             and b.get("output") == "step log\n")
        dap.event("terminated", timeout=300)
    finally:
        dap.close()
    return last[0] - t0, [bytes(arena[a:b]) for a, b in spans]


def measure_throughput(megabytes: float, repeat: int = 5) -> Throughput:
    """Best of ``repeat`` runs for the adapter, for cat and for the bare relay, taken in turn;
    every adapter run's output is checked line by line and byte by byte (after its clock
    stopped)."""
    with tempfile.TemporaryDirectory(prefix="bench-log-") as tmp:
        d = Path(tmp)
        data = d / "data"
        size, lines, crc = make_data(data, megabytes)
        task = write_task(d, "task.yaml", json.dumps({
            "apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "bench-log"},
            "spec": {"steps": [{"name": "log", "image": "bash", "command": ["cat", str(data)]}]}}))
        cat_mbs = relay_mbs = adapter_mbs = 0.0
        lost, intact = 0, True
        for _ in range(repeat):  # interleaved: a change in the machine's load hits all three
            cat_mbs = max(cat_mbs, measure_cat(data, 1))
            relay_mbs = max(relay_mbs, measure_bare_log_relay(data, size, 1))
            seconds, bodies = adapter_log_run(task, tmp, 2 * size)
            adapter_mbs = max(adapter_mbs, size / 1e6 / seconds)
            got_bytes = got_lines = got_crc = 0
            for body in bodies:
                message = json.loads(body)
                if message["body"]["category"] != "stdout":
                    continue
                b = message["body"]["output"].encode()
                got_bytes += len(b)
                got_lines += b.count(b"\n")
                got_crc = zlib.crc32(b, got_crc)
            lost = max(lost, lines - got_lines)
            intact = intact and got_bytes == size and got_crc == crc
        return Throughput(size, lines, adapter_mbs, cat_mbs, relay_mbs, lost, intact)


# ---- (4) adapter start ------------------------------------------------------------------------

INITIALIZE = {"adapterID": "tekton", "clientID": "bench", "linesStartAt1": True,
              "columnsStartAt1": True, "pathFormat": "path"}


def time_initialize(argv: list[str]) -> float:
    """Seconds from spawning ``argv`` to the initialize response on its stdout."""
    t = time.perf_counter()
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, bufsize=0)
    data = json.dumps({"seq": 1, "type": "request", "command": "initialize",
                       "arguments": INITIALIZE}).encode()
    p.stdin.write(b"Content-Length: %d\r\n\r\n%s" % (len(data), data))
    buf = b""
    fd = p.stdout.fileno()
    elapsed = None
    while elapsed is None:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError(f"{argv} exited before answering initialize")
        buf += chunk
        while b"\r\n\r\n" in buf:
            head, _, rest = buf.partition(b"\r\n\r\n")
            length = int(head.split(b":", 1)[1])
            if len(rest) < length:
                break
            message, buf = json.loads(rest[:length]), rest[length:]
            if message.get("type") == "response" and message.get("command") == "initialize":
                elapsed = time.perf_counter() - t
                break
    p.stdin.close()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    return elapsed


def measure_start(runs: int) -> tuple[list[float], list[float]]:
    """(tekton-debug dap, debugpy.adapter) start -> initialize answered, ms, interleaved."""
    ours, theirs = [], []
    time_initialize(ADAPTER)  # warm the page cache and .pyc files of both
    time_initialize(DEBUGPY)
    for _ in range(runs):
        ours.append(ms(time_initialize(ADAPTER)))
        theirs.append(ms(time_initialize(DEBUGPY)))
    return ours, theirs


# ---- (5) memory -------------------------------------------------------------------------------

@dataclass
class Memory:
    idle_kb: int  # adapter's peak RSS while paused before the loud step
    peak_kb: int  # adapter's peak RSS once a million lines went through
    lines: int  # lines the client got


def measure_memory(lines: int = 1_000_000) -> Memory:
    with tempfile.TemporaryDirectory(prefix="bench-mem-") as tmp:
        task = write_task(Path(tmp), "task.yaml", json.dumps({
            "apiVersion": "tekton.dev/v1", "kind": "Task", "metadata": {"name": "bench-mem"},
            "spec": {"steps": [
                {"name": "fail", "image": "bash", "script": "#!/bin/sh\nexit 1\n"},
                {"name": "loud", "image": "bash", "command": ["seq", "1", str(lines)]}]}}))
        got = {"lines": 0}

        def sink(body: memoryview, t: float) -> None:
            if b'"category":"stdout"' in bytes(body[:120]):
                got["lines"] += bytes(body).count(b"\\n")  # a newline in a JSON string

        dap = Dap(ADAPTER, cwd=tmp)
        dap.sink = sink
        try:
            dap.launch({"type": "tekton", "request": "launch", "task": task})
            dap.event("stopped", timeout=60)
            idle = dap.rss_kb()
            dap.send("continue", {"threadId": 1})
            dap.event("terminated", timeout=300)
            peak = dap.rss_kb()
        finally:
            dap.close()
    return Memory(idle, peak, got["lines"])


# ---- (6) over the test cluster -------------------------------------------------------------------

def measure_cluster_pauses(kubeconfig: str, count: int) -> Pauses:
    """(1) and (2) with runtime "kubernetes" against the test cluster at ``kubeconfig``."""
    return measure_pauses(count, config={"runtime": "kubernetes", "kubeconfig": kubeconfig})


# ---- report -------------------------------------------------------------------------------------

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pauses", type=int, default=25)
    ap.add_argument("--mb", type=float, default=50.0)
    ap.add_argument("--starts", type=int, default=10)
    args = ap.parse_args()
    pauses = measure_pauses(args.pauses)
    relay = measure_bare_relay(args.pauses)
    script = measure_bare_script(args.pauses)
    tp = measure_throughput(args.mb)
    ours, theirs = measure_start(args.starts)
    mem = measure_memory()
    med = statistics.median
    print(f"{'figure':46} {'adapter':>9} {'baseline':>9} {'ratio':>7}")
    rows = [
        ("step exit -> stopped, median ms", med(pauses.exit_to_stopped), med(relay)),
        ("step exit -> stopped, p90 ms", p90(pauses.exit_to_stopped), p90(relay)),
        ("continue -> next step output, median ms", med(pauses.continue_to_output), med(script)),
        ("continue -> next step output, p90 ms", p90(pauses.continue_to_output), p90(script)),
        (f"log throughput MB/s ({tp.size / 1e6:.0f} MB) vs cat", tp.adapter_mbs, tp.cat_mbs),
        ("log throughput MB/s vs a bare Python relay", tp.adapter_mbs, tp.relay_mbs),
        ("adapter start -> initialize, median ms", med(ours), med(theirs)),
        ("peak RSS MB, 1M lines (vs paused before)", mem.peak_kb / 1024, mem.idle_kb / 1024),
    ]
    for name, value, base in rows:
        print(f"{name:46} {value:9.2f} {base:9.2f} {value / base:7.2f}")
    print(f"lines lost: {tp.lost_lines} of {tp.lines}; bytes intact: {tp.intact}; "
          f"memory run lines received: {mem.lines}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
