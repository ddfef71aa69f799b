"""Pipelines and PipelineRuns as the model reads them, and every problem Tekton would reject,
reported at once with file:line and a fix."""

from __future__ import annotations

import os

import pytest

from tekton_debug.errors import ValidationError
from tekton_debug.tekton.pipeline_loader import (is_pipeline_text, load_pipeline_file,
                                                 load_pipeline_text)

from .helpers import EXAMPLES, yaml_text

EXAMPLE = os.path.join(EXAMPLES, "pipeline", "pipeline.yaml")


def problems(text: str, **kw) -> list:
    with pytest.raises(ValidationError) as err:
        load_pipeline_text(yaml_text(text), file="p.yaml", **kw)
    return err.value.problems


def one(found: list, containing: str):
    hits = [p for p in found if containing in p.message]
    assert len(hits) == 1, f"expected one problem with {containing!r}, got {found}"
    return hits[0]


def test_example_pipeline_finds_its_tasks_in_the_directory_and_orders_them():
    run = load_pipeline_file(EXAMPLE)
    p = run.pipeline
    assert run.name == "build-and-publish-run"
    assert [t.name for t in p.tasks] == ["clone", "build", "lint", "unit-tests", "publish"]
    assert [t.name for t in p.finally_tasks] == ["notify"]
    build = p.task_named("build")
    assert build.task_name == "build" and build.source.file.endswith("tasks.yaml")
    assert build.task.steps[0].pos.file.endswith("tasks.yaml")
    # unit-tests waits for build through the result it references, not runAfter
    assert p.task_named("unit-tests").dependencies == ["build"]
    assert p.task_named("publish").dependencies == ["lint", "unit-tests", "build"]
    assert p.task_named("lint").embedded and p.task_named("lint").source.file == EXAMPLE
    assert p.task_named("publish").when[0].operator == "in"
    # the task's lines in the Pipeline file
    lint = p.task_named("lint")
    assert p.task_at_line(lint.pos.line + 2) is lint


def test_pipelinerun_with_embedded_spec_v1beta1_timeouts_and_bindings():
    run = load_pipeline_text(yaml_text("""
        apiVersion: tekton.dev/v1beta1
        kind: PipelineRun
        metadata: {name: pr}
        spec:
          timeout: 10m
          params: [{name: msg, value: hi}]
          workspaces: [{name: ws, emptyDir: {}}]
          pipelineSpec:
            params: [{name: msg}]
            workspaces: [{name: ws}]
            tasks:
              - name: a
                retries: 2
                timeout: 30s
                onError: continue
                workspaces: [{name: data, workspace: ws, subPath: a}]
                taskSpec:
                  workspaces: [{name: data}]
                  steps: [{name: s, image: alpine, script: "echo $(params.msg)"}]
        """), file="pr.yaml")
    assert run.name == "pr" and run.timeout == 600 and run.params == {"msg": "hi"}
    a = run.pipeline.tasks[0]
    assert (a.retries, a.timeout, a.on_error) == (2, 30, "continue")
    assert a.workspaces[0].workspace == "ws" and a.workspaces[0].sub_path == "a"
    assert run.binding("ws") == {"name": "ws", "emptyDir": {}}


