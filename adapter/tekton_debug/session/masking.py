"""Secret values never reach the user: variables, evaluate results and step output are masked."""

from __future__ import annotations

import re
import threading
from typing import Iterable


class Masker:
    MASK = "********"
    MIN_LENGTH = 3  # shorter values would mask ordinary text everywhere

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._longest = 0
        self._held: dict[object, str] = {}
        self._lock = threading.Lock()

    def add_secrets(self, values: Iterable[str]) -> None:
        with self._lock:
            new = {v for v in values if v and len(v) >= self.MIN_LENGTH} - self._secrets
            if not new:
                return
            self._secrets |= new
            self._longest = max(len(s) for s in self._secrets)
            # longest first, so a secret that contains another is masked whole
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))

    def mask(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(self.MASK, text)

    def mask_stream(self, key: object, text: str) -> str:
        """Mask a chunk of a stream whose chunks may split a secret: the end of ``text`` that could
        begin a secret is held back and masked with the next chunk of the same ``key``."""
        text = self._held.pop(key, "") + text
        if not self._secrets:
            return text
        cut = len(text)
        for k in range(min(len(text), self._longest - 1), 0, -1):
            tail = text[-k:]
            if any(secret.startswith(tail) for secret in self._secrets):
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
