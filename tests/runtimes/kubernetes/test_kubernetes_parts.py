"""The kubernetes runtime's pure parts: the TaskRun manifest, the log decoder, reading step state,
exec statuses and the pod ownership check."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as hs

from tekton_debug.errors import UserError
from tekton_debug.runtimes import create_runtime
from tekton_debug.options import LaunchOptions
from tekton_debug.events import DebugPlan, PauseKind, Release, StepOutcome
from tekton_debug.runtimes.kubernetes import podexec, steps as st
from tekton_debug.runtimes.kubernetes.follow import LogDecoder, LogPosition, format_time_ns
from tekton_debug.runtimes.kubernetes.manifest import build_taskrun, generate_name
from tekton_debug.tekton.loader import load_text

TASK = """
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: build.thing}
spec:
  params: [{name: who, default: world}]
  workspaces: [{name: src}]
  steps:
  - name: compile
    image: alpine
    script: echo $(params.who)
  - image: alpine
    script: echo unnamed
"""


def test_manifest_uses_breakpoints_with_before_steps_and_names_unnamed_steps():
    run = load_text(TASK)
    built = build_taskrun(run, DebugPlan(before_steps={"unnamed-1"}), namespace="ns",
                          params={"who": "you"}, host_workspaces={"src": "/home/me/src"})
    m = built.manifest
    assert m["apiVersion"] == "tekton.dev/v1" and m["kind"] == "TaskRun"
    assert m["metadata"]["generateName"] == "build-thing-debug-"
    assert m["spec"]["debug"] == {"breakpoints": {"onFailure": "enabled",
                                                  "beforeSteps": ["unnamed-1"]}}
    assert m["spec"]["taskSpec"]["steps"][1]["name"] == "unnamed-1"
    assert "name" not in run.task.raw["steps"][1]  # the model is left as loaded
    assert m["spec"]["params"] == [{"name": "who", "value": "you"}]
    assert m["spec"]["workspaces"] == [{"name": "src", "emptyDir": {}}]
    assert any("/home/me/src" in n and "emptyDir" in n for n in built.notices)
    assert m["spec"]["timeout"] == "1h"


def test_manifest_for_tekton_before_v053_uses_the_breakpoint_list_and_drops_before_steps():
    built = build_taskrun(load_text(TASK), DebugPlan(before_steps={"compile"}), namespace="ns",
                          breakpoints_field=False, before_steps_supported=False, timeout=90)
    assert built.manifest["spec"]["debug"] == {"breakpoint": ["onFailure"]}
    assert any("v0.63" in n and "compile" in n for n in built.notices)
    assert built.manifest["spec"]["timeout"] == "1m30s"


def test_manifest_without_any_breakpoint_has_no_debug():
    built = build_taskrun(load_text(TASK), DebugPlan(on_failure=False), namespace="ns")
    assert "debug" not in built.manifest["spec"]


def test_a_retrys_manifest_gives_its_retry_count_to_the_new_taskrun():
    run = load_text(TASK.replace("echo unnamed", "echo try $(context.task.retry-count)"))
    run.retry_count = 2  # a new TaskRun, which Tekton would count as a first try
    steps = build_taskrun(run, DebugPlan(), namespace="ns").manifest["spec"]["taskSpec"]["steps"]
    assert steps[1]["script"] == "echo try 2" and steps[0]["script"] == "echo $(params.who)"
    run.retry_count = 0
    steps = build_taskrun(run, DebugPlan(), namespace="ns").manifest["spec"]["taskSpec"]["steps"]
    assert steps[1]["script"] == "echo try $(context.task.retry-count)"


def test_manifest_keeps_a_taskrun_files_own_spec_fields():
    text = """
apiVersion: tekton.dev/v1
kind: TaskRun
metadata: {name: mine, labels: {team: a}}
spec:
  serviceAccountName: builder
  timeout: 10m
  workspaces: [{name: src, persistentVolumeClaim: {claimName: code}}]
  taskSpec:
    workspaces: [{name: src}]
    steps: [{name: s, image: alpine, script: "true"}]
