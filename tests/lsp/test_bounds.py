"""The language server's work is bounded by the document: special files next to it are not read,
and a large document or one with thousands of problems is answered in time linear in its size."""

from __future__ import annotations

import os
import time

import pytest
from lsprotocol import types

from tests.lsp.conftest import Editor

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.timeout(120)]

LIB_TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: lib-task
spec:
  steps:
    - name: only
      image: alpine
      script: echo hi
"""

REF_RUN = """\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: run
spec:
  taskRef:
    name: lib-task
"""


async def test_special_neighbours_are_skipped_and_the_server_stays_responsive(editor: Editor):
    os.mkfifo(editor.tmp_path / "a-fifo.yaml")  # no writer ever comes: reading it would block
    os.symlink("/dev/zero", editor.tmp_path / "b-zero.yaml")  # endless
    (editor.tmp_path / "lib.yaml").write_text(LIB_TASK)
    uri, diagnostics = await editor.open(REF_RUN, name="run.yaml")
    assert diagnostics == []  # the Task was found in lib.yaml, past the two special files
    symbols = await editor.client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=types.TextDocumentIdentifier(uri=uri)))
    assert symbols
