"""One step's container: started ahead of its turn, the step's command run on a signal, kept alive
after the command ends (a failed step's pause happens in it) until the step ends.

The container's main process is a small shell script (``/tekton/bin/step``, run by the static
shell mounted at ``/tekton/bin/sh``):

1. it runs the probe it was given, if any (shell code; its output goes in a marker on stdout),
   then says it is up, and whether the image has ``/bin/sh`` of its own (another marker);
2. it waits for one line on stdin: ``go`` runs the step's command, ``debug`` its other command
   (the same step under a debugger, when it was given one), anything else (or the end of stdin)
   ends the container without running it;
3. it runs the command (found on PATH as ``execvp`` does, then exec'd by absolute path, so that
   the image's own programs run, never the static shell's built-ins), with stdin from /dev/null;
4. it writes an end marker to stderr, then the exit code in a marker on stdout: every byte the
   command wrote precedes them, so the step's logs are complete before its end is reported;
5. it waits for stdin to close: the container stays alive, for the shell and the debug scripts,
   until the step ends.

Markers carry a random token of the run, so no step output can fake one; they are cut out of the
logs.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import threading
import time
from typing import Callable, Sequence

from tekton_debug import pipes
from tekton_debug.entrypoint.lifecycle import CommandError, StepCancelled, StepTimedOut
from tekton_debug.runtimes.container.engine import Engine

TOKEN = "\0token"  # in ``run_args``: where the wrapper's marker token goes

END_GRACE = 1.0  # seconds an ended step's container stays, for an exec finishing in it
READY_TIMEOUT = 600.0  # seconds a container may take to start (a slow engine, a big image)

WRAPPER = r"""# tekton-debug: runs a step's command in its container, then keeps the container alive
# arguments: TOKEN PROBE N COMMAND(N words) [DEBUG COMMAND]
t="$1"; p="$2"; n="$3"; shift 3
if [ -n "$p" ]; then printf '\036%s:probe:%s\036' "$t" "$(eval "$p" 2>/dev/null)"; fi
if [ -x /bin/sh ]; then s=1; else s=0; fi
printf '\036%s:ready:%s\036' "$t" "$s"
read -r go || exit 0
if [ "$go" = debug ] && [ "$#" -gt "$n" ]; then
	shift "$n"
elif [ "$go" = go ] || [ "$go" = debug ]; then
	c=$#; i=0
	for a do
		if [ "$i" -lt "$n" ]; then set -- "$@" "$a"; fi
		i=$((i+1))
	done
	shift "$c"
else
	exit 0
