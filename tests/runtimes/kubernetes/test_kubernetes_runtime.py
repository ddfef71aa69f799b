"""The kubernetes runtime against the test cluster: a real API server protocol, Tekton's webhook
and entrypoint, watches, logs and exec."""

from __future__ import annotations

import datetime

import os

import pytest

from tekton_debug.errors import RuntimeUnavailable, UserError, WrongTime
from tekton_debug.options import LaunchOptions
from tekton_debug.events import (
    DebugPlan, PauseKind, Release, RunFinished, StepFinished, StepLog, StepOutcome, StepPaused,
    StepResumed, StepStarted,
)
from tekton_debug.runtimes.kubernetes import KubernetesRuntime, connect
from tekton_debug.runtimes.kubernetes.annotate import STEP
from tests.cluster.helpers import wait_annotation
from tekton_debug.tekton.loader import load_text

FAILING = """
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: demo}
spec:
  steps:
  - name: one
    image: alpine
    script: echo hello from one
  - name: two
    image: alpine
    env: [{name: GREETING, value: hi there}]
    workingDir: /workspace/src
    script: |
      echo failing now
      exit 3
  - name: three
    image: alpine
    script: echo three ran
"""

PASSING = """
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: fine}
spec:
  steps:
  - name: first
    image: alpine
    script: echo first
  - name: second
    image: alpine
    script: echo second
"""


def paused_on(rec, index, kind=PauseKind.ON_FAILURE):
    return rec.wait_for(lambda e: isinstance(e, StepPaused) and e.index == index and e.kind is kind)


def finished(rec):
    return rec.wait_for(lambda e: isinstance(e, RunFinished))


def step_finished(rec, index):
    return rec.wait_for(lambda e: isinstance(e, StepFinished) and e.index == index)


def log_of(rec, index) -> bytes:
    return b"".join(e.data for e in rec.of(StepLog) if e.index == index)


def test_failing_step_pauses_and_continue_marks_it_passed(make_runtime, recorder):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    ev = paused_on(recorder, 1)
    assert ev.kind is PauseKind.ON_FAILURE
    assert b"failing now" in log_of(recorder, 1)
    assert [e.index for e in recorder.of(StepStarted)] == [0, 1]
    rt.release(1, Release.CONTINUE)
    done = finished(recorder)
    assert (done.succeeded, done.reason) == (True, "Succeeded")
    assert step_finished(recorder, 1).outcome is StepOutcome.SUCCEEDED
    assert b"three ran" in log_of(recorder, 2)
    assert StepResumed(1, Release.CONTINUE) in recorder.events


def test_fail_continue_runs_later_steps_and_fails_the_run(make_runtime, recorder):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    rt.release(1, Release.FAIL_CONTINUE)
    done = finished(recorder)
    assert (done.succeeded, done.reason) == (False, "Failed")
    assert step_finished(recorder, 1).outcome is StepOutcome.FAILED
    assert step_finished(recorder, 2).outcome is StepOutcome.SUCCEEDED


def test_before_step_breakpoint_pauses_before_the_step_runs(make_runtime, recorder):
    rt = make_runtime()
    rt.start(load_text(PASSING), DebugPlan(before_steps={"second"}), recorder)
    paused_on(recorder, 1, PauseKind.BEFORE_STEP)
    assert b"second" not in log_of(recorder, 1).replace(b"debug before step", b"")
    rt.release(1, Release.CONTINUE)
    assert finished(recorder).succeeded
    assert b"second\n" in log_of(recorder, 1)


RESULTS = """
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: results}
spec:
  results:
  - {name: version}
  - {name: files, type: array}
  - name: target
    type: object
    properties: {os: {type: string}}
  steps:
  - name: write
    image: alpine
    script: |
      printf 1.2 > $(results.version.path)
      printf '["a.txt","b.txt"]' > $(results.files.path)
      printf '{"os":"linux"}' > $(results.target.path)
"""


def test_results_are_given_as_strings_and_arrays_or_objects_as_json(make_runtime, recorder):
    rt = make_runtime()
    rt.start(load_text(RESULTS), DebugPlan(), recorder)
    done = finished(recorder)
    assert done.succeeded
    assert done.results == {"version": "1.2", "files": '["a.txt", "b.txt"]',
                            "target": '{"os": "linux"}'}


def test_release_of_a_step_that_is_not_paused_is_refused(make_runtime, recorder):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    with pytest.raises(WrongTime):
        rt.release(0, Release.CONTINUE)


