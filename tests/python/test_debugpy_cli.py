"""How a step's Python is started with the bootstrap that starts debugpy when needed, and which
Pythons cannot be."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

from tekton_debug.python import debugpy_cli


def test_the_command_runs_the_bootstrap_with_the_port_script_and_args():
    argv = debugpy_cli.command("/usr/bin/python3", ["-u"], "@port@", "/run/script-1", ["a", "b"])
    assert argv == ["/usr/bin/python3", "-u", "-c", debugpy_cli.bootstrap_source(),
                    "@port@", "/run/script-1", "a", "b"]
    assert debugpy_cli.configuration([8, 3, 8], True) == b"exceptions 1\nlines 3 8\n"
    assert debugpy_cli.lines_message([]) == b"lines\n"


def test_the_bootstrap_runs_the_script_as_python_would_when_the_adapter_is_unreachable(tmp_path):
    script = tmp_path / "script.py"
    script.write_text("import sys\nprint(__name__, sys.argv, sys.path[0] == %r)\n"
                      "raise SystemExit(3)\n" % str(tmp_path))
    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    argv = debugpy_cli.command(sys.executable, [], port, str(script), ["x"])
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 3
    assert done.stdout == f"__main__ {[str(script), 'x']} True\n"
    assert "cannot be reached" in done.stderr and "runs without it" in done.stderr


def test_only_debugpy_is_added_to_the_path_of_the_steps_python(tmp_path):
    directory = debugpy_cli.python_path(tmp_path)
    assert os.listdir(directory) == ["debugpy"]
    assert os.path.isfile(os.path.join(directory, "debugpy", "__main__.py"))
    env = debugpy_cli.environment({"PYTHONPATH": "/mine", "HOME": "/h"}, directory)
    assert env["PYTHONPATH"] == f"{directory}{os.pathsep}/mine" and env["HOME"] == "/h"


def test_pythons_too_old_or_told_to_ignore_pythonpath_are_refused_with_the_reason():
    assert debugpy_cli.too_old("3.8") is None and debugpy_cli.too_old("3.13") is None
    assert "Python is 3.7; debugpy 1.8.22 needs Python 3.8" in debugpy_cli.too_old("3.7")
    assert "2.7" in debugpy_cli.too_old("2.7")
    assert "did not tell its version" in debugpy_cli.too_old("garbage")
    assert "-I" in debugpy_cli.unusable_options(["-I"])
    assert "-uE" in debugpy_cli.unusable_options(["-uE"])
    assert debugpy_cli.unusable_options(["-u", "-X", "dev"]) is None


def test_the_bootstrap_gives_up_on_a_debugger_that_never_configures_debugpy(tmp_path):
    """The hostile peer: it sends the control messages (a breakpoint on the script's line 2),
    accepts debugpy's connection and says nothing more. The step's real Python, with the real
    debugpy, runs the script to its end, saying why it did not stop."""
    script = tmp_path / "script.py"
    script.write_text("import sys\nvalue = 6\nprint('value', value)\nsys.exit(4)\n")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(2)
    held = []

    def serve():
        control, _ = server.accept()
        control.sendall(debugpy_cli.configuration([2], False))
        held.append(control)
        held.append(server.accept()[0])  # debugpy: never answered

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        argv = debugpy_cli.command(sys.executable, [], server.getsockname()[1], str(script), [])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    finally:
        for sock in [*held, server]:
            sock.close()
    assert len(held) == 2  # debugpy was started at the breakpoint, and connected
    assert done.returncode == 4 and done.stdout == "value 6\n"
    assert "did not finish configuring debugpy" in done.stderr
    assert "the script runs without it" in done.stderr