fi
c="$1"
case "$c" in
*/*) ;;
*)
	found=""
	IFS=:
	for d in $PATH; do
		if [ -f "${d:-.}/$c" ] && [ -x "${d:-.}/$c" ]; then found="${d:-.}/$c"; break; fi
	done
	unset IFS
	if [ -z "$found" ]; then
		echo "exec: \"$c\": executable file not found in \$PATH" >&2
		printf '\036%s:end\036' "$t" >&2
		printf '\036%s:exit:127\036' "$t"
		while read -r _; do :; done
		exit 0
	fi
	shift
	set -- "$found" "$@"
	;;
esac
"$@" </dev/null
c=$?
printf '\036%s:end\036' "$t" >&2
printf '\036%s:exit:%s\036' "$t" "$c"
while read -r _; do :; done
"""


def wrapper_args(token: str, argv: Sequence[str], probe: str = "",
                 debug: Sequence[str] = ()) -> list[str]:
    """The wrapper's arguments: the step's command ``argv``, and, for a step that can run under
    a debugger, the shell code that checks for it (``probe``) and that other command."""
    return [token, probe, str(len(argv)), *argv, *debug]

class MarkerScanner:
    """Cuts ``\\x1e<token>:<what>\\x1e`` markers out of a byte stream fed in chunks."""

    def __init__(self, token: str) -> None:
        self.prefix = b"\x1e" + token.encode() + b":"
        self._held = b""

    def feed(self, data: bytes) -> tuple[bytes, list[str]]:
        data = self._held + data
        self._held = b""
        out: list[bytes] = []
        markers: list[str] = []
        while True:
            at = data.find(self.prefix)
            if at < 0:
                break
            end = data.find(b"\x1e", at + len(self.prefix))
            if end < 0:
                out.append(data[:at])
                self._held = data[at:]
                return b"".join(out), markers
            out.append(data[:at])
            markers.append(data[at + len(self.prefix):end].decode(errors="replace"))
            data = data[end + 1:]
        # hold back a tail that could begin a marker
        keep = 0
        for n in range(min(len(self.prefix) - 1, len(data)), 0, -1):
            if self.prefix.startswith(data[-n:]):
                keep = n
                break
        if keep:
            self._held = data[-keep:]
            data = data[:-keep]
        out.append(data)
        return b"".join(out), markers

    def flush(self) -> bytes:
        held, self._held = self._held, b""
        return held


class StepContainer:
    """Implements ``lifecycle.Runner`` for one step: its container, driven through the engine's
    ``run -i`` client (whose stdin is the go signal and whose pipes carry the step's output)."""

    def __init__(self, engine: Engine, name: str, run_args: Sequence[str], *,
                 on_output: Callable[[str, bytes], None],
                 on_gone: Callable[[str], None] | None = None) -> None:
        self.engine = engine
        self.name = name
        self.run_args = list(run_args)  # everything after "run": flags, image, command
        self.on_output = on_output
        self.on_gone = on_gone
        self.on_go: Callable[[], None] | None = None  # called once the command has been started
        self.token = secrets.token_hex(8)
        self.has_shell: bool | None = None
        self.probe_output: str | None = None  # what the probe printed, once ready
        self.debugged = False  # ``run`` starts the command under the debugger
        self.proc: subprocess.Popen | None = None
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._ready = False
        self._exit: int | None = None
        self._stderr_done = False
        self._eof = {"stdout": False, "stderr": False}
        self._cancelled = False
        self._ended = False
        self._started_go = False
        self._errors = bytearray()  # the engine's own words, when the container does not start
        self._readers: list[threading.Thread] = []

    # ---- launching ---------------------------------------------------------------------------
    def launch(self, env: dict[str, str] | None = None) -> None:
        """Start the container (returns at once; it becomes ready in the background). ``env`` is
        the engine client's environment (values passed with ``-e NAME``)."""
        argv = [self.token if a == TOKEN else a for a in
                self.engine.argv("run", "-i", "--rm", "--name", self.name, *self.run_args)]
        with self._lock:
            if self._cancelled:
                return
            self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, bufsize=0, env=env,
                                         start_new_session=True)
        for stream, pipe in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            pipes.widen(pipe.fileno())  # the step writes on while its last chunk is relayed
            t = threading.Thread(target=self._read, args=(stream, pipe),
                                 name=f"{self.name}-{stream}", daemon=True)
            t.start()
            self._readers.append(t)

    def _read(self, stream: str, pipe) -> None:
        scanner = MarkerScanner(self.token)
        while True:
            try:
                data = os.read(pipe.fileno(), pipes.CHUNK)
            except OSError:
                data = b""
            if not data:
                break
            text, markers = scanner.feed(data)
            if text:
                self._output(stream, text)
            for m in markers:
                self._marker(m)
        rest = scanner.flush()
        if rest:
            self._output(stream, rest)
        with self._cond:
            self._eof[stream] = True
            self._cond.notify_all()

    def _output(self, stream: str, data: bytes) -> None:
        with self._lock:
            before = not self._ready
        if before and stream == "stderr":
            # the engine's own messages before the container runs (an image it cannot use, a
            # mount it refuses): kept for the error
            with self._lock:
                self._errors += data[-4096:]
            return
        self.on_output(stream, data)

    def _marker(self, marker: str) -> None:
        with self._cond:
            if marker.startswith("probe:"):
                self.probe_output = marker[len("probe:"):]
            elif marker.startswith("ready:"):
                self._ready = True
                self.has_shell = marker.endswith(":1")
            elif marker == "end":
                self._stderr_done = True
            elif marker.startswith("exit:"):
                try:
                    self._exit = int(marker[5:])
                except ValueError:
                    self._exit = 1
            self._cond.notify_all()

    # ---- state -------------------------------------------------------------------------------
    @property
    def gone(self) -> bool:
        """The engine's client has ended (the container is gone or never came)."""
        return self.proc is not None and self.proc.poll() is not None and all(self._eof.values())

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> bool:
        """Wait until the container runs; False when it never will (it failed, was cancelled)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._ready:
                if self._cancelled or self.proc is None or all(self._eof.values()):
                    return False
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
            return True

    def failure(self) -> str:
        """Why the container did not start, in the engine's words."""
        text = self._errors.decode(errors="replace").strip()
        code = self.proc.poll() if self.proc else None
        if not text:
            text = f"{self.engine.name} run exited with code {code}" if code is not None else \
                "the container did not start"
        return text.splitlines()[-1] if text else text

    # ---- lifecycle.Runner --------------------------------------------------------------------
    def run(self, timeout: float | None) -> int:
        if not self.wait_ready():
            if self._cancelled:
                raise StepCancelled()
            raise CommandError(f"the step's container did not start: {self.failure()}")
        with self._lock:
            if self._cancelled:
                raise StepCancelled()
            self._started_go = True
            proc = self.proc
        assert proc is not None and proc.stdin is not None
        try:
            proc.stdin.write(b"debug\n" if self.debugged else b"go\n")
            proc.stdin.flush()
        except OSError:
            pass
        if self.on_go is not None:
            self.on_go()
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while True:
                done = self._exit is not None and (self._stderr_done or self._eof["stderr"])
                if done or all(self._eof.values()):
                    break
                if self._cancelled:
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    break
                self._cond.wait(None if left is None else min(left, 1.0))
            code, cancelled = self._exit, self._cancelled
        if cancelled:
            raise StepCancelled()
        if code is None:
            if deadline is not None and time.monotonic() >= deadline and not all(self._eof.values()):
                self.kill()
                raise StepTimedOut()
            # the container ended under the command (killed, out of memory)
            proc.wait()
            for t in self._readers:
                t.join(5)
            rc = proc.returncode
            return rc if rc and rc > 0 else 137
        return code

    # ---- ending ------------------------------------------------------------------------------
    def kill(self) -> None:
        """Remove the container at once (SIGKILL)."""
        self.engine.remove([self.name])

    def cancel(self) -> None:
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()
            proc = self.proc
        if proc is not None and proc.poll() is None:
            self.kill()

    def end(self, wait: bool = False) -> None:
        """The step is over: its container ends (stdin closed; removed by ``--rm``). With ``wait``,
        or when it does not go by itself, it is removed by force."""
        with self._cond:
            if self._ended:
                return
            self._ended = True
            self._cancelled = True
            self._cond.notify_all()
            proc = self.proc
        if proc is None:
            return

        def reap() -> None:
            if not wait:
                # a debug script that released the step may still be finishing in it
                time.sleep(END_GRACE)
            try:
                if proc.stdin is not None:
                    proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
            for t in self._readers:
                t.join(5)
            if self.on_gone:
                self.on_gone(self.name)

        if wait:
            reap()
        else:
            threading.Thread(target=reap, name=f"{self.name}-end", daemon=True).start()


class ControlShell:
    """A shell kept open in a paused step's container (``exec -i``), started as the step pauses,
    so that releasing the step runs its debug script at once instead of paying for a new
    ``exec`` on the way from "continue" to the next step."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.token = secrets.token_hex(8)
        self._lines: list[str] = []
        self._cond = threading.Condition()
        self._done = False
        self.proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, start_new_session=True)
        threading.Thread(target=self._read, name="control-shell", daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            with self._cond:
                self._lines.append(raw.decode(errors="replace").strip())
                self._cond.notify_all()
        with self._cond:
            self._done = True
            self._cond.notify_all()

    def run(self, path: str, timeout: float = 30.0) -> int | None:
        """Run the script at ``path`` in the shell; its exit code, None if the shell is gone."""
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(f"{path} >/dev/null 2>&1; echo {self.token}:$?\n".encode())
            self.proc.stdin.flush()
        except OSError:
            return None
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines:
                    if line.startswith(self.token + ":"):
                        try:
                            return int(line.split(":", 1)[1])
                        except ValueError:
                            return None
                left = deadline - time.monotonic()
                if self._done or left <= 0:
                    return None
                self._cond.wait(left)

    def close(self) -> None:
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass

        def reap() -> None:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

        threading.Thread(target=reap, name="control-shell-end", daemon=True).start()