def test_exec_sees_the_step_environment(make_runtime, recorder):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    result = rt.exec(1, ["sh", "-c", 'echo "$GREETING"; echo oops >&2; exit 4'])
    assert (result.exit_code, result.stdout, result.stderr) == (4, b"hi there\n", b"oops\n")
    env = rt.step_environment(1)
    assert env.env["GREETING"] == "hi there"
    assert env.container == "step-two"
    assert env.working_dir == "/workspace/src"
    assert env.results_dir == "/tekton/results"
    fed = rt.exec(1, ["cat"], stdin=b"from stdin")
    assert fed.stdout == b"from stdin"


def test_shell_command_is_kubectl_exec_into_the_step(make_runtime, recorder, cluster):
    rt = make_runtime(context="test-cluster")
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    argv = rt.shell_command(1)
    pod = f"{rt.taskrun_name}-pod"
    assert argv == ["kubectl", "exec", "-it", "-n", "default", "--kubeconfig", cluster.kubeconfig,
                    "--context", "test-cluster", pod, "-c", "step-two", "--", "sh", "-c",
                    "cd /workspace/src 2>/dev/null; PATH=\"$PATH:/tekton/debug/scripts\"; "
                    "export PATH; exec sh -i"]


def test_attach_to_a_paused_taskrun_reports_the_pause_at_once(make_runtime, recorder):
    from tests.runtimes.kubernetes.conftest import Recorder
    first = make_runtime()
    first.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    first.close()
    second, rec2 = make_runtime(), Recorder()
    plan = DebugPlan(on_failure=False)
    model = second.attach(recorder_name(first), plan, rec2)
    assert [s.debug_name for s in model.task.steps] == ["one", "two", "three"]
    assert plan.on_failure is True
    paused_on(rec2, 1)
    assert b"hello from one" in log_of(rec2, 0)
    second.release(1, Release.CONTINUE)
    assert finished(rec2).succeeded


def recorder_name(rt: KubernetesRuntime) -> str:
    return rt.taskrun_name


def test_attach_to_a_missing_taskrun_says_so(make_runtime, recorder):
    with pytest.raises(UserError, match="no TaskRun 'nope' in namespace 'default'"):
        make_runtime().attach("nope", DebugPlan(), recorder)


def test_cancel_ends_the_run_as_cancelled(make_runtime, recorder):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    rt.cancel()
    done = finished(recorder)
    assert (done.succeeded, done.reason) == (False, "TaskRunCancelled")
    assert step_finished(recorder, 1).outcome is StepOutcome.CANCELLED


def test_alpha_gate_off_is_reported_with_the_patch_command(make_runtime, recorder, cluster):
    cluster.set_feature_flag("enable-api-fields", "beta")
    with pytest.raises(RuntimeUnavailable) as info:
        make_runtime().start(load_text(FAILING), DebugPlan(), recorder)
    text = str(info.value)
    assert '"enable-api-fields" is "beta"' in text
    assert "kubectl patch configmap feature-flags -n tekton-pipelines -p " \
           "'{\"data\":{\"enable-api-fields\":\"alpha\"}}'" in text
    assert recorder.events == []


def test_missing_permissions_are_named_with_the_role_rule(make_runtime, recorder, cluster):
    cluster.deny("create", "pods", "exec")
    cluster.deny("watch", "taskruns")
    cluster.set_feature_flag("enable-api-fields", "stable")
    with pytest.raises(RuntimeUnavailable) as info:
        make_runtime().start(load_text(FAILING), DebugPlan(), recorder)
    problems = info.value.problems
    assert len(problems) == 2  # the feature gate and the permissions, in one error
    text = str(info.value)
    assert "watch taskruns" in text and "create pods/exec" in text
    assert '- apiGroups: ["tekton.dev"]\n  resources: ["taskruns"]\n  verbs: ["watch"]' in text
    assert '- apiGroups: [""]\n  resources: ["pods/exec"]\n  verbs: ["create"]' in text


def test_dropped_and_expired_watches_resume(make_runtime, recorder, cluster):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    cluster.expire_next_watch(2)
    assert cluster.drop_watches(abrupt=True) == 2
    rt.release(1, Release.CONTINUE)
    done = finished(recorder)
    assert done.succeeded
    assert [e.index for e in recorder.of(StepFinished)] == [0, 1, 2]


def test_dropped_log_stream_resumes_without_losing_or_repeating_lines(make_runtime, recorder,
                                                                      cluster):
    task = """
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: chatty}
spec:
  steps:
  - name: talk
    image: alpine
    script: |
      for i in 1 2 3; do echo "line $i"; done
      printf 'partial-'
      while [ ! -f /workspace/go ]; do sleep 0.02; done
      for i in 4 5 6; do echo "line $i"; done
"""
    rt = make_runtime()
    rt.start(load_text(task), DebugPlan(), recorder)
    recorder.wait_for(lambda e: isinstance(e, StepLog) and b"partial-" in log_of(recorder, 0))
    cluster.go_away(0.3)
    pod_dir = cluster.pod_dir(f"{rt.taskrun_name}-pod")
    with open(os.path.join(pod_dir, "workspace", "go"), "w"):
        pass
    assert finished(recorder).succeeded
    assert log_of(recorder, 0) == b"line 1\nline 2\nline 3\npartial-line 4\nline 5\nline 6\n"


