"""The Python debugger's loopback port takes connections only from processes of this user."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest

from tekton_debug.events import PythonStarted
from tekton_debug.python import debugpy_cli
from tekton_debug.python.debugger import PythonDebugger
from tekton_debug.python.script import ScriptMap

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="connecting as another user needs root")

# connects as another user, then prints what it receives (nothing: it is closed at once)
OTHER_USER = """
import encodings.idna, os, socket, sys  # imported before the user loses read access
os.setgid(65534); os.setuid(65534)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print("connected", flush=True)
print(repr(s.recv(4096)), flush=True)
"""


@needs_root
def test_a_connection_from_another_user_is_closed_and_the_step_still_gets_in(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("x = 1\n")
    events: list = []
    started = threading.Event()

    def emit(ev) -> None:
        events.append(ev)
        if isinstance(ev, PythonStarted):
            started.set()

    dbg = PythonDebugger(0, "py", ScriptMap(str(tmp_path / "task.yaml"), 10, (1,), 1),
                         str(script), source=None, lines=lambda: [10], exceptions=False,
                         emit=emit)
    try:
        other = subprocess.run([sys.executable, "-c", OTHER_USER, str(dbg.port)],
                               capture_output=True, text=True, timeout=30)
        assert other.stdout.splitlines() == ["connected", "b''"], other.stderr
        assert not started.is_set()  # the stranger took no place
        mine = socket.create_connection(("127.0.0.1", dbg.port))
        try:
            assert started.wait(10)
            mine.settimeout(10)
            want = debugpy_cli.configuration([1], False)  # YAML line 10 is the script's line 1
            got = b""
            while len(got) < len(want):
                got += mine.recv(4096)
            assert got == want
        finally:
            mine.close()
        assert [type(e) for e in events] == [PythonStarted]
    finally:
        dbg.close()
