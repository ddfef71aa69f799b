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
        self._lock = threading.Lock()

    def add_secrets(self, values: Iterable[str]) -> None:
        with self._lock:
            new = {v for v in values if v and len(v) >= self.MIN_LENGTH} - self._secrets
            if not new:
                return
            self._secrets |= new
            # longest first, so a secret that contains another is masked whole
            alternatives = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in alternatives))

    def mask(self, text: str) -> str:
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(self.MASK, text)

    def __bool__(self) -> bool:
        return bool(self._secrets)
