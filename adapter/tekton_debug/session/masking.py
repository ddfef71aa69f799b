"""Secret values never reach the user.

A :class:`Masker` holds the values of one run's secrets (from Secrets, and params and env vars
marked secret) and replaces them with ``********`` in text. A secret is masked whole, and each of
its lines on its own (a multi-line secret printed line by line, or cut into lines by a log, is
still masked). Front ends apply it in one place each: the DAP wire masks every message it sends
(:meth:`Masker.mask_data`), the terminal front end every line it prints, the log file every record
(:class:`LogFilter`); the session masks step output as it arrives (:meth:`Masker.mask_stream`),
before it keeps any part of it, so that nothing cut short later can leave a secret's prefix.

The secrets are searched for all at once, as UTF-8, by one Aho-Corasick automaton built when they
change (``ahocorasick_rs``, leftmost-longest: what an alternation of them, longest first, matches).
Step output is masked as the bytes it arrives in, before it is decoded: one pass over a chunk,
however many secrets there are, and none at all while the run has no secret.
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, Iterable

import ahocorasick_rs

from tekton_debug.errors import Problem, UserError


def secret_strings(value: Any) -> list[str]:
    """The strings of a param value that are secret when the param is: a string itself, each
    element of an array, each value of an object."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [v for item in value for v in secret_strings(item)]
    if isinstance(value, dict):
        return [v for item in value.values() for v in secret_strings(item)]
    if value is None or isinstance(value, bool):
        return []
    return [str(value)]


class _Search:
    """One set of secrets, ready to search for: never changed once built, so that a reader on
    another thread needs no lock (:meth:`Masker.add_secrets` builds a new one)."""

    __slots__ = ("automaton", "shortest", "shortest_text", "longest", "by_first")

    def __init__(self, secrets: Iterable[str]) -> None:
        patterns = sorted({s.encode("utf-8", "surrogatepass") for s in secrets},
                          key=len, reverse=True)
        self.automaton = ahocorasick_rs.BytesAhoCorasick(
            patterns, matchkind=ahocorasick_rs.MatchKind.LeftmostLongest)
        self.shortest = len(patterns[-1])
        #: a text shorter than this many characters holds no secret (4: the most bytes per char)
        self.shortest_text = self.shortest // 4
        self.longest = len(patterns[0])
        #: the secrets by their first byte: where a secret may begin at the end of a chunk
        self.by_first: dict[bytes, list[bytes]] = {}
        for p in patterns:
            self.by_first.setdefault(p[:1], []).append(p)

    def mask(self, data: bytes, held: dict[object, bytes] | None = None, key: object = None
             ) -> bytes:
        """``data`` with its secrets replaced (``data`` itself when it has none). With ``held``,
        ``data`` is a chunk of the stream ``key``: the end of it that the next chunk may complete
        into a secret is put in ``held[key]``, unmasked, and left out."""
        # (secret, start, end) of each secret, leftmost-longest, not overlapping
        found = self.automaton.find_matches_as_indexes(data) if len(data) >= self.shortest else []
        if held is not None:
            cut = self.cut(data, found)
            if cut < len(data):
                held[key] = data[cut:]
                return _replace(data, found, cut)
        return _replace(data, found) if found else data

    def cut(self, data: bytes, found: list[tuple[int, int, int]]) -> int:
        """Where the end of ``data`` that the next chunk may complete into a secret begins
        (``len(data)``: nowhere). Only the last ``longest - 1`` bytes can: each position there
        whose rest is a proper prefix of a secret, unless a secret found in ``data`` that began
        before it covers it (that one is whole already, and the masking goes on after it)."""
        n = len(data)
        region = max(0, n - self.longest + 1)
        starts = []
        for first, secrets in self.by_first.items():
            at = data.find(first, region)
            while at >= 0:
                rest = data[at:]
                if any(len(rest) < len(s) and s.startswith(rest) for s in secrets):
                    starts.append(at)
                at = data.find(first, at + 1)
        j = 0
        for at in sorted(starts):
            while j < len(found) and found[j][2] <= at:
                j += 1
            if j < len(found) and found[j][1] < at:
                continue  # inside a secret found whole
            return at
        return n


def _replace(data: bytes, found: list[tuple[int, int, int]], upto: int | None = None) -> bytes:
    """``data[:upto]`` with the ``found`` secrets that begin before ``upto`` replaced."""
    out = []
    at = 0
    for _, start, end in found:
        if upto is not None and start >= upto:
            break
        out.append(data[at:start])
        out.append(_MASK)
        at = end
    out.append(data[at:upto])
    return b"".join(out)


