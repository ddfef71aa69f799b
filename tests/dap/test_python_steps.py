"""Python steps at source level over DAP (local runtime): a breakpoint on a line of a Python
step's script in the Task YAML stops the script there; frames, variables, stepping, evaluate and
uncaught exceptions are Python's, at the Task's lines."""

from __future__ import annotations

import os
import re
import shutil
import textwrap

import pytest

from tests.dap.conftest import line_of
from tests.dap.dapclient import DapClient, DapError
from tests.processes import processes_with

TASK = textwrap.dedent('''\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: python-steps
    spec:
      params:
        - name: names
          default: ada
        - name: fail
          default: "no"
      steps:
        - name: shell
          image: alpine
          script: |
            echo "shell step ran"
        - name: count
          image: python:3.12
          script: |
            #!/usr/bin/env python3
            import os, sys
            import weights
            names = """$(params.names)""".split()
            total = 0
            for name in names:
                total += weights.weight(name)
            print("total", total, "debugpy" in sys.modules)
            import subprocess
            subprocess.run([sys.executable, "-c", "print('child ran')"], check=True)
            if "$(params.fail)" == "yes":
                raise ValueError("total is " + str(total))
        - name: report
          image: python:3.12
          script: |
            #!/usr/bin/env python3
            greeting = "report"
            print(greeting, "done")
    ''')

WEIGHTS = textwrap.dedent('''\
    def weight(name):
        size = len(name)
        return size * 2
    ''')


@pytest.fixture
def task(tmp_path):
    path = tmp_path / "python-steps.yaml"
    path.write_text(TASK)
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "weights.py").write_text(WEIGHTS)
    return path


@pytest.fixture
def dap(tmp_path):
    client = DapClient(cwd=str(tmp_path), env={"PYTHONPATH": str(tmp_path / "lib")})
    yield client
    client.close()


def launch(dap, task, lines, *, filters=("onFailure",), **config):
    dap.start({"type": "tekton", "request": "launch", "task": str(task), "runtime": "local",
               **config},
              breakpoints={str(task): lines}, exception_filters=list(filters))
    return dap.last_breakpoints["body"]["breakpoints"]


def stopped(dap):
    """The body of the next stopped event after the last one this helper returned."""
    ev = dap.wait_event("stopped", after=getattr(dap, "seen_until", 0), timeout=60)
    dap.seen_until = dap.events.index(ev) + 1
    return ev["body"]


def top_frame(dap, thread=2):
    return dap.request("stackTrace", {"threadId": thread})["body"]["stackFrames"]


def locals_of(dap, frame_id):
    scopes = dap.request("scopes", {"frameId": frame_id})["body"]["scopes"]
    ref = next(s for s in scopes if s["name"] == "Locals")["variablesReference"]
    return {v["name"]: v["value"] for v in
            dap.request("variables", {"variablesReference": ref})["body"]["variables"]}


def test_a_breakpoint_in_a_python_script_stops_there_with_its_locals(dap, task):
    line = line_of(task, "total = 0")
    bps = launch(dap, task, [line])
    assert bps[0]["verified"] is True and bps[0]["line"] == line
    body = stopped(dap)
    assert body["reason"] == "breakpoint" and body["threadId"] == 2
    assert body["hitBreakpointIds"] == [bps[0]["id"]]
    assert "shell step ran" in dap.output("stdout")  # the non-Python step ran before, as ever

    frames = top_frame(dap)
    assert frames[0]["line"] == line and frames[0]["source"]["path"] == str(task)
    assert "count" in frames[0]["name"]
    assert "count" in frames[1]["name"]  # the step's own frame, then the finished step
    assert "shell" in frames[2]["name"]
    values = locals_of(dap, frames[0]["id"])
    assert values["names"] == "['ada']"
    assert "total" not in values  # the line has not run yet
    threads = {t["id"]: t["name"] for t in dap.request("threads")["body"]["threads"]}
    assert threads[2].startswith("count (paused in Python")

    dap.request("continue", {"threadId": 2})
    dap.wait_event("terminated")
    assert "total 6 True" in dap.output("stdout")
    assert "child ran" in dap.output("stdout")  # a Python it starts runs plainly


