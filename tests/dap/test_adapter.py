"""The DAP server end to end, over its real stdio, on the local runtime."""

from __future__ import annotations

import os
import time

import pytest

from tests.dap.conftest import line_of
from tests.processes import processes_with, wait_until_gone
from tests.dap.dapclient import DapError


def launch_failing(dap, failing_task, capabilities=None, **config):
    dap.start({"type": "tekton", "request": "launch", "task": str(failing_task), **config},
              client_capabilities=capabilities)
    return dap.wait_event("stopped")["body"]


def test_initialize_advertises_what_is_served(dap):
    body = dap.request("initialize", {"adapterID": "tekton"})["body"]
    assert body["supportsConfigurationDoneRequest"] is True
    assert [f["filter"] for f in body["exceptionBreakpointFilters"]] == ["onFailure", "python"]
    assert body["exceptionBreakpointFilters"][0]["default"] is True
    assert body["exceptionBreakpointFilters"][1]["default"] is False
    assert dap.wait_event("initialized")


def test_failed_step_stops_with_exception_on_its_thread_and_line(dap, failing_task):
    stopped = launch_failing(dap, failing_task)
    assert stopped["reason"] == "exception"
    assert stopped["threadId"] == 2
    assert stopped["allThreadsStopped"] is True
    assert "test" in stopped["description"] and "exit code 3" in stopped["description"]

    threads = dap.request("threads")["body"]["threads"]
    assert [t["id"] for t in threads] == [1, 2, 3]
    assert threads[1]["name"].startswith("test (paused")

    frames = dap.request("stackTrace", {"threadId": 2})["body"]["stackFrames"]
    assert frames[0]["line"] == line_of(failing_task, "- name: test")
    assert frames[0]["source"]["path"] == str(failing_task)
    # the finished step stands below, with its state
    assert "prepare" in frames[1]["name"] and "succeeded" in frames[1]["name"]


def test_exception_info_has_exit_code_command_and_last_output(dap, failing_task):
    launch_failing(dap, failing_task)
    info = dap.request("exceptionInfo", {"threadId": 2})["body"]
    assert info["exceptionId"] == "exit code 3"
    assert "exit 3" in info["details"]["stackTrace"]
    assert "assertion failed: expected 2, got 3" in info["details"]["stackTrace"]


def test_variables_hold_params_env_and_results(dap, failing_task):
    launch_failing(dap, failing_task, params={"greeting": "bonjour"})
    frame = dap.request("stackTrace", {"threadId": 2})["body"]["stackFrames"][0]
    scopes = {s["name"]: s for s in dap.request("scopes", {"frameId": frame["id"]})["body"]["scopes"]}
    assert set(scopes) == {"Step", "Params", "Environment", "Results", "Workspaces", "TaskRun"}
    assert scopes["Workspaces"]["expensive"] is True

    def values(scope):
        ref = scopes[scope]["variablesReference"]
        return {v["name"]: v["value"] for v in
                dap.request("variables", {"variablesReference": ref})["body"]["variables"]}

    assert values("Params") == {"greeting": "bonjour"}
    assert values("Environment")["GREETING"] == "bonjour"
    assert values("Results") == {"summary": "prepared"}
    step = values("Step")
    assert step["name"] == "test" and step["exitCode"] == "3"


def test_repl_runs_in_the_step_environment_with_substitutions(dap, failing_task):
    launch_failing(dap, failing_task, params={"greeting": "hi"})
    body = dap.request("evaluate", {"expression": 'echo "$GREETING from $(params.greeting)"',
                                    "context": "repl"})["body"]
    assert body["result"] == "hi from hi"
    failing = dap.request("evaluate", {"expression": "false", "context": "repl"})["body"]
    assert failing["result"].endswith("[exit code 1]")


def test_hover_and_watch_show_tekton_variables(dap, failing_task):
    launch_failing(dap, failing_task)
    frame = dap.request("stackTrace", {"threadId": 2})["body"]["stackFrames"][0]
    hover = dap.request("evaluate", {"expression": "$(params.greeting)", "context": "hover",
                                     "frameId": frame["id"]})["body"]
    assert hover["result"] == "hello"
    path = dap.request("evaluate", {"expression": "$(results.summary.path)",
                                    "context": "watch"})["body"]["result"]
    assert path.endswith("/summary") and os.path.exists(path)
    with pytest.raises(DapError) as err:
        dap.request("evaluate", {"expression": "$(params.nope)", "context": "watch"})
    assert "not a Tekton variable" in err.value.response["message"]


def test_continue_marks_step_passed_and_run_succeeds(dap, failing_task):
    launch_failing(dap, failing_task)
    dap.request("continue", {"threadId": 2})
    exited = dap.wait_event("exited")
    assert exited["body"]["exitCode"] == 0
    dap.wait_event("terminated")
    assert "report written" in dap.output("stdout")


def test_terminate_marks_step_failed(dap, failing_task):
    launch_failing(dap, failing_task)
    dap.request("terminate")
    assert dap.wait_event("exited")["body"]["exitCode"] != 0
    dap.wait_event("terminated")
    assert "report written" not in dap.output("stdout")


