"""A document's text and the conversion of our positions to the client's.

The model counts lines and columns from 1, in characters (code points). The Language Server
Protocol counts from 0, in the code units the client and server agreed on (UTF-16 unless the
client offered another). :class:`Source` does that conversion in one place; every feature builds
its ranges through it.
"""

from __future__ import annotations

from pathlib import Path as FsPath
from typing import Callable
from urllib.parse import unquote, urlparse

from lsprotocol import types

from tekton_debug.tekton.yamlpos import Span


def utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class Source:
    """The text of one document, with ``units`` counting a string's length in client units."""

    def __init__(self, text: str, uri: str, units: Callable[[str], int] = utf16_units) -> None:
        self.text = text
        self.uri = uri
        self.lines = text.splitlines()
        self.units = units

    @property
    def file(self) -> str | None:
        return file_of(self.uri)

    def line(self, line0: int) -> str:
        return self.lines[line0] if 0 <= line0 < len(self.lines) else ""

    def position(self, line0: int, column0: int) -> types.Position:
        """A 0-based line and code-point column, as a client position."""
        return types.Position(line=max(line0, 0),
                              character=self.units(self.line(line0)[:max(column0, 0)]))

    def range(self, line0: int, column0: int, end_line0: int, end_column0: int) -> types.Range:
        return types.Range(start=self.position(line0, column0),
                           end=self.position(end_line0, end_column0))

    def span_range(self, span: Span) -> types.Range:
        """A yamlpos span (1-based, end column exclusive) as a client range."""
        return self.range(span.line - 1, span.column - 1, span.end_line - 1, span.end_column - 1)

    def line_range(self, line0: int, column0: int | None = None) -> types.Range:
        """From ``column0`` (default: the first non-blank character) to the end of the line."""
        text = self.line(line0).rstrip()
        start = len(text) - len(text.lstrip()) if column0 is None else column0
        if start >= len(text):
            start = len(text) - len(text.lstrip())
        return self.range(line0, start, line0, max(len(text), start))


def file_of(uri: str) -> str | None:
    """The local path of a ``file:`` URI, None for others (``untitled:``)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    return unquote(parsed.path)


def uri_of(file: str) -> str:
    return FsPath(file).absolute().as_uri()
