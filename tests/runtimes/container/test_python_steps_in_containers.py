"""Python steps in containers, over DAP: a breakpoint in a Python step's script stops the script
in the step's own container (debugpy mounted read-only, a relay back through a shared socket, the
tests' engine running containers with no network), with the same frames, locals, stepping,
evaluate and exceptions as on the host. An image with no Python, or one too old, runs the step
plainly and says why on the breakpoint."""

from __future__ import annotations

import os
import subprocess
import textwrap

import pytest

from tests import containers
from tests.dap.conftest import line_of
from tests.dap.dapclient import DapClient
from tests.dap.test_python_steps import launch as host_launch
from tests.dap.test_python_steps import continue_to_the_failure, locals_of, stopped
from tests.dap.test_python_steps import top_frame as frames_of
from tests.runtimes.container.test_docker_engine import docker_host  # noqa: F401 (a fixture)

WAIT = 90  # seconds: only a hung run ever gets near this

TASK = textwrap.dedent('''\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: python-in-containers
    spec:
      params:
        - name: fail
          default: "no"
      workspaces:
        - name: tools
          optional: true
      steps:
        - name: shell
          image: PYTHON
          script: |
            echo "shell step ran"
        - name: count
          image: PYTHON
          securityContext:
            runAsUser: 1234
          script: |
            #!/usr/bin/env python3
            import os, sys
            def weight(name):
                size = len(name)
                return size * 2
            names = ["ada", "bo"]
            total = 0
            for name in names:
                total += weight(name)
            marker = open("/etc/only-in-image").read().strip()
            print("total", total, "debugpy" in sys.modules, os.getuid(), marker)
            if "$(params.fail)" == "yes":
                raise ValueError("total is " + str(total))
        - name: report
          image: PYTHON
          script: |
            #!/usr/bin/env python3
            greeting = "report"
            print(greeting, "done")
    ''')


@pytest.fixture(scope="module")
def python_image(podman):
    image = containers.python_image()
    if image is None:
        pytest.skip("this machine has no Debian Python to build the test's Python image from")
    return image


@pytest.fixture
def task(tmp_path, python_image):
    path = tmp_path / "python-in-containers.yaml"
    path.write_text(TASK.replace("PYTHON", python_image))
    return path


@pytest.fixture
def dap(tmp_path):
    client = DapClient(cwd=str(tmp_path))
    yield client
    client.close()


def launch(dap, task, lines, **config):
    return host_launch(dap, task, lines, runtime="container", **config)


def test_a_breakpoint_stops_the_script_in_its_container_with_locals_stepping_and_evaluate(
        dap, task):
    line = line_of(task, "total = 0")
    bps = launch(dap, task, [line])
    assert bps[0]["verified"] is True and bps[0]["line"] == line
    body = stopped(dap)
    assert body["reason"] == "breakpoint" and body["threadId"] == 2
    assert body["hitBreakpointIds"] == [bps[0]["id"]]
    assert "shell step ran" in dap.output("stdout")

    frames = frames_of(dap)
    assert frames[0]["line"] == line and frames[0]["source"]["path"] == str(task)
    assert "count" in frames[0]["name"]
    assert locals_of(dap, frames[0]["id"])["names"] == "['ada', 'bo']"
    # Python in the step's container: its image's file, its user, debugpy from the mount only
    evaluate = dict(frameId=frames[0]["id"], context="repl")
    assert dap.request("evaluate", {"expression": "open('/etc/only-in-image').read().strip()",
                                    **evaluate})["body"]["result"] == f"'{containers.MARKER_TEXT}'"
    assert dap.request("evaluate", {"expression": "os.getuid()", **evaluate}
                       )["body"]["result"] == "1234"
    assert dap.request("evaluate", {
        "expression": "sorted(os.listdir(os.environ['PYTHONPATH'].split(os.pathsep)[0]))",
        **evaluate})["body"]["result"] == "['debugpy']"

    dap.request("next", {"threadId": 2})
    assert stopped(dap)["reason"] == "step"
    dap.request("next", {"threadId": 2})
    stopped(dap)
    assert frames_of(dap)[0]["line"] == line_of(task, "total += weight")
    dap.request("stepIn", {"threadId": 2})
    assert stopped(dap)["reason"] == "step"
    frames = frames_of(dap)
    assert frames[0]["name"].endswith("weight") and frames[0]["line"] == line_of(task, "size =")
    assert frames[1]["line"] == line_of(task, "total += weight")
    assert locals_of(dap, frames[0]["id"]) == {"name": "'ada'"}
    assert dap.request("evaluate", {"expression": "name.upper() * 2", "frameId": frames[0]["id"],
                                    "context": "hover"})["body"]["result"] == "'ADAADA'"

    dap.request("continue", {"threadId": 2})
    dap.wait_event("terminated", timeout=WAIT)
    assert f"total 10 True 1234 {containers.MARKER_TEXT}" in dap.output("stdout")
    assert "report done" in dap.output("stdout")  # the next Python step ran plainly


