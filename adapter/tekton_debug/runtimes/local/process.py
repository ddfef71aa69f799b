"""Step processes on this host: spawned in their own process group, their stdout and stderr read in
256 KB chunks, their whole group killed when the step's "container" ends.

No orphans: every group is also registered with a :class:`GroupReaper`, a small watchdog process
that holds the read end of a pipe from this one and kills every registered group when the pipe
closes, i.e. when this process dies for any reason (SIGKILL included). It covers what
``PR_SET_PDEATHSIG`` cannot: that signal reaches only the direct child (not a step's own children
or background daemons), fires when the *thread* that forked exits, and needs ``preexec_fn``, which
is unsafe in a process with threads.

A process group is not all a step starts: ``setsid`` (``eval $(ssh-agent)``, a daemon) leaves
it. On a cluster such processes die with the container; here every process of a step carries
``TEKTON_DEBUG_STEP=<run>/<step>`` in its environment (children inherit it, setsid or not), and
when the step's "container" ends, the processes that carry its mark are found in /proc and killed
(off the step's path: the next step does not wait for the search). One thread of this process
does those searches for every run (:data:`SWEEPER`): the steps of many runs that end together
cost one look through /proc. The run's end searches for its mark once more only when something
carrying it may have escaped those sweeps (a command run in a step, a shell, a retry). The
watchdog does the same for the whole run when this process dies.
"""

from __future__ import annotations

import errno
import os
import select
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Mapping, Sequence

from tekton_debug import pipes
from tekton_debug.entrypoint.lifecycle import CommandError, StepCancelled, StepTimedOut
from tekton_debug.entrypoint.stepresults import apply_step_results
from tekton_debug.events import MAX_EXEC_OUTPUT
from tekton_debug.runtimes.local import watchdog
from tekton_debug.runtimes.urgency import URGENCY
from tekton_debug.runtimes.watchdog_pipe import SharedWatchdog, WatchdogPipe
from tekton_debug.runtimes.local.watchdog import find_marked_each

TEXT_BUSY_RETRIES = 20
CANCEL_GRACE = 1.0  # seconds between SIGTERM and SIGKILL when a run is cancelled
SWEEPER_IDLE = 1.0  # seconds the thread that ends steps' marked processes waits for more
SWEEP_WAIT = 5.0  # seconds a run's close waits for its steps' sweeps before searching itself
MARK_ENV = "TEKTON_DEBUG_STEP"  # "<run id>/<step index>" in the environment of a step's processes


def mark_of(run_id: str, index: int | None = None) -> bytes:
    """What the environment of step ``index``'s processes holds (of every step: ``index`` None)."""
    prefix = f"{MARK_ENV}={run_id}/"
    return (prefix if index is None else f"{prefix}{index}\0").encode()


class PidWindow:
    """The PIDs handed out since it was opened. Every process that carries a step's mark got its
    PID after the step began, so the search for them need read the environment of these only,
    not of every process on the machine (a few instead of hundreds, for a short step).

    Linux hands out PIDs in turn, up to ``pid_max`` and round again; /proc/loadavg names the last
    one. Since the window opened, the PIDs handed out are those after the first last one, up to
    the current last one, round the end if they wrapped; unless they went round completely,
    which needs ``pid_max`` new processes and threads: no machine makes more than
    ``MAX_PID_RATE`` a second, so a window open longer than ``pid_max / MAX_PID_RATE`` seconds
    (4 s with Linux's usual 4194304) tells nothing, and every process is searched."""

    MAX_PID_RATE = 1_000_000

    def __init__(self) -> None:
        self.first = _last_pid()
        self.opened = time.monotonic()

    def test(self):
        """A test of a PID (True: it may be in the window), or None: any PID may be."""
        return PidWindow.test_of([self])

    @staticmethod
    def test_of(windows: Sequence["PidWindow"], last: int | None = None):
        """A test of a PID (True: it may be in one of ``windows``), or None: any PID may be (or
        no window is given). ``last``: the last PID handed out, if read already (/proc/loadavg
        is read once for many tests)."""
        last = _last_pid() if last is None else last
        if not windows or last is None or _PID_MAX is None:
            return None
        now = time.monotonic()
        straight = wrapped = None  # the lowest first PID of windows that did not / did wrap
        for w in windows:
            if w.first is None or (now - w.opened) * PidWindow.MAX_PID_RATE >= _PID_MAX:
                return None
            if last >= w.first:
                straight = w.first if straight is None else min(straight, w.first)
            else:
                wrapped = w.first if wrapped is None else min(wrapped, w.first)
        if wrapped is None:
            return lambda pid: straight < pid <= last
        # round the end: every PID after the lowest first, and those up to the last
        return lambda pid: pid > wrapped or pid <= last


