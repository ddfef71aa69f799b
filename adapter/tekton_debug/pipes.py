"""Pipes that hold a whole chunk of step output: a step's output is read 256 KB at a time, and
relayed to the client as output events of that size. With Linux's default 64 KB pipes the writer
would wait for the reader four times per chunk (the step for the adapter, the adapter for its
client), each wait a hand-over between processes that a loaded machine makes slow."""

from __future__ import annotations

import fcntl

#: A step's output is read this much at a time, from pipes of PIPE_SIZE bytes: fewer, larger output
#: events cost the adapter less per byte (each event is one mask, one decode, one JSON encoding);
#: a read takes what the pipe holds, so a step that prints a line now and then still gets it out
#: at once.
CHUNK = 256 * 1024
PIPE_SIZE = 1024 * 1024
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)  # Linux; Python 3.10+ names it


def widen(fd: int, size: int = PIPE_SIZE) -> None:
    """Make the pipe ``fd`` hold ``size`` bytes; best effort (Linux only, within the user's
    quota; a descriptor that is no pipe is left as it is)."""
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)
    except OSError:
        pass
