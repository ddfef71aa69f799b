"""Writing lifecycle files so that a reader never sees a half-written one."""

from __future__ import annotations

import os
import threading


class FilePostWriter:
    """Implements ``lifecycle.PostWriter``: parents created, content written to a temporary name in
    the same directory and renamed into place (readers react within milliseconds)."""

    def write(self, path: str, content: str = "") -> None:
        if not path:
            return
        directory = os.path.dirname(path) or "."
        os.makedirs(directory, exist_ok=True)
        name = f".{os.path.basename(path)}.tmp.{os.getpid()}.{threading.get_ident()}"
        tmp = os.path.join(directory, name)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        try:
            if content:
                os.write(fd, content.encode())
        finally:
            os.close(fd)
        os.replace(tmp, path)
