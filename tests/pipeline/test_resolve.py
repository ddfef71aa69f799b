"""A pipeline task's param values once resolved: a value that is one reference to an array or an
object, and nothing else, passes it whole; anywhere else it is a string or an error."""

from __future__ import annotations

import pytest

from tekton_debug.errors import UserError
from tekton_debug.pipeline.resolve import PipelineContext, resolve_value


@pytest.fixture
def ctx() -> PipelineContext:
    return PipelineContext(
        strings={"params.name": "x"},
        params={"files": ["a.txt", "b.txt"], "target": {"os": "linux"}, "name": "x"},
        param_types={"files": "array", "target": "object", "name": "string"},
        results={"tasks.gen.results.list": ["1", "2"], "tasks.gen.results.obj": {"k": "v"}})


@pytest.mark.parametrize("value, expected", [
    ("$(params.files[*])", ["a.txt", "b.txt"]),
    ("  $(params.files[*]) \n", ["a.txt", "b.txt"]),
    ("$(params.files)", ["a.txt", "b.txt"]),
    ("$(params.target[*])", {"os": "linux"}),
    ("$(tasks.gen.results.list[*])", ["1", "2"]),
    (" $(tasks.gen.results.list) ", ["1", "2"]),
    ("$(tasks.gen.results.obj[*])", {"k": "v"}),
])
def test_one_reference_and_nothing_else_passes_the_array_or_object_whole(ctx, value, expected):
    assert resolve_value(value, ctx) == expected


def test_in_a_list_a_whole_array_item_becomes_its_elements(ctx):
    assert resolve_value(["-v", " $(params.files[*]) ", "$(params.name)"], ctx) == \
        ["-v", "a.txt", "b.txt", "x"]


def test_a_string_reference_alone_or_an_element_is_a_string(ctx):
    assert resolve_value("  $(params.name) ", ctx) == "  x "
    assert resolve_value("$(params.files[1])", ctx) == "b.txt"
    assert resolve_value("$(params.files[0])-$(params.name)", ctx) == "a.txt-x"


@pytest.mark.parametrize("value", ["$(params.files[*]) $(params.files[*])",
                                   "-f=$(params.files[*])"])
def test_a_whole_array_beside_anything_else_is_an_error(ctx, value):
    with pytest.raises(UserError) as err:
        resolve_value(value, ctx)
    assert 'array param "files" cannot be used inside a string' in err.value.first.message
