"""Writing lifecycle files so that a reader never sees a half-written one."""

from __future__ import annotations

import os
import threading


class FilePostWriter:
    """Implements ``lifecycle.PostWriter``. An empty file (``out``, ``out.err``) is created in
    place: its existence is the whole message. A file with content is written to a temporary
    name in the same directory and renamed into place, because readers here react within
    milliseconds. Parent directories are created when missing."""

    def write(self, path: str, content: str = "") -> None:
        if not path:
            return
        try:
            self._write(path, content)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            self._write(path, content)

    @staticmethod
    def _write(path: str, content: str) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        if not content:
            os.close(os.open(path, flags, 0o666))
            return
        directory, name = os.path.split(path)
        tmp = os.path.join(directory, f".{name}.tmp.{os.getpid()}.{threading.get_ident()}")
        fd = os.open(tmp, flags, 0o666)
        try:
            os.write(fd, content.encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