def test_fail_continue_runs_later_steps_and_run_fails(dap, failing_task):
    launch_failing(dap, failing_task)
    dap.request("tekton/failContinue", {"threadId": 2})
    assert dap.wait_event("exited")["body"]["exitCode"] == 1
    assert "report written" in dap.output("stdout")


def test_continue_when_nothing_is_paused_is_refused(dap, failing_task):
    dap.start({"type": "tekton", "request": "launch", "task": str(failing_task)},
              exception_filters=[])
    dap.wait_event("terminated")
    with pytest.raises(DapError) as err:
        dap.request("continue", {"threadId": 1})
    assert err.value.response["body"]["error"]["showUser"] is True


def test_exception_filter_off_fails_like_tekton(dap, failing_task):
    dap.start({"type": "tekton", "request": "launch", "task": str(failing_task)},
              exception_filters=[])
    assert dap.wait_event("exited")["body"]["exitCode"] == 1
    assert not [e for e in dap.events if e["event"] == "stopped"]
    assert "report written" not in dap.output("stdout")


def test_breakpoint_on_step_line_pauses_before_it(dap, failing_task):
    line = line_of(failing_task, "echo \"report written\"")
    dap.start({"type": "tekton", "request": "launch", "task": str(failing_task)},
              breakpoints={str(failing_task): [line, 2]})
    bps = dap.last_breakpoints["body"]["breakpoints"]
    assert bps[0]["verified"] is True and bps[0]["line"] == line_of(failing_task, "- name: report")
    assert bps[1]["verified"] is False and "not inside a step" in bps[1]["message"]
    first = dap.wait_event("stopped")["body"]
    assert first["reason"] == "exception"
    dap.request("continue", {"threadId": 2})
    second = dap.wait_event("stopped", lambda b: b["threadId"] == 3)["body"]
    assert second["reason"] == "breakpoint"
    assert second["hitBreakpointIds"] == [bps[0]["id"]]
    assert "report written" not in dap.output("stdout")
    dap.request("continue", {"threadId": 3})
    assert dap.wait_event("exited")["body"]["exitCode"] == 0


def test_function_breakpoint_and_next_pause_before_steps(dap, failing_task):
    dap.start({"type": "tekton", "request": "launch", "task": str(failing_task)},
              function_breakpoints=["prepare"])
    stopped = dap.wait_event("stopped")["body"]
    assert stopped["threadId"] == 1 and stopped["reason"] == "breakpoint"
    n = len(dap.events)
    dap.request("next", {"threadId": 1})
    stopped = dap.wait_event("stopped", after=n)["body"]
    assert stopped["threadId"] == 2 and stopped["reason"] == "step"


def test_stop_on_entry_pauses_before_first_step(dap, failing_task):
    dap.start({"type": "tekton", "request": "launch", "task": str(failing_task),
               "stopOnEntry": True})
    stopped = dap.wait_event("stopped")["body"]
    assert stopped == {**stopped, "reason": "entry", "threadId": 1}


def test_open_shell_sends_run_in_terminal(dap, failing_task):
    dap.reverse_handlers["runInTerminal"] = lambda args: {}
    launch_failing(dap, failing_task, {"supportsRunInTerminalRequest": True})
    body = dap.request("tekton/openShell", {"threadId": 2})["body"]
    assert body["terminal"] is True
    req = dap.reverse_requests[0]
    assert req["command"] == "runInTerminal" and req["arguments"]["args"] == body["args"]


@pytest.mark.parametrize("ending", ["disconnect", "client gone"])
def test_a_shell_opened_in_the_editors_terminal_ends_with_the_session(ending, dap, failing_task):
    import subprocess
    shells = []

    def run_in_terminal(args):  # as an editor does: start the command, say its process id
        shells.append(subprocess.Popen(args["args"], stdin=subprocess.PIPE,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True))
        return {"processId": shells[-1].pid}

    dap.reverse_handlers["runInTerminal"] = run_in_terminal
    launch_failing(dap, failing_task, {"supportsRunInTerminalRequest": True})
    dap.request("tekton/openShell", {"threadId": 2})
    assert shells and shells[0].poll() is None

    if ending == "disconnect":
        dap.request("disconnect", {"terminateDebuggee": True})
    else:
        dap.proc.stdin.close()
        dap.proc.wait(20)

    assert shells[0].wait(10) is not None  # hung up


def test_open_shell_without_run_in_terminal_gives_the_command(tmp_path, failing_task):
    from tests.dap.dapclient import DapClient
    client = DapClient(cwd=str(tmp_path))
    try:
        client.start({"type": "tekton", "request": "launch", "task": str(failing_task)})
        client.wait_event("stopped")
        body = client.request("tekton/openShell", {"threadId": 2})["body"]
        assert body["terminal"] is False and body["command"]
        client.wait_event("output", lambda b: b.get("category") == "important"
                          and body["command"] in b["output"])
    finally:
        client.close()


