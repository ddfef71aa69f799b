"""A matrixed task on the host: one TaskRun per combination, named and run as Tekton runs them,
results gathered for the tasks after it; a failed combination pauses only its own TaskRun. Array
and object results passed between tasks."""

from __future__ import annotations

import json

import pytest

from tekton_debug.errors import UserError

from tekton_debug.events import (PauseKind, PipelineRunFinished, Release, StepPaused,
                                 TaskEnded, TaskStarted)

from .test_pipeline_run import finish, pipeline_file, start

MATRIX = """
    results:
      - name: reports
        type: array
        value: $(tasks.test.results.report[*])
    tasks:
      - name: test
        matrix:
          params:
            - name: platform
              value: [linux, mac]
            - name: browser
              value: [chrome, firefox]
          include:
            - name: linux-url
              params:
                - {name: platform, value: linux}
                - {name: url, value: https://linux.example}
            - name: old-browser
              params:
                - {name: browser, value: ie}
        taskSpec:
          params:
            - {name: platform, default: any}
            - {name: browser}
            - {name: url, default: none}
          results: [{name: report}]
          steps:
            - name: run
              image: alpine
              script: |
                echo "testing $(params.browser) on $(params.platform) at $(params.url)"
                [ "$(params.platform)/$(params.browser)" != "$FAIL_ON" ] || exit 3
                printf '%s' "$(params.platform)-$(params.browser)" > $(results.report.path)
              env: [{name: FAIL_ON, value: "$(params.fail-on)"}]
      - name: summary
        params:
          - {name: reports, value: "$(tasks.test.results.report[*])"}
          - {name: count, value: $(tasks.test.matrix.length)}
          - {name: gathered, value: $(tasks.test.matrix.report.length)}
        taskSpec:
          params: [{name: reports, type: array}, {name: count}, {name: gathered}]
          steps:
            - name: show
              image: alpine
              args: ["$(params.reports[*])"]
              script: |
                echo "$(params.count) TaskRuns, $(params.gathered) reports: $*"
    params:
      - {name: fail-on, default: none}
    """


def test_a_matrix_runs_one_taskrun_per_combination_and_gathers_their_results(tmp_path):
    path = pipeline_file(tmp_path, MATRIX)
    ps, rec = start(path, runtime="local")
    end = finish(ps, rec)
    assert (end.succeeded, end.reason) == (True, "Succeeded"), end
    started = {e.task: e for e in rec.events if isinstance(e, TaskStarted)}
    # 2 x 2 combinations, the url added to linux's, and ie on its own, as Tekton orders them
    expected = {
        "test[0]": ("linux", "chrome", "https://linux.example"),
        "test[1]": ("mac", "chrome", "none"),
        "test[2]": ("linux", "firefox", "https://linux.example"),
        "test[3]": ("mac", "firefox", "none"),
        "test[4]": ("any", "ie", "none"),
    }
    assert set(started) == set(expected) | {"summary"}
    for key, (platform, browser, url) in expected.items():
        i = key[5]
        assert started[key].task_run == f"p-run-test-{i}"
        assert rec.output(key) == f"testing {browser} on {platform} at {url}\n"
        assert ps.units[key].results == {"report": f"{platform}-{browser}"}
        assert ps.sessions[key].run.raw["metadata"]["labels"]["tekton.dev/pipelineTask"] == "test"
    assert started["test[4]"].params == {"browser": "ie"}
    assert started["test[0]"].params == {"platform": "linux", "browser": "chrome",
                                         "url": "https://linux.example"}
    # the task ends after its TaskRuns; its results gathered in TaskRun name order
    ended = [e.task for e in rec.events if isinstance(e, TaskEnded)]
    assert ended.index("test") == 5 and ended[-1] == "summary"
    reports = ["linux-chrome", "mac-chrome", "linux-firefox", "mac-firefox", "any-ie"]
    assert ps.states["test"].results == {"report": reports}
    assert rec.output("summary") == "5 TaskRuns, 5 reports: " + " ".join(reports) + "\n"
    assert end.results == {"reports": reports}
    assert [s.key for s in ps.rows()] == list(expected) + ["summary"]


