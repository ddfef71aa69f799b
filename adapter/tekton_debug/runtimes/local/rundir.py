"""Run directories: ``tekton-debug-<name>-XXXX``, each marked with its owner.

A run directory holds what its steps write where they are told to (``HOME``, ``/workspace``) and
Tekton's ``/tekton`` files: substituted scripts, post files, results, the termination messages,
the debug scripts and a shell's environment, with secret values among them.
:meth:`LocalRuntime.close` removes both on every ending it sees.

Where they go: the run directory goes to the temp dir (``TMPDIR``), or to the ``run_root`` the
user chose. Unless the user chose that place or keeps the run (``keep_run_dir``), the ``/tekton``
files (the *control directory*, :func:`create_control`) go to a private directory on a tmpfs:
``$XDG_RUNTIME_DIR/tekton-debug`` when ``XDG_RUNTIME_DIR`` is a tmpfs directory of this user with
mode 0700, else ``/dev/shm/tekton-debug_<uid>_XXXX`` (made with an unpredictable name, mode 0700,
this user's; found again by its owner and mode) when ``/dev/shm`` is a tmpfs with the sticky bit
(no other user can remove or replace it); neither may be mounted ``noexec`` (the scripts run from
there). On a tmpfs the secret values a run writes are in memory only, as the adapter's own are:
not written to a file system on a disk, though the kernel may move them to swap, as it may any
process's memory. And each of the dozen files and directories a TaskRun makes and removes costs a
hundredth of what it costs on a disk's file system: a PipelineRun's TaskRuns start and end sooner.
``HOME`` and the workspaces, which can grow large, stay in the run directory. Without such a tmpfs
(said once, :func:`take_notice`), or with ``keep_run_dir`` or a ``run_root``, everything is in the
run directory, as ``<run dir>/tekton``.

An ending the runtime cannot see (SIGKILL) leaves directories behind: the watchdog, which
outlives the process, removes them (``LocalRuntime`` tells it which); where it could not (a power
cut), the owner file names the process (pid and start time, so that a reused pid does not count),
and the next run sweeps the directories whose owner is gone, in the temp dir and in every private
tmpfs directory of this user.
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
SHM_PREFIX = "tekton-debug_"  # a private directory in /dev/shm: tekton-debug_<uid>_XXXX
OWNER_FILE = ".owner"  # "<pid> <start time>": the process the directory belongs to
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
_placed_lock = threading.Lock()
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
        for base in private_tmpfs_dirs():
            sweep(base)
    path = _make(parent, name, owned=not keep and not inside)
    if not root:
        with _placed_lock:
            if len(_placed_by_default) >= _PLACED_MAX:
                del _placed_by_default[next(iter(_placed_by_default))]
            _placed_by_default[str(path)] = None
    return path


def create_control(root: Path | str | None, name: str, *, keep: bool = False) -> Path | None:
    """A new control directory (the run's ``/tekton`` files) in the private tmpfs directory, owned
    by this process; None when they go in the run directory instead: the user chose where the
    run goes (``root``), the run is kept (``keep``), or there is no such tmpfs (said once:
    :func:`take_notice`). ``root`` is where the run directory went: a run directory of this
    process placed unasked (a PipelineRun's) is no choice of the user's. Its dead owners'
    leftovers were swept with the run directory's (:func:`create`)."""
    if keep or (root and str(root) not in _placed_by_default):
        return None
    base = private_tmpfs()
    if base is None:
        _missing_tmpfs()
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


_notice: list[str] = []  # what to tell the user once: no private tmpfs (see take_notice)
_notice_lock = threading.Lock()
_notice_said = False


def _missing_tmpfs() -> None:
    global _notice_said
    with _notice_lock:
        if _notice_said:
            return
        _notice_said = True
        _notice.append(
            "no private tmpfs directory for the runs' /tekton files (XDG_RUNTIME_DIR is not a "
            "private tmpfs directory, and /dev/shm is not a tmpfs with the sticky bit, or is "
            "mounted noexec): they are in the run directory, on the temp dir's file system, "
            "secret values included, until the run ends. Set XDG_RUNTIME_DIR to a directory of "
            "yours on a tmpfs with mode 0700 to keep them in memory.")


def take_notice() -> str | None:
    """What the user should know about where the run's files went, once per process: no
    private tmpfs could be had. None when there is nothing to say (or it was said)."""
    with _notice_lock:
        return _notice.pop() if _notice else None


_shm_base: str | None = None  # this process's private directory in /dev/shm, once found


def private_tmpfs() -> Path | None:
    """This user's private directory on a tmpfs (see the module's docstring), made when missing;
    None when there is none."""
    global _shm_base
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is None:
        return None
    runtime_dir = _runtime_dir(uid)
    if runtime_dir is not None:
        base = os.path.join(runtime_dir, "tekton-debug")
        try:
            os.mkdir(base, 0o700)
        except OSError:
            pass
        if _private(base, uid):
            return Path(base)
    if not _shm_usable():
        return None
    if _shm_base is not None and os.path.dirname(_shm_base) == SHM and _private(_shm_base, uid):
        return Path(_shm_base)
    found = _shm_dirs(uid)
    if not found:
        try:  # a name no other user can foresee and take first
            found = [tempfile.mkdtemp(prefix=f"{SHM_PREFIX}{uid}_", dir=SHM)]
        except OSError:
            return None
    if os.pathsep in found[0] or not _private(found[0], uid):
        return None
    _shm_base = found[0]
    return Path(_shm_base)


def private_tmpfs_dirs() -> list[Path]:
    """Every private tmpfs directory of this user that exists (where dead runs' control
    directories may be: a run started without ``XDG_RUNTIME_DIR``, from ssh or cron, used
    /dev/shm's)."""
    uid = os.getuid() if hasattr(os, "getuid") else None
    if uid is None:
        return []
    found = []
    runtime_dir = _runtime_dir(uid)
    if runtime_dir is not None and _private(os.path.join(runtime_dir, "tekton-debug"), uid):
        found.append(Path(runtime_dir, "tekton-debug"))
    if _shm_usable():
        found += [Path(p) for p in _shm_dirs(uid)]
    return found


def _runtime_dir(uid: int) -> str | None:
    """``XDG_RUNTIME_DIR`` when it is a private directory on a tmpfs."""
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR", "")
    if os.path.isabs(runtime_dir) and os.pathsep not in runtime_dir and \
            _private(runtime_dir, uid) and _on_ram(runtime_dir):
        return runtime_dir
    return None


def _shm_usable() -> bool:
    """/dev/shm is a tmpfs (not noexec) with the sticky bit: no other user can rename or remove
    what this one makes there."""
    try:
        sticky = os.stat(SHM).st_mode & stat.S_ISVTX
    except OSError:
        return False
    return bool(sticky) and os.pathsep not in SHM and _on_ram(SHM)


def _shm_dirs(uid: int) -> list[str]:
    """This user's private directories in /dev/shm (``tekton-debug_<uid>_XXXX``, or
    ``tekton-debug-<uid>`` as earlier versions named it), by owner and mode: one another user
    made under such a name is not one of them. (A run directory's name has no ``_``.)"""
    names = (f"{PREFIX}{uid}", f"{SHM_PREFIX}{uid}_")
    try:
        entries = sorted(e.name for e in os.scandir(SHM)
                         if e.name == names[0] or e.name.startswith(names[1]))
    except OSError:
        return []
    return [p for p in (os.path.join(SHM, name) for name in entries) if _private(p, uid)]


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
        with _placed_lock:
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
