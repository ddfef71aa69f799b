"""Reading a file a user names (a Task, a neighbouring YAML file, a token): regular files only,
of bounded size, so that ``/dev/zero``, a FIFO or a huge file gets a clear error instead of
filling the memory or blocking for ever.

The file is opened without blocking (a FIFO with no writer would block ``open()``) and checked on
the open descriptor, so what is read is what was checked.
"""

from __future__ import annotations

import os
import stat

from tekton_debug.errors import UserError

#: Largest YAML file read. Kubernetes stores no object over about 1.5 MB (etcd's request limit).
MAX_YAML_SIZE = 4 * 1024 * 1024

_KINDS = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def read_regular(path: str, *, limit: int, what: str = "a Task or TaskRun YAML file",
                 cut: bool = False) -> bytes:
    """The bytes of the regular file at ``path``; a UserError (naming the file) if it is missing,
    a directory, a special file, unreadable or larger than ``limit`` bytes (with ``cut``: its
    first ``limit`` bytes instead). ``what`` says what the file should be, for the fixes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except FileNotFoundError:
        raise UserError("no such file", file=path, fix=f"give the path of {what}") from None
    except OSError as e:
        raise UserError(f"cannot read it: {e.strerror or e}", file=path,
                        fix="check the file's permissions") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise UserError("this is a directory, not a file", file=path,
                            fix=f"give the path of {what} in it")
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _KINDS if test(mode)), "not a regular file")
            raise UserError(f"this is {kind}, not a regular file: it is not read",
                            file=path, fix=f"give the path of {what}")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, min(limit + 1 - size, 1024 * 1024))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit and cut:
            return b"".join(chunks)[:limit]
        if size > limit:
            raise UserError(f"the file is larger than {_size(limit)}: it is not read",
                            file=path, fix=f"give the path of {what} (Kubernetes accepts "
                                           "objects of about 1.5 MB at most)")
        return b"".join(chunks)
    except OSError as e:
        raise UserError(f"cannot read it: {e.strerror or e}", file=path,
                        fix="check the file's permissions") from None
    finally:
        os.close(fd)


def read_text(path: str, *, limit: int = MAX_YAML_SIZE,
              what: str = "a Task or TaskRun YAML file") -> str:
    """:func:`read_regular` decoded as UTF-8 (a UserError if it is not)."""
    data = read_regular(path, limit=limit, what=what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"the file is not UTF-8 text ({e.reason} at byte {e.start})", file=path,
                        fix="save the file as UTF-8") from None


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 else f"{n} bytes"
