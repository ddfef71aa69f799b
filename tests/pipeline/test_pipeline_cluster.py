"""A PipelineRun on the test cluster: tekton-debug creates each TaskRun itself, as Tekton's pipeline
controller would, with Tekton's labels and a group label of its own; a failed step pauses there
too while the other branch goes on."""

from __future__ import annotations

import os
import shutil
import textwrap
import time

import pytest
from kubernetes import client

from tekton_debug.errors import UserError
from tekton_debug.events import (Notice, PauseKind, PipelineRunFinished, Release, StepPaused,
                                 TaskEnded)
from tekton_debug.options import LaunchOptions
from tekton_debug.pipeline.run import PipelineSession
from tekton_debug.runtimes.kubernetes.claims import claim_name
from tekton_debug.tekton.pipeline import GROUP_LABEL
from tests.cluster.fixtures import cluster  # noqa: F401
from tests.cluster.helpers import api_client
from tests.pipeline.test_pipeline_run import Recorder, pipeline_file


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
        paused = rec.seen(StepPaused, lambda ev: ev.task == "broken", timeout=60)
        assert paused.event.kind is PauseKind.ON_FAILURE
        # the other branch runs on while that step is paused on the cluster (it may end
        # before the pause: its pods can start first)
        rec.seen(TaskEnded, lambda ev: ev.task == "second", timeout=60)
        ps.session_of("broken").release(Release.FAIL_CONTINUE)
        end = rec.seen(PipelineRunFinished, timeout=60)
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


EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "pipeline")


def cluster_run(cluster, path: str, **options) -> tuple[PipelineSession, Recorder]:
    rec = Recorder()
    ps = PipelineSession(LaunchOptions(task_file=path, runtime="kubernetes",
                                       kubeconfig=cluster.kubeconfig, namespace="default",
                                       **options), rec)
    ps.load()
    return ps, rec


def group_taskruns(cluster, uid: str) -> dict[str, dict]:
    api = client.CustomObjectsApi(api_client(cluster.kubeconfig))
    found = api.list_namespaced_custom_object("tekton.dev", "v1", "default", "taskruns",
                                              label_selector=f"{GROUP_LABEL}={uid}")["items"]
    return {tr["metadata"]["labels"]["tekton.dev/pipelineTask"]: tr for tr in found}


def claims(cluster) -> list[dict]:
    return client.CoreV1Api(api_client(cluster.kubeconfig)).list_namespaced_persistent_volume_claim(
        "default").to_dict()["items"]


def test_the_example_pipeline_runs_on_the_cluster_sharing_one_claim(cluster):  # noqa: F811
    ps, rec = cluster_run(cluster, os.path.join(EXAMPLES, "pipelinerun.yaml"))
    ps.start()
    try:
        # one claim for the run, named as Tekton names it, bound into every TaskRun that uses it
        name = claim_name(ps.run.binding("source")["volumeClaimTemplate"], "source", ps.uid)
        made = claims(cluster)
        assert [c["metadata"]["name"] for c in made] == [name]
        assert made[0]["metadata"]["labels"][GROUP_LABEL] == ps.uid
        assert made[0]["metadata"]["labels"]["tekton.dev/pipelineRun"] == "build-and-publish-run"
        end = rec.next(PipelineRunFinished, timeout=120)
    finally:
        ps.close()
    assert (end.succeeded, end.reason) == (True, "Completed"), rec.ended()
    status = {t: e.status for t, e in rec.ended().items()}
    assert status == {"clone": "succeeded", "build": "succeeded", "lint": "succeeded",
                      "unit-tests": "succeeded", "publish": "skipped", "notify": "succeeded"}
    runs = group_taskruns(cluster, ps.uid)
    assert set(runs) == {"clone", "build", "lint", "unit-tests", "notify"}
    # named as Tekton names a PipelineRun's TaskRuns, <pipelinerun>-<task>, with a debug suffix
    assert runs["build"]["metadata"]["name"].startswith("build-and-publish-run-build-debug-")
    for task in ("clone", "build", "lint", "unit-tests"):
        bound = runs[task]["spec"]["workspaces"][0]
        assert bound["persistentVolumeClaim"] == {"claimName": name}, task
    # files went through the claim: build copied what clone wrote, unit-tests ran what build made
    assert "style ok" in rec.output("lint")
    # results flowed: build's status.results (from its termination message) became unit-tests'
    # param and the PipelineRun's result
    version = {r["name"]: r["value"] for r in runs["build"]["status"]["results"]}["version"]
    assert version.startswith("1.4.")
    assert {"name": "version", "value": version} in runs["unit-tests"]["spec"]["params"]
    assert f"testing {version}: got 'hello from hello'" in rec.output("unit-tests")
    assert end.results == {"version": version}
    assert "pipeline: Completed, unit tests: Succeeded" in rec.output("notify")
    # the claim is deleted at the end, its directory with it
    assert claims(cluster) == []