def _read_int(path: str, field: int = 0) -> int | None:
    try:
        with open(path, "rb") as f:
            return int(f.read().split()[field])
    except (OSError, ValueError, IndexError):
        return None


def _same_pid_space() -> bool:
    """Whether /proc names processes as this process's PID namespace does (loadavg's last PID
    is of the reader's namespace)."""
    try:
        return os.readlink("/proc/self") == str(os.getpid())
    except OSError:
        return False


_PID_MAX = _read_int("/proc/sys/kernel/pid_max") if _same_pid_space() else None


def _last_pid() -> int | None:
    return _read_int("/proc/loadavg", 4) if _PID_MAX is not None else None


def kill_marked(*marks: bytes, rounds: int = 5, windows: Sequence[PidWindow] = ()) -> bool:
    """Kill every process whose environment holds one of ``marks`` (a whole ``NAME=value``
    entry); a few rounds, for processes that forked meanwhile. True when none is left.
    ``windows``: every process that carries a mark got its PID in one of these (none: search
    every process)."""
    return kill_marked_each([(marks, windows)], rounds=rounds)[0]


def kill_marked_each(searches: Sequence[tuple[Sequence[bytes], Sequence[PidWindow]]], *,
                     rounds: int = 5) -> list[bool]:
    """:func:`kill_marked` for each ``(marks, windows)`` of ``searches``, in one look through
    /proc a round: whether none of each one's processes is left. Each search reads the
    environment of the PIDs in its own windows only, and what one leaves is its own."""
    clean = [False] * len(searches)
    left = list(range(len(searches)))
    for round_ in range(rounds + 1):
        last = _last_pid()
        found = find_marked_each([(searches[i][0], PidWindow.test_of(searches[i][1], last))
                                  for i in left])
        still, killed = [], []
        for i, pids in zip(left, found):
            if not pids:
                clean[i] = True
                continue
            still.append(i)
            for pid in pids if round_ < rounds else ():
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                except OSError:
                    pass
        left = still
        if not left:
            break
        _wait_dead(killed)  # else the next round finds them still there, about to die
    return clean


def _wait_dead(pids: Sequence[int], timeout: float = 0.1) -> None:
    """Wait (briefly) until each of ``pids`` has exited (a zombie, or gone)."""
    deadline = time.monotonic() + timeout
    pending = list(pids)
    while pending:
        pending = [pid for pid in pending if _running(pid)]
        if not pending or time.monotonic() > deadline:
            return
        time.sleep(0.0005)


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            state = f.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in (b"Z", b"X")


_WATCHDOG = SharedWatchdog([sys.executable, "-S", "-E", watchdog.__file__], reset="r")


class _Sweep:
    """Marks to kill, and when that is done."""

    def __init__(self, marks: Sequence[bytes], windows: Sequence[PidWindow]) -> None:
        self.marks = list(marks)
        self.windows = list(windows)
        self.done = threading.Event()
        self.clean = False  # none was left

    def wait(self, timeout: float) -> bool:
        """True when done and none was left."""
        return self.done.wait(timeout) and self.clean


