"""The "Debug Task" / "Debug TaskRun" code lens on the kind line of the object that runs."""

from __future__ import annotations

import pytest
from lsprotocol import types

from tests.lsp.conftest import TASK, TASKRUN, line_of

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def lenses(client, uri):
    return await client.text_document_code_lens_async(types.CodeLensParams(
        text_document=types.TextDocumentIdentifier(uri=uri)))


async def test_task_gets_debug_task_lens_on_its_kind_line(client, editor):
    uri, _ = await editor.open(TASK)

    found = await lenses(client, uri)

    assert len(found) == 1
    lens = found[0]
    assert lens.range.start.line == line_of(TASK, "kind: Task")
    assert lens.command.title == "Debug Task"
    assert lens.command.command == "tekton.debugFile"
    assert list(lens.command.arguments) == [uri]


async def test_file_with_a_taskrun_and_its_task_offers_debug_taskrun_only(client, editor):
    uri, _ = await editor.open(TASKRUN)

    found = await lenses(client, uri)

    assert [(lens.command.title, lens.range.start.line) for lens in found] == \
        [("Debug TaskRun", line_of(TASKRUN, "kind: TaskRun"))]


async def test_yaml_that_is_not_tekton_gets_no_lens(client, editor):
    uri, _ = await editor.open("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          kind: Task
        """)

    assert not await lenses(client, uri)


async def test_task_of_an_older_group_than_tekton_gets_no_lens(client, editor):
    uri, _ = await editor.open(TASK.replace("apiVersion: tekton.dev/v1", "apiVersion: example.com/v1"))

    assert not await lenses(client, uri)
