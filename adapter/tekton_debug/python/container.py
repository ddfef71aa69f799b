"""Python steps in containers (the container runtime): debugpy mounted into the step's container,
and a way back from the container to the adapter that needs no network.

- **debugpy in the container.** The adapter's own debugpy package is bind-mounted read-only at
  ``<dir>/path/debugpy`` into the container of every Python step, whether a breakpoint is set or
  not: containers are created one step ahead, and a breakpoint set later (or the "Python
  exceptions" filter turned on) must still find debugpy there. A read-only bind costs nothing at
  run time, and the step's own Python sees it only when it runs under debugpy (``PYTHONPATH`` is
  changed for that run alone).
- **The step's Python, checked before it starts.** The container's wrapper runs ``probe()``
  as it comes up: the path and version of the Python the shebang names, on the step's ``PATH``
  and as its user. A missing or too old Python makes the step run plainly, with the reason on
  its breakpoints.
- **Plain or debugged, chosen when the step starts.** The container is made with two commands:
  the step's own, and a small launcher (``container_spec()``); the signal that starts the step
  picks one. For the launcher, the adapter first writes debugpy's command, from the same
  ``debugpy_cli.command`` as on the host, with the breakpoints known at that moment.
- **The way back.** debugpy connects only over TCP (``HOST:PORT``), and a step's container may
  have no network at all (``--network none``) or one of its own. So the adapter listens on a
  Unix socket in ``<dir>`` (a directory of the run shared with the container), and the launcher,
  in the step's Python before debugpy starts, listens on a loopback port of the container, forks
  a relay that joins each connection to that port with one to the Unix socket, and runs
  debugpy's command with that port. This works with any network mode (none, the engine's default,
  host, a sidecar's), with rootful and rootless podman and with docker on Linux, and costs no
  ``exec`` (the alternatives: a port published to the host needs a network; a relay through
  ``<engine> exec`` costs one, 165-320 ms here). It needs a shared file system for the socket: engines that run containers in a VM
  (Docker Desktop, podman machine) do not pass Unix sockets through their bind mounts.
- **Its environment.** debugpy's directory goes in front of the ``PYTHONPATH`` the step has in
  its container (its image's ``ENV`` and its own ``env``, as the runtime computes it for the
  container), and nothing else changes.
- **Files shown at host paths.** debugpy is given the bind mounts of the workspaces (the run's
  ``/workspace``, workspaces bound to host directories) as path mappings: a module there shows
  at its host path; any other shows at its path in the container, marked, its text from debugpy.
- **A retry** (Restart Frame of a failed step) runs in the same container through ``exec``, with
  the same launcher and files of its own in the shared directory (``place(name=...)``).
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Callable, Mapping, Sequence

from tekton_debug.events import DebugPlan, RuntimeEvent
from tekton_debug.python import debugpy_cli
from tekton_debug.python.host import HostPython, Launch
from tekton_debug.python.script import ScriptMap
from tekton_debug.tekton.model import Step

#: Stands for the relay's port in debugpy's command until the launcher knows it.
PORT_SLOT = "@port@"

#: Run by the step's Python: ``-c LAUNCHER SOCKET COMMAND_FILE``. The command file (JSON, written
#: by the adapter as the step starts) holds debugpy's command ``argv``, the placeholder ``slot``
#: of the port in its first ``k`` words, and variables to set (``env``). The launcher listens on
#: a loopback port of the container, puts it in place of the slot, forks a relay that joins each
#: connection to that port with a new connection to the adapter's Unix socket SOCKET (half-closes
#: passed on, so that last words still arrive; it ends once the step's Python has ended and its
#: connections are closed), sets the variables and runs the command in its own place.
LAUNCHER = """\
import json, os, select, socket, sys
path = sys.argv[1]
with open(sys.argv[2]) as f:
    spec = json.load(f)
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(("127.0.0.1", 0))
server.listen(4)
port = str(server.getsockname()[1])
command, k = spec["argv"], spec["k"]
command[:k] = [word.replace(spec["slot"], port) for word in command[:k]]
parent = os.getpid()
if os.fork() == 0:
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    peer, reading = {}, set()
    while os.getppid() == parent or reading:
        ready = select.select([server, *reading], [], [], 1.0)[0]
        for s in ready:
            if s is server:
                inner = server.accept()[0]
                outer = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    outer.connect(path)
                except OSError:
                    inner.close()
                    continue
                peer.update({inner: outer, outer: inner})
                reading.update((inner, outer))
                continue
            try:
                data = s.recv(65536)
                if data:
                    peer[s].sendall(data)
                    continue
                peer[s].shutdown(socket.SHUT_WR)
            except OSError:
                reading.discard(peer[s])
            reading.discard(s)
            if peer[s] not in reading:
                other = peer.pop(s)
                del peer[other]
                s.close()
                other.close()
    os._exit(0)
