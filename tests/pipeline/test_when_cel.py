"""CEL ``when`` expressions in a PipelineRun on the host: evaluated after their references are
replaced, false skips the task as Tekton does, an expression that fails fails the run."""

from __future__ import annotations

from .test_pipeline_run import finish, pipeline_file, start

PIPELINE = """
    params:
      - {name: branch, default: release/1.2}
      - {name: coverage, default: "0.95"}
    tasks:
      - name: cover
        taskSpec:
          results: [{name: tests}]
          steps: [{name: s, image: alpine, script: "printf 7 > $(results.tests.path)"}]
      - name: release
        when:
          - cel: "'$(params.branch)'.matches('release/.*') && double('$(params.coverage)') > 0.9"
          - cel: "int('$(tasks.cover.results.tests)') >= 5"
        taskSpec:
          steps: [{name: s, image: alpine, script: "echo releasing $(params.branch)"}]
      - name: main-only
        when:
          - cel: "'$(params.branch)' == 'main'"
        taskSpec:
          steps: [{name: s, image: alpine, script: "echo on main"}]
    """


def test_cel_expressions_decide_which_tasks_run(tmp_path):
    ps, rec = start(pipeline_file(tmp_path, PIPELINE), runtime="local")
    end = finish(ps, rec)
    assert (end.succeeded, end.reason) == (True, "Completed")
    assert rec.output("release") == "releasing release/1.2\n"
    assert rec.ended()["main-only"].reason == "When Expressions evaluated to false"
    # release waited for the result its expression uses
    assert rec.order() == ["cover", "release"]


def test_a_cel_expression_that_fails_fails_the_run(tmp_path):
    ps, rec = start(pipeline_file(tmp_path, PIPELINE), runtime="local",
                    params={"coverage": "n/a"})
    end = finish(ps, rec)
    release = rec.ended()["release"]
    assert (end.succeeded, release.status, release.reason) == (False, "failed",
                                                                "CELEvaluationFailed")
    assert "double('n/a')" in release.message
    assert rec.ended()["main-only"].status == "skipped"