def test_next_step_in_and_step_out_walk_the_script_and_its_modules(dap, task, tmp_path):
    launch(dap, task, [line_of(task, "for name in names")])
    stopped(dap)
    dap.request("next", {"threadId": 2})
    assert stopped(dap)["reason"] == "step"
    assert top_frame(dap)[0]["line"] == line_of(task, "total += weights")

    dap.request("stepIn", {"threadId": 2})
    assert stopped(dap)["reason"] == "step"
    frames = top_frame(dap)
    assert frames[0]["name"] == "weight"
    assert frames[0]["source"]["path"] == str(tmp_path / "lib" / "weights.py")
    assert frames[0]["line"] == 2
    assert frames[1]["line"] == line_of(task, "total += weights")
    assert locals_of(dap, frames[0]["id"]) == {"name": "'ada'"}

    dap.request("stepOut", {"threadId": 2})
    assert stopped(dap)["reason"] == "step"
    frames = top_frame(dap)
    assert frames[0]["source"]["path"] == str(task)
    assert frames[0]["line"] == line_of(task, "total += weights")


def test_evaluate_is_python_in_the_frame_for_the_repl_hover_and_watch(dap, task):
    launch(dap, task, [line_of(task, 'print("total"')])
    stopped(dap)
    frame = top_frame(dap)[0]["id"]
    for context in ("repl", "hover", "watch"):
        body = dap.request("evaluate", {"expression": "total * 10 + len(names)",
                                        "frameId": frame, "context": context})["body"]
        assert body["result"] == "61"
    # Tekton's own variables keep their meaning over the script's text
    assert dap.request("evaluate", {"expression": "$(params.names)", "frameId": frame,
                                    "context": "hover"})["body"]["result"] == "ada"
    # without a frame: the stopped one
    assert dap.request("evaluate", {"expression": "names[0].upper()",
                                    "context": "repl"})["body"]["result"] == "'ADA'"
    with pytest.raises(DapError, match="NameError"):
        dap.request("evaluate", {"expression": "nothing_here", "frameId": frame,
                                 "context": "repl"})
    # the step's Python finds debugpy, and nothing else of the adapter, on its PYTHONPATH
    listing = dap.request("evaluate", {
        "expression": "sorted(os.listdir(os.environ['PYTHONPATH'].split(os.pathsep)[0]))",
        "frameId": frame, "context": "repl"})["body"]["result"]
    assert listing == "['debugpy']"


def test_an_uncaught_exception_stops_at_the_raising_line_then_the_step_pauses_failed(dap, task):
    launch(dap, task, [], filters=("onFailure", "python"), params={"fail": "yes"})
    body = stopped(dap)
    assert body["reason"] == "exception" and body["threadId"] == 2
    assert "ValueError" in body.get("text", "") + body["description"]
    assert top_frame(dap)[0]["line"] == line_of(task, "raise ValueError")
    info = dap.request("exceptionInfo", {"threadId": 2})["body"]
    assert "total is 6" in info["description"]

    dap.request("continue", {"threadId": 2})
    failed = stopped(dap)  # the script exited non-zero: the on-failure pause follows
    assert failed["reason"] == "exception" and "exit code 1" in failed["description"]
    assert top_frame(dap)[0]["line"] == line_of(task, "- name: count")


def test_the_line_map_survives_a_param_that_adds_lines(dap, task):
    line = line_of(task, "total = 0")
    launch(dap, task, [line], params={"names": "ada\nbo\ncyd"})
    stopped(dap)
    frame = top_frame(dap)[0]
    assert frame["line"] == line
    assert locals_of(dap, frame["id"])["names"] == "['ada', 'bo', 'cyd']"
    dap.request("next", {"threadId": 2})
    stopped(dap)
    assert top_frame(dap)[0]["line"] == line + 1


def test_two_python_steps_stop_in_turn(dap, task):
    launch(dap, task, [line_of(task, "total = 0"), line_of(task, 'print(greeting')])
    assert stopped(dap)["threadId"] == 2
    dap.request("continue", {"threadId": 2})
    body = stopped(dap)
    assert body["threadId"] == 3 and body["reason"] == "breakpoint"
    frame = top_frame(dap, 3)[0]
    assert frame["line"] == line_of(task, 'print(greeting')
    assert locals_of(dap, frame["id"])["greeting"] == "'report'"
    dap.request("continue", {"threadId": 3})
    dap.wait_event("terminated")
    assert "report done" in dap.output("stdout")


