"""The watchdog of a local run: a small process that ends the run's step processes, and removes
its directories, if the process running the run dies (SIGKILL included). It reads lines from a
pipe: ``+<pgid>`` / ``-<pgid>`` (a step's process group), ``m<mark>`` / ``u<mark>`` (the mark in
the environment of a run's processes, and the run's end), ``d<hex path>`` / ``f<hex path>`` (a
run's directory, and the run's end: the path's bytes in hex), ``r`` (no run is left: forget them
all), ``q`` (dismissed). At end of input it kills every group and every marked process, then
removes the directories. One watchdog serves the runs of a process that overlap.

Run as ``python -S -E watchdog.py``: standard library only, nothing of tekton_debug imported.
"""

import os
import signal
import sys


def find_marked(*marks: bytes, among=None) -> list[int]:
    """PIDs of the processes (but this one) whose environment has an entry starting with one of
    ``marks`` (``NAME=value``; ``NAME=prefix`` matches every value with that prefix). ``among``:
    a test of a PID; the environment of the others is not read."""
    return find_marked_each([(marks, among)])[0]


def find_marked_each(searches) -> list[list[int]]:
    """:func:`find_marked` for each ``(marks, among)`` of ``searches``, in one look through
    /proc: each process's environment is read once, if one of the searches may want it."""
    found: list[list[int]] = [[] for _ in searches]
    wanted = [([(mark, b"\0" + mark) for mark in marks], among) for marks, among in searches]
    me = os.getpid()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == me:
            continue
        which = [i for i, (_, among) in enumerate(wanted) if among is None or among(int(pid))]
        if not which:
            continue
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                data = f.read()
        except OSError:
            continue
        for i in which:
            if any(data.startswith(mark) or inner in data for mark, inner in wanted[i][0]):
                found[i].append(int(pid))
    return found


def main() -> None:
    groups: set[int] = set()
    marks: set[bytes] = set()
    directories: set[bytes] = set()
    for line in sys.stdin.buffer:
        line = line.strip()
        if line == b"q":
            return
        if line == b"r":
            groups, marks, directories = set(), set(), set()
        if line[:1] == b"+":
            groups.add(int(line[1:]))
        elif line[:1] == b"-":
            groups.discard(int(line[1:]))
        elif line[:1] == b"m":
            marks.add(line[1:])
        elif line[:1] == b"u":
            marks.discard(line[1:])
        elif line[:1] == b"d":
            directories.add(line[1:])
        elif line[:1] == b"f":
            directories.discard(line[1:])
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
    if directories:
        import shutil  # here: the watchdog starts with what it needs until then
    for directory in directories:
        try:
            shutil.rmtree(bytes.fromhex(directory.decode()), ignore_errors=True)
        except ValueError:
            pass


if __name__ == "__main__":
    main()
