"""debugpy as the adapter uses it: found in the adapter's own installation, started inside the
step's Python only when the script needs it, spoken to in DAP. The one module that knows
debugpy's ways.

- The step's command (``command``) runs ``step_bootstrap`` below (``python -c <its source>``)
  instead of the script. The bootstrap connects a small control channel to the adapter (loopback,
  the adapter's one port per step), hooks the script's code cheaply (``sys.monitoring`` on Python
  3.12+, ``sys.settrace`` before) and runs the script as ``python script args`` would. debugpy is
  imported only when the script reaches a line that holds a breakpoint *now* (the adapter sends
  every change over the channel), when a pause is asked for, or when the script ends in an
  uncaught exception while Python exceptions stop. A breakpoint never reached costs the hook,
  not debugpy's start (most of it importing its debugger).
- Once started, debugpy connects to the same port (documented: ``debugpy.connect``), the adapter
  configures it in DAP and the bootstrap waits for that, bounded by ``HANDSHAKE_SECONDS`` (past
  it, the script goes on without a debugger).
- debugpy's private API, used by the bootstrap only (hence the exact pin in pyproject.toml):
  ``debugpy.common.log.describe_environment`` is turned off (it reads the metadata of every
  package the Python can see: 0.5 to 1 s); pydevd is told not to use ``sys.monitoring``
  (``PYDEVD_USE_SYS_MONITORING=0``) so that its ``sys.settrace`` tracer can take over the frame
  that reached the breakpoint: ``PyDB.set_trace_for_frame_and_parents`` on it and its callers,
  then the line event that started it all is handed to ``PyDB.trace_dispatch``, so that pydevd
  stops at that very line (its own breakpoint, id and all) and steps from there; a pause is
  ``PyDB.set_suspend`` with ``CMD_THREAD_SUSPEND`` before that line event. The bound on the
  handshake: ``debugpy.connect`` waits inside until ``PyDB.ready_to_run`` (set on
  ``configurationDone``), so giving up sets it; the wait for the rest is
  ``pydevd._wait_for_attach`` with a cancel event of the bootstrap's own (what
  ``debugpy.wait_for_client`` runs, without the race of its ``cancel``). An uncaught exception
  goes to ``debugpy.trigger_exception_handler`` (documented), which stops at the raising line
  with the frames' locals, after the fact; ``debugpy.trace_this_thread(False)`` (documented)
  then keeps the exit that follows from stopping again.
- Beyond that, the adapter relies on how pydevd answers DAP in this version: the attach
  arguments below, "uncaught" as the filter of uncaught exceptions, ``pause`` with thread "*",
  that it closes its side once the client closes after ``terminated``, and that once
  ``pathMappings`` are set it gives a ``sourceReference`` to each frame's file that none maps
  (and serves its text).
- The step's Python gets debugpy from a directory that holds only debugpy (a symbolic link to the
  adapter's copy), put first on ``PYTHONPATH``: none of the adapter's other packages leak into the
  step's imports.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Iterable, Mapping, Sequence

#: The version these rules were checked against (pinned in pyproject.toml).
VERSION = "1.8.22"
#: The oldest Python debugpy 1.8 runs on.
MIN_PYTHON = (3, 8)

#: Prints the interpreter's version as "3.11"; Python 2 understands it too.
VERSION_PROBE = "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])"

#: What ``attach`` asks of debugpy: the user's code only (stepping skips the standard library
#: and site-packages), its output left on the step's own stdout and stderr.
ATTACH_ARGUMENTS = {"justMyCode": True, "redirectOutput": False, "showReturnValue": True}


def attach_arguments(mappings: Sequence[tuple[str, str]] = (), scripts: Iterable[str] = ()
                     ) -> dict:
    """``attach``'s arguments; ``mappings``: (host directory, the same directory in the step's
    container), for a step in a container. debugpy then shows a file under one of those
    directories at its host path, and gives every other file a ``sourceReference`` whose
    ``source`` request it answers with the file's text as the container has it. It takes the
    first directory that holds a file, so the deepest come first here (a workspace bound inside
    ``/workspace``).

    debugpy maps both ways, by the first directory whose path begins a file's path as a string
    (``/a`` begins ``/ab/c`` too): the path of the breakpoints' file (the step's script, at the
    same path on both sides; ``scripts``: its spellings) from the host's to the container's,
    and frames' files back. A mapping whose directory begins the script's path on either side
    (a workspace bound to ``/``, say) would move the script's breakpoints elsewhere, or its
    frames, so it is left out; files under it then come as files only the container has."""
    args = dict(ATTACH_ARGUMENTS)
    scripts = tuple(scripts)
    kept = [(host, inside) for host, inside in mappings
            if not any(s.startswith(host) or s.startswith(inside) for s in scripts)]
    if kept:
        args["pathMappings"] = [{"localRoot": host, "remoteRoot": inside} for host, inside in
                                sorted(kept, key=lambda m: -len(m[1].rstrip("/")))]
    return args

#: The exception filter for uncaught exceptions.
UNCAUGHT = "uncaught"

#: Seconds from debugpy's connection to the end of its configuration (``configurationDone``
#: answered), on both sides: past it the adapter gives up on that debugger and the script runs
#: on without one. debugpy needs well under one second on a quiet machine.
HANDSHAKE_SECONDS = 10.0

#: Control messages, adapter -> bootstrap, one per line: whether Python exceptions stop
#: ("exceptions 1"), the breakpoint lines of the script's file now ("lines 3 8", "lines" for
#: none; the script starts after the first), and a request to stop where the script is ("pause").
EXCEPTIONS, LINES, PAUSE = "exceptions", "lines", "pause"


def step_bootstrap() -> None:  # pragma: no cover - runs in the step's Python (tests/dap cover it)
    """Runs in the step's Python as ``python -c <this function's source> PORT SCRIPT ARGS...``:
    the script, with debugpy started only when needed (see the module's docstring). Standard
    library only, nothing of tekton_debug; Python 3.8+."""
    import sys

    host, port, script = "127.0.0.1", int(sys.argv[1]), sys.argv[2]
    sys.argv = sys.argv[2:]
    import os
    if sys.path and sys.path[0] == "":  # as `python script` has it (none with -P)
        sys.path[0] = os.path.dirname(os.path.realpath(script))
    state = {"lines": frozenset(), "exceptions": False, "pause": False, "started": False,
             "hooked": False, "reachable": False, "debugpy": None}
    monitoring = getattr(sys, "monitoring", None)
    tool = 4  # a tool id of sys.monitoring that debuggers, coverage and profilers leave free

    def notice(text):
        sys.stderr.write(f"tekton-debug: {text}\n")
        sys.stderr.flush()

    def messages(sock):
        """The adapter's control messages, as lists of words, until it closes."""
        buffered = b""
        while True:
            while b"\n" in buffered:
                line, buffered = buffered.split(b"\n", 1)
                words = line.decode("ascii", "replace").split()
                if words:
                    yield words
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
            if not data:
                return
            buffered += data

    def apply(words):
        if words[0] == "lines":
            state["lines"] = frozenset(int(n) for n in words[1:] if n.isdigit())
        elif words[0] == "exceptions":
            state["exceptions"] = words[1:] == ["1"]
        elif words == ["pause"]:
            state["pause"] = True
        if state["hooked"] and monitoring is not None:
            monitoring.restart_events()  # lines disabled before may hold a breakpoint now

    def control(incoming):
        """The adapter's messages while the script runs; when it closes, no line stops."""
        for words in incoming:
            apply(words)
        state["lines"] = frozenset()

    def start_debugpy():
        """Import debugpy, connect it to the adapter and wait for its configuration. Its PyDB,
        or None when it could not be started (the script then runs on without it)."""
        if state["started"]:
            return state["debugpy"]
        state["started"] = True
        unhook()
        saved = {k: os.environ.get(k) for k in ("PYDEVD_USE_SYS_MONITORING",
                                                "PYDEVD_DISABLE_FILE_VALIDATION")}
        os.environ.update(PYDEVD_USE_SYS_MONITORING="0", PYDEVD_DISABLE_FILE_VALIDATION="1")
        try:
            from debugpy.common import log
            log.describe_environment = lambda header: None
            import debugpy
            import debugpy.server.api  # noqa: F401 (puts pydevd on the path)
            import threading
            import pydevd
            from _pydevd_bundle import pydevd_comm_constants
        except Exception as exc:
            notice(f"debugpy could not be imported ({exc}); the script runs without it")
            return None
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        expired, cancel = threading.Event(), threading.Event()  # (pydevd sets cancel when done)

        def give_up():  # the adapter did not configure debugpy in time: the script goes on
            expired.set()
            cancel.set()
            py_db = pydevd.get_global_debugger()
            if py_db is not None:
                py_db.ready_to_run = True  # ends the wait inside debugpy.connect

        timer = threading.Timer(HANDSHAKE_SECONDS + 5, give_up)
        timer.daemon = True
        timer.start()
        try:
            debugpy.configure(subProcess=False)
            debugpy.connect((host, port))
            pydevd._wait_for_attach(cancel=cancel)  # debugpy.wait_for_client, bounded
        except Exception as exc:
            notice(f"debugpy could not connect to the debugger ({exc}); the script runs "
                   "without it")
            return None
        finally:
            timer.cancel()
        if expired.is_set() or not debugpy.is_client_connected():
            notice("the debugger did not finish configuring debugpy within "
                   f"{HANDSHAKE_SECONDS + 5:g} s; the script runs without it")
            debugpy.trace_this_thread(False)
            return None
        state["debugpy"] = (debugpy, pydevd.get_global_debugger(), threading,
                            pydevd_comm_constants.CMD_THREAD_SUSPEND)
        return state["debugpy"]

    def take_over(frame):
        """debugpy's tracer takes ``frame`` (about to run a breakpoint's line) and its callers,
        and gets the line event that stopped the hook: it stops there. Its tracer for the
        frame, or None."""
        pause = state["pause"]
        started = start_debugpy()
        if started is None:
            return None
        _, py_db, threading, suspend = started
        thread = threading.current_thread()
        py_db.set_trace_for_frame_and_parents(thread.ident, frame)
        if pause:
            py_db.set_suspend(thread, suspend, is_pause=True)
        return py_db.trace_dispatch(frame, "line", None)

    # ---- the hook: the script's lines only, the rest of the Python untouched ---------------
    if monitoring is not None:  # Python 3.12+
        events = monitoring.events

        def on_start(code, offset):
            if code.co_filename == script:
                monitoring.set_local_events(tool, code, events.LINE)
            return monitoring.DISABLE

        def on_line(code, line):
            if state["started"]:
                return monitoring.DISABLE
            if line in state["lines"] or state["pause"]:
                frame = sys._getframe(1)
                frame.f_trace = take_over(frame)
                return None
            return monitoring.DISABLE  # until the lines change (restart_events)

        def hook():
            monitoring.use_tool_id(tool, "tekton-debug")
            monitoring.register_callback(tool, events.PY_START, on_start)
            monitoring.register_callback(tool, events.LINE, on_line)
            monitoring.set_events(tool, events.PY_START)

        def unhook():
            if state["hooked"]:
                state["hooked"] = False
                monitoring.set_events(tool, 0)
                monitoring.register_callback(tool, events.PY_START, None)
                monitoring.register_callback(tool, events.LINE, None)
                monitoring.free_tool_id(tool)
    else:
        def local(frame, event, arg):
            if state["started"]:
                return None
            if event == "line" and (frame.f_lineno in state["lines"] or state["pause"]):
                return take_over(frame)
            return local

        def on_call(frame, event, arg):
            return local if frame.f_code.co_filename == script else None

        def hook():
            import threading
            threading.settrace(on_call)
            sys.settrace(on_call)

        def unhook():
            if state["hooked"]:
                state["hooked"] = False
                sys.settrace(None)
                sys.modules["threading"].settrace(None)

    def stop_uncaught(exc_type, exc, tb):
        """Python exceptions stop: debugpy stops at the raising line of an uncaught exception
        (started now if it was not)."""
        started = start_debugpy()
        if started is not None:
            started[0].trigger_exception_handler((exc_type, exc, tb))
            started[0].trace_this_thread(False)  # the script is over: its exit is not a stop

    def script_frames(tb):
        """The traceback from the script's first frame on (the bootstrap's are not the user's)."""
        first = tb
        while first is not None and first.tb_frame.f_code.co_filename != script:
            first = first.tb_next
        return first or tb

    def stops_here():
        """An uncaught exception stops here: Python exceptions stop, and debugpy was not started
        (once started, it stops at uncaught exceptions itself)."""
        return state["exceptions"] and state["reachable"] and not state["started"]

    python_hook = sys.excepthook

    def uncaught(exc_type, exc, tb):
        """As ``python script`` reports it: the script's frames only."""
        tb = script_frames(tb)
        if exc is not None:
            exc.__traceback__ = tb  # what Python prints
        if stops_here():
            stop_uncaught(exc_type, exc, tb)
        python_hook(exc_type, exc, tb)

    def connect():
        """The control channel and its first messages, then the hook (without them, the script
        runs plainly)."""
        import _socket
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        incoming = messages(sock)
        try:
            sock.settimeout(HANDSHAKE_SECONDS)
            sock.connect((host, port))
            for words in incoming:
                apply(words)
                if words[0] == "lines":
                    break
            else:
                raise OSError(f"it sent nothing within {HANDSHAKE_SECONDS:g} s")
            sock.settimeout(None)
        except OSError as exc:
            notice(f"the debugger at {host}:{port} cannot be reached ({exc}); the script runs "
                   "without it")
            sock.close()
            return
        import _thread
        state["reachable"] = True
        _thread.start_new_thread(control, (incoming,))
        hook()
        state["hooked"] = True
        if state["exceptions"]:
            import threading
            threading_hook = threading.excepthook

            def thread_uncaught(args):
                if args.exc_type is not SystemExit and stops_here():
                    stop_uncaught(args.exc_type, args.exc_value, args.exc_traceback)
                threading_hook(args)

            threading.excepthook = thread_uncaught

    sys.excepthook = uncaught
    # the script as `python script` runs it: its own __main__ module (the bootstrap's stays
    # referenced by its functions), compiled before the hook is on
    with open(script, "rb") as f:
        code = compile(f.read(), script, "exec", dont_inherit=True)
    main = type(sys)("__main__")
    main.__dict__.update(__file__=script, __cached__=None, __builtins__=__builtins__,
                         __loader__=sys.modules["_frozen_importlib_external"].SourceFileLoader(
                             "__main__", script))
    state["main"], sys.modules["__main__"] = sys.modules["__main__"], main
    connect()
    try:
        exec(code, main.__dict__)
    except SystemExit as exc:  # an exit with a message or a code other than 0 is uncaught too
        if exc.code in (0, None) or not stops_here():
            raise
        stop_uncaught(SystemExit, exc, script_frames(exc.__traceback__))
        raise SystemExit(exc.code) from None  # raised here: not the script's, debugpy lets it be


@functools.lru_cache(maxsize=1)
def bootstrap_source() -> str:
    """``step_bootstrap`` as the text of ``python -c``, with the constants it reads (cut from
    this file: ``inspect`` would cost the adapter's start tens of milliseconds)."""
    with open(__file__, encoding="utf-8") as f:
        text = f.read()
    start = text.index("\ndef step_bootstrap(") + 1
    end = text.index("\n\n\n", start)
    return f"HANDSHAKE_SECONDS = {HANDSHAKE_SECONDS!r}\n{text[start:end]}\n\n\nstep_bootstrap()\n"


def is_bootstrap_frame(frame: dict) -> bool:
    """A frame of the bootstrap (``<string>``) or of ``runpy`` that runs the script under it:
    where the script was started from, not the step's (debugpy counts both as library code:
    stepping never stops there, but its stack shows them)."""
    path = (frame.get("source") or {}).get("path") or ""
    return path == "<string>" or os.path.basename(path) == "runpy.py"


#: Interpreter options that make Python ignore PYTHONPATH, where debugpy is found.
_IGNORES_PYTHONPATH = ("-E", "-I")


def package_dir() -> str:
    """The directory of the adapter's debugpy package (found without importing it)."""
    import importlib.util

    spec = importlib.util.find_spec("debugpy")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("debugpy is not installed with tekton-debug")
    return list(spec.submodule_search_locations)[0]


def python_path(parent: Path) -> str:
    """A directory under ``parent`` holding only debugpy, for the step's ``PYTHONPATH``."""
    directory = parent / "debugpy-path"
    link = directory / "debugpy"
    if not link.exists():
        directory.mkdir(parents=True, exist_ok=True)
        os.symlink(package_dir(), link)
    return str(directory)


def too_old(version: str) -> str | None:
    """Why a Python of ``version`` ("3.7") cannot run debugpy; None when it can."""
    try:
        found = tuple(int(p) for p in version.strip().split(".")[:2])
    except ValueError:
        return f"its Python did not tell its version ({version.strip()[:60]!r})"
    if found < MIN_PYTHON:
        return (f"its Python is {version.strip()}; debugpy {VERSION} needs Python "
                f"{'.'.join(map(str, MIN_PYTHON))} or newer")
    return None


def unusable_options(options: Sequence[str]) -> str | None:
    """Why the shebang's interpreter options keep debugpy out; None when they do not."""
    bad = [o for o in options if o in _IGNORES_PYTHONPATH or (
        o.startswith("-") and not o.startswith("--") and ("I" in o[1:] or "E" in o[1:]))]
    if bad:
        return (f"its shebang runs Python with {bad[0]}, which ignores PYTHONPATH where debugpy "
                "is put")
    return None


def command(python: str, options: Sequence[str], port: int | str, script: str,
            args: Sequence[str]) -> list[str]:
    """The step's command: ``step_bootstrap`` runs ``script`` (the path the step's Python opens)
    with ``args``, after it has the breakpoint lines and the exception filter from the adapter at
    127.0.0.1:``port``, and starts debugpy when the script needs it. In a container, ``port`` is
    a placeholder that the launcher there replaces in the words before ``script``, which come
    last with ``args``. Processes the script starts are not debugged: each would connect to the
    adapter's port, and their own steps are their business."""
    return [python, *options, "-c", bootstrap_source(), str(port), script, *args]


def configuration(lines: Iterable[int], exceptions: bool) -> bytes:
    """The control messages that tell the bootstrap whether Python exceptions stop and the
    breakpoint lines of the script's file (sent first, and the lines again on every change)."""
    return f"{EXCEPTIONS} {int(exceptions)}\n".encode("ascii") + lines_message(lines)


def lines_message(lines: Iterable[int]) -> bytes:
    """The control message that sets the breakpoint lines of the script's file."""
    return (" ".join([LINES, *(str(n) for n in sorted(set(lines)))]) + "\n").encode("ascii")


def environment(env: Mapping[str, str], path_dir: str) -> dict[str, str]:
    """The step's environment with debugpy's directory first on PYTHONPATH."""
    out = dict(env)
    old = out.get("PYTHONPATH")
    out["PYTHONPATH"] = path_dir + (os.pathsep + old if old else "")
    return out
