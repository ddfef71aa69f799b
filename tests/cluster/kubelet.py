"""The kubelet: a pod is a directory (its volumes) and each step container is a process.

Paths a container sees as ``/tekton/...`` and ``/workspace/...`` live under the pod's directory;
argv, env values and scripts are rewritten accordingly. Each process runs in its own process group
so that deleting the pod (or stopping the server) kills everything it started.
"""

from __future__ import annotations

import asyncio
import datetime
import fcntl
import os
import pty
import re
import signal
import struct
import termios
import time
from dataclasses import dataclass, field
from typing import Callable

from tests.cluster import steps as step_runtime
from tests.cluster.tekton import PodPlan, StepPlan, termination_message

_PRIVATE = re.compile(r"(?<![\w./-])/tekton/(debug/info|termination)(?=/|$|[\s'\";:)])")
_PATH = re.compile(r"(?<![\w./-])/(tekton|workspace)(?=/|$|[\s'\";:)])")


def rfc3339nano(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def rfc3339(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 1_000_000_000))


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch for an RFC 3339 time (fractions to the nanosecond)."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text.strip())
    if not m:
        raise ValueError(text)
    base = datetime.datetime.fromisoformat(m.group(1) + (
        "+00:00" if m.group(3) == "Z" else m.group(3)))
    frac = int((m.group(2) or "0").ljust(9, "0")[:9])
    return int(base.timestamp()) * 1_000_000_000 + frac


@dataclass
class LogRecord:
    ns: int
    data: bytes


@dataclass
class Container:
    plan: StepPlan
    env: dict[str, str]
    cwd: str
    termination_path: str
    proc: asyncio.subprocess.Process | None = None
    started_ns: int | None = None
    finished_ns: int | None = None
    exit_code: int | None = None
    reason: str | None = None  # termination reason override (TaskRunCancelled, ...)
    message: str | None = None
    log: list[LogRecord] = field(default_factory=list)
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def name(self) -> str:
        return self.plan.container

    @property
    def running(self) -> bool:
        return self.proc is not None and self.exit_code is None

    def append(self, data: bytes) -> None:
        ns = time.time_ns()
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end + 1
            self.log.append(LogRecord(ns, data[start:end]))
            start = end
        self.notify()

    def notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    def state(self) -> dict:
        if self.exit_code is not None:
            term = {"exitCode": self.exit_code,
                    "reason": self.reason or ("Completed" if self.exit_code == 0 else "Error"),
                    "startedAt": rfc3339(self.started_ns or 0),
                    "finishedAt": rfc3339(self.finished_ns or 0),
                    "containerID": f"containerd://{id(self):x}"}
            if self.message:
                term["message"] = self.message
            return {"terminated": term}
        if self.proc is not None:
            return {"running": {"startedAt": rfc3339(self.started_ns or 0)}}
        return {"waiting": {"reason": "PodInitializing"}}


