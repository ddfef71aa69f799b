"""Secret values never reach the user.

A :class:`Masker` holds the values of one run's secrets (from Secrets, and params and env vars
marked secret) and replaces them with ``********`` in text. A secret is masked whole, and each of
its lines on its own (a multi-line secret printed line by line, or cut into lines by a log, is
still masked). Front ends apply it in one place each: the DAP wire masks every message it sends
(:meth:`Masker.mask_data`), the terminal front end every line it prints, the log file every record
(:class:`LogFilter`); the session masks step output as it arrives (:meth:`Masker.mask_stream`),
before it keeps any part of it, so that nothing cut short later can leave a secret's prefix.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from typing import Any, Iterable

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


class Masker:
    MASK = "********"
    MIN_LENGTH = 3  # shorter values would mask ordinary text everywhere

    def __init__(self) -> None:
        # replaced whole (never mutated) so that readers on other threads need no lock
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self._longest = 0
        self._held: dict[object, str] = {}
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
        with self._lock:
            new = {v for v in found if len(v) >= self.MIN_LENGTH} - self._secrets
            if not new:
                return
            secrets = self._secrets | new
            # longest first, so a secret that contains another is masked whole
            alternatives = sorted(secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))
            self._longest = len(alternatives[0])
            self._secrets = frozenset(secrets)

    def mask(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        # most text holds no secret: a substring search per secret is far cheaper than the regex
        if not any(s in text for s in self._secrets):
            return text
        return pattern.sub(self.MASK, text)

    @property
    def longest(self) -> int:
        """The length of the longest secret: read this much past a limit, then
        :meth:`mask_then_cut`, and no secret that begins before the limit leaves a prefix."""
        return self._longest

    def mask_then_cut(self, text: str, limit: int) -> str:
        """The first ``limit`` characters of ``text``, masked before the cut."""
        return self.mask(text)[:limit]

    def mask_data(self, data: Any) -> Any:
        """``data`` (a JSON-like value: dicts, lists, strings...) with every string masked, keys
        included. The same object comes back when nothing needed masking."""
        if self._pattern is None:
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
        if self._pattern is None:
            return error
        problems = [Problem(self.mask(p.message), p.file, p.line, p.column,
                            self.mask(p.fix) if p.fix else p.fix, p.end_line, p.end_column)
                    for p in error.problems]
        if all(a.message == b.message and a.fix == b.fix for a, b in zip(problems, error.problems)):
            return error
        masked = UserError.__new__(type(error))
        UserError.__init__(masked, problems[0].message if problems else "", problems=problems)
        return masked

    def mask_stream(self, key: object, text: str) -> str:
        """Mask a chunk of a stream whose chunks may split a secret: the end of ``text`` that could
        begin a secret is held back and masked with the next chunk of the same ``key``."""
        text = self._held.pop(key, "") + text
        secrets = self._secrets
        if not secrets:
            return text
        cut = len(text)
        for k in range(min(len(text), self._longest - 1), 0, -1):
            tail = text[-k:]
            if any(secret.startswith(tail) for secret in secrets):
                cut = len(text) - k
                break
        if cut < len(text):
            self._held[key] = text[cut:]
        return self.mask(text[:cut])

    def flush(self, key: object) -> str:
        """What ``mask_stream`` still holds for ``key`` (the stream ended), masked."""
        return self.mask(self._held.pop(key, ""))

    def __bool__(self) -> bool:
        return bool(self._secrets)


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
