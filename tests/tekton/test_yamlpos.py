"""YAML with positions: where each value and key stands, and located syntax errors."""

from __future__ import annotations

import textwrap

import pytest

from tekton_debug.errors import UserError
from tekton_debug.tekton.yamlpos import YamlDoc, load_documents

TEXT = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: demo
    spec:
      steps:
        - name: build
          image: alpine
          script: |
            echo one

            echo two

        # a comment between steps
        - name: test
          image: alpine
          onError: continue
    """)


def test_values_are_plain_python_objects():
    (doc,) = load_documents(TEXT, "t.yaml")
    assert doc.data["spec"]["steps"][1] == {"name": "test", "image": "alpine",
                                            "onError": "continue"}
    assert doc.data["spec"]["steps"][0]["script"] == "echo one\n\necho two\n"


def test_sequence_item_spans_from_its_first_to_its_last_line():
    (doc,) = load_documents(TEXT, "t.yaml")
    first = doc.pos(("spec", "steps", 0))
    second = doc.pos(("spec", "steps", 1))
    assert (first.file, first.line, first.end_line) == ("t.yaml", 7, 12)
    assert (second.line, second.end_line) == (15, 17)


def test_key_position_points_at_the_key():
    (doc,) = load_documents(TEXT, "t.yaml")
    key = doc.key_pos(("spec", "steps", 1, "onError"))
    value = doc.pos(("spec", "steps", 1, "onError"))
    assert (key.line, key.column) == (17, 7)
    assert (value.line, value.column) == (17, 16)


def test_block_scalar_text_starts_on_the_line_after_the_indicator():
    (doc,) = load_documents(TEXT, "t.yaml")
    pos = doc.text_pos(("spec", "steps", 0, "script"))
    assert (pos.line, pos.column) == (10, 9)


def test_multi_document_file_gives_each_document_its_own_lines():
    text = "kind: Task\n---\n\n---\nkind: TaskRun\nspec: {a: 1}\n"
    docs = load_documents(text, "m.yaml")
    assert [d.data["kind"] for d in docs] == ["Task", "TaskRun"]
    assert docs[1].pos(("spec", "a")).line == 6


def test_syntax_error_is_a_user_error_with_line_and_column():
    text = "kind: Task\nspec:\n  steps: [a, b\n  other: 1\n"
    with pytest.raises(UserError) as err:
        load_documents(text, "bad.yaml")
    problem = err.value.first
    assert problem.file == "bad.yaml"
    assert problem.message.startswith("YAML syntax error")
    assert problem.line == 4
    assert problem.column is not None and problem.fix


def test_value_with_colon_space_error_suggests_quoting():
    with pytest.raises(UserError) as err:
        load_documents("a: b\n  c: d\n", "x.yaml")
    assert (err.value.first.line, err.value.first.column) == (2, 4)
    assert "quote" in err.value.first.fix


def test_tab_indentation_is_reported_with_its_line():
    with pytest.raises(UserError) as err:
        load_documents("spec:\n\tsteps: []\n", "tab.yaml")
    assert err.value.first.line == 2
    assert "tab" in err.value.first.fix


def test_duplicate_keys_are_recorded_as_problems():
    (doc,) = load_documents("kind: Task\nspec: {}\nkind: TaskRun\n", "d.yaml")
    (problem,) = doc.duplicate_keys
    assert problem.line == 3 and "'kind'" in problem.message


def test_anchors_and_merge_keys_are_resolved():
    (doc,) = load_documents("base: &b {image: alpine}\nstep:\n  <<: *b\n  name: x\n")
    assert doc.data["step"] == {"image": "alpine", "name": "x"}


def test_recursive_alias_does_not_loop():
    (doc,) = load_documents("a: &x [1, *x]\n")
    assert doc.data["a"][0] == 1


def test_object_without_positions_answers_none():
    doc = YamlDoc.from_object({"spec": {"steps": []}}, "api")
    assert doc.pos(("spec",)) is None and doc.key_pos(("spec",)) is None


def test_aliases_of_aliases_that_would_expand_without_bound_are_refused_at_their_line():
    # "billion laughs": whoever walks the data visits an aliased value once per alias
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 30):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    with pytest.raises(UserError) as caught:
        load_documents("\n".join(lines) + "\n", "bomb.yaml")
    (problem,) = caught.value.problems
    # a0 stands for 11 values (the list and its items); the aliases of a1 to a3 add 110, 1,110
    # and 11,110; those of a4 another 111,110: over the limit
    assert (problem.file, problem.line) == ("bomb.yaml", 5)
    assert "aliases here expand the file to more than 100,000 values" in problem.message
    assert "anchored at line 4" in problem.message


def test_ordinary_aliases_load():
    lines = ["base: &base {image: alpine, env: [{name: A, value: '1'}], workingDir: /w}"]
    lines += [f"step{i}: {{<<: *base, name: s{i}}}" for i in range(500)]
    lines += [f"copy{i}: *base" for i in range(500)]
    (doc,) = load_documents("\n".join(lines) + "\n")
    assert doc.data["step499"]["image"] == "alpine" and doc.data["copy0"] is doc.data["base"]


def test_a_key_written_after_a_merge_overrides_it_and_is_no_duplicate():
    [doc] = load_documents(textwrap.dedent("""\
        steps:
          - &base
            name: a
            image: alpine
          - <<: *base
            name: b
        """))
    assert doc.data["steps"][1] == {"name": "b", "image": "alpine"}
    assert doc.duplicate_keys == []
    assert doc.span(("steps", 1, "name")).line == 6


def test_a_key_written_twice_beside_a_merge_is_still_a_duplicate():
    [doc] = load_documents("base: &b {x: 1}\nm:\n  <<: *b\n  y: 1\n  y: 2\n")
    assert [p.line for p in doc.duplicate_keys] == [5]


def test_a_complex_key_is_reported_at_its_line_in_words():
    [doc] = load_documents("m:\n  ? [x, y]\n  : z\n  k: v\n")
    [problem] = doc.duplicate_keys
    assert problem.line == 2 and "ScalarNode" not in problem.message
    assert 'the key ["x", "y"] is a list' in problem.message
    assert doc.data == {"m": {"k": "v"}}


def test_a_nul_byte_is_named_with_its_line_and_column_not_blamed_on_tabs():
    with pytest.raises(UserError) as caught:
        load_documents("a: 1\nb: x\x00y\n", "f.yaml")
    problem = caught.value.first
    assert (problem.line, problem.column) == (2, 5)
    assert "NUL byte" in problem.message and "tab" not in problem.fix
