"""Pipelines in the editor: the "Debug Pipeline" lens, completion of ``$(tasks.``, go to
definition from taskRef and from result references, and the same diagnostics as `run`."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types

from tests.lsp.conftest import line_of, position_of
from tests.lsp.test_completion import complete
from tests.lsp.test_lenses import lenses
from tests.lsp.test_navigation import definition_at

pytestmark = pytest.mark.asyncio(loop_scope="module")

PIPELINE = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Pipeline
    metadata:
      name: ship
    spec:
      tasks:
        - name: build
          taskSpec:
            results:
              - name: image-digest
                description: the digest of the image built
            steps:
              - image: alpine
                script: printf sha256:1 > $(results.image-digest.path)
        - name: deploy
          taskRef:
            name: deployer
          params:
            - name: digest
              value: $(tasks.build.results.image-digest)
      finally:
        - name: tell
          params:
            - name: how
              value: $(tasks.status)
          taskSpec:
            params: [{name: how}]
            steps: [{image: alpine, script: echo $(params.how)}]
    """)

DEPLOYER = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: deployer
    spec:
      params: [{name: digest}]
      steps: [{image: alpine, script: echo $(params.digest)}]
    """)


async def test_a_pipeline_gets_the_debug_pipeline_lens_on_its_kind_line(client, editor):
    await editor.open(DEPLOYER, "deployer.yaml")
    uri, diagnostics = await editor.open(PIPELINE, "pipeline.yaml")
    assert diagnostics == []
    found = await lenses(client, uri)
    assert [(lens.command.title, lens.range.start.line, lens.command.command) for lens in found] \
        == [("Debug Pipeline", line_of(PIPELINE, "kind: Pipeline"), "tekton.debugFile")]


async def test_pipeline_problems_are_diagnostics_at_their_lines(client, editor):
    await editor.open(DEPLOYER, "deployer.yaml")
    broken = PIPELINE.replace("image-digest)", "digest)").replace("name: build", "name: build\n"
                                                                 "      runAfter: [deploy]")
    _, diagnostics = await editor.open(broken, "pipeline.yaml")
    messages = {d.message: d.range.start.line for d in diagnostics}
    cycle = next(m for m in messages if "cycle" in m)
    assert "build -> deploy -> build" in cycle
    missing = next(m for m in messages if 'does not declare result "digest"' in m)
    assert messages[missing] == line_of(broken, "$(tasks.build.results.digest)")


async def test_completion_after_dollar_tasks_offers_tasks_then_results(client, editor):
    await editor.open(DEPLOYER, "deployer.yaml")
    text = PIPELINE.replace("$(tasks.build.results.image-digest)", "$(tasks.")
    uri, _ = await editor.open(text, "pipeline.yaml")
    items = await complete(client, uri, position_of(text, "$(tasks.", len("$(tasks.")))
    assert set(items) == {"build"}  # not itself, not a finally task
    text = PIPELINE.replace("$(tasks.build.results.image-digest)", "$(tasks.build.results.")
    uri, _ = await editor.open(text, "pipeline.yaml")
    items = await complete(client, uri, position_of(text, "results.", len("results."),
                                                    occurrence=1))
    assert list(items) == ["image-digest"]
    assert items["image-digest"].detail == "the digest of the image built"
    assert items["image-digest"].text_edit.new_text == "image-digest)"


async def test_completion_in_a_finally_task_offers_status(client, editor):
    text = PIPELINE.replace("value: $(tasks.status)", "value: $(tasks.")
    uri, _ = await editor.open(text, "pipeline.yaml")
    needle = "name: how\n          value: $(tasks."
    cursor = position_of(text, needle, len(needle))
    items = await complete(client, uri, cursor)
    assert {"build", "deploy", "status"} <= set(items)


async def test_go_to_definition_from_a_result_reference_and_from_taskref(client, editor):
    deployer_uri, _ = await editor.open(DEPLOYER, "deployer.yaml")
    uri, _ = await editor.open(PIPELINE, "pipeline.yaml")
    at_result = await definition_at(client, uri, position_of(PIPELINE, "image-digest)", 2))
    assert at_result.uri == uri
    assert at_result.range.start.line == line_of(PIPELINE, "- name: image-digest")
    at_ref = await definition_at(client, uri, position_of(PIPELINE, "name: deployer", 8))
    assert at_ref.uri == deployer_uri
    assert at_ref.range.start.line == line_of(DEPLOYER, "name: deployer")
    assert isinstance(at_ref, types.Location)


async def test_completion_after_a_matrixed_task_offers_its_results_whole_and_matrix(client,
                                                                                   editor):
    await editor.open(DEPLOYER, "deployer.yaml")
    matrixed = PIPELINE.replace("    - name: build\n      taskSpec:",
                                "    - name: build\n      matrix:\n        params:\n"
                                "          - {name: arch, value: [amd64, arm64]}\n"
                                "      taskSpec:\n        params: [{name: arch}]")
    assert "matrix:" in matrixed
    for typed, expected in (("$(tasks.build.", {"results.", "matrix."}),
                            ("$(tasks.build.results.", {"image-digest[*]"}),
                            ("$(tasks.build.matrix.", {"length", "image-digest.length"})):
        text = matrixed.replace("$(tasks.build.results.image-digest)", typed)
        uri, _ = await editor.open(text, "pipeline.yaml")
        items = await complete(client, uri, position_of(text, typed, len(typed)))
        assert set(items) == expected, typed
    assert items["length"].text_edit.new_text == "length)"


def edit(client, uri: str, version: int, text: str) -> None:
    """Send a new text of the document and not wait for its diagnostics, as typing does."""
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)]))


async def test_completion_and_definition_right_after_an_edit_answer_for_the_edited_text(client,
                                                                                       editor):
    uri, _ = await editor.open(PIPELINE, "pipeline.yaml")
    lint = ("    - name: lint\n      taskSpec:\n        results: [{name: report}]\n"
            "        steps: [{image: alpine}]\n")
    typed = "$(tasks.build.results.image-digest)\n        - name: report\n" \
            "          value: $(tasks."
    edited = PIPELINE.replace("  tasks:\n", "  tasks:\n" + lint).replace(
        "$(tasks.build.results.image-digest)\n", typed + "\n")
    edit(client, uri, 2, edited)
    items = await complete(client, uri, position_of(edited, typed, len(typed)))
    assert set(items) == {"lint", "build"}  # the task added by the edit, not deploy itself
    found = await definition_at(client, uri, position_of(edited, "image-digest)", 2))
    assert found.range.start.line == line_of(edited, "- name: image-digest")
    # a line being typed that does not parse yet: the rest of the edited text still counts
    broken = edited.replace(typed, typed.removesuffix("$(tasks.") + '["$(tasks.lint.results.')
    edit(client, uri, 3, broken)
    cursor = position_of(broken, "lint.results.", len("lint.results."))
    assert set(await complete(client, uri, cursor)) == {"report"}


async def test_completion_on_a_line_that_hides_the_pipeline_around_it(client, editor):
    # an indented line right under "kind: Pipeline" parses, as the rest of the kind's value:
    # the tasks come from the text without it
    uri, _ = await editor.open(PIPELINE, "pipeline.yaml")
    typed = "kind: Pipeline\n  $(tasks."
    text = PIPELINE.replace("kind: Pipeline\n", typed + "\n", 1)
    await editor.change(uri, 2, text)

    items = await complete(client, uri, position_of(text, typed, len(typed)))

    assert set(items) == {"build", "deploy"}
