"""A bound on what the language server reads from stdin.

pygls (2.x, ``pygls.io_.StdinAsyncReader`` and ``run_async``) reads its stdin with
``readline()`` for each header and ``read(content_length)`` for each body, whatever the length:
a ``Content-Length`` of some gigabytes makes it allocate them. :class:`BoundedStdin` is the stdin
given to ``LanguageServer.start_io()``; it relies on those two calls only, and is the one place
that knows how pygls reads. A body over :data:`MAX_BODY` is read in small pieces and thrown
away, with an error on stderr, and pygls gets a notification the server ignores instead.
"""

from __future__ import annotations

import logging
from typing import BinaryIO

log = logging.getLogger(__name__)

#: The largest message body read (a document of this size is far past what is analysed).
MAX_BODY = 16 * 1024 * 1024
#: The longest header line read at once (a longer one is read in pieces, none of them a header).
MAX_HEADER_LINE = 8 * 1024
#: The method of the notification that stands for a body skipped for its size.
SKIPPED = "$/tekton-debug/skipped"
_SKIPPED_BODY = b'{"jsonrpc": "2.0", "method": "%s", "params": null}' % SKIPPED.encode()
_PIECE = 1024 * 1024


class BoundedStdin:
    """The server's stdin, read as pygls reads it, with bounded lines and bodies."""

    def __init__(self, raw: BinaryIO, max_body: int = MAX_BODY) -> None:
        self._raw = raw
        self._max_body = max_body

    def readline(self) -> bytes:
        return self._raw.readline(MAX_HEADER_LINE)

    def read(self, n: int) -> bytes:
        if n <= self._max_body:
            return self._raw.read(n)
        log.error("a message of %d bytes (Content-Length) exceeds the limit of %d MiB; skipped "
                  "it without reading it into memory (a document this large is not analysed)",
                  n, self._max_body // (1024 * 1024))
        left = n
        while left:
            piece = self._raw.read(min(left, _PIECE))
            if not piece:
                return b""  # the client went away
            left -= len(piece)
        return _SKIPPED_BODY