"""
    m = build_taskrun(load_text(text), DebugPlan(), namespace="ns").manifest
    assert m["spec"]["serviceAccountName"] == "builder"
    assert m["spec"]["timeout"] == "10m"
    assert m["spec"]["workspaces"] == [{"name": "src", "persistentVolumeClaim": {"claimName": "code"}}]
    assert m["metadata"]["labels"]["team"] == "a"
    assert "name" not in m["metadata"]


def test_generated_name_leaves_room_for_the_pod_suffix():
    run = load_text(TASK.replace("build.thing", "x" * 80))
    name = generate_name(run) + "abcde" + "-pod"
    assert len(name) <= 63


def _stamped(records: list[tuple[int, bytes]]) -> bytes:
    return b"".join(format_time_ns(ns).encode() + b" " + data for ns, data in records)


RECORDS = [(1_700_000_000_000_000_001, b"one\n"), (1_700_000_000_000_000_001, b"two\n"),
           (1_700_000_000_500_000_000, b"partial-"), (1_700_000_001_000_000_000, b"rest\n"),
           (1_700_000_002_000_000_000, b"last line without newline")]
OUTPUT = b"one\ntwo\npartial-rest\nlast line without newline"


@given(hs.lists(hs.integers(min_value=1, max_value=40), max_size=30))
def test_log_decoder_returns_the_output_whatever_the_chunking(cuts):
    stream = _stamped(RECORDS)
    dec, out, pos = LogDecoder(LogPosition()), b"", 0
    for n in cuts:
        out += dec.feed(stream[pos:pos + n])
        pos += n
    out += dec.feed(stream[pos:], final=True)
    assert out == OUTPUT


@pytest.mark.parametrize("cut", range(1, len(RECORDS)))
def test_log_decoder_resumes_after_a_drop_without_loss_or_repeat(cut):
    position = LogPosition()
    first = LogDecoder(position).feed(_stamped(RECORDS[:cut]) + b"2023-11-14T22:1", final=False)
    # the server answers sinceTime with every record at or after that time
    since = position.last_ns
    again = [r for r in RECORDS if r[0] >= since]
    second = LogDecoder(position).feed(_stamped(again), final=True)
    assert first + second == OUTPUT


def test_log_lines_are_read_for_pauses_and_releases():
    assert st.classify("2024/01/01 10:00:00 " + st.ON_FAILURE_BANNER).paused is PauseKind.ON_FAILURE
    assert st.classify(st.BEFORE_STEP_BANNER).paused is PauseKind.BEFORE_STEP
    assert st.classify("1) continue, use cmd: /tekton/debug/scripts/debug-continue").banner
    assert st.classify("Breakpoint exiting with exit code 1").resumed is Release.FAIL_CONTINUE
    assert st.classify("Breakpoint exiting with exit code 0").resumed is Release.CONTINUE
    assert st.classify(st.STEP_SKIPPED).skipped
    assert st.classify("make: *** [all] Error 2") == st.LineSignal()


def test_exit_code_is_taken_from_the_log_when_it_states_it():
    assert st.exit_code_hint(["building", "command exited with code 42", "bye"]) == 42
    assert st.exit_code_hint(["nothing to see"]) is None


def test_outcome_of_released_cancelled_and_skipped_steps():
    term = {"exitCode": 0, "reason": "Completed"}
    assert st.outcome(term, {}, None, released=(PauseKind.ON_FAILURE, Release.CONTINUE),
                      skipped_in_log=False)[0] is StepOutcome.SUCCEEDED
    assert st.outcome({"exitCode": 1}, {}, None, released=(PauseKind.ON_FAILURE,
                      Release.FAIL_CONTINUE), skipped_in_log=False)[0] is StepOutcome.FAILED
    assert st.outcome({"exitCode": 1}, {}, None, released=None,
                      skipped_in_log=True)[0] is StepOutcome.SKIPPED
    assert st.outcome(None, {}, (False, "TaskRunTimeout", ""), released=None,
                      skipped_in_log=False)[0] is StepOutcome.TIMED_OUT
    assert st.outcome({"exitCode": 9, "reason": "TaskRunCancelled"}, {}, None, released=None,
                      skipped_in_log=False)[0] is StepOutcome.CANCELLED
    assert st.outcome({"exitCode": 2}, {}, None, released=None,
                      skipped_in_log=False) == (StepOutcome.FAILED, 2, "exited with code 2")


def test_original_command_is_read_from_the_entrypoint_arguments():
    container = {"command": ["/tekton/bin/entrypoint"],
                 "args": ["-wait_file", "/tekton/run/0/out", "-entrypoint", "make", "--", "all",
                          "-j2"]}
    assert st.original_command(container) == ["make", "all", "-j2"]


def test_environment_marks_secret_values():
    env, secret = st.environment({"env": [
        {"name": "A", "value": "1"},
        {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}}]})
    assert env["A"] == "1" and secret == {"TOKEN"}


def test_shell_command_quotes_the_working_directory():
    argv = st.shell_argv("ns", "p", "step-a", "/work/it's here; rm -rf /", [])
    assert argv[-1] == ("cd '/work/it'\"'\"'s here; rm -rf /' 2>/dev/null; "
                        "PATH=\"$PATH:/tekton/debug/scripts\"; export PATH; exec sh -i")


def test_exec_status_gives_the_exit_code():
    ok = json.dumps({"status": "Success"})
    bad = json.dumps({"status": "Failure", "reason": "NonZeroExitCode", "message": "exit 7",
                      "details": {"causes": [{"reason": "ExitCode", "message": "7"}]}})
    broken = json.dumps({"status": "Failure", "message": 'exec: "nope": not found'})
    assert podexec.exit_code_of(ok) == (0, "")
    assert podexec.exit_code_of(bad)[0] == 7
    assert podexec.exit_code_of(broken) == (None, 'exec: "nope": not found')


def _pod(uid="u1", label="tr"):
    return {"metadata": {"name": "tr-pod", "labels": {"tekton.dev/taskRun": label},
                         "ownerReferences": [{"kind": "TaskRun", "uid": uid}]},
            "spec": {"containers": [{"name": "step-a"}]}}


def test_exec_only_into_the_taskruns_own_pod():
    podexec.check_owned(_pod(), "tr", "u1", "step-a", pod_name="tr-pod")
    with pytest.raises(UserError, match="does not belong"):
        podexec.check_owned(_pod(uid="u2"), "tr", "u1", "step-a", pod_name="tr-pod")
    with pytest.raises(UserError, match="does not belong"):
        podexec.check_owned(_pod(label="other"), "tr", "u1", "step-a", pod_name="tr-pod")
    with pytest.raises(UserError, match="no container"):
        podexec.check_owned(_pod(), "tr", "u1", "step-b", pod_name="tr-pod")


def test_exec_only_into_the_pod_the_taskrun_names():
    with pytest.raises(UserError, match="runs in pod 'tr-pod-2' \\(status.podName\\)"):
        podexec.check_owned(_pod(), "tr", "u1", "step-a", pod_name="tr-pod-2")
    with pytest.raises(UserError, match="names no pod yet"):
        podexec.check_owned(_pod(), "tr", "u1", "step-a", pod_name="")


def test_the_secrets_a_taskrun_uses_are_found_in_env_envfrom_volumes_and_workspaces():
    from tekton_debug.runtimes.kubernetes import secrets
    from tekton_debug.tekton.loader import load_object
    run = load_object({
        "apiVersion": "tekton.dev/v1", "kind": "TaskRun", "metadata": {"name": "tr"},
        "spec": {"workspaces": [{"name": "creds", "secret": {"secretName": "ws-secret"}}],
                 "taskSpec": {
                     "workspaces": [{"name": "creds"}],
                     "volumes": [{"name": "v", "secret": {"secretName": "vol-secret"}},
                                 {"name": "p", "projected": {"sources": [
                                     {"secret": {"name": "projected-secret"}}]}}],
                     "steps": [{"name": "a", "image": "busybox", "script": "true",
                                "env": [{"name": "T", "valueFrom": {"secretKeyRef": {
                                    "name": "env-secret", "key": "token"}}}],
                                "envFrom": [{"secretRef": {"name": "envfrom-secret"}}]}],
                     "sidecars": [{"name": "s", "image": "busybox", "env": [
                         {"name": "X", "valueFrom": {"secretKeyRef": {"name": "sidecar-secret",
                                                                      "key": "k"}}}]}]}}})
    assert secrets.referenced(run) == ["env-secret", "envfrom-secret", "projected-secret",
                                       "sidecar-secret", "vol-secret", "ws-secret"]


def test_an_unknown_runtime_name_is_a_user_error():
    with pytest.raises(UserError, match="unknown runtime 'docker'"):
        create_runtime(LaunchOptions(runtime="docker"))


def test_the_kubernetes_client_is_imported_only_for_the_kubernetes_runtime():
    import subprocess
    import sys
    code = ("import sys; from tekton_debug.runtimes import create_runtime; "
            "from tekton_debug.options import LaunchOptions; "
            "create_runtime(LaunchOptions()); print('kubernetes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
