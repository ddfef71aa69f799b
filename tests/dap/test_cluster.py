"""The DAP server end to end on a cluster: `tekton-debug dap` over its real stdio, driving the
kubernetes runtime against the test cluster (Tekton's webhook, controller and entrypoint)."""

from __future__ import annotations

import pytest

from tests.cluster.fixtures import cluster  # noqa: F401
from tekton_debug.runtimes.kubernetes.annotate import STEP
from tests.cluster.helpers import (api_client, create_taskrun, follow_log_until, taskrun,
                                   wait_annotation)
from tests.dap.conftest import cluster_config, line_of
from tests.dap.dapclient import DapError

PAUSE_BANNER = "debug onFailure breakpoint has taken effect"


def launch(dap, cluster, failing_task, **more) -> dict:  # noqa: F811
    dap.start(cluster_config(cluster, task=str(failing_task), **more))
    return dap.wait_event("stopped")["body"]


def taskrun_names(cluster) -> list[str]:  # noqa: F811
    from tests.cluster.store import TASKRUNS
    return cluster.call(lambda: [o["metadata"]["name"]
                                 for o in cluster.cluster.store.list(TASKRUNS, "default")])


def taskrun_object(cluster, name: str) -> dict:  # noqa: F811
    tr = cluster.get("taskruns.tekton.dev", name)
    assert tr is not None, f"TaskRun {name} is gone"
    return tr


def condition(tr: dict) -> dict:
    return next((c for c in (tr.get("status") or {}).get("conditions") or []
                 if c["type"] == "Succeeded"), {})


def scope_values(dap, thread: int) -> dict[str, dict[str, str]]:
    frame = dap.request("stackTrace", {"threadId": thread})["body"]["stackFrames"][0]
    scopes = dap.request("scopes", {"frameId": frame["id"]})["body"]["scopes"]
    return {s["name"]: {v["name"]: v["value"] for v in dap.request(
        "variables", {"variablesReference": s["variablesReference"]})["body"]["variables"]}
        for s in scopes if not s.get("expensive")}


def paused_taskrun(cluster, name: str) -> str:  # noqa: F811
    """Create a TaskRun whose second step fails and pauses; returns once it is paused."""
    api = api_client(cluster.kubeconfig)
    create_taskrun(api, taskrun(name, [
        {"name": "first", "image": "alpine", "script": "echo first ran"},
        {"name": "second", "image": "alpine", "script": "echo second failing\nexit 4"},
        {"name": "third", "image": "alpine", "script": "echo third ran"},
    ]))
    follow_log_until(api, f"{name}-pod", "step-second", PAUSE_BANNER)
    return name


def detach(dap) -> None:
    """Disconnect as an editor does for an attached session, then end the adapter."""
    dap.request("disconnect", {})
    dap.proc.stdin.close()
    assert dap.proc.wait(timeout=20) == 0


def error_text(err: DapError) -> str:
    """The whole message an editor shows for a failed request (``body.error.format``)."""
    return err.response["body"]["error"]["format"]


def attach_config(cluster, name: str) -> dict:  # noqa: F811
    return cluster_config(cluster, request="attach", taskRun=name)


# ---- launch ----------------------------------------------------------------------------------

def test_failed_step_stops_with_exception_on_its_thread(cluster_dap,  # noqa: F811
                                                        cluster, failing_task):
    dap = cluster_dap()
    stopped = launch(dap, cluster, failing_task)
    assert stopped["reason"] == "exception"
    assert stopped["threadId"] == 2 and stopped["allThreadsStopped"] is True
    threads = dap.request("threads")["body"]["threads"]
    assert [t["id"] for t in threads] == [1, 2, 3]
    assert threads[1]["name"].startswith("test (paused")
    frame = dap.request("stackTrace", {"threadId": 2})["body"]["stackFrames"][0]
    assert frame["line"] == line_of(failing_task, "- name: test")
    assert "assertion failed: expected 2, got 3" in dap.output("stdout")


def test_variables_show_params_and_the_containers_env(cluster_dap,  # noqa: F811
                                                      cluster, failing_task):
    dap = cluster_dap()
    launch(dap, cluster, failing_task, params={"greeting": "bonjour"})
    values = scope_values(dap, 2)
    assert values["Params"] == {"greeting": "bonjour"}
    assert values["Environment"]["GREETING"] == "bonjour"
    assert values["Step"]["container"] == "step-test"
    assert values["TaskRun"]["runtime"] == "kubernetes"
    assert values["TaskRun"]["name"] in taskrun_names(cluster)


