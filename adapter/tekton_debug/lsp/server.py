"""The Tekton language server (``tekton-debug lsp``): pygls wiring for the features of this package.

Each feature is a plain function of the document's :class:`~tekton_debug.lsp.document.Analysis`
(in ``diagnostics``, ``lenses``, ``completion``, ``hover``, ``symbols``, ``definition``); this
module only keeps the analyses up to date and converts positions at the boundary. pygls is imported
here and nowhere else outside this package, because importing it costs about half a second.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from tekton_debug import __version__
from tekton_debug.lsp.actions import code_actions
from tekton_debug.lsp.completion import TRIGGER_CHARACTERS, completion
from tekton_debug.lsp.definition import definition
from tekton_debug.lsp.diagnostics import diagnostics
from tekton_debug.lsp.document import Analysis, analyse
from tekton_debug.lsp.hover import hover
from tekton_debug.lsp.lenses import code_lenses
from tekton_debug.lsp.pipeline import pipeline_completion, pipeline_definition, pipeline_lenses
from tekton_debug.lsp.source import Source, file_of
from tekton_debug.lsp.symbols import document_symbols

log = logging.getLogger(__name__)

# Diagnostics after a change wait this long for the next keystroke (seconds).
CHANGE_DELAY = 0.25


class TektonLanguageServer(LanguageServer):
    """A LanguageServer that remembers each open document's analysis."""

    def __init__(self) -> None:
        super().__init__("tekton-debug", __version__,
                         text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self._analyses: dict[str, tuple[str, Analysis]] = {}  # uri -> (text, analysis)
        self._parsed: dict[str, Analysis] = {}  # uri -> the last analysis whose YAML parsed
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._resolver = None

    def resolver(self):
        """Remote references are answered from the cache only: no network while typing."""
        if self._resolver is None:
            from tekton_debug.resolution import remote_resolver
            self._resolver = remote_resolver(offline=True)
        return self._resolver

    # ---- documents -------------------------------------------------------------------------

    def source(self, uri: str) -> Source:
        doc = self.workspace.get_text_document(uri)
        codec = doc.position_codec
        return Source(doc.source, uri, codec.client_num_units)

    def analysis(self, uri: str, source: Source) -> Analysis:
        cached = self._analyses.get(uri)
        if cached is not None and cached[0] == source.text:
            return cached[1]
        result = analyse(source.text, source.file or file_of(uri))
        self._analyses[uri] = (source.text, result)
        if result.syntax_error is None:
            self._parsed[uri] = result
        return result

    def fallback(self, uri: str) -> Analysis | None:
        return self._parsed.get(uri)

    def at(self, uri: str, position: types.Position) -> tuple[Source, Analysis, int, int]:
        """The document and the cursor in code points."""
        doc = self.workspace.get_text_document(uri)
        p = doc.position_from_client_units(position)
        src = self.source(uri)
        return src, self.analysis(uri, src), p.line, p.character

    def forget(self, uri: str) -> None:
        self._analyses.pop(uri, None)
        self._parsed.pop(uri, None)
        handle = self._pending.pop(uri, None)
        if handle is not None:
            handle.cancel()

    # ---- diagnostics -----------------------------------------------------------------------

    def publish(self, uri: str) -> None:
        self._pending.pop(uri, None)
        try:
            doc = self.workspace.get_text_document(uri)
            src = self.source(uri)
            found = diagnostics(self.analysis(uri, src), src, self.resolver())
        except Exception:  # noqa: BLE001 - a bad buffer must not stop the server
            log.exception("diagnostics failed for %s", uri)
            return
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=uri, diagnostics=found, version=doc.version))

    def publish_later(self, uri: str) -> None:
        handle = self._pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        loop = asyncio.get_running_loop()
        self._pending[uri] = loop.call_later(CHANGE_DELAY, self.publish, uri)


def _safe(default: Any) -> Callable:
    """A request handler that answers ``default`` instead of failing on an unexpected error."""
    def wrap(fn: Callable) -> Callable:
        def handler(ls: TektonLanguageServer, params: Any) -> Any:
            try:
                return fn(ls, params)
            except Exception:  # noqa: BLE001
                log.exception("%s failed", fn.__name__)
                return default
        handler.__name__ = fn.__name__
        return handler
    return wrap


def build_server() -> TektonLanguageServer:
    server = TektonLanguageServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: TektonLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: TektonLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.publish_later(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: TektonLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: TektonLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
            uri=params.text_document.uri, diagnostics=[]))

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    @_safe([])
    def code_lens(ls: TektonLanguageServer, params: types.CodeLensParams):
        src = ls.source(params.text_document.uri)
        lenses = pipeline_lenses(src)
        return lenses if lenses is not None else code_lenses(
            ls.analysis(params.text_document.uri, src), src)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS))
    @_safe([])
    def complete(ls: TektonLanguageServer, params: types.CompletionParams):
        uri = params.text_document.uri
        src, an, line, col = ls.at(uri, params.position)
        items = pipeline_completion(src, line, col)
        return items if items is not None else completion(an, ls.fallback(uri), src, line, col)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @_safe(None)
    def on_hover(ls: TektonLanguageServer, params: types.HoverParams):
        uri = params.text_document.uri
        src, an, line, col = ls.at(uri, params.position)
        return hover(an, ls.fallback(uri), src, line, col, ls.resolver())

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @_safe([])
    def symbols(ls: TektonLanguageServer, params: types.DocumentSymbolParams):
        src = ls.source(params.text_document.uri)
        return document_symbols(ls.analysis(params.text_document.uri, src), src)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix]))
    @_safe([])
    def code_action(ls: TektonLanguageServer, params: types.CodeActionParams):
        return code_actions(params.text_document.uri, list(params.context.diagnostics))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @_safe(None)
    def goto_definition(ls: TektonLanguageServer, params: types.DefinitionParams):
        src, an, line, col = ls.at(params.text_document.uri, params.position)
        return pipeline_definition(src, line, col) or definition(an, src, line, col)

    return server


def main() -> int:
    """Serve on stdin/stdout until the client says exit."""
    logging.basicConfig(level=logging.WARNING, format="tekton-debug lsp: %(message)s")
    build_server().start_io()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
