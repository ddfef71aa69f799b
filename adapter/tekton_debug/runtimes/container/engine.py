"""The container engine: the ``podman`` or ``docker`` command line, driven through subprocess.

The CLI rather than a REST client: podman's needs ``podman system service`` running, is no faster
and reads fewer log drivers (see the design notes). Both CLIs take the same flags for what is used
here; where they differ (``rm -t``) :class:`Engine` says so.

Everything a run creates carries the labels ``io.tekton-debug.run`` (the run) and
``io.tekton-debug.owner`` (the process that owns it, ``<pid>.<start time>``), so that
:func:`Engine.sweep` can remove what a killed run left behind, and a :class:`Watchdog` removes the
run's containers if this process dies (SIGKILL included).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

from tekton_debug.errors import RuntimeUnavailable, UserError
from tekton_debug.runtimes.watchdog_pipe import WatchdogPipe

ENGINES = ("podman", "docker")
RUN_LABEL = "io.tekton-debug.run"
OWNER_LABEL = "io.tekton-debug.owner"
TASKRUN_LABEL = "io.tekton-debug.taskrun"
PROBE_TIMEOUT = 20.0  # seconds for "does the engine answer"


def process_identity(pid: int) -> str | None:
    """``<pid>.<start time>``: names a process even after its pid is reused (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return f"{pid}.{int(fields[19])}"
    except (OSError, IndexError, ValueError):
        return None


def owner_alive(owner: str) -> bool:
    pid, _, _ = owner.partition(".")
    if not pid.isdigit():
        return False
    return process_identity(int(pid)) == owner


@dataclass
class ImageInfo:
    ref: str
    id: str
    digest: str
    env: list[str] = field(default_factory=list)  # the image's ENV, "NAME=value"
    working_dir: str = ""
    user: str = ""


class Engine:
    """One engine's command line (``name`` is "podman" or "docker")."""

    def __init__(self, name: str, path: str) -> None:
        self.name = name
        self.path = path

    def __repr__(self) -> str:
        return f"Engine({self.name!r}, {self.path!r})"

    def argv(self, *args: str) -> list[str]:
        return [self.path, *args]

    def run(self, *args: str, timeout: float | None = 60.0, stdin: bytes | None = None,
            env: dict | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(self.argv(*args), input=stdin, capture_output=True,
                              timeout=timeout, env=env,
                              stdin=None if stdin is not None else subprocess.DEVNULL)

    def remove_argv(self, names: Sequence[str]) -> list[str]:
        """Remove containers at once (SIGKILL, no grace), whether they run or not."""
        if self.name == "podman":
            return self.argv("rm", "-f", "-t", "0", "--ignore", *names)
        return self.argv("rm", "-f", *names)

    def remove(self, names: Sequence[str]) -> None:
        if not names:
            return
        # twice when the first fails: a container whose network others join (a sidecar) goes
        # only once they are gone
        for _ in range(2):
            try:
                res = subprocess.run(self.remove_argv(names), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                return
            if res.returncode == 0:
                return

    # ---- probing -----------------------------------------------------------------------------
    def probe(self) -> str | None:
        """None when the engine answers and works; else what went wrong, in its words."""
        try:
            res = self.run("ps", "-q", "--filter", f"label={RUN_LABEL}=probe",
                           timeout=PROBE_TIMEOUT)
        except subprocess.TimeoutExpired:
            return f"`{self.name} ps` did not answer within {PROBE_TIMEOUT:g} s"
        except OSError as e:
            return f"{self.name}: {e.strerror or e}"
        if res.returncode != 0:
            text = res.stderr.decode(errors="replace").strip().splitlines()
            return text[-1] if text else f"`{self.name} ps` exited with code {res.returncode}"
        return None

    # ---- images ------------------------------------------------------------------------------
    def image(self, ref: str) -> ImageInfo | None:
        """The local image ``ref``, or None when it is not here."""
        res = self.run("image", "inspect", ref, timeout=60)
        if res.returncode != 0:
            return None
        try:
            data = json.loads(res.stdout.decode())[0]
        except (ValueError, IndexError, KeyError):
            return None
        config = data.get("Config") or {}
        digest = data.get("Digest") or ""
        if not digest:
            digests = data.get("RepoDigests") or []
            digest = digests[0].partition("@")[2] if digests else ""
        return ImageInfo(ref=ref, id=str(data.get("Id") or ""), digest=digest,
                         env=list(config.get("Env") or []),
                         working_dir=config.get("WorkingDir") or "", user=config.get("User") or "")

    def pull(self, ref: str, on_line: Callable[[str], None]) -> str | None:
        """Pull ``ref``, handing on each line of progress; None on success, else the error."""
        try:
            proc = subprocess.Popen(self.argv("pull", ref), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        except OSError as e:
            return str(e)
        lines: list[str] = []
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line:
                lines.append(line)
                on_line(line)
        if proc.wait() != 0:
            errors = [ln for ln in lines if "rror" in ln] or lines
            return errors[-1] if errors else f"{self.name} pull exited with code {proc.returncode}"
        return None

    # ---- leftovers ---------------------------------------------------------------------------
    def containers_of(self, run_id: str) -> list[str]:
        """The names of the containers of run ``run_id``, in any state."""
        try:
            res = self.run("ps", "-a", "--filter", f"label={RUN_LABEL}={run_id}", "--format",
                           "{{.Names}}", timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return []
        return res.stdout.decode(errors="replace").split() if res.returncode == 0 else []

    def sweep(self) -> list[str]:
        """Remove the containers whose owning process is gone; their names."""
        try:
            label = (f'{{{{index .Labels "{OWNER_LABEL}"}}}}' if self.name == "podman" else
                     f'{{{{.Label "{OWNER_LABEL}"}}}}')
            res = self.run("ps", "-a", "--filter", f"label={OWNER_LABEL}", "--format",
                           "{{.Names}}\t" + label, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return []
        if res.returncode != 0:
            return []
        dead = []
        for line in res.stdout.decode(errors="replace").splitlines():
            name, _, owner = line.partition("\t")
            if name and not owner_alive(owner.strip()):
                dead.append(name.strip())
        self.remove(dead)
        return dead


_found: dict[tuple, Engine] = {}  # (preferred, PATH, DOCKER_HOST) -> the engine that answered
_swept: set[tuple] = set()
_failed_pulls: dict[tuple, tuple[float, str]] = {}  # (engine, ref) -> (when, why)
FAILED_PULL_MEMORY = 60.0  # seconds a failed pull is not tried again (a pipeline's TaskRuns)


def find_engine(preferred: str | None = None) -> Engine:
    """The engine to use: ``preferred``, or the first of podman, docker that answers and works
    (remembered for this process). Raises RuntimeUnavailable saying how to get one."""
    key = (preferred, os.environ.get("PATH"), os.environ.get("DOCKER_HOST"),
           os.environ.get("CONTAINERS_CONF"))
    if key in _found:
        return _found[key]
    engine = _find_engine(preferred)
    _found[key] = engine
    return engine


def sweep_once(engine: Engine) -> list[str]:
    """:meth:`Engine.sweep`, once per process and engine (what a killed run left is found at the
    first start; later runs of this process would find only their own, alive, containers)."""
    key = (engine.name, engine.path, os.environ.get("DOCKER_HOST"))
    if key in _swept:
        return []
    _swept.add(key)
    return engine.sweep()


def pull_once(engine: Engine, ref: str, on_line: Callable[[str], None]) -> str | None:
    """:meth:`Engine.pull`, except that a pull that failed in the last minute fails again at once
    (a pipeline's TaskRuns, a restart: no registry has appeared meanwhile)."""
    key = (engine.name, ref)
    failed = _failed_pulls.get(key)
    if failed and time.monotonic() - failed[0] < FAILED_PULL_MEMORY:
        return failed[1]
    error = engine.pull(ref, on_line)
    if error is not None:
        _failed_pulls[key] = (time.monotonic(), error)
    return error


def _find_engine(preferred: str | None) -> Engine:
    names = [preferred] if preferred else list(ENGINES)
    problems = []
    for name in names:
        if name not in ENGINES:
            raise UserError(f"unknown container engine {name!r}",
                            fix='use "podman" or "docker" (or leave it out: the first that works)')
        path = shutil.which(name)
        if path is None:
            problems.append(f"{name} is not installed")
            continue
        engine = Engine(name, path)
        problem = engine.probe()
        if problem is None:
            return engine
        problems.append(f"{name} does not work: {problem}")
    fix = ("install podman (Debian/Ubuntu: apt-get install podman runc; it needs no daemon), or "
           "start Docker (systemctl start docker, or Docker Desktop); or run the steps on this "
           "host with --runtime local")
    if preferred == "docker":
        fix = "start the Docker daemon (systemctl start docker, or Docker Desktop), or set DOCKER_HOST"
    raise RuntimeUnavailable("no container engine to run the steps in: " + "; ".join(problems),
                             fix=fix)


_WATCHDOG = """
import os, shutil, subprocess, sys
names, dirs, remove = [], [], sys.argv[1:]
for line in sys.stdin.buffer:
    line = line.strip().decode()
    if line == "q":
        sys.exit(0)
    kind, _, value = line.partition(" ")
    target = names if kind[1:] == "name" else dirs
    if kind[:1] == "+":
        target.append(value)
    elif value in target:
        target.remove(value)
for _ in range(2 if names else 0):  # a sidecar goes once the steps in its network are gone
    if subprocess.run(remove + names[::-1], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                      stderr=subprocess.DEVNULL).returncode == 0:
        break
for d in dirs:
    shutil.rmtree(d, ignore_errors=True)
"""


class Watchdog:
    """Removes the run's containers and directories if this process dies (SIGKILL included): a
    small process holding a pipe from this one, acting when the pipe closes. :meth:`close`
    dismisses it."""

    def __init__(self, engine: Engine) -> None:
        self._pipe = WatchdogPipe([sys.executable, "-S", "-E", "-c", _WATCHDOG,
                                   *engine.remove_argv([])])

    def add_container(self, name: str) -> None:
        self._pipe.send(f"+name {name}")

    def add_dir(self, path: str) -> None:
        self._pipe.send(f"+dir {path}")

    def close(self) -> None:
        self._pipe.dismiss()


def client_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The engine client's environment: this process's, plus values passed by name (``-e NAME``
    takes its value from here, so secret values never appear on a command line)."""
    env = dict(os.environ)
    env.update(extra or {})
    return env
