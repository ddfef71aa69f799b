"""`tekton-debug run --attach-pipeline RUN` against the test cluster: a PipelineRun run by another
tekton-debug process (here, in the test's process) is found by its group label or its name, its
TaskRuns are listed with their states, and the shell opens in the paused step."""

from __future__ import annotations

import os
import time

from tekton_debug.events import PipelineRunFinished, Release, StepPaused, TaskStarted
from tekton_debug.runtimes.kubernetes import annotate
from tekton_debug.runtimes.kubernetes.claims import claim_name
from tekton_debug.tekton.pipeline import GROUP_LABEL
from tests.cli.test_cluster import env, run  # noqa: F401
from tests.cluster.fixtures import cluster  # noqa: F401
from tests.cluster.helpers import wait_annotation
from tests.pipeline.test_pipeline_cluster import (EXAMPLES, claims, cluster_run,
                                                  missing_claim_run)
from tests.pipeline.test_pipeline_run import pipeline_file

EXAMPLE_RUN = os.path.join(EXAMPLES, "pipelinerun.yaml")


def wait_for(predicate, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_attach_lists_the_taskruns_and_opens_the_shell_in_the_paused_step(cluster, env,  # noqa: F811
                                                                          tmp_path):
    ps, rec = cluster_run(cluster, EXAMPLE_RUN, params={"break-tests": "true"})
    ps.start()
    try:
        paused = rec.next(StepPaused, lambda ev: ev.task == "unit-tests", timeout=120)
        wait_for(lambda: "lint" in rec.ended())
        task_run = ps.sessions["unit-tests"].run.name
        wait_annotation(cluster, task_run, annotate.STEP)
        res = run(cluster, "--attach-pipeline", ps.uid, "--on-failure", "shell",
                  stdin="echo attached-$(basename $(pwd))\ndebug-continue\n", env=env,
                  cwd=tmp_path)
        out = res.stdout
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"PipelineRun build-and-publish-run (Pipeline build-and-publish) in namespace " \
            f"default: 4 TaskRuns, id {ps.uid}" in out
        listing = out[out.index("  TASK "):out.index("Attaching to")].splitlines()[1:]
        rows = {line.split()[0]: line.split(None, 2)[1:] for line in listing}
        assert rows["clone"][1] == "Succeeded" and rows["lint"][1] == "Succeeded"
        assert rows["unit-tests"] == [task_run, "Running, step run-tests paused (onFailure)"]
        assert "Attaching to the TaskRuns still running: unit-tests" in out
        # the shell is in the paused step's container, and its decision goes to the cluster
        assert "⏸ unit-tests/run-tests failed" in out and "attached-workspace" in out
        assert "✓ task unit-tests succeeded" in out
        # the table at the end has every task's duration, from the TaskRuns' times
        table = out[out.rindex("  TASK "):].splitlines()[1:5]
        assert all(row.split()[2].endswith("s") for row in table), table
        assert paused.event.index == 0
        end = rec.next(PipelineRunFinished, timeout=120)
    finally:
        ps.close()
    # the run itself went on once the step was released from the other process
    assert (end.succeeded, end.reason) == (True, "Completed")
    assert rec.ended()["unit-tests"].status == "succeeded"


def test_attach_by_name_to_a_finished_run_shows_it_and_attaches_to_nothing(cluster, env,  # noqa: F811
                                                                           tmp_path):
    ps, rec = cluster_run(cluster, EXAMPLE_RUN)
    ps.start()
    try:
        rec.next(PipelineRunFinished, timeout=120)
    finally:
        ps.close()
    res = run(cluster, "--attach-pipeline", "build-and-publish-run", stdin="", env=env,
              cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"5 TaskRuns, id {ps.uid}" in res.stdout
    assert "None of its TaskRuns is running: nothing to attach to" in res.stdout


def test_attach_to_a_run_no_taskrun_belongs_to_is_a_clear_error(cluster, env, tmp_path):  # noqa: F811
    res = run(cluster, "--attach-pipeline", "nowhere", stdin="", env=env, cwd=tmp_path)
    assert res.returncode == 2
    assert "error: no TaskRun in namespace 'default'" in res.stderr
    assert "belongs to a PipelineRun 'nowhere'" in res.stderr
    assert "fix: no PipelineRun run by tekton-debug has TaskRuns there" in res.stderr
    assert "Traceback" not in res.stderr


def test_a_cluster_run_says_how_to_attach_and_deletes_its_claim(cluster, env, tmp_path):  # noqa: F811
    res = run(cluster, EXAMPLE_RUN, stdin="", env=env, cwd=tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    uid = out.split(f"{GROUP_LABEL}=", 1)[1].split(";", 1)[0]
    assert f"attach from elsewhere with: tekton-debug run --attach-pipeline {uid} --runtime " \
        "kubernetes -n default" in out
    claim = claim_name({}, "source", uid)
    assert f"workspace 'source': claim {claim} made for this run; it is deleted at the end" in out
    assert "PipelineRun build-and-publish-run Completed" in out
    assert claims(cluster) == []


def test_a_missing_claim_exits_2_naming_the_file_and_line(cluster, env, tmp_path):  # noqa: F811
    path, line = missing_claim_run(tmp_path)
    res = run(cluster, path, stdin="", env=env, cwd=tmp_path)
    assert res.returncode == 2, res.stdout + res.stderr
    assert f"error: {path}:{line}: workspace 'source' binds the claim 'sources', which does not " \
        "exist in namespace 'default'" in res.stderr
    assert "Traceback" not in res.stderr


def test_attach_pipeline_with_a_file_or_on_this_machine_is_refused(capsys, tmp_path):
    from tekton_debug.cli.main import main

    assert main(["run", "--attach-pipeline", "build-run", "p.yaml"]) == 2
    err = capsys.readouterr().err
    assert "error: --attach-pipeline follows a PipelineRun already running on the cluster: " \
        "give no file" in err
    assert main(["run", "--attach-pipeline", "build-run", "--runtime", "local"]) == 2
    err = capsys.readouterr().err
    assert "attaching to a PipelineRun needs the cluster it runs on" in err
    assert "fix: add --runtime kubernetes" in err


def test_attach_shows_every_matrix_combination_and_a_retrys_latest_taskrun(cluster, env,  # noqa: F811
                                                                           tmp_path):
    # combination 1 of three fails on every try: its first TaskRun is failed past its pause and
    # retried; the attach shows each combination as task[i], combination 1 by its retry
    path = pipeline_file(tmp_path, """
        tasks:
          - name: t
            retries: 1
            matrix:
              params: [{name: n, value: ["1", "2", "3"]}]
            taskSpec:
              params: [{name: n}]
              steps:
                - name: s
                  image: alpine
                  script: |
                    echo "n=$(params.n) try=$(context.task.retry-count)"
                    [ "$(params.n)" != 2 ]
        """)
    ps, rec = cluster_run(cluster, path)
    ps.start()
    try:
        rec.next(StepPaused, lambda ev: ev.task == "t[1]", timeout=120)
        ps.session_of("t[1]").release(Release.FAIL_CONTINUE)
        rec.next(TaskStarted, lambda ev: ev.task == "t[1]" and ev.attempt == 1, timeout=60)
        rec.next(StepPaused, lambda ev: ev.task == "t[1]", timeout=120)
        wait_for(lambda: "t[0]" in rec.ended() and "t[2]" in rec.ended())
        retry = ps.sessions["t[1]"].run.name
        wait_annotation(cluster, retry, annotate.STEP)
        res = run(cluster, "--attach-pipeline", ps.uid, "--on-failure", "shell",
                  stdin="echo attached-to-$(echo retry)\ndebug-continue\n", env=env,
                  cwd=tmp_path)
        out = res.stdout
        assert res.returncode == 0, res.stdout + res.stderr
        assert f"4 TaskRuns, id {ps.uid}" in out
        listing = out[out.index("  TASK "):out.index("Attaching to")].splitlines()[1:]
        rows = [line.split(None, 2) for line in listing]
        assert sorted(r[0] for r in rows) == ["t[0]", "t[1]", "t[1]", "t[2]"]
        assert [r for r in rows if r[1] == retry] == \
            [["t[1]", retry, "Running (retry 1), step s paused (onFailure)"]]
        assert "Attaching to the TaskRuns still running: t[1] " in out
        assert "⏸ t[1]/s failed" in out and "attached-to-retry" in out
        assert "✓ task t[1] succeeded" in out
        table = out[out.rindex("  TASK "):].splitlines()[1:4]
        assert [(row.split()[0], row.split()[1]) for row in table] == \
            [("t[0]", "succeeded"), ("t[1]", "succeeded"), ("t[2]", "succeeded")], table
        end = rec.next(PipelineRunFinished, timeout=120)
    finally:
        ps.close()
    assert end.succeeded, rec.ended()
    tries = [line for line in rec.output("t[1]").splitlines() if line.startswith("n=")]
    assert tries == ["n=2 try=0", "n=2 try=1"]  # the retry, a new TaskRun, knows its count
