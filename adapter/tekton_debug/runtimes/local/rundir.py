"""Run directories: ``tekton-debug-<name>-XXXX``, each marked with its owner.

A run directory holds what its steps write where they are told to (``HOME``, ``/workspace``) and
Tekton's ``/tekton`` files: substituted scripts, post files, results, the termination messages,
the debug scripts and a shell's environment, with secret values among them.
:meth:`LocalRuntime.close` removes both on every ending it sees.

Where they go: unless the user chose the place (a ``run_root``, or ``TMPDIR``/``TEMP``/``TMP`` in
the environment), the ``/tekton`` files (the *control directory*, :func:`create_control`) go to a
private directory on a tmpfs, and the run directory to the temp dir. The private tmpfs directory
is ``$XDG_RUNTIME_DIR/tekton-debug`` when ``XDG_RUNTIME_DIR`` is a tmpfs directory of this user
with mode 0700, else ``/dev/shm/tekton-debug-<uid>`` (mode 0700, this user's) when ``/dev/shm`` is
a tmpfs; neither may be mounted ``noexec`` (the scripts run from there). On a tmpfs the secret
values a run writes never touch a disk, and each of the dozen files and directories a TaskRun
makes and removes costs a hundredth of what it costs on a disk's file system: a PipelineRun's
TaskRuns start and end sooner. ``HOME`` and the workspaces, which can grow large, stay in the
temp dir. Without such a tmpfs (or with ``keep_run_dir``, or a place the user chose) everything
is in the run directory, as ``<run dir>/tekton``.

An ending the runtime cannot see (SIGKILL, a power cut) leaves directories behind: the owner file
names the process (pid and start time, so that a reused pid does not count), and the next run
sweeps the directories whose owner is gone, in the temp dir and in the private tmpfs directory.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path

from tekton_debug.errors import UserError

PREFIX = "tekton-debug-"
OWNER_FILE = ".owner"  # "<pid> <start time>": the process the directory belongs to
CHOSEN_PLACE_ENV = ("TMPDIR", "TEMP", "TMP")  # the user chose where run directories go
SHM = "/dev/shm"
RAM_FILE_SYSTEMS = ("tmpfs", "ramfs")

# What each directory's owner file said, by (path, the directory's mtime): writing or replacing
# the owner file changes the mtime, so a remembered answer is the file's current content, and a
# sweep of a temp dir full of other runs' directories (a pipeline's TaskRuns start together, each
# sweeping) reads no file twice. None: no owner file.
_owners: dict[tuple[str, int], str | None] = {}
_owners_lock = threading.Lock()
_OWNERS_MAX = 10_000


# run directories this process put in the temp dir unasked (the newest, as an ordered set)
_placed_by_default: dict[str, None] = {}
_PLACED_MAX = 1_000


def create(root: Path | str | None, name: str, *, keep: bool = False) -> Path:
    """A new run directory under ``root`` (default: the temp dir), after sweeping the ones that
    dead runs left there and in the private tmpfs directory. A kept directory (``keep``) gets no
    owner: it is never swept. Inside another run directory (a PipelineRun's, for its TaskRuns) it
    belongs to that one: swept with it, it needs no owner and no sweep of its own."""
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
        base = private_tmpfs(make=False)
        if base is not None:
            sweep(base)
    path = _make(parent, name, owned=not keep and not inside)
    if not root and not _place_chosen():
        if len(_placed_by_default) >= _PLACED_MAX:
            del _placed_by_default[next(iter(_placed_by_default))]
        _placed_by_default[str(path)] = None
    return path


def create_control(root: Path | str | None, name: str, *, keep: bool = False) -> Path | None:
    """A new control directory (the run's ``/tekton`` files) in the private tmpfs directory, owned
    by this process; None when they go in the run directory instead: the user chose where runs go
    (``root``, TMPDIR), the run is kept (``keep``), or there is no such tmpfs. ``root`` is where
    the run directory went: a run directory of this process placed unasked (a PipelineRun's) is
    no choice of the user's. Its dead owners' leftovers were swept with the run directory's
    (:func:`create`)."""
    if keep or _place_chosen() or (root and str(root) not in _placed_by_default):
        return None
    base = private_tmpfs()
    if base is None:
        return None
    try:
        return _make(base, name, owned=True)
    except OSError:  # the directory went away meanwhile: the run directory holds them
        return None


def _make(parent: Path, name: str, *, owned: bool) -> Path:
    safe = re.sub(r"[^a-z0-9.-]", "-", name.lower())[:40]
    path = tempfile.mkdtemp(prefix=f"{PREFIX}{safe}-", dir=str(parent))
    if owned:
        fd = os.open(os.path.join(path, OWNER_FILE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(identity_of_this_process())
    return Path(path)


def _place_chosen() -> bool:
    return any(os.environ.get(name) for name in CHOSEN_PLACE_ENV)


def private_tmpfs(*, make: bool = True) -> Path | None:
    """This user's private directory on a tmpfs (see the module's docstring), made with ``make``
    when missing; None when there is none (or, without ``make``, none yet)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is None:
        return None
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR", "")
    candidates = []
    if os.path.isabs(runtime_dir) and _private(runtime_dir, uid):
        candidates.append((runtime_dir, os.path.join(runtime_dir, "tekton-debug")))
    candidates.append((SHM, os.path.join(SHM, f"tekton-debug-{uid}")))
    for place, base in candidates:
        if os.pathsep in base or not _on_ram(place):
            continue
        if make:
            try:
                os.mkdir(base, 0o700)
            except FileExistsError:
                pass
            except OSError:
                continue
        if _private(base, uid):
            return Path(base)
    return None


def _private(path: str, uid: int) -> bool:
    """``path`` is a directory (not a link) of user ``uid`` that only that user can enter."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == uid and stat.S_IMODE(st.st_mode) == 0o700


_ram: dict[str, bool] = {}


def _on_ram(path: str) -> bool:
    """Whether ``path`` is on a tmpfs (or ramfs) that lets programs run (not ``noexec``)."""
    if path not in _ram:
        _ram[path] = _mount_of(os.path.realpath(path)) is True
    return _ram[path]


def _mount_of(path: str) -> bool | None:
    """From /proc/self/mountinfo (Linux): True when the mount that holds ``path`` is a tmpfs or
    ramfs without ``noexec``; False otherwise; None when it cannot be told."""
    best, answer = -1, None
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(" ")
        try:
            sep = fields.index("-")
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            options, fstype = fields[5].split(","), fields[sep + 1]
        except (ValueError, IndexError):
            continue
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= best:  # the last mount on a point hides the earlier ones
            best, answer = len(point), fstype in RAM_FILE_SYSTEMS and "noexec" not in options
    return answer


def remove(path: Path | str | None) -> None:
    """Remove a run or control directory and what it holds."""
    if path:
        _placed_by_default.pop(str(path), None)
        shutil.rmtree(path, ignore_errors=True)


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