server.close()
os.environ.update(spec["env"])
os.execvp(command[0], command)
"""


def probe(program: str) -> str:
    """Shell code that prints where ``program`` is on the step's PATH and its Python version
    ("/usr/bin/python3 3.11"); only the path when it does not tell its version; nothing when it
    is not there."""
    version = shlex.quote(debugpy_cli.VERSION_PROBE)
    return (f'p=$(command -v {shlex.quote(program)}) && '
            f'echo "$p $("$p" -E -S -c {version} 2>/dev/null)"')


class ProbeFailed(Exception):
    """``probe()`` could not be run in a step's running container; the message says why."""


class ContainerPython(HostPython):
    """The Python steps of one run in containers. ``place()`` says where the shared directory is,
    on this host and in the containers; ``probed(i)`` gives what ``probe()`` printed in step
    ``i``'s container (None when the container did not come up; ProbeFailed when it runs but
    the probe could not be run in it)."""

    probed: Callable[[int], str | None]

    def place(self, outside: Path, inside: str, mappings: Sequence[tuple[str, str]] = (), *,
              name: str = "") -> None:
        """``mappings``: (host directory, its path in the containers) of the directories bound
        into them, where a frame's file can be shown at its host path. ``name`` sets the steps'
        files in the shared directory apart from those of earlier starts (a retry's)."""
        self._outside = outside
        self._inside = inside
        self._mappings = tuple(mappings)
        self._name = name
        self._path_dir = f"{inside}/path"
        self._images: dict[int, str] = {}
        self._refused: dict[int, str] = {}
        # the mount point of debugpy, made here: the engine then creates nothing in the run's
        # directory, and the directory lets a step of any user reach the socket
        (outside / "path" / "debugpy").mkdir(parents=True, exist_ok=True)

    def mounts(self) -> list[tuple[str, str]]:
        """(host path, container path), read-only, for every Python step's container."""
        return [(debugpy_cli.package_dir(), f"{self._path_dir}/debugpy")]

    def container_spec(self, step: Step, env: Mapping[str, str],
                       secret_env: frozenset[str]) -> tuple[str, list[str]] | None:
        """(the probe, the command that starts it under debugpy) of step ``step`` when it is
        Python, else None. ``env`` is its environment in the container. The command reads
        debugpy's own command from a file written when the step starts (``_debugged``): by then
        the breakpoints are known."""
        i = step.index
        if i not in self._interpreters:
            return None
        self._images[i] = step.image or "?"
        program, options = self._interpreters[i]
        changed = self._changed_env(env)
        hidden = sorted(set(changed) & set(secret_env))
        if hidden:  # values from secrets are never written out
            self._refused[i] = (f"its {hidden[0]} comes from a secret, and the debugger would "
                                f"have to change it")
        return probe(program), [program, *options, "-c", LAUNCHER,
                                f"{self._inside}/{self._name}{i}.sock",
                                f"{self._inside}/{self._name}{i}.json"]

    def refuse(self, i: int, why: str) -> None:
        """Step ``i`` runs plainly, for reason ``why`` (told when a breakpoint needs debugpy)."""
        self._refused.setdefault(i, why)

    def _changed_env(self, env: Mapping[str, str]) -> dict[str, str]:
        """The variables debugpy's command needs changed in ``env`` (its path first)."""
        return {k: v for k, v in debugpy_cli.environment(env, self._path_dir).items()
                if env.get(k) != v}

    def _unusable(self, i: int, env: Mapping[str, str]) -> str | None:
        program, options = self._interpreters[i]
        why = debugpy_cli.unusable_options(options) or self._refused.get(i)
        if why:
            return why
        try:
            found = self.probed(i)
        except ProbeFailed as exc:
            return f"its Python could not be looked for in its container: {exc}"
        if found is None:
            return "its container did not start"
        path, _, version = found.strip().partition(" ")
        if not path:
            return f"{program} is not on the step's PATH in its image {self._images.get(i)}"
        if not version:
            return f"{path} in its image {self._images.get(i)} did not tell its version"
        return debugpy_cli.too_old(version)

    def _debugged(self, step: Step, smap: ScriptMap, argv: Sequence[str], env: Mapping[str, str],
                  plan: DebugPlan, emit: Callable[[RuntimeEvent], None]) -> Launch:
        """The adapter listens on the step's socket in the shared directory, and writes debugpy's
        command for the launcher (the container then gets the signal to run it)."""
        i = step.index
        program, options = self._interpreters[i]
        debugger = self._debugger(
            step, smap, argv[0], plan, emit,
            unix_socket=os.path.join(self._outside, f"{self._name}{i}.sock"),
            mappings=self._mappings,
            container=f"step {step.debug_name}'s container ({self._images.get(i)})")
        try:
            command = debugpy_cli.command(program, options, PORT_SLOT, argv[0], argv[1:])
            k = len(command) - len(argv)
            assert command[k:] == list(argv), "debugpy's command ends with the step's own"
            spec = {"argv": command, "k": k, "slot": PORT_SLOT, "env": self._changed_env(env)}
            (self._outside / f"{self._name}{i}.json").write_text(json.dumps(spec))
        except BaseException:
            debugger.close()
            raise
        return Launch(list(argv), dict(env), debugger)