def test_no_api_request_while_paused(make_runtime, recorder, cluster):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    wait_annotation(cluster, rt.taskrun_name, STEP)  # made once, as the pause began
    cluster.reset_request_counts()
    # a pause and an exec: only the exec reaches the server
    rt.exec(1, ["true"])
    counts = cluster.request_counts()
    assert [verb for verb, _ in counts] == ["create"] and sum(counts.values()) == 1


def test_refused_exec_gives_a_clear_message(make_runtime, recorder, cluster):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    cluster.refuse_exec()
    with pytest.raises(UserError, match="refused") as info:
        rt.release(1, Release.CONTINUE)
    assert "pods/exec" in str(info.value)
    cluster.allow_exec()
    rt.release(1, Release.CONTINUE)
    assert finished(recorder).succeeded


def test_deleted_pod_ends_the_run_saying_so(make_runtime, recorder, cluster):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    cluster.delete_pod(f"{rt.taskrun_name}-pod")
    done = finished(recorder)
    assert not done.succeeded
    assert "pod" in done.message and "deleted" in done.message


def test_timeout_ends_the_run_saying_so(make_runtime, recorder, cluster):
    rt = make_runtime(timeout="30m")
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    cluster.expire_timeout(rt.taskrun_name)
    done = finished(recorder)
    assert (done.succeeded, done.reason) == (False, "TaskRunTimeout")
    assert "timeout (30m) expired" in done.message
    assert step_finished(recorder, 1).outcome is StepOutcome.TIMED_OUT


def test_deadline_is_the_taskruns_start_plus_its_timeout(make_runtime, recorder, cluster):
    rt = make_runtime(timeout="30m")
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    tr = cluster.get("taskruns.tekton.dev", rt.taskrun_name)
    started = datetime.datetime.fromisoformat(
        tr["status"]["startTime"].replace("Z", "+00:00")).timestamp()
    assert rt.deadline() == pytest.approx(started + 1800, abs=1)


def test_exec_into_a_pod_that_is_not_the_taskruns_is_refused(make_runtime, recorder, cluster):
    from tests.cluster.store import PODS
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    name = f"{rt.taskrun_name}-pod"

    def steal():
        import copy
        pod = copy.deepcopy(cluster.cluster.store.get(PODS, "default", name))
        pod["metadata"]["ownerReferences"] = [{"apiVersion": "tekton.dev/v1", "kind": "TaskRun",
                                               "name": "other", "uid": "not-the-taskrun"}]
        cluster.cluster.store.update(PODS, pod)
    cluster.call(steal)
    assert rt._wait(lambda: rt._pod["metadata"]["ownerReferences"][0]["uid"] == "not-the-taskrun",
                    timeout=10)
    with pytest.raises(UserError, match="does not belong to TaskRun"):
        rt.exec(1, ["true"])


def test_unreachable_server_is_a_user_error(tmp_path, recorder, monkeypatch):
    from tests.cluster import write_kubeconfig
    import socket
    monkeypatch.setattr(connect, "BACKOFF", 0.01)
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    path = write_kubeconfig(str(tmp_path / "kc"), f"http://127.0.0.1:{port}")
    rt = KubernetesRuntime(LaunchOptions(runtime="kubernetes", kubeconfig=path))
    with pytest.raises(RuntimeUnavailable, match=f"127.0.0.1:{port}.*cannot be reached"):
        rt.start(load_text(FAILING), DebugPlan(), recorder)


def test_missing_kubeconfig_names_the_file(tmp_path, recorder):
    path = str(tmp_path / "nowhere" / "config")
    rt = KubernetesRuntime(LaunchOptions(runtime="kubernetes", kubeconfig=path))
    with pytest.raises(RuntimeUnavailable, match="no kubeconfig file") as info:
        rt.start(load_text(FAILING), DebugPlan(), recorder)
    assert path in str(info.value)


def test_unknown_context_lists_the_known_ones(cluster, recorder):
    rt = KubernetesRuntime(LaunchOptions(runtime="kubernetes", kubeconfig=cluster.kubeconfig,
                                         context="prod"))
    with pytest.raises(RuntimeUnavailable, match="context 'prod' is not in the kubeconfig") as info:
        rt.start(load_text(FAILING), DebugPlan(), recorder)
    assert "test-cluster" in str(info.value)