def test_pipelineref_is_found_in_the_same_file():
    run = load_pipeline_text(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: Pipeline
        metadata: {name: p}
        spec:
          tasks:
            - name: a
              taskSpec: {steps: [{image: alpine, script: "true"}]}
        ---
        apiVersion: tekton.dev/v1
        kind: PipelineRun
        metadata: {name: r}
        spec:
          pipelineRef: {name: p}
          timeouts: {pipeline: 1h, tasks: 50m, finally: 10m}
        """), file="pr.yaml")
    assert (run.name, run.pipeline.name, run.pipeline_name) == ("r", "p", "p")
    assert (run.timeout, run.tasks_timeout, run.finally_timeout) == (3600, 3000, 600)


def test_a_file_with_only_tasks_is_not_a_pipeline():
    assert not is_pipeline_text("apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: t}\n")
    assert is_pipeline_text("apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\n")


BROKEN = """
    apiVersion: tekton.dev/v1
    kind: Pipeline
    metadata: {name: p}
    spec:
      params: [{name: known}]
      workspaces: [{name: ws}]
      tasks:
        - name: a
          runAfter: [c]
          params: [{name: x, value: $(tasks.c.results.out)}]
          taskSpec:
            params: [{name: x}]
            steps: [{image: alpine, script: "echo $(params.x)"}]
        - name: b
          runAfter: [ghost]
          taskRef: {name: needs}
          params:
            - name: other
              value: $(params.unknown)
        - name: c
          runAfter: [a]
          params: [{name: v, value: $(tasks.b.results.nope)}]
          taskSpec:
            params: [{name: v}]
            results: [{name: out}]
            steps: [{image: alpine, script: "true"}]
        - name: d
          params: [{name: s, value: $(tasks.report.status)}]
          matrix:
            params: [{name: os, value: linux}]
          taskSpec:
            params: [{name: s}, {name: os}]
            steps: [{image: alpine, script: "true"}]
      finally:
        - name: report
          runAfter: [a]
          taskSpec:
            steps: [{image: alpine, script: "echo $(tasks.status)"}]
    ---
    apiVersion: tekton.dev/v1
    kind: Task
    metadata: {name: needs}
    spec:
      params: [{name: required}]
      results: [{name: digest}]
      workspaces: [{name: src}]
      steps: [{image: alpine, script: "true"}]
    """


def test_every_problem_is_reported_at_once_each_at_its_line_with_a_fix():
    found = problems(BROKEN)
    text = yaml_text(BROKEN).splitlines()

    def line_of(problem) -> str:
        return text[problem.line - 1]

    cycle = one(found, "cycle")
    assert "a -> c -> a" in cycle.message and "- name: a" in line_of(cycle)
    ghost = one(found, "ghost")
    assert "runAfter" in ghost.message and "ghost" in line_of(ghost)
    nope = one(found, '"nope"')
    assert 'task "b" does not declare result "nope"' in nope.message and "digest" in nope.fix
    unknown = one(found, '"unknown"')
    assert "does not declare" in unknown.message and "$(params.unknown)" in line_of(unknown)
    # a param the Task does not declare: Tekton ignores it; a warning, which does not stop a run
    assert not [p for p in found if '"other"' in p.message]
    from tekton_debug.tekton.validation import diagnose
    undeclared = one(diagnose(yaml_text(BROKEN), "p.yaml"), 'param "other" is not declared')
    assert undeclared.severity == "warning" and undeclared.fix
    missing = one(found, "'required'")
    assert "no default" in missing.message and "- name: b" in line_of(missing)
    unbound = one(found, 'workspace "src" is not bound')
    assert "workspace" in unbound.fix
    fin = one(found, 'refers to finally task "report"')
    assert "$(tasks.report.status)" in fin.message and "- name: d" not in line_of(fin)
    assert "runAfter" in one(found, "cannot have runAfter").message
    matrix = one(found, "matrix")
    assert 'matrix param "os" must be an array' in matrix.message and "linux" in line_of(matrix)
    assert "[a, b]" in matrix.fix
    assert all(p.file == "p.yaml" and p.line and p.fix for p in found)


def test_pipelinerun_params_and_workspaces_are_checked_against_the_pipeline():
    text = """
        apiVersion: tekton.dev/v1
        kind: PipelineRun
        metadata: {name: r}
        spec:
          params: [{name: typo, value: x}]
          pipelineSpec:
            params: [{name: needed}]
            workspaces: [{name: ws}]
            tasks:
              - name: a
                taskSpec: {steps: [{image: alpine, script: "true"}]}
        """
    found = problems(text)
    # as Tekton: an extra param reaches the embedded pipelineSpec (propagation), no problem
    assert not [p for p in found if "typo" in p.message]
    assert one(found, "'needed'").fix.startswith("add `params")
    assert one(found, 'workspace "ws"').fix
    # what the command line gives is not missing
    run = load_pipeline_text(yaml_text(text).replace("typo", "needed"), file="p.yaml",
                             bound_workspaces=["ws"])
    assert run.params == {"needed": "x"}


def test_a_missing_task_or_pipeline_says_where_it_was_searched(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: PipelineRun
        metadata: {name: r}
        spec:
          pipelineRef: {name: elsewhere}
        """))
    with pytest.raises(ValidationError) as err:
        load_pipeline_file(str(f))
    p = err.value.first
    assert 'Pipeline "elsewhere" (pipelineRef) was not found' in p.message and p.line == 5
    assert str(tmp_path) in p.message


def test_when_expressions_and_task_fields_are_checked():
    found = problems("""
        apiVersion: tekton.dev/v1
        kind: Pipeline
        metadata: {name: p}
        spec:
          tasks:
            - name: Bad_Name
              taskSpec: {steps: [{image: alpine, script: "true"}]}
            - name: a
              retries: -1
              timeout: soon
              onError: ignore
              when:
                - input: x
                  operator: equals
                  values: []
              taskSpec: {steps: [{image: alpine, script: "true"}]}
        """)
    assert one(found, "pipeline task name").fix == 'rename it, e.g. "bad-name"'
    assert one(found, "retries")
    assert one(found, "timeout")
    assert one(found, "onError")
    assert one(found, "when operator")
    assert one(found, "no values")


def test_a_pipeline_in_a_pipeline_is_refused_at_its_line_as_not_supported_yet():
    text = """
        apiVersion: tekton.dev/v1
        kind: Pipeline
        metadata: {name: p}
        spec:
          tasks:
            - name: scans
              pipelineRef: {name: security-scans}
        """
    inner = one(problems(text), "Pipelines in Pipelines")
    assert "pipelineRef in a pipeline task" in inner.message and "alpha" in inner.message
    assert yaml_text(text).splitlines()[inner.line - 1].strip().startswith("pipelineRef:")