def test_without_python_breakpoints_a_python_step_runs_without_debugpy(dap, task):
    line = line_of(task, "- name: report")  # a before-step breakpoint, as ever
    bps = launch(dap, task, [line])
    assert bps[0]["message"] == "pauses before step 'report'"
    body = stopped(dap)
    assert body["reason"] == "breakpoint" and body["threadId"] == 3
    assert "total 6 False" in dap.output("stdout")  # the step before ran plainly
    with pytest.raises(DapError, match="step in is for Python"):
        dap.request("stepIn", {"threadId": 3})


def test_a_python_too_old_for_debugpy_runs_the_step_plainly_and_says_why(tmp_path, task):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"  # says it is 2.7 when asked, runs scripts with the real one
    real = shutil.which("python3")
    fake.write_text(f'#!/bin/sh\n[ "$1" = -c ] && {{ printf 2.7; exit 0; }}\nexec {real} "$@"\n')
    fake.chmod(0o755)
    client = DapClient(cwd=str(tmp_path), env={"PYTHONPATH": str(tmp_path / "lib"),
                                               "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    try:
        line = line_of(task, "total = 0")
        launch(client, task, [line])
        changed = client.wait_event("breakpoint")["body"]["breakpoint"]
        assert changed["verified"] is False and changed["line"] == line
        assert "Python is 2.7" in changed["message"] and "3.8" in changed["message"]
        client.wait_event("terminated")
        assert "total 6 False" in client.output("stdout")
    finally:
        client.close()


def test_on_a_cluster_python_breakpoints_show_unverified_with_the_reason(dap, task):
    dap.request("initialize", {"adapterID": "tekton"})
    dap.send("launch", {"type": "tekton", "request": "launch", "task": str(task),
                        "runtime": "kubernetes"})
    dap.wait_event("initialized")
    line = line_of(task, "total = 0")
    bps = dap.request("setBreakpoints", {"source": {"path": str(task)},
                                         "breakpoints": [{"line": line},
                                                         {"line": line_of(task, "- name: count")}]}
                      )["body"]["breakpoints"]
    assert bps[0]["verified"] is False and bps[0]["line"] == line
    assert "debugpy" in bps[0]["message"] and "container runtime" in bps[0]["message"]
    assert bps[1]["verified"] is True  # before the step: as ever


THREADED = textwrap.dedent('''\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: threaded
    spec:
      steps:
        - name: work
          image: python:3.12
          script: |
            #!/usr/bin/env python3
            import threading
            started, done = threading.Event(), threading.Event()
            def worker():
                started.set()
                done.wait()
            thread = threading.Thread(target=worker, name="worker")
            thread.start()
            started.wait()
            done.set()
            thread.join()
    ''')


def test_the_python_threads_of_a_step_show_under_it(dap, tmp_path):
    task = tmp_path / "threaded.yaml"
    task.write_text(THREADED)
    launch(dap, task, [line_of(task, "done.set()")])
    assert stopped(dap)["threadId"] == 1
    threads = dap.request("threads")["body"]["threads"]
    assert threads[0]["id"] == 1 and threads[0]["name"].startswith("work (paused in Python")
    worker = next(t for t in threads if t["name"] == "work / worker")
    frames = dap.request("stackTrace", {"threadId": worker["id"]})["body"]["stackFrames"]
    in_script = next(f for f in frames if f.get("source", {}).get("path") == str(task))
    assert in_script["line"] == line_of(task, "done.wait()")
    assert "work" in frames[-1]["name"]  # the step's own frame under them
    dap.request("continue", {"threadId": worker["id"]})
    dap.wait_event("terminated")


def test_stop_while_stopped_in_python_ends_the_run_and_its_python(dap, task):
    launch(dap, task, [line_of(task, "total = 0")])
    stopped(dap)
    pid = dap.request("evaluate", {"expression": "os.getpid()", "frameId": top_frame(dap)[0]["id"],
                                   "context": "repl"})["body"]["result"]
    assert pid in processes_with("step_bootstrap")  # the step's Python, under debugpy
    dap.request("terminate")
    dap.wait_event("terminated")
    # the step's Python is the step's own process: ended and reaped before the run ends
    assert not os.path.exists(f"/proc/{pid}")
    threads = {t["id"]: t["name"] for t in dap.request("threads")["body"]["threads"]}
    assert "cancelled" in threads[2] or "failed" in threads[2]


SLOW = textwrap.dedent('''\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: slow
    spec:
      steps:
        - name: spin
          image: python:3.12
          script: |
            #!/usr/bin/env python3
            import time
            print("spinning", flush=True)
            rounds = 0
            while rounds < 600:
                rounds += 1
                time.sleep(0.05)
            print("done")
    ''')


def test_pause_stops_a_running_python_step_where_it_is(dap, tmp_path):
    task = tmp_path / "slow.yaml"
    task.write_text(SLOW)
    launch(dap, task, [line_of(task, 'print("done")')])  # a breakpoint: the step has debugpy
    dap.wait_event("output", lambda b: "spinning" in b.get("output", ""), timeout=60)
    dap.request("pause", {"threadId": 1})
    body = stopped(dap)
    assert body["reason"] == "pause" and body["threadId"] == 1
    frame = next(f for f in top_frame(dap, 1) if f.get("source", {}).get("path") == str(task))
    assert line_of(task, "rounds = 0") <= frame["line"] <= line_of(task, "time.sleep")
    # (a pause right after the print stops before `rounds = 0` has run)
    assert int(dap.request("evaluate", {"expression": "globals().get('rounds', 0)",
                                        "frameId": frame["id"],
                                        "context": "watch"})["body"]["result"]) < 600


def continue_to_the_failure(dap):
    """From the first stop at a Python breakpoint of step 2, on to its failure's pause."""
    assert stopped(dap)["reason"] == "breakpoint"
    dap.request("continue", {"threadId": 2})
    failed = stopped(dap)
    assert failed["reason"] == "exception" and "exit code 1" in failed["description"]


def test_restart_frame_runs_the_retried_python_step_under_its_debugger_again(dap, task):
    line = line_of(task, "import subprocess")
    launch(dap, task, [line], params={"fail": "yes"})
    continue_to_the_failure(dap)

    task.write_text(task.read_text().replace('== "yes"', '== "never"'))  # the fix
    frame = top_frame(dap)[0]["id"]
    dap.request("restartFrame", {"frameId": frame})
    body = stopped(dap)  # the retry stops at the same breakpoint, in its own Python
    assert body["reason"] == "breakpoint" and body["threadId"] == 2
    frames = top_frame(dap)
    assert frames[0]["line"] == line and "count" in frames[0]["name"]
    assert locals_of(dap, frames[0]["id"])["total"] == "6"
    dap.request("next", {"threadId": 2})
    assert stopped(dap)["reason"] == "step"
    assert top_frame(dap)[0]["line"] == line + 1
    dap.request("continue", {"threadId": 2})
    assert dap.wait_event("exited")["body"]["exitCode"] == 0
    output = dap.output()
    assert "step count, retry 1" in output and "report done" in output


SILENT_DEBUGPY = '''\
#!{real}
# python3 whose debugpy connects to the adapter and never answers: it reads what the adapter
# sends until the adapter gives up and closes, then runs the script plainly
import os, socket, sys
if len(sys.argv) > 2 and sys.argv[1] == "-c" and "step_bootstrap" in sys.argv[2]:
    port, script, args = int(sys.argv[3]), sys.argv[4], sys.argv[5:]
    control = socket.create_connection(("127.0.0.1", port))
    silent = socket.create_connection(("127.0.0.1", port))
    while silent.recv(65536):
        pass
    os.execv("{real}", ["{real}", script, *args])
os.execv("{real}", ["{real}", *sys.argv[1:]])
'''


def test_a_debugpy_that_never_finishes_its_handshake_is_given_up_with_a_notice(tmp_path, task):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "python3"
    fake.write_text(SILENT_DEBUGPY.format(real=os.path.realpath(shutil.which("python3"))))
    fake.chmod(0o755)
    client = DapClient(cwd=str(tmp_path), env={"PYTHONPATH": str(tmp_path / "lib"),
                                               "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    try:
        line = line_of(task, "total = 0")
        launch(client, task, [line])
        changed = client.wait_event("breakpoint", timeout=60)["body"]["breakpoint"]
        assert changed["verified"] is False and changed["line"] == line
        assert "did not finish its handshake" in changed["message"]
        assert "runs on without the Python debugger" in changed["message"]
        assert client.wait_event("exited", timeout=60)["body"]["exitCode"] == 0
        output = client.output()
        assert "did not finish its handshake" in output  # said in the Debug Console too
        assert "total 6 False" in output and "report done" in output  # the step went on
    finally:
        client.close()


LAZY = textwrap.dedent('''\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: lazy
    spec:
      params:
        - name: outcome
          default: fine
      steps:
        - name: check
          image: python:3.12
          script: |
            #!/usr/bin/env python3
            import os, sys, threading, time
            def never():
                return "never called"
            here = os.path.dirname(os.path.realpath(__file__))
            print(__name__, sys.argv[1:], sys.path[0] == here, threading.active_count())
            print("debugpy before", "debugpy" in sys.modules, flush=True)
            rounds = 0
            while "$(params.outcome)" == "spin" and rounds < 600:
                rounds += 1
                time.sleep(0.05)
            if "$(params.outcome)" == "raise":
                raise ValueError("the check failed")
            print("done")
    ''')


@pytest.fixture
def lazy_task(tmp_path):
    path = tmp_path / "lazy.yaml"
    path.write_text(LAZY)
    return path


def step_output(dap):
    """What the step printed on stdout and on stderr, the run's own names made neutral (its
    directory, its script file's suffix)."""
    return {stream: re.sub(r"/tekton-debug-[^/\s\"']+|(script-\d+)-[0-9a-f]+", r"\1",
                           dap.output(stream)) for stream in ("stdout", "stderr")}


@pytest.mark.parametrize("outcome", ["fine", "raise"])
def test_a_breakpoint_never_hit_leaves_the_steps_output_and_exit_code_as_plain(
        tmp_path, lazy_task, outcome):
    runs = []
    for lines in ([line_of(lazy_task, 'return "never called"')], []):
        client = DapClient(cwd=str(tmp_path))
        try:
            launch(client, lazy_task, lines, filters=(), params={"outcome": outcome})
            runs.append((client.wait_event("exited", timeout=60)["body"]["exitCode"],
                         step_output(client)))
        finally:
            client.close()
    hooked, plain = runs
    assert hooked == plain
    text = "".join(plain[1].values())
    assert "__main__ [] True 1" in text and "debugpy before False" in text
    if outcome == "raise":
        assert plain[0] == 1
        assert "Traceback (most recent call last)" in text and "ValueError: the check failed" in text
        assert "<string>" not in text and "step_bootstrap" not in text
    else:
        assert plain[0] == 0 and "done" in text


def test_a_breakpoint_set_while_the_script_runs_starts_debugpy_there(dap, lazy_task):
    never = line_of(lazy_task, 'return "never called"')
    launch(dap, lazy_task, [never], params={"outcome": "spin"})  # the step is hooked
    # (the output may come in pieces: what the step printed so far, as a whole)
    dap.wait_event("output", lambda b: "debugpy before False" in dap.output("stdout"), timeout=60)
    line = line_of(lazy_task, "rounds += 1")
    bps = dap.request("setBreakpoints", {"source": {"path": str(lazy_task)},
                                         "breakpoints": [{"line": never}, {"line": line}]}
                      )["body"]["breakpoints"]
    body = stopped(dap)
    assert body["reason"] == "breakpoint" and body["hitBreakpointIds"] == [bps[1]["id"]]
    frame = top_frame(dap, 1)[0]
    assert frame["line"] == line
    rounds = int(locals_of(dap, frame["id"])["rounds"])
    assert dap.request("evaluate", {"expression": "'debugpy' in sys.modules", "frameId": frame["id"],
                                    "context": "watch"})["body"]["result"] == "True"
    dap.request("continue", {"threadId": 1})
    assert stopped(dap)["reason"] == "breakpoint"  # the next round, at the same line
    assert int(locals_of(dap, top_frame(dap, 1)[0]["id"])["rounds"]) == rounds + 1
    dap.request("terminate")
    dap.wait_event("terminated")
