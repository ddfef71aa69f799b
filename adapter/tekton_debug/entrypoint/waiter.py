"""Waiting for lifecycle files without a once-a-second poll.

Tekton's waiter stats the file once per second, so a pause is seen and a release acted on up to a
second late. This one watches the file's directory with inotify (Linux) and re-checks on every event
there; where inotify is unavailable it polls every few milliseconds. Every wait selects on a
:class:`CancelToken` as well, so cancelling a run ends every wait at once.
"""

from __future__ import annotations

import os
import select
import threading
from typing import Sequence

from tekton_debug.entrypoint.layout import ERR_SUFFIX
from tekton_debug.entrypoint.lifecycle import SkipStep, WaitCancelled

try:  # Linux only
    import inotify_simple
except ImportError:  # pragma: no cover - other systems
    inotify_simple = None

POLL_INTERVAL = 0.005  # seconds, where inotify is unavailable
RECHECK_INTERVAL = 1.0  # seconds: a safety net under inotify (a directory replaced, ...)


class CancelToken:
    """Once cancelled, stays cancelled: its file descriptor stays readable for every select."""

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        self._lock = threading.Lock()
        self._cancelled = False
        self._closed = False

    @property
    def fd(self) -> int:
        return self._r

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def cancel(self) -> None:
        # No lock: this runs in signal handlers too. Two racing writes only add a byte.
        if self._cancelled:
            return
        self._cancelled = True
        try:
            os.write(self._w, b"x")
        except OSError:  # closed
            pass

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._r)
            os.close(self._w)


class FileWaiter:
    """Implements ``lifecycle.Waiter`` on the real file system. One thread at a time: give each
    thread that waits its own FileWaiter (they may share a CancelToken)."""

    def __init__(self, cancel: CancelToken | None = None, *, use_inotify: bool = True) -> None:
        self.cancel_token = cancel or CancelToken()
        self._use_inotify = use_inotify and inotify_simple is not None
        self._inotify = None
        self._watched: set[str] = set()

    def cancel(self) -> None:
        self.cancel_token.cancel()

    def wait(self, path: str, *, expect_content: bool, breakpoint_on_failure: bool) -> None:
        if not path:
            return
        err = path + ERR_SUFFIX

        def ready() -> bool:
            try:
                size = os.stat(path).st_size
                if not expect_content or size > 0:
                    return True
            except FileNotFoundError:
                pass
            if os.path.exists(err):
                if breakpoint_on_failure:
                    return True
                raise SkipStep(f"{err} exists: a previous step failed")
            return False

        self._wait_until(ready, [path, err])

    def wait_any(self, paths: Sequence[str]) -> str:
        found: list[str] = []

        def ready() -> bool:
            for p in paths:
                if os.path.exists(p):
                    found.append(p)
                    return True
            return False

        self._wait_until(ready, list(paths))
        return found[0]

    # ---- the loop ------------------------------------------------------------------------
    def _wait_until(self, ready, paths: list[str]) -> None:
        if self.cancel_token.cancelled:
            raise WaitCancelled()
        if ready():
            return
        watch = self._watch(paths)
        while True:
            if ready():
                return
            if self.cancel_token.cancelled:
                raise WaitCancelled()
            fds = [self.cancel_token.fd] + ([watch.fileno()] if watch else [])
            timeout = RECHECK_INTERVAL if watch else POLL_INTERVAL
            readable, _, _ = select.select(fds, [], [], timeout)
            if self.cancel_token.fd in readable or self.cancel_token.cancelled:
                raise WaitCancelled()
            if watch and readable:
                watch.read(timeout=0)

    def _watch(self, paths: list[str]):
        """The inotify instance, watching the directories of ``paths`` (None: poll instead).

        One instance serves every wait of this waiter and lives until :meth:`close`: closing an
        inotify descriptor waits for a kernel grace period (several milliseconds), too slow to do
        per wait. Watches stay too; events of earlier waits only cause a harmless re-check."""
        if not self._use_inotify:
            return None
        if self._inotify is None:
            try:
                self._inotify = inotify_simple.INotify()
            except OSError:
                self._use_inotify = False
                return None
        flags = inotify_simple.flags
        mask = (flags.CREATE | flags.MOVED_TO | flags.CLOSE_WRITE | flags.MODIFY | flags.ATTRIB)
        for d in {os.path.dirname(os.path.abspath(p)) for p in paths}:
            if d in self._watched:
                continue
            try:
                self._inotify.add_watch(d, mask)
            except OSError:  # a directory that does not exist yet: poll this time
                return None
            self._watched.add(d)
        return self._inotify

    def close(self) -> None:
        """Release the inotify instance (takes a few milliseconds: do it once, at the end)."""
        ino, self._inotify = self._inotify, None
        self._watched.clear()
        if ino is not None:
            ino.close()
