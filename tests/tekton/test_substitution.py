"""Tekton's variable substitution in steps."""

from __future__ import annotations

import pytest

from tekton_debug.errors import UserError
from tekton_debug.tekton.loader import load_text
from tekton_debug.tekton.params import resolve_params
from tekton_debug.tekton.substitution import (lookup, substitute, substitute_list,
                                              substitute_step, substitution_context, variables)

from .helpers import yaml_text

TEXT = yaml_text("""
    apiVersion: tekton.dev/v1
    kind: Task
    metadata: {name: build-task}
    spec:
      params:
        - {name: version, default: "1.2"}
        - {name: dotted.name, default: dots}
        - {name: files, type: array, default: [a.txt, b.txt]}
        - name: target
          type: object
          properties: {os: {type: string}}
          default: {os: linux}
      results: [{name: digest}]
      workspaces: [{name: src}, {name: cache, optional: true}]
      steps:
        - name: build
          image: "alpine:$(params.version)"
          workingDir: $(workspaces.src.path)
          command: [tar, -cf, out.tar]
          args: ["$(params.files[*])", "--os=$(params.target.os)"]
          env:
            - {name: VERSION, value: "v$(params.version)"}
          script: null
        - name: test
          image: alpine
          script: |
            echo $(params.version) > $(results.digest.path)
            echo $(HOME) $(context.pipelineRun.name)
    """)


@pytest.fixture
def ctx():
    run = load_text(TEXT, "t.yaml")
    params = resolve_params(run)
    return substitution_context(run, params, results_dir="/run/results",
                                workspaces={"src": "/run/ws/src"}, uid="u-1", namespace="ci")


@pytest.mark.parametrize("text, expected", [
    ("$(params.version)", "1.2"),
    ("$(params['version'])", "1.2"),
    ('$(params["version"])', "1.2"),
    ('$(params["dotted.name"])', "dots"),
    ("$(params.dotted.name)", "dots"),
    ("$(params.files[1])", "b.txt"),
    ("$(params.target.os)", "linux"),
    ("$(results.digest.path)", "/run/results/digest"),
    ("$(results['digest'].path)", "/run/results/digest"),
    ("$(workspaces.src.path)", "/run/ws/src"),
    ("$(workspaces.src.bound)", "true"),
    ("$(workspaces.cache.bound)", "false"),
    ("$(workspaces.cache.path)", ""),
    ("$(context.taskRun.name)", "build-task-run"),
    ("$(context.taskRun.namespace)", "ci"),
    ("$(context.taskRun.uid)", "u-1"),
    ("$(context.task.name)", "build-task"),
    ("$(context.task.retry-count)", "0"),
    ("$(steps.step-test.exitCode.path)", "/tekton/steps/step-test/exitCode"),
    ("v$(params.version)-$(params.target.os)", "v1.2-linux"),
])
def test_variables_are_replaced(ctx, text, expected):
    assert substitute(text, ctx) == expected


@pytest.mark.parametrize("text", ["$(params.unknown)", "$(HOME)", "$(context.pipeline.name)",
                                  "$(params.target.arch)", "no variables"])
def test_unknown_variables_are_left_as_written(ctx, text):
    assert substitute(text, ctx) == text


def test_whole_array_item_expands_into_several_items(ctx):
    assert substitute_list(["-v", "$(params.files[*])", "x"], ctx) == ["-v", "a.txt", "b.txt", "x"]


def test_whole_array_inside_a_string_is_an_error(ctx):
    with pytest.raises(UserError) as err:
        substitute_list(["--files=$(params.files[*])"], ctx)
    assert 'array param "files" cannot be used inside a string' in err.value.first.message


def test_array_index_out_of_range_is_an_error(ctx):
    with pytest.raises(UserError) as err:
        substitute("$(params.files[2])", ctx)
    assert err.value.first.message == ('$(params.files[2]): index 2 is out of range: param "files" '
                                       "has 2 elements")


def test_substitute_step_replaces_every_field(ctx):
    run = load_text(TEXT, "t.yaml")
    build, test = (substitute_step(s, ctx) for s in run.task.steps)
    assert build.image == "alpine:1.2" and build.working_dir == "/run/ws/src"
    assert build.args == ["a.txt", "b.txt", "--os=linux"]
    assert build.command == ["tar", "-cf", "out.tar"]
    assert build.env[0].value == "v1.2"
    assert test.script == "echo 1.2 > /run/results/digest\necho $(HOME) $(context.pipelineRun.name)\n"
    assert run.task.steps[1].script.startswith("echo $(params.version)")  # the original is kept


def test_variables_lists_every_known_variable(ctx):
    v = variables(ctx)
    assert v["$(params.version)"] == "1.2"
    assert v["$(params.files[*])"] == '["a.txt", "b.txt"]'
    assert v["$(params.files[0])"] == "a.txt"
    assert v["$(params.target.os)"] == "linux"
    assert v["$(results.digest.path)"] == "/run/results/digest"
    assert v["$(workspaces.src.path)"] == "/run/ws/src"
    assert v["$(context.taskRun.name)"] == "build-task-run"


def test_lookup_reads_any_spelling(ctx):
    assert lookup('params["version"]', ctx) == "1.2"
    assert lookup("$(params.files[*])", ctx) == '["a.txt", "b.txt"]'
    assert lookup("$(params.nothing)", ctx) is None
    assert lookup("$(params.files[9])", ctx) is None
