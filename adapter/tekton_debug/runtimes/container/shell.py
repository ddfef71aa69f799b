"""The static shell mounted into every step container at ``/tekton/bin/sh``: busybox, statically
linked, so that the debug scripts, the step wrapper and the user's shell work in any image, those
with no shell at all (distroless, scratch) included. Debian and Ubuntu ship it as
``busybox-static``; ``TEKTON_DEBUG_STATIC_SHELL`` names another one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tekton_debug.errors import RuntimeUnavailable

ENV = "TEKTON_DEBUG_STATIC_SHELL"
CANDIDATES = ("/bin/busybox", "/usr/bin/busybox", "/usr/lib/busybox/busybox-static")
PT_INTERP = 3


def is_static(path: str) -> bool:
    """Whether ``path`` is an ELF executable without a program interpreter (statically linked)."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
            if head[:4] != b"\x7fELF" or head[4] != 2:  # 64-bit only
                return False
            order = "little" if head[5] == 1 else "big"
            phoff = int.from_bytes(head[32:40], order)
            phentsize = int.from_bytes(head[54:56], order)
            phnum = int.from_bytes(head[56:58], order)
            f.seek(phoff)
            table = f.read(phentsize * phnum)
    except OSError:
        return False
    for n in range(phnum):
        kind = int.from_bytes(table[n * phentsize:n * phentsize + 4], order)
        if kind == PT_INTERP:
            return False
    return True


@dataclass
class StaticShell:
    path: str
    applets: list[str]

    def install(self, bin_dir: Path, *, tools: Path) -> None:
        """Copy the shell to ``bin_dir/busybox`` with ``sh`` beside it, and one link per applet
        into ``tools`` (put on PATH only in images that have no shell)."""
        bin_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy2(self.path, bin_dir / "busybox")
        os.chmod(bin_dir / "busybox", 0o755)
        os.symlink("busybox", bin_dir / "sh")
        tools.mkdir(parents=True, exist_ok=True)
        for applet in self.applets:
            if applet and "/" not in applet:
                os.symlink("../busybox", tools / applet)


def find_static_shell() -> StaticShell:
    """The static busybox to mount; raises RuntimeUnavailable saying how to get one."""
    chosen = os.environ.get(ENV)
    candidates = [chosen] if chosen else [*CANDIDATES, shutil.which("busybox") or ""]
    for path in candidates:
        if path and os.path.isfile(path) and is_static(path):
            try:
                out = subprocess.run([path, "--list"], capture_output=True, timeout=10,
                                     stdin=subprocess.DEVNULL).stdout
            except (OSError, subprocess.TimeoutExpired):
                continue
            return StaticShell(path, out.decode(errors="replace").split())
    where = f"{ENV}={chosen} is not a statically linked busybox" if chosen else \
        "no statically linked busybox found"
    raise RuntimeUnavailable(
        f"the container runtime mounts a static shell into every step (for the debug scripts and "
        f"images without a shell): {where}",
        fix="install it (Debian/Ubuntu: apt-get install busybox-static), or set "
            f"{ENV} to a static busybox")
