"""The watchdog of a local run: a small process that ends the run's step processes if the process
running the run dies (SIGKILL included). It reads lines from a pipe: ``+<pgid>`` / ``-<pgid>``
(a step's process group), ``m<mark>`` / ``u<mark>`` (the mark in the environment of a run's
processes, and the run's end), ``q`` (dismissed). At end of input it kills every group and every
marked process. One watchdog serves the runs of a process that overlap.

Run as ``python -S -E watchdog.py``: standard library only, nothing of tekton_debug imported.
"""

import os
import signal
import sys


def find_marked(*marks: bytes, among=None) -> list[int]:
    """PIDs of the processes (but this one) whose environment has an entry starting with one of
    ``marks`` (``NAME=value``; ``NAME=prefix`` matches every value with that prefix). ``among``:
    a test of a PID; the environment of the others is not read."""
    found = []
    pairs = [(mark, b"\0" + mark) for mark in marks]
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me or (among is not None and not among(int(pid))):
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                data = f.read()
        except OSError:
            continue
        if any(data.startswith(mark) or inner in data for mark, inner in pairs):
            found.append(int(pid))
    return found


def main() -> None:
    groups: set[int] = set()
    marks: set[bytes] = set()
    for line in sys.stdin.buffer:
        line = line.strip()
        if line == b"q":
            return
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
        elif line[:1] == b"m":
            marks.add(line[1:])
        elif line[:1] == b"u":
            marks.discard(line[1:])
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except OSError:
            pass
    if marks:
        for pid in find_marked(*marks):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


if __name__ == "__main__":
    main()
