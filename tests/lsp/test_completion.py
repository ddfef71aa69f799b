"""Completion of Tekton variables after ``$(`` and of step names in ``beforeSteps``."""

from __future__ import annotations

import pytest
from lsprotocol import types

from tests.lsp.conftest import TASK, TASKRUN, position_of

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def complete(client, uri, position):
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=position))
    items = result.items if isinstance(result, types.CompletionList) else (result or [])
    return {item.label: item for item in items}


def typing(text: str, old: str, new: str, tail: str = "") -> tuple[str, types.Position]:
    """``text`` with ``old`` replaced by ``new`` + ``tail``, and the cursor just after ``new``."""
    changed = text.replace(old, new + tail, 1)
    return changed, position_of(changed, new, len(new))


async def test_params_after_dollar_params_dot(client, editor):
    text, cursor = typing(TASK, "echo app >", "echo $(params.")
    uri, _ = await editor.open(text)

    items = await complete(client, uri, cursor)

    assert set(items) == {"version", "flags", "flags[*]", "target"}
    version = items["version"]
    assert version.detail == "string"
    assert "The version to build." in version.documentation.value
    assert version.text_edit.new_text == "version)"
    assert version.text_edit.range.start == cursor == version.text_edit.range.end


async def test_partly_typed_param_is_replaced_and_not_closed_twice(client, editor):
    text, cursor = typing(TASK, "$(params.version)", "$(params.ver")
    text = text.replace("$(params.ver", "$(params.ver)", 1)
    uri, _ = await editor.open(text)

    items = await complete(client, uri, cursor)

    edit = items["version"].text_edit
    assert edit.new_text == "version"  # the ")" is already there
    assert edit.range.start.character == cursor.character - len("ver")
    assert edit.range.end == cursor


async def test_the_rest_of_the_name_after_the_cursor_is_replaced(client, editor):
    text, cursor = typing(TASK, "$(params.version)", "$(params.ver")
    text = text.replace("$(params.ver", "$(params.verXYZ)", 1)
    uri, _ = await editor.open(text)

    edit = (await complete(client, uri, cursor))["version"].text_edit

    assert edit.new_text == "version"
    assert edit.range.end.character == cursor.character + len("XYZ")


async def test_keys_of_an_object_param(client, editor):
    text, cursor = typing(TASK, "$(params.target.os)", "$(params.target.")
    uri, _ = await editor.open(text)

    assert set(await complete(client, uri, cursor)) == {"os"}


async def test_results_and_their_path(client, editor):
    text, cursor = typing(TASK, "$(results.artifact.path)", "$(results.")
    uri, _ = await editor.open(text)
    assert set(await complete(client, uri, cursor)) == {"artifact"}

    text, cursor = typing(TASK, "$(results.artifact.path)", "$(results.artifact.")
    uri, _ = await editor.open(text, name="path.yaml")
    assert set(await complete(client, uri, cursor)) == {"path"}


async def test_workspace_names_and_their_fields(client, editor):
    text, cursor = typing(TASK, "$(workspaces.source.path)", "$(workspaces.")
    uri, _ = await editor.open(text)
    assert set(await complete(client, uri, cursor)) == {"source"}

    text, cursor = typing(TASK, "$(workspaces.source.path)", "$(workspaces.source.")
    uri, _ = await editor.open(text, name="fields.yaml")
    assert set(await complete(client, uri, cursor)) == {"path", "bound", "claim", "volume"}


async def test_context_variables(client, editor):
    text, cursor = typing(TASK, "echo app >", "echo $(context.")
    uri, _ = await editor.open(text)

    items = await complete(client, uri, cursor)

    assert set(items) == {"taskRun.name", "taskRun.namespace", "taskRun.uid", "task.name",
                          "task.retry-count"}


async def test_completion_uses_the_last_parsed_text_while_the_yaml_is_broken(client, editor):
    uri, _ = await editor.open(TASK)
    text, cursor = typing(TASK, "image: alpine:3.20\n", 'image: alpine:3.20\n      args: ["$(params.')
    diags = await editor.change(uri, 2, text)
    assert diags and diags[0].message.startswith("YAML syntax error")

    items = await complete(client, uri, cursor)

    assert {"version", "flags", "target"} <= set(items)


async def test_a_line_that_hides_the_task_around_it_is_left_out(client, editor):
    # an indented line right under "kind: Task" parses, as the rest of the kind's value: the
    # Task is no longer one while it is typed, the text without it is
    uri, _ = await editor.open(TASK)
    edited = TASK.replace("  params:\n", "  params:\n    - name: mode\n", 1)
    text, cursor = typing(edited, "kind: Task\n", "kind: Task\n  $(params.", "\n")
    await editor.change(uri, 2, text)

    items = await complete(client, uri, cursor)

    assert set(items) == {"mode", "version", "flags", "flags[*]", "target"}


async def test_step_names_in_a_before_steps_block_list(client, editor):
    text, cursor = typing(TASKRUN, "- package\n", "- package\n        - ", "\n")
    uri, _ = await editor.open(text)

    items = await complete(client, uri, cursor)

    assert set(items) == {"build"}  # "package" is listed already


async def test_step_names_in_a_before_steps_flow_list(client, editor):
    text, cursor = typing(TASKRUN, "beforeSteps:\n        - package\n", "beforeSteps: [", "\n")
    uri, _ = await editor.open(text)

    assert set(await complete(client, uri, cursor)) == {"build", "package"}


async def test_yaml_that_is_not_tekton_gets_no_completion(client, editor):
    text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  run: echo $(params.\n"
    uri, _ = await editor.open(text)

    assert await complete(client, uri, position_of(text, "$(params.", len("$(params."))) == {}
