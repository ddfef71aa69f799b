"""A PipelineRun over DAP (one session, threads named task/step): a failed step stops only its
thread, the others run on; the stack shows the step in its Task file over its task in the Pipeline
file; breakpoints on pipeline task lines and task/step names; Stop lets finally run."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

from tests.dap.conftest import line_of

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "pipeline")
PIPELINE = Path(os.path.abspath(os.path.join(EXAMPLES, "pipeline.yaml")))
TASKS = Path(os.path.abspath(os.path.join(EXAMPLES, "tasks.yaml")))


def launch(dap, file=PIPELINE, **config):
    extra = {k: config.pop(k) for k in ("breakpoints", "function_breakpoints") if k in config}
    return dap.start({"type": "tekton", "request": "launch", "task": str(file), **config},
                     **extra)


def thread_named(dap, name: str) -> dict:
    threads = dap.request("threads")["body"]["threads"]
    return next(t for t in threads if t["name"].startswith(name + " "))


def test_failed_step_stops_its_thread_only_and_the_stack_shows_task_and_step(dap):
    launch(dap, params={"break-tests": "true", "publish": "true"})
    stopped = dap.wait_event("stopped")["body"]
    assert stopped["reason"] == "exception" and stopped["allThreadsStopped"] is False
    assert "unit-tests/run-tests" in stopped["description"]
    thread = thread_named(dap, "unit-tests/run-tests")
    assert thread["id"] == stopped["threadId"] and "paused" in thread["name"]
    # lint ran on meanwhile, in its own thread
    dap.wait_event("output", lambda b: "task lint succeeded" in b.get("output", ""))
    assert "[lint/check-style] style ok" in dap.output("stdout")

    frames = dap.request("stackTrace", {"threadId": stopped["threadId"]})["body"]["stackFrames"]
    assert frames[0]["source"]["path"] == str(TASKS)
    assert frames[0]["line"] == line_of(TASKS, "- name: run-tests")
    assert frames[1]["source"]["path"] == str(PIPELINE)
    assert frames[1]["line"] == line_of(PIPELINE, "- name: unit-tests")
    assert frames[1]["name"].startswith("task unit-tests")

    scopes = dap.request("scopes", {"frameId": frames[0]["id"]})["body"]["scopes"]
    params = next(s for s in scopes if s["name"] == "Params")
    values = {v["name"]: v["value"] for v in
              dap.request("variables", {"variablesReference": params["variablesReference"]})
              ["body"]["variables"]}
    assert values["break"] == '"true"' or "true" in values["break"]
    assert values["version"].strip('"').startswith("1.4.")

    repl = dap.request("evaluate", {"expression": "echo v=$(params.version)",
                                    "frameId": frames[0]["id"], "context": "repl"})["body"]
    assert repl["result"].startswith("v=1.4.")

    assert frames[0]["canRestart"] is True and frames[1]["canRestart"] is False

    dap.request("continue", {"threadId": stopped["threadId"]})
    exited = dap.wait_event("exited")["body"]
    assert exited["exitCode"] == 0
    assert "PipelineRun build-and-publish-run Succeeded" in dap.output("console")


def test_restart_frame_retries_the_failed_step_as_the_task_file_is_now(dap, tmp_path):
    import shutil
    for f in Path(EXAMPLES).iterdir():
        shutil.copy(f, tmp_path / f.name)
    tasks = tmp_path / "tasks.yaml"
    launch(dap, tmp_path / "pipeline.yaml", params={"break-tests": "true", "publish": "true"})
    stopped = dap.wait_event("stopped")["body"]
    frame = dap.request("stackTrace", {"threadId": stopped["threadId"]})["body"]["stackFrames"][0]
    tasks.write_text(tasks.read_text().replace('echo "1 test passed"', 'echo "passed on retry"')
                     .replace("exit 1", "true"))
    dap.request("restartFrame", {"frameId": frame["id"]})
    exited = dap.wait_event("exited")["body"]
    assert exited["exitCode"] == 0
    out = dap.output()
    assert "unit-tests/run-tests, retry 1: running it again" in out
    assert "[unit-tests/run-tests] passed on retry" in out


def test_two_paused_steps_are_released_one_at_a_time(dap, tmp_path):
    path = tmp_path / "two.yaml"
    path.write_text(textwrap.dedent("""
        apiVersion: tekton.dev/v1
        kind: Pipeline
        metadata: {name: two}
        spec:
          tasks:
            - name: a
              taskSpec: {steps: [{name: one, image: alpine, script: "exit 1"}]}
            - name: b
              taskSpec: {steps: [{name: two, image: alpine, script: "exit 2"}]}
          finally:
            - name: report
              params: [{name: s, value: $(tasks.status)}]
              taskSpec:
                params: [{name: s}]
                steps: [{name: say, image: alpine, script: "echo overall $(params.s)"}]
        """))
    launch(dap, path)
    first = dap.wait_event("stopped")["body"]
    second = dap.wait_event("stopped", lambda b: b["threadId"] != first["threadId"])["body"]
    names = {thread_named(dap, "a/one")["id"], thread_named(dap, "b/two")["id"]}
    assert {first["threadId"], second["threadId"]} == names
    a = thread_named(dap, "a/one")["id"]
    b = thread_named(dap, "b/two")["id"]
    assert dap.request("continue", {"threadId": a})["body"]["allThreadsContinued"] is False
    dap.wait_event("continued", lambda body: body["threadId"] == a)
    assert "paused" in thread_named(dap, "b/two")["name"]  # untouched
    dap.request("tekton/failContinue", {"threadId": b})
    assert dap.wait_event("exited")["body"]["exitCode"] == 1
    assert "[report/say] overall Failed" in dap.output("stdout")


def test_breakpoints_on_a_pipeline_task_line_and_on_task_step_names(dap):
    build_line = line_of(PIPELINE, "- name: build")
    launch(dap, breakpoints={str(PIPELINE): [build_line + 2]}, function_breakpoints=["lint/check-style"])
    placed = dap.last_breakpoints["body"]["breakpoints"][0]
    assert placed["verified"] is True and placed["line"] == build_line
    stopped = dap.wait_event("stopped")["body"]
    assert stopped["reason"] == "breakpoint" and stopped["allThreadsStopped"] is False
    assert stopped["threadId"] == thread_named(dap, "build/compile")["id"]
    dap.request("continue", {"threadId": stopped["threadId"]})
    lint = dap.wait_event("stopped", lambda b: b["threadId"] != stopped["threadId"])["body"]
    assert lint["threadId"] == thread_named(dap, "lint/check-style")["id"]
    dap.request("continue", {"threadId": lint["threadId"]})
    assert dap.wait_event("exited")["body"]["exitCode"] == 0


def test_a_breakpoint_in_a_task_file_pauses_that_step(dap):
    launch(dap, breakpoints={str(TASKS): [line_of(TASKS, "- name: compile") + 1]})
    stopped = dap.wait_event("stopped")["body"]
    assert stopped["threadId"] == thread_named(dap, "build/compile")["id"]
    assert "Paused before step build/compile" in stopped["description"]
    dap.request("continue", {"threadId": stopped["threadId"]})
    assert dap.wait_event("exited")["body"]["exitCode"] == 0


def test_stop_cancels_the_pipelinerun_and_finally_still_runs(dap):
    launch(dap, params={"break-tests": "true"})
    dap.wait_event("stopped")
    dap.request("terminate")
    assert dap.wait_event("exited")["body"]["exitCode"] == 1
    console = dap.output("console")
    assert "PipelineRun build-and-publish-run Cancelled" in console
    assert "[notify/report] pipeline: Failed" in dap.output("stdout")


def test_a_broken_pipeline_is_refused_with_every_problem_and_the_adapter_stays_usable(dap,
                                                                                    tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
                   "  tasks:\n    - name: a\n      runAfter: [ghost]\n"
                   "      taskSpec: {steps: [{image: alpine, script: 'true'}]}\n")
    dap.request("initialize", {"adapterID": "tekton"})
    response = dap.request("launch", {"type": "tekton", "request": "launch", "task": str(bad)},
                           check=False)
    assert response["success"] is False
    error = response["body"]["error"]["format"]
    assert f"{bad}:7:18: runAfter names task \"ghost\"" in error
    assert "fix: use one of the tasks: a" in error
    bad.write_text(bad.read_text().replace("runAfter: [ghost]", "retries: 1"))
    launch = dap.send("launch", {"type": "tekton", "request": "launch", "task": str(bad)})
    dap.request("configurationDone")
    assert dap.response(launch)["success"] is True
    assert dap.wait_event("exited")["body"]["exitCode"] == 0



class TcpClient:
    """A DAP client on the loopback port a child session is served on."""

    def __init__(self, port: int) -> None:
        import socket
        import threading

        self.sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        self.file = self.sock.makefile("rb")
        self.seq = 1
        self.messages: list[dict] = []
        threading.Thread(target=self._read, daemon=True).start()

    def send(self, command: str, arguments: dict | None = None) -> None:
        import json

        body = json.dumps({"seq": self.seq, "type": "request", "command": command,
                           "arguments": arguments or {}}).encode()
        self.seq += 1
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _read(self) -> None:
        import json

        try:
            while True:
                header = self.file.readline()
                if not header:
                    return
                length = int(header.split(b":")[1])
                self.file.readline()
                self.messages.append(json.loads(self.file.read(length)))
        except (OSError, ValueError):
            return

    def wait(self, predicate, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((m for m in list(self.messages) if predicate(m)), None)
            if found is not None:
                return found
            time.sleep(0.02)
        raise AssertionError(f"not seen; got {[m.get('event') or m.get('command') for m in self.messages]}")

    def close(self) -> None:
        self.sock.close()


def connect_children(dap) -> dict[str, TcpClient]:
    """Answer the adapter's startDebugging requests as an editor does: each child session is
    connected, attached and configured; returns them by pipeline task, as they come."""
    children: dict[str, TcpClient] = {}

    def start_debugging(arguments):
        config = arguments["configuration"]
        assert config["request"] == "attach" and arguments["request"] == "attach"
        child = TcpClient(config["port"])
        child.send("initialize", {"adapterID": "tekton"})
        child.send("attach", config)
        child.send("configurationDone")
        children[config["pipelineTask"]] = child
        return {}

    dap.reverse_handlers["startDebugging"] = start_debugging
    return children


def test_with_start_debugging_each_taskrun_is_a_child_session_of_its_own(dap):
    children = connect_children(dap)
    dap.start({"type": "tekton", "request": "launch", "task": str(PIPELINE),
               "params": {"break-tests": "true"}},
              client_capabilities={"supportsStartDebuggingRequest": True})
    try:
        deadline = time.monotonic() + 20
        while "unit-tests" not in children and time.monotonic() < deadline:
            time.sleep(0.02)
        tests = children["unit-tests"]
        stopped = tests.wait(lambda m: m.get("event") == "stopped")["body"]
        assert stopped["reason"] == "exception" and stopped["threadId"] == 1
        tests.send("threads")
        threads = tests.wait(lambda m: m.get("command") == "threads")["body"]["threads"]
        assert [t["name"].split(" ")[0] for t in threads] == ["run-tests"]
        assert dap.request("threads")["body"]["threads"] == []  # the parent holds no threads
        assert {"clone", "build", "lint"} <= set(children)
        children["lint"].wait(lambda m: m.get("event") == "terminated")
        tests.send("continue", {"threadId": 1})
        assert dap.wait_event("exited")["body"]["exitCode"] == 0
    finally:
        for child in children.values():
            child.close()


MATRIX = Path(os.path.abspath(os.path.join(EXAMPLES, "matrix.yaml")))


def test_a_failed_matrix_combination_stops_its_own_thread_with_its_params_shown(dap):
    launch(dap, MATRIX, params={"fail-on": "linux/go1.22"}, runtime="local",
           function_breakpoints=["report"])
    stopped = dap.wait_event("stopped")["body"]
    assert stopped["reason"] == "exception" and stopped["allThreadsStopped"] is False
    assert "unit-tests[2]/test" in stopped["description"]
    assert stopped["threadId"] == thread_named(dap, "unit-tests[2]/test")["id"]
    # the other combinations run to their ends meanwhile, each in its own thread
    for i in (0, 1, 3, 4):
        dap.wait_event("output", lambda b, i=i: f"task unit-tests[{i}] succeeded"
                       in b.get("output", ""))
    assert "[unit-tests[4]/test] go test  ./... on windows with go1.22" in dap.output("stdout")
    assert "TaskRun test-matrix-run-unit-tests-2 (platform=linux, version=go1.22, flags=-race)" \
        in dap.output("console")
    names = [t["name"] for t in dap.request("threads")["body"]["threads"]]
    assert [n.split(" ")[0] for n in names] == [f"unit-tests[{i}]/test" for i in range(5)]

    frames = dap.request("stackTrace", {"threadId": stopped["threadId"]})["body"]["stackFrames"]
    assert frames[0]["source"]["path"] == str(MATRIX)
    assert frames[0]["line"] == line_of(MATRIX, "- name: test")
    assert frames[1]["line"] == line_of(MATRIX, "- name: unit-tests")
    assert frames[1]["name"] == ("task unit-tests[2]: running (platform=linux, version=go1.22, "
                                 "flags=-race)")
    scopes = dap.request("scopes", {"frameId": frames[0]["id"]})["body"]["scopes"]
    params = next(s for s in scopes if s["name"] == "Params")
    values = {v["name"]: v["value"].strip('"') for v in
              dap.request("variables", {"variablesReference": params["variablesReference"]})
              ["body"]["variables"]}
    assert (values["platform"], values["version"], values["flags"]) == ("linux", "go1.22",
                                                                        "-race")
    dap.request("continue", {"threadId": stopped["threadId"]})  # marked passed
    # the breakpoint on task "report" pauses it after the matrix ended, with every summary
    report = dap.wait_event("stopped", lambda b: b["threadId"] != stopped["threadId"])["body"]
    assert report["reason"] == "breakpoint"
    assert report["threadId"] == thread_named(dap, "report/print")["id"]
    dap.request("continue", {"threadId": report["threadId"]})
    assert dap.wait_event("exited")["body"]["exitCode"] == 0
    out = dap.output("stdout")
    assert "[report/print] 5 test runs:" in out and "[report/print]   windows/go1.22: ok" in out
    console = dap.output("console")
    assert "unit-tests[2]            succeeded" in console
    assert 'result summaries: ["linux/go1.21: ok", "darwin/go1.21: ok", ' in console


def test_with_start_debugging_each_matrix_combination_is_a_child_session(dap):
    children: dict[str, TcpClient] = {}
    names: dict[str, str] = {}

    def start_debugging(arguments):
        config = arguments["configuration"]
        child = TcpClient(config["port"])
        child.send("initialize", {"adapterID": "tekton"})
        child.send("attach", config)
        child.send("configurationDone")
        children[config["pipelineTask"]] = child
        names[config["pipelineTask"]] = config["name"]
        return {}

    dap.reverse_handlers["startDebugging"] = start_debugging
    dap.start({"type": "tekton", "request": "launch", "task": str(MATRIX), "runtime": "local",
               "params": {"fail-on": "darwin/go1.21"}},
              client_capabilities={"supportsStartDebuggingRequest": True})
    try:
        deadline = time.monotonic() + 20
        while "unit-tests[1]" not in children and time.monotonic() < deadline:
            time.sleep(0.02)
        assert names["unit-tests[1]"] == ("unit-tests[1]: TaskRun test-matrix-run-unit-tests-1 "
                                          "(platform=darwin, version=go1.21)")
        failed = children["unit-tests[1]"]
        stopped = failed.wait(lambda m: m.get("event") == "stopped")["body"]
        assert stopped["reason"] == "exception" and stopped["threadId"] == 1
        for key in ("unit-tests[0]", "unit-tests[2]", "unit-tests[3]", "unit-tests[4]"):
            children[key].wait(lambda m: m.get("event") == "terminated")
        failed.send("tekton/failContinue", {"threadId": 1})
        assert dap.wait_event("exited")["body"]["exitCode"] == 1
        assert "task report skipped: PipelineRun was stopping" in dap.output("console")
    finally:
        for child in children.values():
            child.close()


def test_a_child_session_that_attaches_late_gets_each_line_once_in_order(dap, tmp_path):
    """What a TaskRun printed before its child session attached is kept line by line (the
    session itself keeps only the latest chunk's text)."""
    pipeline = tmp_path / "pipeline.yaml"
    pipeline.write_text(textwrap.dedent("""\
        apiVersion: tekton.dev/v1
        kind: Pipeline
        metadata:
          name: chatty
        spec:
          tasks:
            - name: talk
              taskSpec:
                steps:
                  - name: count
                    image: alpine
                    script: |
                      for i in 1 2 3 4 5; do echo "line $i"; sleep 0.05; done
        """))
    configs: list[dict] = []
    dap.reverse_handlers["startDebugging"] = lambda arguments: configs.append(
        arguments["configuration"]) or {}
    dap.start({"type": "tekton", "request": "launch", "task": str(pipeline)},
              client_capabilities={"supportsStartDebuggingRequest": True})
    # the child session attaches only once the TaskRun has ended: everything waits for it
    dap.wait_event("output", lambda b: "task talk succeeded" in b["output"])
    child = TcpClient(configs[0]["port"])
    try:
        child.send("initialize", {"adapterID": "tekton"})
        child.send("attach", configs[0])
        child.send("configurationDone")
        child.wait(lambda m: m.get("event") == "terminated")
        stdout = "".join(m["body"]["output"] for m in child.messages if m.get("event") == "output"
                         and m["body"].get("category") == "stdout")
        assert stdout == "".join(f"line {i}\n" for i in range(1, 6))
        assert dap.wait_event("exited")["body"]["exitCode"] == 0
    finally:
        child.close()
