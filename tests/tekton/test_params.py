"""Param values: the TaskRun's, then overrides (CLI strings or launch.json values), then defaults."""

from __future__ import annotations

import pytest

from tekton_debug.errors import UserError
from tekton_debug.tekton.loader import load_text
from tekton_debug.tekton.model import shown
from tekton_debug.tekton.params import resolve_params

from .helpers import yaml_text

TEXT = yaml_text("""
    apiVersion: tekton.dev/v1
    kind: TaskRun
    metadata: {name: r}
    spec:
      params:
        - {name: version, value: "2.0"}
      taskSpec:
        params:
          - {name: version, default: "1.0"}
          - {name: mode}
          - {name: flags, type: array, default: [-O2]}
          - name: target
            type: object
            properties: {os: {type: string}, arch: {type: string}}
            default: {os: linux, arch: amd64}
        steps:
          - {name: s, image: alpine, script: echo}
    """)


@pytest.fixture
def run():
    return load_text(TEXT, "t.yaml")


def test_taskrun_values_then_defaults(run):
    params = resolve_params(run, {"mode": "fast"})
    assert params == {"version": "2.0", "mode": "fast", "flags": ["-O2"],
                      "target": {"os": "linux", "arch": "amd64"}}


def test_overrides_win_over_the_taskrun(run):
    assert resolve_params(run, {"mode": "m", "version": "3.0"})["version"] == "3.0"


def test_cli_array_as_comma_separated_or_json(run):
    assert resolve_params(run, {"mode": "m", "flags": "-g, -O0"})["flags"] == ["-g", "-O0"]
    assert resolve_params(run, {"mode": "m", "flags": '["a,b", "c"]'})["flags"] == ["a,b", "c"]


def test_cli_object_as_key_values_or_json_keeps_default_keys(run):
    assert resolve_params(run, {"mode": "m", "target": "os=darwin"})["target"] == {
        "os": "darwin", "arch": "amd64"}
    assert resolve_params(run, {"mode": "m", "target": '{"arch": "arm64"}'})["target"] == {
        "os": "linux", "arch": "arm64"}


def test_launch_json_values_are_taken_as_they_are(run):
    params = resolve_params(run, {"mode": 3, "flags": ["x", 1, True], "target": {"os": "win"}})
    assert params["mode"] == "3" and params["flags"] == ["x", "1", "true"]
    assert params["target"] == {"os": "win", "arch": "amd64"}


def test_missing_required_param_says_how_to_give_it(run):
    with pytest.raises(UserError) as err:
        resolve_params(run)
    p = err.value.first
    assert p.message == 'param "mode" has no value and no default'
    assert "`-p mode=VALUE`" in p.fix and '"params": {"mode": "VALUE"}' in p.fix
    assert p.file == "t.yaml" and p.line == 10


def test_unknown_param_names_the_declared_ones(run):
    with pytest.raises(UserError) as err:
        resolve_params(run, {"mdoe": "x"})
    assert err.value.first.message == ('unknown param "mdoe": the Task declares version, mode, '
                                       "flags, target")


def test_value_of_the_wrong_type(run):
    with pytest.raises(UserError) as err:
        resolve_params(run, {"mode": ["a"]})
    assert err.value.first.message == 'param "mode" is of type string, but the override gives a list'
    with pytest.raises(UserError) as err:
        resolve_params(run, {"mode": "m", "flags": {"a": "b"}})
    assert "a mapping" in err.value.first.message and "-p flags=a,b" in err.value.first.fix


def test_bad_json_array_is_a_user_error(run):
    with pytest.raises(UserError) as err:
        resolve_params(run, {"mode": "m", "flags": "[oops"})
    assert "not a valid JSON list" in err.value.first.message


def test_object_value_lacking_a_declared_key():
    run = load_text(yaml_text("""
        apiVersion: tekton.dev/v1
        kind: Task
        metadata: {name: t}
        spec:
          params:
            - {name: o, type: object, properties: {a: {}, b: {}}}
          steps:
            - {name: s, image: alpine, script: echo}
        """), "t.yaml")
    with pytest.raises(UserError) as err:
        resolve_params(run, {"o": "a=1"})
    assert err.value.first.message == 'object param "o" lacks the key b'


def test_object_key_value_text_without_equals_is_rejected(run):
    with pytest.raises(UserError) as err:
        resolve_params(run, {"mode": "m", "target": "linux"})
    assert "key=value" in err.value.first.message


@pytest.mark.parametrize("value, text", [
    ("2.0", "2.0"),
    ("", ""),
    ('["not", "parsed"]', '["not", "parsed"]'),
    (["-O2", "-g"], '["-O2", "-g"]'),
    ([], "[]"),
    ({"os": "linux", "arch": "amd64"}, '{"os": "linux", "arch": "amd64"}'),
])
def test_a_value_is_shown_as_its_string_or_an_array_or_object_as_json(value, text):
    assert shown(value) == text
