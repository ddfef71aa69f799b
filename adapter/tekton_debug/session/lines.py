"""Step output as whole lines, each after a prefix: the terminal's ``[step]``, a Pipeline's
``[task/step]`` in the Debug Console.

The text is the session's (``StepState.last_text``), masked as it arrived, whole and line by line:
none of its lines holds a secret, and it is not scanned again. It comes in chunks of up to 256 KB,
so the lines are prefixed in one pass over the chunk, not one string per line.
"""

from __future__ import annotations

from typing import Hashable


class PrefixedLines:
    """Per stream (a key), the whole lines of each chunk, each after a prefix; the start of a line
    that the next chunk ends is held back (its last ``limit`` characters, if set)."""

    def __init__(self, limit: int | None = None) -> None:
        self._partial: dict[Hashable, str] = {}
        self._limit = limit

    def _hold(self, key: Hashable, rest: str) -> None:
        if rest:
            self._partial[key] = rest if self._limit is None else rest[-self._limit:]

    def feed(self, key: Hashable, prefix: str, text: str) -> str:
        """The lines that ``text`` ends, each after ``prefix`` and ending in a newline ("" if
        it ends none)."""
        held = self._partial.pop(key, "")
        cut = text.rfind("\n")
        if cut < 0:
            self._hold(key, held + text)
            return ""
        self._hold(key, text[cut + 1:])
        return prefix + held + text[:cut].replace("\n", "\n" + prefix) + "\n"

    def flush(self, key: Hashable, prefix: str) -> str:
        """The line held back for ``key`` (its stream ended), after ``prefix``; "" if none."""
        rest = self._partial.pop(key, None)
        return f"{prefix}{rest}\n" if rest else ""
