"""Finding processes left behind, for the tests that promise there are none."""

from __future__ import annotations

import os
import time


def processes_with(text: str) -> list[str]:
    """PIDs of the processes whose command line contains ``text``."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text.encode() in f.read():
                    found.append(pid)
        except OSError:
            pass
    return found


def wait_until_gone(text: str, timeout: float = 5.0) -> list[str]:
    """Wait up to ``timeout`` for every process with ``text`` to end; the ones still there."""
    deadline = time.time() + timeout
    while processes_with(text) and time.time() < deadline:
        time.sleep(0.05)
    return processes_with(text)
