"""`tekton-debug check [FILE|DIR]...`: every Tekton document checked as `run` and the language
server check it, all problems at once.

Text: one line per problem, ``file:line:col: error|warning: message; fix: ...`` (what editors
and CI problem matchers read), then a summary on stderr. ``--format json``: a list of objects
with file, line, column, endLine, endColumn, severity, message and fix.
Exit status: 0 without errors (and at most ``--max-warnings`` warnings), 1 otherwise, 2 for a
usage error (a path that does not exist).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Iterable

from tekton_debug.errors import Problem, UserError

#: Directories never searched for YAML.
_SKIPPED_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox"}


def yaml_files(paths: Iterable[str]) -> list[str]:
    """The files to check: each file given, and the ``*.yaml``/``*.yml`` under each directory
    (recursively, in name order). UserError for a path that does not exist."""
    out: list[str] = []
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
                out += [os.path.join(root, f) for f in sorted(files)
                        if f.endswith((".yaml", ".yml"))]
        elif os.path.exists(path):
            out.append(path)
        else:
            raise UserError(f"{path}: no such file or directory",
                            fix="give Tekton YAML files or directories that hold them")
    return list(dict.fromkeys(out))


def default_resolver(offline: bool) -> Any:
    """The resolver of remote references (``tekton_debug.resolution``), from the cache only
    when ``offline``."""
    from tekton_debug.resolution import remote_resolver

    return remote_resolver(offline=offline)


def check_files(files: list[str], resolver: Any = None) -> list[Problem]:
    """Every problem of ``files`` (and of the files their references lead to), each once."""
    from tekton_debug.tekton.finder import Directory
    from tekton_debug.tekton.validation import diagnose, in_order

    directory = Directory()  # each neighbour is read once for all the files
    problems: list[Problem] = []
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except UnicodeDecodeError as e:
            problems.append(Problem(f"the file is not UTF-8 text ({e.reason} at byte {e.start})",
                                    path, fix="save the file as UTF-8"))
            continue
        except OSError as e:
            problems.append(Problem(f"cannot read it: {e.strerror}", path,
                                    fix="check the file's permissions"))
            continue
        problems += diagnose(text, path, resolver=resolver, directory=directory)
    return in_order(problems)


def as_json(p: Problem) -> dict:
    return {"file": p.file, "line": p.line, "column": p.column, "endLine": p.end_line,
            "endColumn": p.end_column, "severity": p.severity, "message": p.message,
            "fix": p.fix}


def as_text(p: Problem) -> str:
    where = p.file or "-"
    if p.line:
        where += f":{p.line}:{p.column or 1}"
    text = f"{where}: {p.severity}: {' '.join(p.message.split())}"
    return text + (f"; fix: {' '.join(p.fix.split())}" if p.fix else "")


def check_main(args) -> int:
    if args.max_warnings is not None and args.max_warnings < 0:
        raise UserError("--max-warnings must be 0 or more", fix="--max-warnings 0 fails on any "
                        "warning; leave it out to allow any number")
    files = yaml_files(args.paths or ["."])
    problems = check_files(files, default_resolver(args.offline))
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    if args.format == "json":
        json.dump([as_json(p) for p in problems], sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        for p in problems:
            sys.stdout.write(as_text(p) + "\n")
        sys.stderr.write(f"{errors} error{'' if errors == 1 else 's'}, {warnings} warning"
                         f"{'' if warnings == 1 else 's'} in {len(files)} file"
                         f"{'' if len(files) == 1 else 's'}\n")
    too_many = args.max_warnings is not None and warnings > args.max_warnings
    if too_many and args.format != "json":
        sys.stderr.write(f"more warnings than --max-warnings {args.max_warnings}\n")
    return 1 if errors or too_many else 0