def test_a_failed_combination_pauses_only_its_taskrun(tmp_path):
    path = pipeline_file(tmp_path, MATRIX)
    ps, rec = start(path, on_failure=True, runtime="local", params={"fail-on": "mac/firefox"})
    ps.start()
    try:
        paused = rec.next(StepPaused, lambda ev: ev.task == "test[3]")
        assert paused.event.kind is PauseKind.ON_FAILURE and paused.event.exit_code == 3
        # every other combination runs to its end while test[3] waits
        for other in ("test[0]", "test[1]", "test[2]", "test[4]"):
            rec.seen(TaskEnded, lambda ev, other=other: ev.task == other)
        assert [k for k, _, _ in ps.paused()] == ["test[3]"]
        assert ps.states["test"].status == "running"
        assert ps.units["test[3]"].status == "running"
        assert [ps.units[f"test[{i}]"].status for i in (0, 1, 2, 4)] == ["succeeded"] * 4
        ps.session_of("test[3]").release(Release.FAIL_CONTINUE)
        end = rec.next(PipelineRunFinished)
        assert (end.succeeded, end.reason) == (False, "Failed")
        test = rec.ended()["test"]
        assert test.status == "failed" and "1 of 5 TaskRuns" in test.message
        assert "test[3]" in test.message
        assert rec.ended()["summary"].status == "skipped"
        assert "reports" not in end.results  # its task failed: left out, as Tekton does
    finally:
        ps.close()


def test_a_matrix_with_an_empty_array_or_a_false_when_is_skipped_whole(tmp_path):
    path = pipeline_file(tmp_path, """
        params:
          - {name: none, type: array, default: []}
        tasks:
          - name: empty
            matrix:
              params: [{name: x, value: "$(params.none[*])"}]
            taskSpec:
              params: [{name: x}]
              steps: [{name: s, image: alpine, script: "echo $(params.x)"}]
          - name: guarded
            when: [{input: "a", operator: in, values: [b]}]
            matrix:
              params: [{name: x, value: [one, two]}]
            taskSpec:
              params: [{name: x}]
              steps: [{name: s, image: alpine, script: "echo $(params.x)"}]
        """)
    ps, rec = start(path, runtime="local")
    end = finish(ps, rec)
    assert (end.succeeded, end.reason) == (True, "Completed")
    ended = rec.ended()
    assert ended["empty"].reason == "Matrix Parameters have an empty array"
    assert ended["guarded"].reason == "When Expressions evaluated to false"
    assert not [e for e in rec.events if isinstance(e, TaskStarted)]
    with pytest.raises(UserError, match=r"has not started \(skipped\)"):
        ps.session_of("guarded")


def test_a_matrix_with_an_empty_array_is_skipped_even_if_its_other_params_cannot_resolve(tmp_path):
    # Tekton decides the skip first: the index past the result's end is never read
    path = pipeline_file(tmp_path, """
        params:
          - {name: none, type: array, default: []}
        tasks:
          - name: words
            taskSpec:
              results: [{name: list, type: array}]
              steps:
                - {name: s, image: alpine, script: "echo -n '[\\"a\\"]' > $(results.list.path)"}
          - name: empty
            params: [{name: y, value: "$(tasks.words.results.list[5])"}]
            matrix:
              params: [{name: x, value: "$(params.none[*])"}]
            taskSpec:
              params: [{name: x}, {name: y}]
              steps: [{name: s, image: alpine, script: "echo $(params.x) $(params.y)"}]
        """)
    ps, rec = start(path, runtime="local")
    end = finish(ps, rec)
    assert (end.succeeded, end.reason) == (True, "Completed")
    assert rec.ended()["words"].status == "succeeded"
    empty = rec.ended()["empty"]
    assert (empty.status, empty.reason) == ("skipped", "Matrix Parameters have an empty array")


