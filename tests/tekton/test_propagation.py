"""Params and workspaces as Tekton has them: propagation into embedded specs, object params
merged key by key, and no rule stricter than Tekton's."""

from __future__ import annotations

import pytest

from tekton_debug.errors import UserError, ValidationError
from tekton_debug.tekton.loader import load_text
from tekton_debug.tekton.params import resolve_params
from tekton_debug.tekton.validation import diagnose

from .helpers import yaml_text


def test_object_params_given_to_an_embedded_spec_propagate_with_their_keys():
    run = load_text(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          params:
            - name: repo
              value: {url: "x.com", commit: "abc"}
          taskSpec:
            steps:
              - {name: s, image: alpine, args: ["$(params.repo.url)", "$(params.repo.commit)"]}
        """), "t.yaml")
    assert resolve_params(run) == {"repo": {"url": "x.com", "commit": "abc"}}


def test_a_key_the_propagated_object_lacks_is_still_an_error():
    with pytest.raises(ValidationError) as err:
        load_text(yaml_text("""
            apiVersion: tekton.dev/v1
            kind: TaskRun
            metadata: {name: r}
            spec:
              params: [{name: repo, value: {url: "x.com"}}]
              taskSpec:
                steps: [{name: s, image: alpine, args: ["$(params.repo.branch)"]}]
            """), "t.yaml")
    assert err.value.first.message == '$(params.repo.branch): object param "repo" has no key "branch"'


def test_workspaces_bound_by_the_run_propagate_into_an_embedded_spec():
    assert diagnose(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          workspaces: [{name: shared, emptyDir: {}}]
          taskSpec:
            steps: [{name: s, image: alpine:3, script: "ls $(workspaces.shared.path)"}]
        """), "t.yaml", search=False) == []


def test_an_object_default_may_lack_keys_the_run_gives():
    text = yaml_text("""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          params: [{name: repo, value: {commit: abc}}]
          taskSpec:
            params:
              - name: repo
                properties: {url: {type: string}, commit: {type: string}}
                default: {url: x.com}
            steps: [{name: s, image: alpine, args: ["$(params.repo.url)", "$(params.repo.commit)"]}]
        """)
    run = load_text(text, "t.yaml")
    assert resolve_params(run) == {"repo": {"url": "x.com", "commit": "abc"}}


def test_a_key_neither_the_default_nor_the_run_gives_is_refused():
    with pytest.raises(ValidationError) as err:
        load_text(yaml_text("""
            apiVersion: tekton.dev/v1
            kind: TaskRun
            metadata: {name: r}
            spec:
              params: [{name: repo, value: {commit: abc}}]
              taskSpec:
                params:
                  - name: repo
                    properties: {url: {type: string}, commit: {type: string}, tag: {type: string}}
                    default: {url: x.com}
                steps: [{name: s, image: alpine, script: echo}]
            """), "t.yaml")
    p = err.value.first
    assert p.message == ('object param "repo" has no value for the key tag (neither the default '
                         "nor the TaskRun gives one)")
    assert p.line == 5


def test_a_task_run_alone_must_still_give_the_missing_keys():
    run = load_text(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: t}
        spec:
          params:
            - name: repo
              properties: {url: {type: string}, commit: {type: string}}
              default: {url: x.com}
          steps: [{name: s, image: alpine, script: echo}]
        """), "t.yaml")
    with pytest.raises(UserError) as err:
        resolve_params(run)
    assert err.value.first.message == 'object param "repo" lacks the key commit'
    assert resolve_params(run, {"repo": "commit=abc"}) == {"repo": {"url": "x.com", "commit": "abc"}}


def test_task_ref_kind_is_not_checked():
    run = load_text(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: t}
        spec:
          steps: [{name: s, image: alpine, script: echo}]
        ---
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          taskRef: {name: t, kind: task}
        """), "t.yaml")
    assert run.task_name == "t"


def test_the_same_env_name_twice_is_a_warning_and_the_last_one_wins():
    text = yaml_text("""
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: t}
        spec:
          steps:
            - name: s
              image: alpine:3
              script: echo
              env: [{name: A, value: "1"}, {name: A, value: "2"}]
        """)
    run = load_text(text, "t.yaml")
    (w,) = run.warnings
    assert (w.severity, w.line) == ("warning", 9)
    assert w.message == 'env variable "A" is set twice in step "s"; Kubernetes keeps the last one'
    assert [e.value for e in run.task.steps[0].env] == ["1", "2"]


def test_a_reference_may_fill_an_array_param():
    assert diagnose(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: TaskRun
        metadata: {name: r}
        spec:
          params: [{name: files, value: "$(tasks.a.results.files[*])"}]
          taskSpec:
            params: [{name: files, type: array}]
            steps: [{name: s, image: alpine:3, args: ["$(params.files[*])"]}]
        """), "t.yaml", search=False) == []


def test_a_pipelineruns_params_and_workspaces_reach_embedded_pipeline_and_task_specs():
    text = yaml_text("""
        apiVersion: tekton.dev/v1
        kind: PipelineRun
        metadata: {name: pr}
        spec:
          params:
            - {name: greeting, value: hello}
            - {name: repo, value: {url: abc.com, commit: sha1}}
          workspaces: [{name: shared, emptyDir: {}}]
          pipelineSpec:
            tasks:
              - name: t
                params: [{name: repo, value: {branch: main}}]
                taskSpec:
                  steps:
                    - name: s
                      image: alpine:3
                      script: |
                        echo $(params.greeting) $(params.repo.url) $(params.repo.branch)
                        ls $(workspaces.shared.path)
        """)
    assert diagnose(text, "pr.yaml", search=False) == []


def test_extra_params_to_a_referenced_pipeline_are_a_warning():
    text = yaml_text("""
        apiVersion: tekton.dev/v1
        kind: Pipeline
        metadata: {name: p}
        spec:
          tasks: [{name: t, taskSpec: {steps: [{name: s, image: "alpine:3", script: "true"}]}}]
        ---
        apiVersion: tekton.dev/v1
        kind: PipelineRun
        metadata: {name: pr}
        spec:
          pipelineRef: {name: p}
          params: [{name: extra, value: x}]
        """)
    (w,) = [p for p in diagnose(text, "pr.yaml", search=False) if "extra" in p.message]
    assert w.severity == "warning"
    assert w.message == 'PipelineRun param "extra" is not declared by the Pipeline; Tekton ignores it'
