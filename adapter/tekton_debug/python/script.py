"""Which steps are Python, and how the lines of their script in the Task YAML map to the lines of
the script file the step runs.

The script block of a step (``script: |``) stands at known YAML lines: line k of the script is
YAML line ``first + k - 1``. The step runs the script *after* Tekton's substitution, and a
``$(params.x)`` whose value holds newlines adds lines; so the map is built per script line: line k
of the Task becomes as many lines of the file as its substituted text has, and every line after
it moves down by that many. Leading blank lines before a shebang are dropped when the file is
written (as Tekton does); the map accounts for them too.
"""

from __future__ import annotations

import bisect
import os
import shlex
from dataclasses import dataclass
from typing import Callable

from tekton_debug.tekton.model import Step


def shebang(script: str | None) -> list[str]:
    """The words of a script's ``#!`` line ([] when it has none)."""
    if not script:
        return []
    first = script.lstrip().split("\n", 1)[0]
    if not first.startswith("#!"):
        return []
    try:
        return shlex.split(first[2:])
    except ValueError:
        return first[2:].split()


def interpreter(script: str | None) -> tuple[str, list[str]] | None:
    """(the Python a script names, its options) when its shebang runs Python; else None.

    ``#!/usr/bin/env python3`` gives ("python3", []), ``#!/usr/bin/python3 -u`` gives
    ("/usr/bin/python3", ["-u"]); ``env``'s own options and ``NAME=value`` words are skipped."""
    words = shebang(script)
    if not words:
        return None
    program, rest = words[0], words[1:]
    if os.path.basename(program) == "env":
        while rest and (rest[0].startswith("-") or "=" in rest[0]):
            option = rest.pop(0)
            if option in ("-u", "--unset", "-C", "--chdir") and rest:
                rest.pop(0)
        if not rest:
            return None
        program, rest = rest[0], rest[1:]
    name = os.path.basename(program)
    if not name.startswith("python"):
        return None
    return program, rest


def is_python_script(script: str | None) -> bool:
    return interpreter(script) is not None


@dataclass(frozen=True)
class ScriptMap:
    """Lines of one step's script: in the Task YAML and in the file the step runs."""

    yaml_file: str | None
    first_yaml_line: int  # the YAML line of the script's first line
    starts: tuple[int, ...]  # starts[k]: the file line where the script's line k+1 begins
    file_lines: int  # lines in the file

    @property
    def last_yaml_line(self) -> int:
        return self.first_yaml_line + len(self.starts) - 1

    def contains(self, yaml_line: int) -> bool:
        return self.first_yaml_line <= yaml_line <= self.last_yaml_line

    def to_file(self, yaml_line: int) -> int | None:
        """The file line a YAML line of the script runs as (the first, when a substitution made
        it several); None outside the script."""
        if not self.contains(yaml_line):
            return None
        line = self.starts[yaml_line - self.first_yaml_line]
        return line if line >= 1 else None

    def to_yaml(self, file_line: int) -> int | None:
        """The YAML line a line of the file comes from; None outside the file."""
        if not 1 <= file_line <= self.file_lines:
            return None
        k = bisect.bisect_right(self.starts, file_line) - 1
        return self.first_yaml_line + k if k >= 0 else None


def map_script(step: Step, source_text: str | None,
               substitute: Callable[[str], str]) -> ScriptMap | str:
    """The line map of ``step``'s script, or why there can be none (a sentence for the user).

    ``substitute`` applies Tekton's substitutions as for this step's script; ``source_text`` is the
    Task YAML the step's positions refer to."""
    where = yaml_lines(step, source_text)
    if isinstance(where, str):
        return where
    first = where[0]
    lines = _lines(step.script or "")
    whole = substitute(step.script or "")
    stripped = whole.lstrip() if whole.strip().startswith("#!") else whole
    dropped = whole[:len(whole) - len(stripped)].count("\n")
    starts = []
    line = 1 - dropped
    for text in lines:
        starts.append(line)
        line += substitute(text).count("\n") + 1
    return ScriptMap(step.script_pos.file, first, tuple(starts), max(0, line - 1))


def _lines(script: str) -> list[str]:
    lines = script.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def yaml_lines(step: Step, source_text: str | None) -> tuple[int, int] | str:
    """The first and last YAML lines of ``step``'s script, or why they are not known (a sentence
    for the user): the script must stand in the file as a literal block (``script: |``)."""
    script = step.script
    if not script or step.script_pos is None or source_text is None:
        return "the step's script has no place in a YAML file the adapter can read"
    lines = _lines(script)
    source = source_text.splitlines()
    first = step.script_pos.line
    for k, text in enumerate(lines):
        at = first + k
        if at > len(source) or source[at - 1].strip() != text.strip():
            return ("its script is not a literal block (`script: |`), so its lines cannot be "
                    "matched to the YAML's")
    return first, first + len(lines) - 1