def test_an_uncaught_exception_stops_at_the_raising_line_then_the_step_pauses_failed(dap, task):
    launch(dap, task, [], filters=("onFailure", "python"), params={"fail": "yes"})
    body = stopped(dap)
    assert body["reason"] == "exception" and body["threadId"] == 2
    assert frames_of(dap)[0]["line"] == line_of(task, "raise ValueError")
    info = dap.request("exceptionInfo", {"threadId": 2})["body"]
    assert "total is 10" in info["description"]

    dap.request("continue", {"threadId": 2})
    failed = stopped(dap)  # the script exited non-zero: the on-failure pause follows
    assert failed["reason"] == "exception" and "exit code 1" in failed["description"]
    assert frames_of(dap)[0]["line"] == line_of(task, "- name: count")
    dap.request("terminate")
    dap.wait_event("terminated", timeout=WAIT)


def test_a_breakpoint_set_once_the_step_container_exists_is_hit(dap, task):
    # paused before the first step, the Python step's container is already up (one step ahead):
    # debugpy is in it anyway, so a breakpoint set now still stops its script
    launch(dap, task, [line_of(task, "- name: shell")])
    assert stopped(dap)["threadId"] == 1
    line = line_of(task, 'print(greeting')
    bps = dap.request("setBreakpoints", {"source": {"path": str(task)},
                                         "breakpoints": [{"line": line}]})["body"]["breakpoints"]
    assert bps[0]["verified"] is True
    dap.request("continue", {"threadId": 1})
    body = stopped(dap)
    assert body["reason"] == "breakpoint" and body["threadId"] == 3
    frame = frames_of(dap, 3)[0]
    assert frame["line"] == line and locals_of(dap, frame["id"])["greeting"] == "'report'"
    assert "total 10 False" in dap.output("stdout")  # the step between ran without debugpy
    dap.request("continue", {"threadId": 3})
    dap.wait_event("terminated", timeout=WAIT)
    assert "report done" in dap.output("stdout")


NO_PYTHON = textwrap.dedent('''\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: no-python
    spec:
      steps:
        - name: py
          image: IMAGE
          script: |
            #!/usr/bin/env python3
            print("hello")
    ''')


def test_an_image_without_python_shows_the_breakpoint_unverified_and_runs_the_step(
        dap, tmp_path, image):
    task = tmp_path / "no-python.yaml"
    task.write_text(NO_PYTHON.replace("IMAGE", image))
    line = line_of(task, 'print("hello")')
    assert launch(dap, task, [line], filters=())[0]["verified"] is True
    changed = dap.wait_event("breakpoint", timeout=WAIT)["body"]["breakpoint"]
    assert changed["verified"] is False and changed["line"] == line
    assert "python3 is not on the step's PATH in its image" in changed["message"]
    assert image in changed["message"]
    dap.wait_event("terminated", timeout=WAIT)
    # the step ran its script plainly, as it would without a debugger (and this image cannot)
    assert "/tekton/scripts/script-0-" in dap.output("stderr")
    assert "step py failed, exit code 127" in dap.output("console")


