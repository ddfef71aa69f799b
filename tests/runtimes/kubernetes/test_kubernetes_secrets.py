"""On a cluster: the Secrets a TaskRun uses are read to be masked (or the user is told once that
they cannot be), and commands go only into the pod the TaskRun names and owns."""

from __future__ import annotations

import copy

import pytest

from tekton_debug.errors import UserError
from tekton_debug.events import DebugPlan, Notice, Release, SecretValues, StepLog
from tekton_debug.options import LaunchOptions
from tekton_debug.runtimes.kubernetes.inspect import shell_target
from tekton_debug.session.session import Session
from tekton_debug.tekton.loader import load_text
from tests.cluster.store import TASKRUNS
from tests.runtimes.kubernetes.test_kubernetes_runtime import FAILING, finished, log_of, paused_on

USES_A_SECRET = """
apiVersion: tekton.dev/v1
kind: Task
metadata: {name: deploy}
spec:
  steps:
  - name: early
    image: alpine
    script: echo "guessing db-pass-5150 early"
  - name: deploy
    image: alpine
    env:
    - name: DB_PASSWORD
      valueFrom: {secretKeyRef: {name: db, key: password}}
    script: |
      echo "password is $DB_PASSWORD"
      exit 1
"""


def test_the_secrets_a_taskrun_uses_are_read_before_its_steps_run(make_runtime, recorder,
                                                                  cluster):
    cluster.create_secret("db", {"password": "db-pass-5150", "user": "db-user-77"})
    rt = make_runtime()
    rt.start(load_text(USES_A_SECRET), DebugPlan(), recorder)
    paused_on(recorder, 1)
    first = recorder.events[0]
    assert isinstance(first, SecretValues)
    assert first.values == {"db-pass-5150", "db-user-77"}
    assert "db-pass-5150" not in repr(first)
    # the container really got the value from the Secret, as the kubelet hands it over
    assert b"password is db-pass-5150" in log_of(recorder, 1)


def test_a_session_on_a_cluster_masks_a_secret_from_the_first_line(cluster):
    cluster.create_secret("db", {"password": "db-pass-5150"})
    shown: list[str] = []
    session: Session

    def listener(ev):
        if isinstance(ev, StepLog):
            shown.append(session.steps[ev.index].last_text)

    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
        f.write(USES_A_SECRET)
        f.flush()
        session = Session(LaunchOptions(task_file=f.name, runtime="kubernetes",
                                        kubeconfig=cluster.kubeconfig), listener)
        session.start()
        try:
            import time
            deadline = time.monotonic() + 30
            while session.paused is None and time.monotonic() < deadline:
                time.sleep(0.05)
            assert session.paused is not None
            text = "".join(shown)
            assert "guessing ******** early" in text  # a step before the one that uses it
            assert "password is ********" in text
            assert "db-pass-5150" not in text
            result = session.evaluate(1, 'echo "$DB_PASSWORD"')
            assert session.masker.mask(result.stdout.decode()) == "********\n"
        finally:
            session.close()


def test_without_permission_to_get_secrets_the_user_is_told_once(make_runtime, recorder,
                                                                 cluster):
    cluster.create_secret("db", {"password": "db-pass-5150"})
    cluster.deny("get", "secrets")
    rt = make_runtime()
    rt.start(load_text(USES_A_SECRET), DebugPlan(), recorder)
    paused_on(recorder, 1)
    told = [n.message for n in recorder.of(Notice) if "cannot be masked" in n.message]
    assert len(told) == 1
    assert "Secret db" in told[0] and 'resources: ["secrets"], verbs: ["get"]' in told[0]
    assert recorder.of(SecretValues)[0].values == frozenset()


def test_a_taskrun_that_uses_no_secret_needs_no_permission_for_them(make_runtime, recorder,
                                                                    cluster):
    cluster.deny("get", "secrets")
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    assert not [n for n in recorder.of(Notice) if "secrets" in n.message]


def impostor(cluster, taskrun: str, name: str, owned: bool = True) -> dict:
    """A second pod carrying the TaskRun's label and (``owned``) its owner uid."""
    tr = cluster.get("taskruns.tekton.dev", taskrun)
    pod = copy.deepcopy(cluster.get("pods", f"{taskrun}-pod"))
    meta = pod["metadata"]
    pod["metadata"] = {"name": name, "labels": meta["labels"],
                       "ownerReferences": meta["ownerReferences"] if owned else []}
    pod.pop("status", None)
    assert meta["ownerReferences"][0]["uid"] == tr["metadata"]["uid"]
    return cluster.create("pods", pod)


def test_a_second_pod_with_the_taskruns_label_and_owner_takes_nothing_over(make_runtime,
                                                                           recorder, cluster):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    impostor(cluster, rt.taskrun_name, "impostor")
    assert rt._wait(lambda: "impostor" in rt._pods, timeout=10)
    # exec, variables and the shell still go to the TaskRun's own pod
    assert rt.exec(1, ["sh", "-c", "echo $GREETING"]).stdout == b"hi there\n"
    assert f"{rt.taskrun_name}-pod" in rt.shell_command(1)
    # deleting the impostor leaves the real step reachable
    cluster.delete_pod("impostor")
    assert rt._wait(lambda: "impostor" not in rt._pods, timeout=10)
    assert rt.exec(1, ["sh", "-c", "echo $GREETING"]).stdout == b"hi there\n"
    rt.release(1, Release.CONTINUE)
    assert finished(recorder).succeeded
    assert b"three ran" in log_of(recorder, 2)


def test_status_podname_pointing_to_a_pod_the_taskrun_does_not_own_is_refused(
        make_runtime, recorder, cluster):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    impostor(cluster, rt.taskrun_name, "stranger", owned=False)

    def point_elsewhere():
        tr = copy.deepcopy(cluster.cluster.store.get(TASKRUNS, "default", rt.taskrun_name))
        tr["status"]["podName"] = "stranger"
        cluster.cluster.store.update(TASKRUNS, tr, spec_changed=False)
    cluster.call(point_elsewhere)
    assert rt._wait(lambda: (rt._taskrun or {}).get("status", {}).get("podName") == "stranger",
                    timeout=10)
    with pytest.raises(UserError, match="'stranger' \\(status.podName\\), is not known: .* or the "
                       "TaskRun does not own it"):
        rt.exec(1, ["true"])
    options = LaunchOptions(runtime="kubernetes", kubeconfig=cluster.kubeconfig)
    with pytest.raises(UserError, match="does not belong to TaskRun"):
        shell_target(options, rt.taskrun_name, None)
    assert cluster.get("pods", "stranger") is not None  # nothing was done to it


def test_shell_target_is_the_taskruns_own_pod_beside_an_impostor(make_runtime, recorder,
                                                                 cluster):
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    impostor(cluster, rt.taskrun_name, "impostor")
    target = shell_target(LaunchOptions(runtime="kubernetes", kubeconfig=cluster.kubeconfig),
                          rt.taskrun_name, None)
    assert target.pod == f"{rt.taskrun_name}-pod"
