"""debugpy as the adapter uses it: found in the adapter's own installation, started with its
documented command line, spoken to in DAP. The one module that knows debugpy's ways.

- Command line (documented): ``python -m debugpy --connect HOST:PORT --wait-for-client FILE ARGS``.
  The step's Python connects to a port the adapter listens on (loopback) and speaks DAP there; it
  runs nothing of the script before ``configurationDone``.
- One use of debugpy's private API, in the step's Python (``BOOTSTRAP``): the same command line is
  run through ``debugpy.server.cli.main()`` with ``debugpy.common.log.describe_environment``
  turned off. debugpy calls it twice per start, logging or not, and it reads the metadata of every
  package the Python can see: 0.5 to 1 s on a machine with a few hundred of them, before the
  script's first line.
- Beyond that, the adapter relies on how the debugger at the other end of ``--connect`` answers
  DAP in this version: the attach arguments below, "uncaught" as the filter of uncaught
  exceptions, ``pause`` with thread "*", and that it closes its side once the client closes after
  ``terminated``. Hence the exact pin in pyproject.toml.
- The step's Python gets debugpy from a directory that holds only debugpy (a symbolic link to the
  adapter's copy), put first on ``PYTHONPATH``: none of the adapter's other packages leak into the
  step's imports.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Mapping, Sequence

#: The version these rules were checked against (pinned in pyproject.toml).
VERSION = "1.8.22"
#: The oldest Python debugpy 1.8 runs on.
MIN_PYTHON = (3, 8)

#: Prints the interpreter's version as "3.11"; Python 2 understands it too.
VERSION_PROBE = "import sys; sys.stdout.write('%d.%d' % sys.version_info[:2])"

#: What ``attach`` asks of debugpy: the user's code only (stepping skips the standard library
#: and site-packages), its output left on the step's own stdout and stderr.
ATTACH_ARGUMENTS = {"justMyCode": True, "redirectOutput": False, "showReturnValue": True}

#: The exception filter for uncaught exceptions.
UNCAUGHT = "uncaught"

#: ``python -m debugpy`` without debugpy's description of the environment (see above). The
#: arguments that follow are debugpy's command line (``sys.argv[1:]``, as with ``-m``).
BOOTSTRAP = ("from debugpy.common import log; log.describe_environment = lambda header: None; "
             "from debugpy.server import cli; cli.main()")

def is_bootstrap_frame(frame: dict) -> bool:
    """The outermost frame of the main thread is ``BOOTSTRAP``'s (debugpy counts ``<string>``
    as library code: stepping never stops there, but its stack shows it)."""
    return (frame.get("source") or {}).get("path") == "<string>"


#: Interpreter options that make Python ignore PYTHONPATH, where debugpy is found.
_IGNORES_PYTHONPATH = ("-E", "-I")


def package_dir() -> str:
    """The directory of the adapter's debugpy package (found without importing it)."""
    spec = importlib.util.find_spec("debugpy")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("debugpy is not installed with tekton-debug")
    return list(spec.submodule_search_locations)[0]


def python_path(parent: Path) -> str:
    """A directory under ``parent`` holding only debugpy, for the step's ``PYTHONPATH``."""
    directory = parent / "debugpy-path"
    link = directory / "debugpy"
    if not link.exists():
        directory.mkdir(parents=True, exist_ok=True)
        os.symlink(package_dir(), link)
    return str(directory)


def too_old(version: str) -> str | None:
    """Why a Python of ``version`` ("3.7") cannot run debugpy; None when it can."""
    try:
        found = tuple(int(p) for p in version.strip().split(".")[:2])
    except ValueError:
        return f"its Python did not tell its version ({version.strip()[:60]!r})"
    if found < MIN_PYTHON:
        return (f"its Python is {version.strip()}; debugpy {VERSION} needs Python "
                f"{'.'.join(map(str, MIN_PYTHON))} or newer")
    return None


def unusable_options(options: Sequence[str]) -> str | None:
    """Why the shebang's interpreter options keep debugpy out; None when they do not."""
    bad = [o for o in options if o in _IGNORES_PYTHONPATH or (
        o.startswith("-") and not o.startswith("--") and ("I" in o[1:] or "E" in o[1:]))]
    if bad:
        return (f"its shebang runs Python with {bad[0]}, which ignores PYTHONPATH where debugpy "
                "is put")
    return None


def command(python: str, options: Sequence[str], port: int | str, script: str,
            args: Sequence[str]) -> list[str]:
    """The step's command under debugpy: it connects to 127.0.0.1:``port`` and waits there
    (in a container, ``port`` is a placeholder that the launcher there replaces in the words
    before ``script``, which come last with ``args``).
    Processes the script starts are not debugged (``subProcess`` off): each would connect to
    the adapter's one-connection port, and their own steps are their business."""
    return [python, *options, "-c", BOOTSTRAP, "--connect", f"127.0.0.1:{port}",
            "--configure-subProcess", "false", "--wait-for-client", script, *args]


def environment(env: Mapping[str, str], path_dir: str) -> dict[str, str]:
    """The step's environment with debugpy's directory first on PYTHONPATH. The check of frozen
    standard modules (a warning on every start of Python 3.11+) is turned off: the step's output
    stays the step's."""
    out = dict(env)
    old = out.get("PYTHONPATH")
    out["PYTHONPATH"] = path_dir + (os.pathsep + old if old else "")
    out["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return out
