"""A PipelineRun on the test cluster: tekton-debug creates each TaskRun itself, as Tekton's pipeline
controller would, with Tekton's labels and a group label of its own; a failed step pauses there
too while the other branch goes on."""

from __future__ import annotations

import textwrap

from kubernetes import client

from tekton_debug.events import PauseKind, PipelineRunFinished, Release, StepPaused, TaskEnded
from tekton_debug.options import LaunchOptions
from tekton_debug.pipeline.resolve import GROUP_LABEL
from tekton_debug.pipeline.run import PipelineSession
from tests.cluster.fixtures import cluster  # noqa: F401
from tests.cluster.helpers import api_client
from tests.pipeline.test_pipeline_run import Recorder


def test_taskruns_are_created_with_tekton_labels_and_a_group_label(cluster, tmp_path):  # noqa: F811
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent("""
        apiVersion: tekton.dev/v1
        kind: Pipeline
        metadata: {name: on-cluster}
        spec:
          tasks:
            - name: first
              taskSpec: {steps: [{name: hello, image: alpine, script: "echo hello"}]}
            - name: broken
              taskSpec: {steps: [{name: fails, image: alpine, script: "exit 4"}]}
            - name: second
              runAfter: [first]
              taskSpec: {steps: [{name: again, image: alpine, script: "echo again"}]}
        """))
    rec = Recorder()
    ps = PipelineSession(LaunchOptions(task_file=str(path), runtime="kubernetes",
                                       kubeconfig=cluster.kubeconfig, namespace="default"), rec)
    ps.load()
    ps.start()
    try:
        paused = rec.next(StepPaused, lambda ev: ev.task == "broken", timeout=60)
        assert paused.event.kind is PauseKind.ON_FAILURE
        # the other branch runs on while that step is paused on the cluster
        rec.next(TaskEnded, lambda ev: ev.task == "second", timeout=60)
        ps.session_of("broken").release(Release.FAIL_CONTINUE)
        end = rec.next(PipelineRunFinished, timeout=60)
        assert (end.succeeded, end.reason) == (False, "Failed")
        assert [rec.ended()[t].status for t in ("first", "second", "broken")] == \
            ["succeeded", "succeeded", "failed"]
    finally:
        ps.close()
    api = client.CustomObjectsApi(api_client(cluster.kubeconfig))
    found = api.list_namespaced_custom_object("tekton.dev", "v1", "default", "taskruns",
                                              label_selector=f"{GROUP_LABEL}={ps.uid}")["items"]
    labels = {tr["metadata"]["labels"]["tekton.dev/pipelineTask"]: tr["metadata"]["labels"]
              for tr in found}
    assert set(labels) == {"first", "second", "broken"}
    assert labels["second"]["tekton.dev/pipeline"] == "on-cluster"
    assert labels["second"]["tekton.dev/pipelineRun"] == "on-cluster-run"
    assert labels["second"]["tekton.dev/memberOf"] == "tasks"