class Masker:
    MASK = "********"
    MIN_LENGTH = 3  # shorter values would mask ordinary text everywhere

    def __init__(self) -> None:
        # replaced whole (never mutated) so that readers on other threads need no lock
        self._secrets: frozenset[str] = frozenset()
        self._search: _Search | None = None
        self._held: dict[object, bytes] = {}
        self._lock = threading.Lock()
        _LIVE.add(self)

    def add_secrets(self, values: Iterable[str]) -> None:
        """Mask these values from now on: each whole, and each of its lines."""
        found: set[str] = set()
        for value in values:
            if not isinstance(value, str):
                continue
            found.add(value)
            if "\n" in value or "\r" in value:
                for line in value.splitlines():
                    found.add(line)
                    found.add(line.strip())
        if not found:  # each TaskRun's session tells what it learns, mostly nothing new
            return
        with self._lock:
            new = {v for v in found - self._secrets if len(v) >= self.MIN_LENGTH}
            if not new:
                return
            secrets = self._secrets | new
            self._search = _Search(secrets)
            self._secrets = frozenset(secrets)

    def mask(self, text: str) -> str:
        search = self._search
        if search is None or len(text) < search.shortest_text:
            return text
        data = text.encode("utf-8", "surrogatepass")
        masked = search.mask(data)
        return text if masked is data else masked.decode("utf-8", "surrogatepass")

    @property
    def longest(self) -> int:
        """The length of the longest secret (in UTF-8 bytes, so at least its length in
        characters): read this much past a limit, then :meth:`mask_then_cut`, and no secret that
        begins before the limit leaves a prefix."""
        search = self._search
        return search.longest if search is not None else 0

    def mask_then_cut(self, text: str, limit: int) -> str:
        """The first ``limit`` characters of ``text``, masked before the cut."""
        return self.mask(text)[:limit]

    def mask_data(self, data: Any) -> Any:
        """``data`` (a JSON-like value: dicts, lists, strings...) with every string masked, keys
        included. The same object comes back when nothing needed masking."""
        if self._search is None:
            return data
        return self._walk(data)

    def _walk(self, data: Any) -> Any:
        if isinstance(data, str):
            return self.mask(data)
        if isinstance(data, dict):
            out = {self.mask(k) if isinstance(k, str) else k: self._walk(v)
                   for k, v in data.items()}
            return data if all(a is b for a, b in zip(out.values(), data.values())) and \
                list(out) == list(data) else out
        if isinstance(data, (list, tuple)):
            items = [self._walk(v) for v in data]
            return data if all(a is b for a, b in zip(items, data)) else items
        return data

    def mask_error(self, error: UserError) -> UserError:
        """The same error (same class) with its messages and fixes masked."""
        if self._search is None:
            return error
        problems = [Problem(self.mask(p.message), p.file, p.line, p.column,
                            self.mask(p.fix) if p.fix else p.fix, p.end_line, p.end_column)
                    for p in error.problems]
        if all(a.message == b.message and a.fix == b.fix for a, b in zip(problems, error.problems)):
            return error
        masked = UserError.__new__(type(error))
        UserError.__init__(masked, problems[0].message if problems else "", problems=problems)
        return masked

    def mask_stream(self, key: object, data: bytes) -> bytes:
        """Mask a chunk of a stream (UTF-8 bytes, before they are decoded) whose chunks may split
        a secret: the end of ``data`` that could begin a secret is held back and masked with the
        next chunk of the same ``key``. What comes out is what masking the whole stream at once
        would give, in pieces."""
        held = self._held.pop(key, None)
        if held:
            data = held + data
        search = self._search
        if search is None:
            return data
        return search.mask(data, self._held, key)

    def flush(self, key: object) -> bytes:
        """What ``mask_stream`` still holds for ``key`` (the stream ended), masked."""
        held = self._held.pop(key, b"")
        search = self._search
        if not held or search is None:
            return held
        return search.mask(held)

    def __bool__(self) -> bool:
        return bool(self._secrets)


_MASK = Masker.MASK.encode()
_LIVE: "weakref.WeakSet[Masker]" = weakref.WeakSet()


def mask_everywhere(text: str) -> str:
    """``text`` masked with the secrets of every run this process holds (for its log file)."""
    for masker in list(_LIVE):
        text = masker.mask(text)
    return text


class LogFilter(logging.Filter):
    """Masks every record a handler writes with the secrets of every run of this process: the
    ``--log-file`` trace holds requests, responses and errors, all of which may quote a secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not _LIVE:
            return True
        try:
            text = record.getMessage()
        except Exception:  # a malformed record: the handler reports it, as without the filter
            return True
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        masked = mask_everywhere(text)
        if record.exc_text:
            record.exc_text = mask_everywhere(record.exc_text)
        if masked != text:
            record.msg, record.args = masked, None
        return True
