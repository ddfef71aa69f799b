"""A pause other tools can see: the TaskRun names its paused step in annotations while it is
paused, and not after; kubectl shows them."""

from __future__ import annotations

import json
import subprocess

from tekton_debug.events import DebugPlan, Notice, Release
from tekton_debug.runtimes.kubernetes.annotate import REASON, SINCE, STEP
from tekton_debug.tekton.loader import load_text
from tests.cluster.fixtures import kubectl_env  # noqa: F401
from tests.cluster.helpers import wait_annotation
from tests.runtimes.kubernetes.test_kubernetes_runtime import FAILING, finished, paused_on


def kubectl_annotations(env, name) -> dict:
    out = subprocess.run(["kubectl", "get", "taskrun", name, "-o", "json"], env=env,
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return json.loads(out)["metadata"].get("annotations") or {}


def test_a_paused_taskrun_names_its_step_for_kubectl_until_it_is_released(
        make_runtime, recorder, cluster, kubectl_env):  # noqa: F811
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    paused_on(recorder, 1)
    wait_annotation(cluster, rt.taskrun_name, STEP)
    seen = kubectl_annotations(kubectl_env, rt.taskrun_name)
    assert seen[STEP] == "two" and seen[REASON] == "onFailure"
    assert seen[SINCE].endswith("Z") and seen[SINCE][:2] == "20"
    rt.release(1, Release.CONTINUE)
    assert finished(recorder).succeeded
    wait_annotation(cluster, rt.taskrun_name, STEP, present=False)
    assert not {STEP, REASON, SINCE} & set(kubectl_annotations(kubectl_env, rt.taskrun_name))


def test_without_permission_to_patch_a_notice_says_so_and_the_run_goes_on(
        make_runtime, recorder, cluster):  # noqa: F811
    rt = make_runtime()
    rt.start(load_text(FAILING), DebugPlan(), recorder)
    cluster.deny("patch", "taskruns")
    try:
        paused_on(recorder, 1)
        notice = recorder.wait_for(lambda e: isinstance(e, Notice) and "annotated" in e.message)
        assert "patch" in notice.message and "Running" in notice.message
        rt.release(1, Release.CONTINUE)
        assert finished(recorder).succeeded
    finally:
        cluster.allow("patch", "taskruns")
    assert len([e for e in recorder.of(Notice) if "annotated" in e.message]) == 1
