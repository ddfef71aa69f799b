"""The Python debugger with the real debugpy in a Python of this host, given path mappings as for a
step in a container: the script's breakpoints hold whatever directory is mapped, and the source
references of files no mapping covers are the run's own, each served by the debugger that handed
it out, also once its step has ended."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap

import pytest

from tekton_debug.errors import UserError, WrongTime
from tekton_debug.events import PythonStarted, PythonStopped
from tekton_debug.python import References, debugpy_cli
from tekton_debug.python.debugger import PythonDebugger
from tekton_debug.python.script import ScriptMap

WAIT = 60  # seconds: only a hung step gets near this


class Step:
    """A script run by this host's Python under the bootstrap, and its debugger; the script's
    lines are the YAML's (an identity map)."""

    def __init__(self, directory, name: str, script: str, breakpoint_line: int, *,
                 mappings=(), refs: References | None = None) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.script = directory / "script.py"
        self.script.write_text(script)
        n = script.count("\n")
        self.events: queue.Queue = queue.Queue()
        self.debugger = PythonDebugger(
            0, name, ScriptMap(None, 1, tuple(range(1, n + 1)), n), str(self.script),
            source=None, lines=lambda: [breakpoint_line], exceptions=False,
            emit=self.events.put, mappings=mappings, container=f"{name}'s container", refs=refs)
        env = debugpy_cli.environment(os.environ, debugpy_cli.python_path(directory))
        self.proc = subprocess.Popen(
            debugpy_cli.command(sys.executable, [], self.debugger.port, str(self.script), []),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def stopped(self) -> PythonStopped | None:
        """The next stop of the script; None when it ended first."""
        while True:
            try:
                ev = self.events.get(timeout=1)
            except queue.Empty:
                if self.proc.poll() is not None and self.events.empty():
                    return None
                continue
            if isinstance(ev, PythonStopped):
                return ev
            assert isinstance(ev, PythonStarted) or ev.__class__.__name__ == "PythonResumed", ev

    def end(self) -> str:
        """Let the script run to its end; its stdout."""
        if self.debugger.stopped_thread is not None:
            self.debugger.resume("continue")
        out, err = self.proc.communicate(timeout=WAIT)
        self.debugger.close()
        assert self.proc.returncode == 0, err
        return out

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self.debugger.close()


@pytest.fixture
def steps():
    made: list[Step] = []
    yield made
    for step in made:
        step.close()


def test_a_mapped_directory_that_begins_the_scripts_path_leaves_its_breakpoints_where_they_are(
        tmp_path, steps):
    # a workspace bound to "/" would hold every path; a directory whose name begins the
    # script's directory's name (as a string: debugpy's way) shows the same
    run = tmp_path / "run-1"
    step = Step(run / "scripts", "py", "value = 6\nprint('value', value)\n", 2,
                mappings=[(str(run), "/workspace/src"), (str(tmp_path / "run"), "/workspace/x")])
    steps.append(step)
    stop = step.stopped()
    assert stop is not None and stop.reason == "breakpoint" and stop.lines == (2,)
    assert step.debugger.stack_frames()[0]["line"] == 2
    assert step.end() == "value 6\n"


def test_mappings_that_would_move_the_scripts_path_are_left_out_of_attach():
    args = debugpy_cli.attach_arguments(
        [("/", "/workspace/src"), ("/home/me/ws", "/workspace/ws"), ("/tmp/r", "/workspace"),
         ("/srv/data", "/tek")], scripts=["/tekton/scripts/script-0-abcde"])
    assert args["pathMappings"] == [{"localRoot": "/home/me/ws", "remoteRoot": "/workspace/ws"},
                                    {"localRoot": "/tmp/r", "remoteRoot": "/workspace"}]
    assert "pathMappings" not in debugpy_cli.attach_arguments(
        [("/", "/w")], scripts=["/tekton/scripts/s"])


MODULE_A = "def f():\n    a = 1\n    return a\n"
MODULE_B = "def g():\n    b = 2\n    return b\n"

CALLER = textwrap.dedent('''\
    import sys
    sys.path.insert(0, {lib!r})
    import {module}
    print({module}.{function}())
    ''')


def step_into_module(tmp_path, name: str, module: str, function: str, text: str,
                     refs: References) -> tuple[Step, dict]:
    """A step whose script calls a module no mapping covers, stopped in that module; its
    frame there."""
    lib = tmp_path / name / "lib"
    lib.mkdir(parents=True)
    (lib / f"{module}.py").write_text(text)
    step = Step(tmp_path / name, name, CALLER.format(lib=str(lib), module=module,
                                                      function=function), 4,
                mappings=[(str(tmp_path / "mapped"), "/workspace")], refs=refs)
    stop = step.stopped()
    assert stop is not None and stop.reason == "breakpoint"
    step.debugger.resume("stepIn")
    assert step.stopped() is not None
    frame = step.debugger.stack_frames()[0]
    assert frame["name"] == function
    assert frame["source"]["origin"] == f"in {name}'s container, not on this host"
    return step, frame


def test_source_references_of_two_steps_differ_and_each_serves_its_own_file_for_the_run(
        tmp_path, steps):
    refs = References()
    a, frame_a = step_into_module(tmp_path, "a", "moda", "f", MODULE_A, refs)
    steps.append(a)
    ref_a = frame_a["source"]["sourceReference"]
    assert refs.source_text(ref_a) == MODULE_A
    assert a.end() == "1\n"

    # another step (or a retry of the same) of the run, with the same requests in the same order
    b, frame_b = step_into_module(tmp_path, "b", "modb", "g", MODULE_B, refs)
    steps.append(b)
    ref_b = frame_b["source"]["sourceReference"]
    assert ref_b != ref_a and frame_b["id"] != frame_a["id"]
    assert refs.source_text(ref_b) == MODULE_B
    # the editor asks again for the first step's file: its text, though its step has ended
    assert refs.source_text(ref_a) == MODULE_A
    assert b.end() == "2\n"
    assert refs.source_text(ref_b) == MODULE_B
    with pytest.raises(UserError, match="unknown source reference"):
        refs.source_text(max(ref_a, ref_b) + 1000)


def test_a_source_never_read_while_its_step_ran_says_why_it_cannot_be_read_after(
        tmp_path, steps):
    refs = References()
    a, frame = step_into_module(tmp_path, "a", "moda", "f", MODULE_A, refs)
    steps.append(a)
    assert a.end() == "1\n"
    with pytest.raises(WrongTime, match="has ended: its text can no longer be read"):
        refs.source_text(frame["source"]["sourceReference"])
