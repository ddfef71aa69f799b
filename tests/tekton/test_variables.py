"""Tekton's ``$(...)`` references: a text that is one reference and nothing else passes an array
or object whole, and every place that passes one whole agrees on which texts are."""

from __future__ import annotations

import pytest

from tekton_debug.errors import UserError, ValidationError
from tekton_debug.tekton.loader import load_text
from tekton_debug.tekton.params import resolve_params
from tekton_debug.tekton.pipeline_loader import load_pipeline_text
from tekton_debug.tekton.substitution import substitute_list, substitution_context
from tekton_debug.tekton.variables import sole_reference

from .helpers import yaml_text


@pytest.mark.parametrize("text, name", [
    ("$(params.a)", "params.a"),
    ("  $(params.a)  ", "params.a"),
    ("\t$(params.a)\n", "params.a"),
    ("$(params.a[*])", "params.a[*]"),
    ('$(params["a"][*])', "params.a[*]"),
    ("$(tasks.build.results.files[*])", "tasks.build.results.files[*]"),
])
def test_a_text_that_is_one_reference_and_nothing_else_is_that_reference(text, name):
    ref = sole_reference(text)
    assert ref is not None and ref.name == name
    assert text[ref.start:ref.end] == ref.text == text.strip()


@pytest.mark.parametrize("text", [
    "$(params.a) $(params.b)",
    "$(params.a)$(params.a)",
    "-f=$(params.a[*])",
    "$(params.a[*])/",
    "no reference",
    "",
    "   ",
    "$(params.a",
    None,
    3,
    ["$(params.a)"],
])
def test_two_references_one_inside_text_or_none_are_no_sole_reference(text):
    assert sole_reference(text) is None


WHOLE = ["$(params.files[*])", "  $(params.files[*]) ", "$(params.files)"]
NOT_WHOLE = ["$(params.files[*]) $(params.files[*])", "-f=$(params.files[*])"]

TASK = """
    apiVersion: tekton.dev/v1
    kind: Task
    metadata: {name: t}
    spec:
      params: [{name: files, type: array, default: [a.txt, b.txt]}]
      steps: [{image: alpine, script: "true"}]
    """

PIPELINE = """
    apiVersion: tekton.dev/v1
    kind: Pipeline
    metadata: {name: p}
    spec:
      params: [{name: files, type: array, default: [a.txt, b.txt]}]
      tasks:
        - name: each
          matrix:
            params: [{name: file, value: "VALUE"}]
          taskSpec:
            params: [{name: file}]
            steps: [{image: alpine, script: "true"}]
    """


def _args(item: str) -> list[str]:
    run = load_text(yaml_text(TASK), "t.yaml")
    return substitute_list(["cat", item], substitution_context(run, resolve_params(run)))


def _matrix_problems(value: str) -> list[str]:
    try:
        load_pipeline_text(yaml_text(PIPELINE).replace("VALUE", value), file="p.yaml")
    except ValidationError as err:
        return [p.message for p in err.problems]
    return []


@pytest.mark.parametrize("text", WHOLE)
def test_a_whole_array_passes_whole_in_args_and_in_a_matrix(text):
    assert _args(text) == ["cat", "a.txt", "b.txt"]
    assert _matrix_problems(text) == []


@pytest.mark.parametrize("text", NOT_WHOLE)
def test_an_array_beside_anything_else_is_refused_in_args_and_in_a_matrix(text):
    with pytest.raises(UserError) as err:
        _args(text)
    assert 'array param "files" cannot be used inside a string' in err.value.first.message
    assert any('matrix param "file" must be an array' in m for m in _matrix_problems(text))
