"""Run directories: ``tekton-debug-<name>-XXXX`` in the temp dir, each marked with its owner.

A run directory holds substituted scripts and secret values; :meth:`LocalRuntime.close` removes
it on every ending it sees. An ending it cannot see (SIGKILL, a power cut) leaves the directory
behind: the owner file names the process (pid and start time, so that a reused pid does not count)
and the next run sweeps the directories whose owner is gone.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from tekton_debug.errors import UserError

PREFIX = "tekton-debug-"
OWNER_FILE = ".owner"  # "<pid> <start time>": the process the directory belongs to

# What each directory's owner file said, by (path, the directory's mtime): writing or replacing
# the owner file changes the mtime, so a remembered answer is the file's current content, and a
# sweep of a temp dir full of other runs' directories (a pipeline's TaskRuns start together, each
# sweeping) reads no file twice. None: no owner file.
_owners: dict[tuple[str, int], str | None] = {}
_owners_lock = threading.Lock()
_OWNERS_MAX = 10_000


def create(root: Path | None, name: str, *, keep: bool = False) -> Path:
    """A new run directory under ``root`` (default: the temp dir), after sweeping the ones that
    dead runs left there. A kept directory (``keep``) gets no owner: it is never swept. Inside
    another run directory (a PipelineRun's, for its TaskRuns) it belongs to that one: swept with
    it, it needs no owner and no sweep of its own."""
    parent = Path(root) if root else Path(tempfile.gettempdir())
    if os.pathsep in str(parent.resolve()):
        raise UserError(
            f"the run directory would be under {parent}, whose path contains {os.pathsep!r}: "
            f"the debug scripts could not be put on the steps' PATH",
            fix=f"set TMPDIR to a directory whose path has no {os.pathsep!r}")
    parent.mkdir(parents=True, exist_ok=True)
    inside = (parent / OWNER_FILE).is_file()
    if not inside:
        sweep(parent)
    safe = re.sub(r"[^a-z0-9.-]", "-", name.lower())[:40]
    path = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{safe}-", dir=str(parent)))
    if not keep and not inside:
        (path / OWNER_FILE).write_text(identity_of_this_process())
    return path


def sweep(parent: Path) -> list[Path]:
    """Remove the run directories in ``parent`` whose owning process is gone; the removed ones."""
    removed = []
    try:
        entries = list(os.scandir(parent))
    except OSError:
        return removed
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        if not entry.name.startswith(PREFIX):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or \
                    (uid is not None and entry.stat(follow_symlinks=False).st_uid != uid):
                continue
            owner = _owner(entry.path, entry.stat(follow_symlinks=False).st_mtime_ns)
        except OSError:
            continue
        if owner is None:
            continue  # no owner (kept, or being created right now): not ours to judge
        pid_text = owner.split()[0] if owner.split() else ""
        if not pid_text.isdigit() or _alive(int(pid_text), owner.strip()):
            continue
        shutil.rmtree(entry.path, ignore_errors=True)
        removed.append(Path(entry.path))
    return removed


def _owner(path: str, mtime_ns: int) -> str | None:
    key = (path, mtime_ns)
    with _owners_lock:
        if key in _owners:
            return _owners[key]
    try:
        owner: str | None = (Path(path) / OWNER_FILE).read_text()
    except FileNotFoundError:
        if time.time_ns() - mtime_ns < 2_000_000_000:
            return None  # just created: its owner file may come within the mtime's granularity
        owner = None
    with _owners_lock:
        if len(_owners) >= _OWNERS_MAX:
            _owners.clear()
        _owners[key] = owner
    return owner


_me: tuple[int, str] | None = None


def identity_of_this_process() -> str:
    """This process's ``"<pid> <start time>"`` (read once per pid: a fork reads its own)."""
    global _me
    pid = os.getpid()
    if _me is None or _me[0] != pid:
        _me = (pid, _identity(pid) or str(pid))
    return _me[1]


def _identity(pid: int) -> str | None:
    """``"<pid> <start time>"`` from /proc (Linux); None elsewhere."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return f"{pid} {int(fields[19])}"  # field 22 of stat: starttime
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int, owner: str) -> bool:
    if pid == os.getpid():
        return identity_of_this_process() == owner.strip() if " " in owner else True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    identity = _identity(pid)
    return identity is None or " " not in owner or identity == owner
