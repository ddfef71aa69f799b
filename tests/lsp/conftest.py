"""A Tekton language server (``python -m tekton_debug lsp``) driven over stdio by pytest-lsp."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

PUBLISH = types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "tekton_debug", "lsp"]),
)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=types.ClientCapabilities(),
        root_uri=Path.cwd().as_uri()))
    yield
    await lsp_client.shutdown_session()


class Editor:
    """What an editor does with a document: open it, type into it, ask about a place in it."""

    _count = 0

    def __init__(self, client: LanguageClient, tmp_path: Path) -> None:
        self.client = client
        self.tmp_path = tmp_path

    async def open(self, text: str, name: str = "task.yaml") -> tuple[str, list[types.Diagnostic]]:
        """Open a file with ``text``; returns its URI and the diagnostics published for it."""
        text = textwrap.dedent(text)
        path = self.tmp_path / name
        path.write_text(text)
        uri = path.as_uri()
        diags = await self._diagnostics_after(uri, lambda: self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(text_document=types.TextDocumentItem(
                uri=uri, language_id="yaml", version=1, text=text))))
        return uri, diags

    async def change(self, uri: str, version: int, text: str) -> list[types.Diagnostic]:
        """Replace the whole text (as after typing); returns the diagnostics published next."""
        text = textwrap.dedent(text)
        return await self._diagnostics_after(uri, lambda: self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)])))

    async def _diagnostics_after(self, uri: str, send) -> list[types.Diagnostic]:
        self.client.diagnostics.pop(uri, None)
        send()
        while True:
            future = self.client.protocol.wait_for_notification(PUBLISH)
            if uri in self.client.diagnostics:
                return list(self.client.diagnostics[uri])
            await asyncio.wrap_future(future)

    def close(self, uri: str) -> None:
        self.client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))


def position_of(text: str, needle: str, offset: int = 0, occurrence: int = 0) -> types.Position:
    """The position of ``needle`` (its ``occurrence``-th appearance) in ``text``, plus ``offset``
    characters (ASCII texts: characters are UTF-16 units)."""
    text = textwrap.dedent(text)
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    column = index - (text.rfind("\n", 0, index) + 1)
    return types.Position(line=line, character=column)


def line_of(text: str, needle: str, occurrence: int = 0) -> int:
    return position_of(text, needle, occurrence=occurrence).line


@pytest.fixture
def editor(client: LanguageClient, tmp_path: Path) -> Editor:
    return Editor(client, tmp_path)


TASK = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: build-app
    spec:
      params:
        - name: version
          type: string
          description: The version to build.
          default: "1.0"
        - name: flags
          type: array
        - name: target
          type: object
          properties:
            os: {type: string}
          default: {os: linux}
      results:
        - name: artifact
          description: The built file's name.
      workspaces:
        - name: source
          mountPath: /src
      steps:
        - name: build
          image: alpine:3.20
          script: |
            echo building $(params.version) for $(params.target.os)
            echo app > $(workspaces.source.path)/app
        - name: package
          image: alpine:3.20
          script: |
            printf app > $(results.artifact.path)
    """)

TASKRUN = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: TaskRun
    metadata:
      name: build-app-run
    spec:
      debug:
        breakpoints:
          onFailure: enabled
          beforeSteps:
            - package
      taskRef:
        name: build-app
    ---
    """) + TASK