class Sweeper:
    """The thread that ends marked processes for every run of this process: what is asked while
    it searches is searched for together in its next round, one look through /proc for all. It
    waits ``SWEEPER_IDLE`` for more before it ends: no thread to start, and wait for, at the end
    of each of many short steps."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._asked: list[_Sweep] = []
        self._thread: threading.Thread | None = None
        self._pid = 0  # the process the thread runs in (a forked child starts its own)

    def ask(self, marks: Sequence[bytes], windows: Sequence[PidWindow]) -> _Sweep:
        """Kill, soon, the processes that carry one of ``marks``, which all got their PIDs in
        one of ``windows``."""
        sweep = _Sweep(marks, windows)
        with self._lock:
            self._asked.append(sweep)
            self._wake.notify()
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="local-sweeper",
                                                daemon=True)
                self._thread.start()
        return sweep

    def _run(self) -> None:
        while True:
            with self._lock:
                if not self._wake.wait_for(lambda: self._asked, SWEEPER_IDLE):
                    self._thread = None
                    return
                batch, self._asked = self._asked, []
            try:
                cleans = kill_marked_each([(sweep.marks, sweep.windows) for sweep in batch])
            except Exception:  # never leave a waiter waiting  # pragma: no cover
                cleans = [False] * len(batch)
            for sweep, clean in zip(batch, cleans):
                sweep.clean = clean  # what another run's sweep left is not this one's
                sweep.done.set()


SWEEPER = Sweeper()


class GroupReaper:
    """Kills registered process groups, and the processes that carry the run's mark, and removes
    the run's directories, if this process dies (through the watchdog the runs of this process
    share). :meth:`sweep` ends a step's marked processes through the :data:`SWEEPER`;
    :meth:`close` waits for those sweeps, searches for the run's mark itself only when one of
    them left something or a process may carry the mark that no sweep looked for, and leaves
    the watchdog."""

    def __init__(self, run_mark: bytes | None = None) -> None:
        self._lock = threading.Lock()
        self._run_mark = run_mark
        self._sweeps: list[_Sweep] = []  # asked, maybe not done
        self._window = PidWindow()  # the run's processes all come after it
        self._unswept = False  # a process with the run's mark may be one no sweep looks for
        self._pipe: WatchdogPipe | None = None
        self._left = False
        self._directories: list[str] = []  # what the watchdog removes, as sent to it

    def _send(self, line: str) -> None:
        if self._pipe is None:
            self.arm()
        if self._pipe is not None:
            self._pipe.send(line)

    def arm(self) -> None:
        """Start watching now, before the first process: a death right after it is covered."""
        with self._lock:
            if self._pipe is not None or self._left:
                return
            self._pipe = _WATCHDOG.join(f"m{self._run_mark.decode()}" if self._run_mark else "")

    def add(self, pgid: int, *, swept: bool = False) -> None:
        """Watch group ``pgid``; ``swept``: its end is followed by a :meth:`sweep` of its mark
        (else the run's end searches for the run's mark)."""
        if not swept:
            self.unswept()
        self._send(f"+{pgid}")

    def remove(self, pgid: int) -> None:
        self._send(f"-{pgid}")

    def directories(self, *paths) -> None:
        """Remove ``paths`` (the run's directories; None: none) if this process dies before
        :meth:`close`."""
        hexed = [os.fsencode(str(p)).hex() for p in paths if p]
        if hexed:
            with self._lock:
                self._directories += hexed
            self._send("\n".join(f"d{h}" for h in hexed))

    def unswept(self) -> None:
        """A process with the run's mark may start that no :meth:`sweep` looks for (a shell
        opened in a step by someone else): the run's end searches for the run's mark."""
        self._unswept = True

    def sweep(self, mark: bytes, window: PidWindow) -> None:
        """Kill, soon, the processes that carry ``mark`` (a step's, once its container ended),
        all of which got their PIDs in ``window``."""
        sweep = SWEEPER.ask([mark], [window])
        with self._lock:
            done = [s for s in self._sweeps if s.done.is_set()]
            if not all(s.clean for s in done):
                self._unswept = True  # it left some: the run's end searches again
            self._sweeps = [s for s in self._sweeps if not s.done.is_set()] + [sweep]

    def close(self) -> None:
        with self._lock:
            sweeps, self._sweeps = self._sweeps, []
        # every sweep that found none left leaves nothing of the run: no process carries its
        # mark but those the sweeps looked for, and the children of these
        deadline = time.monotonic() + SWEEP_WAIT
        clean = all([s.wait(max(0.0, deadline - time.monotonic())) for s in sweeps])
        if self._run_mark and (self._unswept or not clean):
            # the end of the run: nothing of it stays
            SWEEPER.ask([self._run_mark], [self._window]).wait(30)
        with self._lock:
            pipe, self._pipe, self._left = self._pipe, None, True
            forget = [f"f{h}" for h in self._directories]  # the run's close removes them
        if pipe is not None:
            _WATCHDOG.leave(pipe, "\n".join(
                ([f"u{self._run_mark.decode()}"] if self._run_mark else []) + forget))


def kill_group(pgid: int, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class StepProcess:
    """Implements ``lifecycle.Runner`` for one step: its own process, nothing else.

    stdout and stderr are separate pipes read in 256 KB chunks as they come. The thread that runs
    the step reads them itself, in one select loop that also watches the process's exit through a
    pidfd (Linux) or, elsewhere, a waiter thread's pipe: no reader threads to start and hand the
    GIL to for every step. When the process exits, whatever it wrote is already in the pipes and
    is read and handed on before ``run`` returns, so its logs always precede what follows."""

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], cwd: str,
                 on_output: Callable[[str, bytes], None], reaper: GroupReaper,
                 mark: bytes | None = None, steps_dir: str | None = None) -> None:
        self.argv = list(argv)
        self.mark = mark  # in the environment of its processes: what end() sweeps
        self.steps_dir = steps_dir  # where earlier steps' results are read from
        self.env = dict(env)
        self.cwd = cwd
        self.on_output = on_output
        self.reaper = reaper
        self.proc: subprocess.Popen | None = None
        self._streams: dict[int, str] = {}
        self._cancelled = threading.Event()
        self._window: PidWindow | None = None
        self._ended = False
        self._lock = threading.Lock()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def run(self, timeout: float | None) -> int:
        with self._lock:
            if self._cancelled.is_set():
                raise StepCancelled()
            if self.steps_dir:
                self.argv, self.env = apply_step_results(self.argv, self.env, self.steps_dir)
            if self._window is None:  # its processes (those of a run again too) come after
                self._window = PidWindow()
            for attempt in range(TEXT_BUSY_RETRIES + 1):
                try:
                    self.proc = subprocess.Popen(
                        self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, env=self.env, cwd=self.cwd,
                        start_new_session=True, bufsize=0)
                    break
                except ValueError as e:  # a NUL byte in argv or env
                    raise CommandError(f"{self.argv[0] if self.argv else ''}: {e}") from None
                except OSError as e:
                    # a script written a moment ago is held open by a process that another
                    # thread forked meanwhile, until that process execs: wait, as Go's exec does
                    if e.errno == errno.ETXTBSY and attempt < TEXT_BUSY_RETRIES:
                        time.sleep(0.002 * (attempt + 1))
                        continue
                    raise CommandError(f"{self.argv[0] if self.argv else ''}: "
                                       f"{e.strerror or e}") from None
            self.reaper.add(self.proc.pid, swept=bool(self.mark))
        proc = self.proc
        assert proc.stdout is not None and proc.stderr is not None
        self._streams = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
        for fd in self._streams:
            os.set_blocking(fd, False)
            pipes.widen(fd)  # the step writes on while the adapter relays
        exited_fd, cleanup = _exit_notifier(proc)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                # Go's longest duration (~292 years) is past what select() takes: cap the wait
                wait = None if deadline is None else \
                    min(max(0.0, deadline - time.monotonic()), threading.TIMEOUT_MAX)
                readable, _, _ = select.select([*self._streams, exited_fd], [], [], wait)
                if not readable and deadline is not None and time.monotonic() < deadline:
                    continue  # a capped wait ended, not the step's timeout
                if not readable:  # the step's timeout
                    kill_group(proc.pid)
                    proc.wait()
                    self._read_available()
                    raise StepTimedOut()
                for fd in readable:
                    if fd != exited_fd:
                        self._read(fd)
                if exited_fd in readable:
                    with URGENCY.urgent():  # the step's end goes before other runs' output
                        code = proc.wait()
                        self._read_available()
                    break
        finally:
            cleanup()
        if self._cancelled.is_set():
            raise StepCancelled()
        return code if code >= 0 else 128 - code

    def _read(self, fd: int) -> bool:
        """Hand on one chunk from ``fd``; False when nothing is left to read now."""
        try:
            data = os.read(fd, pipes.CHUNK)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            del self._streams[fd]
            return False
        self.on_output(self._streams[fd], data)
        return True

    def _read_available(self) -> None:
        for fd in list(self._streams):
            while fd in self._streams and self._read(fd):
                pass

    def cancel(self) -> None:
        """End the step's process (SIGTERM, then SIGKILL after a grace period)."""
        with self._lock:
            self._cancelled.set()
            proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        kill_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=CANCEL_GRACE)
        except subprocess.TimeoutExpired:
            kill_group(proc.pid)

    def end(self) -> None:
        """The step's container ends: kill what is left of its group, hand on the last output
        (what background processes wrote) and close the pipes. Once: the run's close ends
        every step again, and a step ended already has nothing left to search for."""
        with self._lock:
            self._cancelled.set()  # no process starts after this
            proc, self._ended = (None if self._ended else self.proc), True
        if proc is None:
            return
        kill_group(proc.pid)
        if proc.poll() is None:
            proc.wait()
        wait_group_gone(proc.pid)
        self._read_available()
        self._streams = {}
        self.reaper.remove(proc.pid)
        if self.mark:
            # what left the group (setsid) ends with it too
            self.reaper.sweep(self.mark, self._window)
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