def test_repl_runs_in_the_paused_steps_container(cluster_dap, cluster, failing_task):  # noqa: F811
    dap = cluster_dap()
    launch(dap, cluster, failing_task, params={"greeting": "hi"})
    wait_annotation(cluster, taskrun_names(cluster)[0], STEP)  # made once, as the pause began
    cluster.reset_request_counts()
    # /tekton/debug/info holds one entry, the number of the container's own step
    body = dap.request("evaluate", {"expression": 'echo "$GREETING"; ls /tekton/debug/info',
                                    "context": "repl"})["body"]
    assert body["result"] == "hi\n1"
    execs = {path: n for (verb, path), n in cluster.request_counts().items()
             if path.endswith("/exec")}
    assert list(execs.values()) == [1]
    failing = dap.request("evaluate", {"expression": "exit 7", "context": "repl"})["body"]
    assert failing["result"].endswith("[exit code 7]")


def test_open_shell_asks_the_editor_for_kubectl_exec_into_the_step(
        cluster_dap, cluster, failing_task):  # noqa: F811
    dap = cluster_dap()
    dap.reverse_handlers["runInTerminal"] = lambda args: {"processId": 4242}
    dap.start(cluster_config(cluster, task=str(failing_task)),
              client_capabilities={"supportsRunInTerminalRequest": True})
    dap.wait_event("stopped")
    body = dap.request("tekton/openShell", {"threadId": 2})["body"]
    assert body["terminal"] is True and body["processId"] == 4242
    [asked] = [r for r in dap.reverse_requests if r["command"] == "runInTerminal"]
    argv = asked["arguments"]["args"]
    [name] = taskrun_names(cluster)
    assert argv[:3] == ["kubectl", "exec", "-it"]
    assert argv[argv.index("-c") - 1:argv.index("-c") + 2] == [f"{name}-pod", "-c", "step-test"]
    assert ["--kubeconfig", cluster.kubeconfig] == argv[5:7]


def test_continue_marks_the_step_passed_and_the_taskrun_succeeds(cluster_dap, cluster,  # noqa: F811
                                                                 failing_task):
    dap = cluster_dap()
    launch(dap, cluster, failing_task)
    dap.request("continue", {"threadId": 2})
    assert dap.wait_event("exited")["body"]["exitCode"] == 0
    dap.wait_event("terminated")
    assert "report written" in dap.output("stdout")
    [name] = taskrun_names(cluster)
    assert condition(taskrun_object(cluster, name))["status"] == "True"


def test_a_script_run_from_the_repl_releases_the_step_and_a_late_release_cannot_undo_it(
        cluster_dap, cluster, failing_task):  # noqa: F811
    dap = cluster_dap()
    launch(dap, cluster, failing_task)
    ran = dap.request("evaluate", {"expression": "/tekton/debug/scripts/debug-continue",
                                   "context": "repl"})["body"]
    assert "[exit code" not in ran["result"]
    # at once, before the step says in its log that it was released: refused either way
    late = dap.request("tekton/failContinue", {"threadId": 2}, check=False)
    assert late["success"] is False and "paused" in late["message"]
    assert dap.wait_event("exited")["body"]["exitCode"] == 0
    assert "report written" in dap.output("stdout")


def test_terminate_fails_the_step_and_cancels_the_taskrun(cluster_dap,  # noqa: F811
                                                          cluster, failing_task):
    dap = cluster_dap()
    launch(dap, cluster, failing_task)
    dap.request("terminate")
    assert dap.wait_event("exited")["body"]["exitCode"] != 0
    dap.wait_event("terminated")
    [name] = taskrun_names(cluster)
    tr = taskrun_object(cluster, name)
    assert tr["spec"]["status"] == "TaskRunCancelled"
    assert (condition(tr)["status"], condition(tr)["reason"]) == ("False", "TaskRunCancelled")
    assert "report written" not in dap.output("stdout")