def test_output_events_keep_streams_under_a_header_line_per_step(dap, failing_task):
    launch_failing(dap, failing_task)
    assert "running tests" in dap.output("stdout")
    assert "assertion failed" in dap.output("stderr")
    outputs = [e["body"] for e in dap.events if e["event"] == "output"]
    # no output groups: VS Code would not draw what joins a group after it is drawn
    assert not [b for b in outputs if "group" in b]
    texts = [b["output"] for b in outputs]
    header = texts.index("step test\n")
    assert outputs[header]["line"] == line_of(failing_task, "- name: test")
    assert outputs[header]["source"]["path"] == str(failing_task)
    assert texts.index("step prepare succeeded, exit code 0\n") < header \
        < texts.index("running tests\n")


def test_bad_task_file_gives_clear_launch_error(dap, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: bad\nspec:\n  steps:\n    - name: Bad_Name\n"
                   "      image: alpine\n      script: echo\n")
    dap.request("initialize", {"adapterID": "tekton"})
    with pytest.raises(DapError) as err:
        dap.request("launch", {"type": "tekton", "request": "launch", "task": str(bad)})
    message = err.value.response["message"]
    assert f"{bad}:7" in message and "Bad_Name" in message
    assert err.value.response["body"]["error"]["showUser"] is True


def test_wrong_types_in_launch_configuration_are_named(dap, failing_task):
    dap.request("initialize", {"adapterID": "tekton"})
    with pytest.raises(DapError) as err:
        dap.request("launch", {"task": str(failing_task), "params": ["a"]})
    assert '"params"' in err.value.response["message"]


def test_unknown_request_gets_an_error_response(dap):
    dap.request("initialize", {"adapterID": "tekton"})
    response = dap.request("flyToTheMoon", {}, check=False)
    assert response["success"] is False and "flyToTheMoon" in response["message"]


def test_restart_runs_again_with_the_same_breakpoints(dap, failing_task):
    launch_failing(dap, failing_task)
    n = len(dap.events)
    dap.request("restart", {})
    stopped = dap.wait_event("stopped", after=n)["body"]
    assert stopped["threadId"] == 2 and stopped["reason"] == "exception"
    assert not [e for e in dap.events[n:] if e["event"] == "terminated"]


def test_vanished_client_leaves_no_step_process(tmp_path):
    from tests.dap.dapclient import DapClient
    marker = f"{os.getpid() % 1000 + 1000}.5"  # a sleep length no other process uses
    task = tmp_path / "slow.yaml"
    task.write_text("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: slow\nspec:\n"
                    "  steps:\n    - name: wait\n      image: alpine\n      script: |\n"
                    f"        echo started\n        sleep {marker}\n")
    client = DapClient(cwd=str(tmp_path))
    client.start({"type": "tekton", "request": "launch", "task": str(task)})
    client.wait_event("output", lambda b: "started" in b.get("output", ""))
    deadline = time.time() + 5
    while not processes_with(marker) and time.time() < deadline:
        time.sleep(0.02)  # the step's sh has printed; its sleep is being spawned
    assert processes_with(marker)
    client.proc.stdin.close()  # no disconnect: the client just goes away
    client.proc.wait(timeout=15)
    assert wait_until_gone(marker) == []


def test_secret_values_are_masked_in_output_variables_and_evaluate(tmp_path):
    from tests.dap.dapclient import DapClient
    secret = "pa55w0rd-Zq9"
    task = tmp_path / "secret.yaml"
    task.write_text(
        "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: deploy\nspec:\n  steps:\n"
        "    - name: push\n      image: alpine\n      env:\n        - name: TOKEN\n"
        "          valueFrom:\n            secretKeyRef: {name: registry, key: token}\n"
        "      script: |\n        printf 'using %s' \"$TOKEN\"\n        printf ' again %s\\n' \"$TOKEN\"\n"
        "        exit 1\n")
    client = DapClient(cwd=str(tmp_path), env={"TEKTON_DEBUG_SECRET_REGISTRY_TOKEN": secret})
    try:
        client.start({"type": "tekton", "request": "launch", "task": str(task)})
        client.wait_event("stopped")
        out = client.output("stdout")
        assert "using ********" in out and "again ********" in out and secret not in out
        frame = client.request("stackTrace", {"threadId": 1})["body"]["stackFrames"][0]
        scopes = client.request("scopes", {"frameId": frame["id"]})["body"]["scopes"]
        env_ref = next(s["variablesReference"] for s in scopes if s["name"] == "Environment")
        env = {v["name"]: v["value"] for v in client.request(
            "variables", {"variablesReference": env_ref})["body"]["variables"]}
        assert env["TOKEN"] == "********"
        result = client.request("evaluate", {"expression": "echo token=$TOKEN",
                                             "context": "repl"})["body"]["result"]
        assert result == "token=********"
        info = client.request("exceptionInfo", {"threadId": 1})["body"]
        assert secret not in str(info)
    finally:
        client.close()