def test_a_python_too_old_for_debugpy_runs_the_step_plainly_and_says_why(dap, task, tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    fake = tools / "python3"  # says it is 3.6 when asked, runs scripts with the image's Python
    fake.write_text('#!/bin/sh\n[ "$1" = -E ] && { printf 3.6; exit 0; }\n'
                    'exec /usr/bin/python3 "$@"\n')
    fake.chmod(0o755)
    text = task.read_text().replace(
        "      securityContext:\n        runAsUser: 1234\n",
        "      env:\n        - name: PATH\n          value: /workspace/tools:/usr/bin:/bin\n")
    task.write_text(text)
    line = line_of(task, "total = 0")
    launch(dap, task, [line], workspaces={"tools": str(tools)})
    changed = dap.wait_event("breakpoint", timeout=WAIT)["body"]["breakpoint"]
    assert changed["verified"] is False and changed["line"] == line
    assert "Python is 3.6" in changed["message"] and "3.8" in changed["message"]
    dap.wait_event("terminated", timeout=WAIT)
    assert "total 10 False" in dap.output("stdout")


def test_stop_while_stopped_in_python_leaves_no_container_behind(dap, task):
    launch(dap, task, [line_of(task, "total = 0")])
    stopped(dap)
    run = dap.request("evaluate", {"expression": "open('/etc/hostname').read().strip()",
                                   "frameId": frames_of(dap)[0]["id"], "context": "repl"})
    assert run["body"]["result"]  # a live container, under debugpy
    assert _containers_of_the_run()  # the stopped step's, and the next one's
    dap.request("terminate")
    dap.wait_event("terminated", timeout=WAIT)
    dap.close()  # the adapter has ended
    assert _containers_of_the_run() == []


def _containers_of_the_run() -> list[str]:
    out = subprocess.run(["podman", "ps", "-a", "--filter",
                          "label=io.tekton-debug.taskrun=python-in-containers-run",
                          "--format", "{{.Names}}"], capture_output=True, text=True, check=True)
    return out.stdout.split()


def test_the_docker_engine_stops_in_a_python_step_too(docker_host, task, tmp_path):
    client = DapClient(cwd=str(tmp_path), env={"DOCKER_HOST": docker_host})
    try:
        line = line_of(task, "total = 0")
        assert launch(client, task, [line], engine="docker")[0]["verified"] is True
        body = stopped(client)
        assert body["reason"] == "breakpoint" and body["threadId"] == 2
        frame = frames_of(client)[0]
        assert frame["line"] == line
        assert locals_of(client, frame["id"])["names"] == "['ada', 'bo']"
        client.request("continue", {"threadId": 2})
        client.wait_event("terminated", timeout=WAIT)
        assert f"total 10 True 1234 {containers.MARKER_TEXT}" in client.output("stdout")
    finally:
        client.close()


def test_restart_frame_runs_the_retried_step_in_its_container_under_its_debugger_again(
        dap, task):
    line = line_of(task, "marker = open")
    launch(dap, task, [line], params={"fail": "yes"})
    continue_to_the_failure(dap)

    # the fix, one line added above the breakpoint: the retry maps the edited file's lines
    task.write_text(task.read_text().replace('== "yes"', '== "never"').replace(
        "        total = 0\n", "        total = 0\n        retried = True\n"))
    line = line_of(task, "marker = open")  # the editor moves the breakpoint with its line
    dap.request("setBreakpoints", {"source": {"path": str(task)}, "breakpoints": [{"line": line}]})
    dap.request("restartFrame", {"frameId": frames_of(dap)[0]["id"]})
    body = stopped(dap)  # the retry stops at the same breakpoint, in the same container
    assert body["reason"] == "breakpoint" and body["threadId"] == 2
    frames = frames_of(dap)
    assert frames[0]["line"] == line and "count" in frames[0]["name"]
    assert locals_of(dap, frames[0]["id"])["retried"] == "True"
    assert dap.request("evaluate", {"expression": "os.getuid()", "frameId": frames[0]["id"],
                                    "context": "repl"})["body"]["result"] == "1234"
    dap.request("next", {"threadId": 2})
    assert stopped(dap)["reason"] == "step"
    assert frames_of(dap)[0]["line"] == line + 1
    dap.request("continue", {"threadId": 2})
    assert dap.wait_event("exited", timeout=WAIT)["body"]["exitCode"] == 0
    output = dap.output()
    assert "step count, retry 1" in output and "report done" in output
    assert f"total 10 True 1234 {containers.MARKER_TEXT}" in dap.output("stdout")


IMAGE_MODULE = textwrap.dedent('''\
    def twice(n):
        doubled = n * 2
        return doubled
    ''')

STEP_MODULE = textwrap.dedent('''\
    def triple(n):
        tripled = n * 3
        return tripled
    ''')

PATHS = textwrap.dedent('''\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: python-paths
    spec:
      workspaces:
        - name: src
      steps:
        - name: generate
          image: IMAGE
          script: |
            mkdir -p /workspace/gen
            printf 'def made():\\n    return "generated"\\n' > /workspace/gen/genmod.py
        - name: image-path
          image: IMAGE
          script: |
            #!/usr/bin/env python3
            import imgmod
            value = imgmod.twice(21)
            print("image-path", value)
        - name: own-path
          image: IMAGE
          env:
            - name: PYTHONPATH
              value: /workspace/src:/workspace/gen
          script: |
            #!/usr/bin/env python3
            import importlib.util, genmod, stepmod
            value = stepmod.triple(5)
            made = genmod.made()
            print("own-path", value, made, importlib.util.find_spec("imgmod") is None)
    ''')


@pytest.fixture(scope="module")
def pythonpath_image(python_image):
    """The Python image with a module of its own, found through its ENV PYTHONPATH only."""
    return containers.build("python-path", f"FROM {python_image}\n"
                                           "COPY imagelib /opt/imagelib\n"
                                           "ENV PYTHONPATH=/opt/imagelib\n",
                            {"imagelib/imgmod.py": IMAGE_MODULE})


def test_python_paths_of_the_image_and_the_step_hold_under_debugpy_and_frames_open_here(
        dap, tmp_path, pythonpath_image):
    task = tmp_path / "python-paths.yaml"
    task.write_text(PATHS.replace("IMAGE", pythonpath_image))
    src = tmp_path / "src"
    src.mkdir()
    (src / "stepmod.py").write_text(STEP_MODULE)
    first, second = line_of(task, "value = imgmod"), line_of(task, "value = stepmod")
    launch(dap, task, [first, second], workspaces={"src": str(src)})

    # the image's PYTHONPATH, kept behind debugpy's: its module imports, and its frame shows at
    # its path in the container, marked so, with its text from the container
    assert stopped(dap)["reason"] == "breakpoint"
    assert frames_of(dap, 2)[0]["line"] == first
    dap.request("stepIn", {"threadId": 2})
    stopped(dap)
    frame = frames_of(dap, 2)[0]
    assert frame["name"] == "twice" and frame["line"] == 2
    source = frame["source"]
    assert source["path"] == "/opt/imagelib/imgmod.py" and "container" in source["origin"]
    assert "image-path" in source["origin"]
    text = dap.request("source", {"source": source,
                                  "sourceReference": source["sourceReference"]})["body"]
    assert text["content"] == IMAGE_MODULE
    dap.request("continue", {"threadId": 2})

    # the step's own PYTHONPATH replaces the image's (as on a cluster), debugpy's in front: its
    # modules in a workspace bound to a host directory, and in the run's own /workspace, show
    # at their host paths, which the editor opens
    assert stopped(dap)["reason"] == "breakpoint"
    assert frames_of(dap, 3)[0]["line"] == second
    dap.request("stepIn", {"threadId": 3})
    stopped(dap)
    frame = frames_of(dap, 3)[0]
    assert frame["name"] == "triple"
    assert frame["source"] == {"path": str(src / "stepmod.py"), "name": "stepmod.py"}
    dap.request("stepOut", {"threadId": 3})
    stopped(dap)
    dap.request("next", {"threadId": 3})
    stopped(dap)
    dap.request("stepIn", {"threadId": 3})
    stopped(dap)
    frame = frames_of(dap, 3)[0]
    assert frame["name"] == "made" and "sourceReference" not in frame["source"]
    path = frame["source"]["path"]
    assert path.endswith("/workspace/gen/genmod.py") and os.path.isfile(path)
    with open(path) as f:
        assert f.read() == 'def made():\n    return "generated"\n'
    dap.request("continue", {"threadId": 3})
    dap.wait_event("terminated", timeout=WAIT)
    stdout = dap.output("stdout")
    assert "image-path 42" in stdout and "own-path 15 generated True" in stdout


TWO_MODULES = textwrap.dedent('''\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: two-modules
    spec:
      steps:
        - name: first
          image: IMAGE
          script: |
            #!/usr/bin/env python3
            import imgmod
            value = imgmod.twice(21)
            print("first", value)
        - name: second
          image: IMAGE
          script: |
            #!/usr/bin/env python3
            import sys
            with open("/tmp/ownmod.py", "w") as f:
                f.write(OWN)
            sys.path.insert(0, "/tmp")
            import ownmod
            value = ownmod.thrice(5)
            print("second", value)
    ''')

OWN_MODULE = "def thrice(n):\n    tripled = n * 3\n    return tripled\n"


def test_files_only_containers_have_keep_their_text_for_the_run_whichever_step_is_paused(
        dap, tmp_path, pythonpath_image):
    task = tmp_path / "two-modules.yaml"
    task.write_text(TWO_MODULES.replace("IMAGE", pythonpath_image).replace(
        "OWN", repr(OWN_MODULE)))
    first, second = line_of(task, "value = imgmod"), line_of(task, "value = ownmod")
    launch(dap, task, [first, second])

    def into_module(thread: int) -> dict:
        assert stopped(dap)["reason"] == "breakpoint"
        frames_of(dap, thread)
        dap.request("stepIn", {"threadId": thread})
        stopped(dap)
        return frames_of(dap, thread)[0]["source"]

    def text(source: dict) -> str:
        return dap.request("source", {"source": source,
                                      "sourceReference": source["sourceReference"]}
                           )["body"]["content"]

    source_a = into_module(1)
    assert source_a["path"] == "/opt/imagelib/imgmod.py" and text(source_a) == IMAGE_MODULE
    dap.request("continue", {"threadId": 1})
    # the next step, stopped in a file of its container's own after the same requests
    source_b = into_module(2)
    assert source_b["path"] == "/tmp/ownmod.py"
    assert source_b["sourceReference"] != source_a["sourceReference"]
    assert text(source_b) == OWN_MODULE
    # the editor asks again for the first step's file, that step over: its text, not another's
    assert text(source_a) == IMAGE_MODULE
    dap.request("continue", {"threadId": 2})
    dap.wait_event("terminated", timeout=WAIT)
    assert "first 42" in dap.output("stdout") and "second 15" in dap.output("stdout")


SHORT_MOUNT = textwrap.dedent('''\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: short-mount
    spec:
      workspaces:
        - name: tools
          mountPath: /t
      steps:
        - name: py
          image: IMAGE
          script: |
            #!/usr/bin/env python3
            value = 6
            print("value", value)
    ''')


def test_a_workspace_whose_path_begins_the_scripts_path_leaves_the_scripts_frames_alone(
        dap, tmp_path, python_image):
    # debugpy maps paths by string prefix: /t would take the script's /tekton/scripts/... file
    task = tmp_path / "short-mount.yaml"
    task.write_text(SHORT_MOUNT.replace("IMAGE", python_image))
    tools = tmp_path / "tools"
    tools.mkdir()
    line = line_of(task, 'print("value"')
    launch(dap, task, [line], workspaces={"tools": str(tools)})
    assert stopped(dap)["reason"] == "breakpoint"
    frame = frames_of(dap, 1)[0]
    assert frame["line"] == line and frame["name"].startswith("py: ")
    assert frame["source"]["path"] == str(task)
    dap.request("continue", {"threadId": 1})
    dap.wait_event("terminated", timeout=WAIT)
    assert "value 6" in dap.output("stdout")


def test_a_step_retried_as_python_in_a_container_made_without_debugpy_runs_plainly_and_says_why(
        session, tmp_path, python_image):
    from tekton_debug.events import PythonUnavailable, RunFinished, StepPaused

    task = tmp_path / "becomes-python.yaml"
    task.write_text(NO_PYTHON.replace("IMAGE", python_image).replace(
        "#!/usr/bin/env python3\n        print(\"hello\")", "exit 4"))
    s, rec = session(str(task), plan=lambda plan: setattr(plan, "python_exceptions", True))
    assert rec.wait_for(StepPaused).exit_code == 4
    task.write_text(NO_PYTHON.replace("IMAGE", python_image))
    assert s.retry(0) == 0
    why = rec.wait_for(PythonUnavailable).reason
    assert "made while its script was not Python" in why and "restart the run" in why
    assert rec.wait_for(RunFinished).succeeded
    assert rec.log(0) == "hello\n"


def test_a_retry_whose_shebang_names_another_python_looks_for_that_one(
        session, tmp_path, python_image):
    from tekton_debug.events import PythonUnavailable, StepPaused

    task = tmp_path / "another-python.yaml"
    task.write_text(NO_PYTHON.replace("IMAGE", python_image).replace(
        'print("hello")', "raise SystemExit(4)"))
    s, rec = session(str(task))
    assert rec.wait_for(StepPaused).exit_code == 4
    task.write_text(task.read_text().replace("python3", "python9"))
    s.plan.python_exceptions = True  # the retry would start under debugpy
    layout = s.runtime.layout

    def written():
        return sorted(p.name for d in (layout.scripts_dir, layout.tekton / "python")
                      for p in d.rglob("*"))

    before = written()
    assert s.retry(0) == 127
    why = rec.wait_for(PythonUnavailable).reason
    assert f"python9 is not on the step's PATH in its image {python_image}" in why
    # run plainly, the retry wrote nothing for a debugger (no script, no launcher's files)
    assert written() == before


def test_a_retry_whose_python_cannot_be_looked_for_in_its_running_container_says_why(
        session, tmp_path, python_image):
    from tekton_debug.events import PythonUnavailable, StepPaused

    task = tmp_path / "unprobed-python.yaml"
    task.write_text(NO_PYTHON.replace("IMAGE", python_image).replace(
        'print("hello")', "raise SystemExit(4)"))
    s, rec = session(str(task))
    assert rec.wait_for(StepPaused).exit_code == 4
    # the edited step: another Python, and a value too long for an argument of `exec`
    task.write_text(task.read_text().replace("python3", "python9").replace(
        "      script: |", f"      env:\n        - name: BIG\n          value: {'x' * 200_000}\n"
                           "      script: |"))
    s.plan.python_exceptions = True
    s.retry(0)
    why = rec.wait_for(PythonUnavailable).reason
    assert "could not be looked for in its container" in why
    assert "Argument list too long" in why and "did not start" not in why