def wait_group_gone(pgid: int, timeout: float = 2.0) -> bool:
    """Wait (briefly) until no process of group ``pgid`` is left; True when none is.

    Killed background processes that were handed to PID 1 stay zombies until it reaps them (up to
    a second on some machines): they count as gone."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        if not _live_members(pgid):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)


def _live_members(pgid: int) -> bool:
    """Whether group ``pgid`` has a member that is not a zombie (Linux /proc; elsewhere: yes)."""
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return True
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _exit_notifier(proc: subprocess.Popen):
    """(a file descriptor that becomes readable when ``proc`` exits, a cleanup function)."""
    try:
        fd = os.pidfd_open(proc.pid)
        return fd, lambda: os.close(fd)
    except (AttributeError, OSError):  # not Linux >= 5.3
        r, w = os.pipe()

        def wait() -> None:
            proc.wait()
            os.write(w, b"x")

        threading.Thread(target=wait, name="step-exit", daemon=True).start()

        def cleanup() -> None:
            os.close(r)
            os.close(w)
        return r, cleanup


def run_captured(argv: Sequence[str], *, env: Mapping[str, str], cwd: str,
                 stdin: bytes | None, timeout: float | None, reaper: GroupReaper,
                 limit: int = MAX_EXEC_OUTPUT) -> tuple[int, bytes, bytes, bool, bool]:
    """Run ``argv`` to completion in its own group; (exit code, stdout, stderr, timed out,
    truncated). Over ``limit`` bytes of output the command is stopped and the output cut there."""
    proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE if stdin is not None
                            else subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=dict(env), cwd=cwd,
                            start_new_session=True)
    reaper.add(proc.pid)

    def end_group_with_leader() -> None:
        # Background children would keep the pipes open: they end with the command.
        proc.wait()
        kill_group(proc.pid)

    threading.Thread(target=end_group_with_leader, name="exec-reaper", daemon=True).start()
    if stdin is not None:
        threading.Thread(target=_feed, args=(proc.stdin, stdin), name="exec-stdin",
                         daemon=True).start()
    assert proc.stdout is not None and proc.stderr is not None
    streams = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray()}
    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = truncated = False
    try:
        open_fds = list(streams)
        while open_fds:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                timed_out = True
                break
            readable, _, _ = select.select(open_fds, [], [], left)
            for fd in readable:
                data = os.read(fd, pipes.CHUNK)
                if not data:
                    open_fds.remove(fd)
                    continue
                streams[fd] += data
            if sum(len(b) for b in streams.values()) > limit:
                truncated = True
                break
    finally:
        kill_group(proc.pid)  # what is left: the command when stopped, or its background
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        reaper.remove(proc.pid)
        for f in (proc.stdout, proc.stderr):
            f.close()
    out, err = (bytes(b) for b in streams.values())
    if truncated:
        out = out[:limit]
        err = err[:max(0, limit - len(out))]
    code = proc.returncode
    return (code if code >= 0 else 128 - code), out, err, timed_out, truncated


def _feed(pipe, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.close()
    except OSError:  # the command ended without reading it all
        pass