def test_array_and_object_results_pass_between_tasks(tmp_path):
    path = pipeline_file(tmp_path, """
        tasks:
          - name: gen
            taskSpec:
              results:
                - {name: files, type: array}
                - {name: image, type: object, properties: {name: {}, tag: {}}}
              steps:
                - name: write
                  image: alpine
                  script: |
                    echo '["a.txt", "b c.txt"]' > $(results.files.path)
                    printf '{"name": "app", "tag": "1.2"}' > $(results.image.path)
          - name: use
            params:
              - {name: files, value: "$(tasks.gen.results.files[*])"}
              - {name: first, value: "$(tasks.gen.results.files[1])"}
              - {name: ref, value: "$(tasks.gen.results.image.name):$(tasks.gen.results.image.tag)"}
              - {name: image, value: "$(tasks.gen.results.image[*])"}
            taskSpec:
              params:
                - {name: files, type: array}
                - {name: first}
                - {name: ref}
                - {name: image, type: object, properties: {name: {}, tag: {}}}
              steps:
                - name: show
                  image: alpine
                  args: ["$(params.files[*])"]
                  script: |
                    echo "$# files: $1|$2; second: $(params.first); $(params.ref); $(params.image.tag)"
          - name: fan
            matrix:
              params: [{name: file, value: "$(tasks.gen.results.files[*])"}]
            taskSpec:
              params: [{name: file}]
              steps: [{name: s, image: alpine, script: "echo file $(params.file)"}]
        """)
    ps, rec = start(path, runtime="local")
    end = finish(ps, rec)
    assert end.succeeded, end
    assert ps.states["gen"].results == {"files": ["a.txt", "b c.txt"],
                                        "image": {"name": "app", "tag": "1.2"}}
    assert rec.output("use") == "2 files: a.txt|b c.txt; second: b c.txt; app:1.2; 1.2\n"
    assert rec.output("fan[0]") == "file a.txt\n" and rec.output("fan[1]") == "file b c.txt\n"


def test_an_array_result_that_is_not_json_fails_its_taskrun_as_tekton_does(tmp_path):
    path = pipeline_file(tmp_path, """
        tasks:
          - name: gen
            taskSpec:
              results: [{name: files, type: array}]
              steps: [{name: w, image: alpine, script: "echo a.txt b.txt > $(results.files.path)"}]
        """)
    ps, rec = start(path, runtime="local")
    end = finish(ps, rec)
    gen = rec.ended()["gen"]
    assert (end.succeeded, gen.status, gen.reason) == (False, "failed", "TaskRunValidationFailed")
    assert "Provided results don't match declared results" in gen.message
    assert '"files"' in gen.message and json.dumps("array") in gen.message


def test_each_combination_is_retried_on_its_own(tmp_path):
    path = pipeline_file(tmp_path, """
        workspaces: [{name: ws}]
        tasks:
          - name: flaky
            retries: 1
            workspaces: [{name: ws}]
            matrix:
              params: [{name: n, value: ["1", "2", "3"]}]
            taskSpec:
              params: [{name: n}]
              workspaces: [{name: ws}]
              steps:
                - name: s
                  image: alpine
                  script: |
                    echo "n=$(params.n)"
                    [ "$(params.n)" != 2 ] || [ -e $(workspaces.ws.path)/tried ] || \\
                      { touch $(workspaces.ws.path)/tried; exit 1; }
        """)
    ps, rec = start(path, runtime="local")
    end = finish(ps, rec)
    assert end.succeeded, end
    starts = [(e.task, e.attempt) for e in rec.events if isinstance(e, TaskStarted)]
    assert sorted(starts) == [("flaky[0]", 0), ("flaky[1]", 0), ("flaky[1]", 1), ("flaky[2]", 0)]
    assert rec.output("flaky[1]") == "n=2\nn=2\n" and rec.output("flaky[0]") == "n=1\n"
    assert [u.attempt for u in ps.states["flaky"].children] == [0, 1, 0]