def test_a_failed_step_pauses_its_taskrun_only_and_finally_still_runs(cluster):  # noqa: F811
    ps, rec = cluster_run(cluster, os.path.join(EXAMPLES, "pipelinerun.yaml"),
                          params={"break-tests": "true"})
    ps.start()
    try:
        paused = rec.next(StepPaused, lambda ev: ev.task == "unit-tests", timeout=120)
        assert paused.event.kind is PauseKind.ON_FAILURE
        # lint runs beside it and ends while unit-tests stays paused
        deadline = time.monotonic() + 60
        while "lint" not in rec.ended() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert rec.ended()["lint"].status == "succeeded"
        assert "unit-tests" not in rec.ended()
        assert [t for t, _, _ in ps.paused()] == ["unit-tests"]
        # the paused step sees the files of the claim
        session = ps.session_of("unit-tests")
        shown = session.evaluate(paused.event.index, "cat /workspace/source/bin/app")
        assert shown.stdout.decode().startswith("#!/bin/sh")
        session.release(Release.FAIL_CONTINUE)
        end = rec.next(PipelineRunFinished, timeout=120)
    finally:
        ps.close()
    assert (end.succeeded, end.reason) == (False, "Failed")
    ended = rec.ended()
    assert ended["unit-tests"].status == "failed"
    assert ended["publish"].status == "skipped"
    assert "pipeline: Failed, unit tests: Failed" in rec.output("notify")
    assert claims(cluster) == []


def test_results_decide_a_when_on_the_cluster(cluster, tmp_path):  # noqa: F811
    path = pipeline_file(tmp_path, """
        tasks:
          - name: check
            taskSpec:
              results: [{name: go}]
              steps: [{name: say, image: alpine, script: "printf yes > $(results.go.path)"}]
          - name: deploy
            when: [{input: $(tasks.check.results.go), operator: in, values: ["yes"]}]
            params: [{name: answer, value: $(tasks.check.results.go)}]
            taskSpec:
              params: [{name: answer}]
              steps: [{name: run, image: alpine, script: "echo deploying: $(params.answer)"}]
          - name: rollback
            when: [{input: $(tasks.check.results.go), operator: in, values: ["no"]}]
            taskSpec: {steps: [{name: run, image: alpine, script: "echo rolling back"}]}
        """)
    ps, rec = cluster_run(cluster, path)
    ps.start()
    try:
        end = rec.next(PipelineRunFinished, timeout=90)
    finally:
        ps.close()
    assert (end.succeeded, end.reason) == (True, "Completed")
    ended = rec.ended()
    assert ended["deploy"].status == "succeeded"
    assert (ended["rollback"].status, ended["rollback"].reason) == \
        ("skipped", "When Expressions evaluated to false")
    assert "deploying: yes" in rec.output("deploy")
    runs = group_taskruns(cluster, ps.uid)
    assert runs["check"]["status"]["results"] == [{"name": "go", "type": "string", "value": "yes"}]
    assert set(runs) == {"check", "deploy"}


def missing_claim_run(tmp_path) -> tuple[str, int]:
    """The example PipelineRun with its workspace bound to a claim that does not exist, beside
    the example's Pipeline and Tasks: its path and the line naming the claim."""
    path = tmp_path / "run.yaml"
    text = open(os.path.join(EXAMPLES, "pipelinerun.yaml")).read()
    binding = "      persistentVolumeClaim: {claimName: sources}"
    path.write_text(text[:text.index("      volumeClaimTemplate:")] + binding + "\n")
    for name in ("pipeline.yaml", "tasks.yaml"):
        shutil.copy(os.path.join(EXAMPLES, name), tmp_path / name)
    return str(path), path.read_text().splitlines().index(binding) + 1


def test_a_missing_claim_is_refused_before_any_taskrun_is_made(cluster, tmp_path):  # noqa: F811
    path, claim_line = missing_claim_run(tmp_path)
    ps, rec = cluster_run(cluster, str(path))
    try:
        with pytest.raises(UserError) as caught:
            ps.start()
    finally:
        ps.close()
    text = str(caught.value)
    assert "workspace 'source' binds the claim 'sources', which does not exist in namespace " \
        "'default'" in text
    assert text.startswith(f"{path}:{claim_line}: workspace 'source' binds the claim")
    assert "fix: create it first" in text
    assert group_taskruns(cluster, ps.uid) == {}


def test_keep_claims_leaves_the_claim_and_says_how_to_delete_it(cluster, tmp_path):  # noqa: F811
    path = pipeline_file(tmp_path, """
        workspaces: [{name: data}]
        tasks:
          - name: write
            workspaces: [{name: out, workspace: data}]
            taskSpec:
              workspaces: [{name: out}]
              steps: [{name: w, image: alpine, script: "echo kept > $(workspaces.out.path)/f"}]
        """)
    ps, rec = cluster_run(cluster, path, keep_claims=True)
    ps.start()
    try:
        end = rec.next(PipelineRunFinished, timeout=60)
    finally:
        ps.close()
    assert end.succeeded
    notices = [e.message for e in rec.events if isinstance(e, Notice)]
    assert any("is not bound: the TaskRuns share a claim made for this run" in n for n in notices)
    [kept] = claims(cluster)
    name = kept["metadata"]["name"]
    assert f"kept claim {name} (workspace data) in namespace default: delete it with kubectl " \
        f"delete pvc {name} -n default" in notices
    where = cluster.call(lambda: cluster.cluster.claim_dir("default", name))
    assert open(os.path.join(where, "f")).read() == "kept\n"


def test_closing_a_paused_run_cancels_its_taskruns_and_deletes_its_claim(cluster):  # noqa: F811
    ps, rec = cluster_run(cluster, os.path.join(EXAMPLES, "pipelinerun.yaml"),
                          params={"break-tests": "true"})
    ps.start()
    try:
        rec.next(StepPaused, lambda ev: ev.task == "unit-tests", timeout=120)
        assert len(claims(cluster)) == 1
    finally:
        ps.close()  # as Ctrl-C or a disconnect ends it
    assert claims(cluster) == []
    condition = next(c for c in group_taskruns(cluster, ps.uid)["unit-tests"]["status"]
                     ["conditions"] if c["type"] == "Succeeded")
    assert (condition["status"], condition["reason"]) == ("False", "TaskRunCancelled")