class PodRuntime:
    """The processes and files of one pod. ``on_change`` is called when a container changes."""

    def __init__(self, root: str, plan: PodPlan, on_change: Callable[[], None], *,
                 claims: dict[str, str] | None = None) -> None:
        """``claims``: workspace name -> the host directory of its claim (with the binding's
        subPath), shared by every pod that mounts that claim."""
        self.root = root
        self.plan = plan
        self.claims = dict(claims or {})
        self.on_change = on_change
        self.containers: dict[str, Container] = {}
        self.execs: set[asyncio.subprocess.Process] = set()
        self.pty_pids: set[int] = set()
        self.killed = False
        self._tasks: list[asyncio.Task] = []
        for s in plan.steps:
            env = {k: self.rewrite(v, s.index) for k, v in s.env.items()}
            env["TEKTON_DEBUG_INFO_DIR"] = step_runtime.step_info_dir(root, s.index)
            cwd = self.rewrite(s.working_dir) if s.working_dir else os.path.join(root, "workspace")
            term = step_runtime.termination_path(root, s.index)
            self.containers[s.container] = Container(s, env, cwd, term)

    # ---- paths ---------------------------------------------------------------------------------
    def rewrite(self, text: str, index: int | None = None) -> str:
        """``text`` with the container paths ``/tekton/...`` and ``/workspace/...`` made host paths
        (as seen from step ``index``: its own ``/tekton/debug/info`` and ``/tekton/termination``)."""
        if index is not None:
            text = _PRIVATE.sub(lambda m: (step_runtime.step_info_dir(self.root, index)
                                           if m.group(1) == "debug/info" else
                                           step_runtime.termination_path(self.root, index)), text)
        return _PATH.sub(lambda m: os.path.join(self.root, m.group(1)), text)

    def rewrite_argv(self, argv: list[str], container: Container | None = None) -> list[str]:
        index = container.plan.index if container is not None else None
        return [self.rewrite(a, index) for a in argv]

    def process_env(self, container: Container) -> dict[str, str]:
        return {**os.environ, **container.env}

    # ---- init containers and steps -------------------------------------------------------------
    def initialise(self) -> None:
        """``prepare``, ``place-scripts`` and ``working-dir-initializer``: the pod's files."""
        step_runtime.lay_out(self.root, len(self.plan.steps),
                             [s.container for s in self.plan.steps])
        for name, host in self.claims.items():  # /workspace/<name> is the claim's directory
            os.makedirs(host, exist_ok=True)
            os.makedirs(os.path.join(self.root, "workspace"), exist_ok=True)
            os.symlink(host, os.path.join(self.root, "workspace", name))
        for s in self.plan.steps:
            os.makedirs(os.path.join(self.root, "steps", str(s.index)), exist_ok=True)
            if s.script is not None:
                path = os.path.join(self.root, "tekton", "scripts", s.script_path)
                with open(path, "w") as f:
                    f.write(self.rewrite(s.script))
                os.chmod(path, 0o755)
        for c in self.containers.values():
            os.makedirs(c.cwd, exist_ok=True)
        with open(os.path.join(self.root, "tekton", "downward", "ready"), "w") as f:
            f.write("READY")

    async def start(self) -> None:
        """Start every step container at once, as a pod does."""
        for c in self.containers.values():
            if self.killed:
                return
            argv = step_runtime.entrypoint_argv() + self.rewrite_argv(c.plan.argv, c)
            c.proc = await asyncio.create_subprocess_exec(
                *argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, cwd=c.cwd, env=self.process_env(c),
                start_new_session=True)
            c.started_ns = time.time_ns()
            self._tasks.append(asyncio.ensure_future(self._supervise(c)))
            if self.killed:  # killed while this container was being started: it dies too
                _killpg(c.proc.pid)
        self.on_change()

    async def _pump(self, stream: asyncio.StreamReader, c: Container) -> None:
        while True:
            data = await stream.read(65536)
            if not data:
                return
            c.append(data)

    async def _supervise(self, c: Container) -> None:
        assert c.proc is not None
        await asyncio.gather(self._pump(c.proc.stdout, c), self._pump(c.proc.stderr, c))
        code = await c.proc.wait()
        c.finished_ns = time.time_ns()
        c.exit_code = code if code >= 0 else 128 - code
        c.message = termination_message(c.termination_path)
        c.done.set()
        c.notify()
        if not self.killed:
            self.on_change()

    @property
    def finished(self) -> bool:
        return all(c.exit_code is not None for c in self.containers.values())

    async def kill(self, reason: str | None = None) -> None:
        """Kill every process of the pod (steps and execs) and wait for them."""
        self.killed = True
        for c in self.containers.values():
            if c.proc is not None and c.exit_code is None:
                if reason:
                    c.reason = reason
                _killpg(c.proc.pid)
        for p in list(self.execs):
            _killpg(p.pid)
        for pid in list(self.pty_pids):
            _killpg(pid)
        for c in self.containers.values():
            if c.proc is not None and c.exit_code is None:
                # a container whose start was under way above has its process only now
                _killpg(c.proc.pid)
                await c.done.wait()
            elif c.proc is None and c.exit_code is None:
                c.exit_code, c.finished_ns = 1, time.time_ns()
                c.reason = reason
                c.done.set()
                c.notify()
        for p in list(self.execs):
            await p.wait()

    # ---- exec ----------------------------------------------------------------------------------
    async def exec(self, container: Container, argv: list[str], *, stdin: bool,
                   tty: bool) -> tuple[asyncio.subprocess.Process | None, int | None]:
        """Start ``argv`` in the container's environment: (process, None), or for a tty
        (None, master fd) with the child's pid tracked in ``pty_pids``."""
        argv = self.rewrite_argv(argv, container)
        env = self.process_env(container)
        if tty:
            master, slave = pty.openpty()
            env.setdefault("TERM", "xterm")

            def acquire_terminal() -> None:
                fcntl.ioctl(0, termios.TIOCSCTTY, 0)

            proc = await asyncio.create_subprocess_exec(
                *argv, stdin=slave, stdout=slave, stderr=slave, cwd=container.cwd, env=env,
                start_new_session=True, preexec_fn=acquire_terminal)
            os.close(slave)
            self.execs.add(proc)
            return proc, master
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=asyncio.subprocess.PIPE if stdin else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=container.cwd,
            env=env, start_new_session=True)
        self.execs.add(proc)
        return proc, None


def resize(master: int, width: int, height: int) -> None:
    fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def _killpg(pid: int) -> None:
    """Kill a container: every process of the session its first process leads (the entrypoint
    runs the step in a process group of its own, inside that session), as a container's end
    kills all it holds."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for other in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{other}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            if int(fields[3]) == pid:
                os.kill(int(other), signal.SIGKILL)
        except (OSError, IndexError, ValueError):
            pass
