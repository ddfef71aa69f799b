"""The Tekton language server (``tekton-debug lsp``): pygls wiring for the features of this package.

Each feature is a plain function of the document's :class:`~tekton_debug.lsp.document.Analysis`
(in ``diagnostics``, ``lenses``, ``completion``, ``hover``, ``symbols``, ``definition``); this
module only keeps the analyses up to date and converts positions at the boundary. pygls is imported
here and nowhere else outside this package, because importing it costs about half a second.

Analyses and diagnostics run on the :class:`~tekton_debug.lsp.worker.Worker`'s threads, never on
the event loop: a 10,000-step Task takes about a second to analyse, and meanwhile the server
answers hovers, completions and shutdown. A request waits for the analysis of the document's text
as it is now (the kept one, or the one under way for that text), so that it never answers from an
older text; every feature reads that analysis, none parses the document again (diagnostics
included). A request that may follow a reference into the files next to the document (a
``taskRef`` naming a Task that is not in it) is answered on a thread of its own, so that a folder
of many large files does not hold up the requests on other documents. Diagnostics are
published only for the version of the document they were computed from, if it is still the
current one.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import Any, Callable

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from tekton_debug import __version__
from tekton_debug.lsp.actions import code_actions
from tekton_debug.lsp.completion import (TRIGGER_CHARACTERS, completes, completion,
                                         without_line)
from tekton_debug.lsp.definition import definition
from tekton_debug.lsp.diagnostics import diagnostics
from tekton_debug.lsp.document import Analysis, analyse
from tekton_debug.lsp.hover import hover
from tekton_debug.lsp.lenses import code_lenses
from tekton_debug.lsp.pipeline import (pipeline_at, pipeline_completion, pipeline_definition,
                                       pipeline_lenses)
from tekton_debug.lsp.source import Source, file_of
from tekton_debug.lsp.stdio import SKIPPED, BoundedStdin
from tekton_debug.lsp.symbols import document_symbols
from tekton_debug.lsp.worker import Job, Superseded, Worker

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
        self._repaired: dict[str, tuple[str, Analysis]] = {}  # uri -> (text, analysis), repaired()
        self._repairs: dict[str, tuple[str, Job]] = {}  # uri -> (text, repaired() under way)
        self._pending: dict[str, asyncio.TimerHandle] = {}
        self._jobs: dict[str, tuple[str, Job]] = {}  # uri -> (text, its analysis under way)
        self._tasks: set[asyncio.Task] = set()  # diagnostics under way
        self._worker = Worker()
        # requests that read the files next to a document: a slow directory holds up neither
        # the analyses nor the other requests
        self._lookups = Worker(threads=1, name="lookup")
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

    async def analysis(self, uri: str, source: Source) -> Analysis:
        """The analysis of ``source``: the one kept if its text is the same, or the one under way
        for that text, or a new one (the one under way for an older text is dropped if it has
        not started)."""
        result = await self._analysed(self._analyses, self._jobs, uri, source.text,
                                      source.file or file_of(uri))
        if result.syntax_error is None and self._analyses.get(uri, (None, None))[1] is result:
            self._parsed[uri] = result
        return result

    async def repaired(self, uri: str, source: Source, analysis: Analysis, line0: int,
                       column0: int) -> Analysis | None:
        """When no Task, TaskRun or Pipeline of ``analysis`` (of ``source``) holds line ``line0``
        and completion is asked for there (a variable or a ``beforeSteps`` entry being typed): the
        analysis of the text without that line (``completion.without_line``), as while the line
        does not parse yet, or parses but hides the object around it (``kind: Task`` followed by
        an indented line reads as one value). Kept and shared as :meth:`analysis` does: the one
        for an older text is dropped. None elsewhere."""
        line = line0 + 1
        if any(o.contains(line) for o in analysis.objects) \
                or pipeline_at(analysis, line) is not None \
                or not completes(source, line0, column0):
            return None
        text = without_line(source.text, line0)
        if text is None:
            return None
        return await self._analysed(self._repaired, self._repairs, uri, text, analysis.file)

    async def _analysed(self, kept: dict[str, tuple[str, Analysis]],
                        jobs: dict[str, tuple[str, Job]], uri: str, text: str,
                        file: str | None) -> Analysis:
        """The analysis of ``text`` for the document ``uri``: the one ``kept`` if for that text,
        or the one in ``jobs`` (under way) for that text, or a new one on the worker's threads,
        when the one under way for another text is dropped if it has not started. Once done, it
        is kept unless another text was given meanwhile or the document was closed."""
        cached = kept.get(uri)
        if cached is not None and cached[0] == text:
            return cached[1]
        under_way = jobs.get(uri)
        if under_way is None or under_way[0] != text:
            if under_way is not None:
                under_way[1].drop()
            under_way = (text, self._worker.submit(analyse, text, file))
            jobs[uri] = under_way
        result = await asyncio.shield(under_way[1].future)
        if jobs.get(uri) is under_way:  # no other text was given meanwhile, nor the doc closed
            del jobs[uri]
            kept[uri] = (text, result)
        return result

    def fallback(self, uri: str) -> Analysis | None:
        return self._parsed.get(uri)

    async def at(self, uri: str, position: types.Position) -> tuple[Source, Analysis, int, int]:
        """The document and the cursor in code points."""
        doc = self.workspace.get_text_document(uri)
        p = doc.position_from_client_units(position)
        src = self.source(uri)
        return src, await self.analysis(uri, src), p.line, p.character

    async def answer(self, analyses: tuple[Analysis | None, ...], feature: Callable,
                     *args: Any) -> Any:
        """``feature(*args)``: on the event loop, or on the lookup thread when one of
        ``analyses`` (those the feature reads) refers to other files (``Analysis.elsewhere``),
        which a feature may then read: a directory of many large files takes seconds."""
        if any(a is not None and a.elsewhere for a in analyses):
            return await asyncio.shield(self._lookups.submit(feature, *args).future)
        return feature(*args)

    def forget(self, uri: str) -> None:
        self._analyses.pop(uri, None)
        self._parsed.pop(uri, None)
        self._repaired.pop(uri, None)
        handle = self._pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        for jobs in (self._jobs, self._repairs):
            under_way = jobs.pop(uri, None)
            if under_way is not None:
                under_way[1].drop()

    # ---- diagnostics -----------------------------------------------------------------------

    def _is_current(self, uri: str, version: int | None) -> bool:
        doc = self.workspace.text_documents.get(uri)
        return doc is not None and doc.version == version

    def publish(self, uri: str) -> None:
        """Compute the diagnostics of the document as it is now, and publish them unless the
        document changed or was closed meanwhile."""
        self._pending.pop(uri, None)
        task = asyncio.ensure_future(self._publish(uri))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, uri: str) -> None:
        doc = self.workspace.text_documents.get(uri)
        if doc is None:
            return
        version = doc.version
        try:
            src = self.source(uri)
            analysis = await self.analysis(uri, src)
            if not self._is_current(uri, version):
                return
            job = self._worker.submit(diagnostics, analysis, src, self.resolver())
            found = await asyncio.shield(job.future)
        except Exception:  # noqa: BLE001 - a bad buffer must not stop the server
            if self._is_current(uri, version):
                log.exception("diagnostics failed for %s", uri)
            return
        if self._is_current(uri, version):
            self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(
                uri=uri, diagnostics=found, version=version))

    def publish_later(self, uri: str) -> None:
        handle = self._pending.pop(uri, None)
        if handle is not None:
            handle.cancel()
        loop = asyncio.get_running_loop()
        self._pending[uri] = loop.call_later(CHANGE_DELAY, self.publish, uri)


def _safe(default: Any) -> Callable:
    """A request handler that answers ``default`` instead of failing on an unexpected error."""
    def wrap(fn: Callable) -> Callable:
        async def handler(ls: TektonLanguageServer, params: Any) -> Any:
            try:
                return await fn(ls, params)
            except Superseded:  # the document changed while it was analysed
                return default
            except Exception:  # noqa: BLE001
                log.exception("%s failed", fn.__name__)
                return default
        handler.__name__ = fn.__name__
        return handler
    return wrap


def _completion(an: Analysis, repaired: Analysis | None, fallback: Analysis | None,
                src: Source, line: int, col: int) -> list[types.CompletionItem]:
    items = pipeline_completion(an, repaired, src, line, col)
    return items if items is not None else completion(an, repaired, fallback, src, line, col)


def _definition(an: Analysis, src: Source, line: int, col: int) -> types.Location | None:
    return pipeline_definition(an, src, line, col) or definition(an, src, line, col)


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
    async def code_lens(ls: TektonLanguageServer, params: types.CodeLensParams):
        src = ls.source(params.text_document.uri)
        an = await ls.analysis(params.text_document.uri, src)
        lenses = pipeline_lenses(an, src)
        return lenses if lenses is not None else code_lenses(an, src)

    @server.feature(types.TEXT_DOCUMENT_COMPLETION,
                    types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS))
    @_safe([])
    async def complete(ls: TektonLanguageServer, params: types.CompletionParams):
        uri = params.text_document.uri
        src, an, line, col = await ls.at(uri, params.position)
        repaired = await ls.repaired(uri, src, an, line, col)
        fallback = ls.fallback(uri)
        return await ls.answer((an, repaired, fallback), _completion, an, repaired, fallback,
                               src, line, col)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @_safe(None)
    async def on_hover(ls: TektonLanguageServer, params: types.HoverParams):
        uri = params.text_document.uri
        src, an, line, col = await ls.at(uri, params.position)
        fallback = ls.fallback(uri)
        return await ls.answer((an, fallback), hover, an, fallback, src, line, col,
                               ls.resolver())

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @_safe([])
    async def symbols(ls: TektonLanguageServer, params: types.DocumentSymbolParams):
        src = ls.source(params.text_document.uri)
        return document_symbols(await ls.analysis(params.text_document.uri, src), src)

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.QuickFix]))
    @_safe([])
    async def code_action(ls: TektonLanguageServer, params: types.CodeActionParams):
        return code_actions(params.text_document.uri, list(params.context.diagnostics))

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @_safe(None)
    async def goto_definition(ls: TektonLanguageServer, params: types.DefinitionParams):
        src, an, line, col = await ls.at(params.text_document.uri, params.position)
        return await ls.answer((an,), _definition, an, src, line, col)

    @server.feature(SKIPPED)
    def skipped(ls: TektonLanguageServer, params: Any) -> None:
        """A message too large to read stands for this (the reader said so on stderr)."""

    return server


def main() -> int:
    """Serve on stdin/stdout until the client says exit."""
    logging.basicConfig(level=logging.WARNING, format="tekton-debug lsp: %(message)s")
    build_server().start_io(stdin=BoundedStdin(sys.stdin.buffer))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