def test_breakpoint_on_a_step_pauses_before_it_runs(cluster_dap,  # noqa: F811
                                                    cluster, failing_task):
    dap = cluster_dap()
    dap.start(cluster_config(cluster, task=str(failing_task)),
              breakpoints={str(failing_task): [line_of(failing_task, "running tests")]})
    assert dap.last_breakpoints["body"]["breakpoints"][0]["verified"] is True
    stopped = dap.wait_event("stopped")["body"]
    assert (stopped["reason"], stopped["threadId"]) == ("breakpoint", 2)
    assert "preparing: hello" in dap.output("stdout")
    assert "running tests" not in dap.output("stdout")
    [name] = taskrun_names(cluster)
    assert taskrun_object(cluster, name)["spec"]["debug"]["breakpoints"]["beforeSteps"] == ["test"]
    count = len(dap.events)
    dap.request("continue", {"threadId": 2})
    # the step runs, fails, and pauses again: now on its failure
    failed = dap.wait_event("stopped", after=count)["body"]
    assert (failed["reason"], failed["threadId"]) == ("exception", 2)
    assert "running tests" in dap.output("stdout")
    dap.request("continue", {"threadId": 2})
    assert dap.wait_event("exited")["body"]["exitCode"] == 0


# ---- attach ----------------------------------------------------------------------------------

def test_attach_to_a_paused_taskrun_stops_at_once(cluster_dap, cluster):  # noqa: F811
    name = paused_taskrun(cluster, "paused-before-attach")
    dap = cluster_dap()
    dap.start(attach_config(cluster, name), request="attach")
    stopped = dap.wait_event("stopped")["body"]
    assert (stopped["reason"], stopped["threadId"]) == ("exception", 2)
    threads = dap.request("threads")["body"]["threads"]
    assert [t["name"].split(" ")[0] for t in threads] == ["first", "second", "third"]
    assert "first ran" in dap.output("stdout")
    dap.request("continue", {"threadId": 2})
    assert dap.wait_event("exited")["body"]["exitCode"] == 0
    assert "third ran" in dap.output("stdout")


def test_disconnecting_an_attached_session_leaves_the_taskrun_paused(cluster_dap,  # noqa: F811
                                                                     cluster):
    name = paused_taskrun(cluster, "stays-paused")
    first = cluster_dap()
    first.start(attach_config(cluster, name), request="attach")
    first.wait_event("stopped")
    detach(first)
    tr = taskrun_object(cluster, name)
    assert "status" not in tr["spec"]  # not cancelled
    assert condition(tr)["status"] == "Unknown"

    second = cluster_dap()
    second.start(attach_config(cluster, name), request="attach")
    stopped = second.wait_event("stopped")["body"]
    assert (stopped["reason"], stopped["threadId"]) == ("exception", 2)
    second.request("tekton/failContinue", {"threadId": 2})
    assert second.wait_event("exited")["body"]["exitCode"] == 1
    assert "third ran" in second.output("stdout")


def test_attach_to_a_missing_taskrun_names_it(cluster_dap, cluster):  # noqa: F811
    dap = cluster_dap()
    with pytest.raises(DapError) as err:
        dap.start(attach_config(cluster, "no-such-run"), request="attach")
    message = error_text(err.value)
    assert "no TaskRun 'no-such-run' in namespace 'default'" in message
    assert "kubectl get taskruns -n default" in message


# ---- what the cluster refuses ----------------------------------------------------------------

def test_alpha_gate_off_fails_the_launch_with_the_patch_command(cluster_dap, cluster,  # noqa: F811
                                                                failing_task):
    cluster.set_feature_flag("enable-api-fields", "beta")
    dap = cluster_dap()
    with pytest.raises(DapError) as err:
        dap.start(cluster_config(cluster, task=str(failing_task)))
    message = error_text(err.value)
    assert '"enable-api-fields" is "beta"' in message
    assert ("kubectl patch configmap feature-flags -n tekton-pipelines -p "
            "'{\"data\":{\"enable-api-fields\":\"alpha\"}}'") in message
    assert taskrun_names(cluster) == []


def test_denied_exec_fails_the_launch_naming_the_permission(cluster_dap, cluster,  # noqa: F811
                                                            failing_task):
    cluster.deny("create", "pods", "exec")
    dap = cluster_dap()
    with pytest.raises(DapError) as err:
        dap.start(cluster_config(cluster, task=str(failing_task)))
    message = error_text(err.value)
    assert "create pods/exec" in message
    assert 'resources: ["pods/exec"]' in message
    assert taskrun_names(cluster) == []
