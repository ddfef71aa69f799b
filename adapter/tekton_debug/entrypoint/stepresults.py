"""Step results passed to a later step: ``$(steps.<step>.results.<name>)`` in its env, command
and args, replaced when the step starts, as Tekton's entrypoint does
(``applyStepResultSubstitutions``): the value is read from ``<steps>/step-<step>/results/<name>``
(a JSON list or object for array and object results: ``[*]`` spreads an array over args,
``[i]`` picks an element, ``.key`` an object's key).
"""

from __future__ import annotations

import json
import os
import re
from typing import Mapping, Sequence

from tekton_debug.entrypoint.lifecycle import CommandError

# $(steps.<step>.results.<name>), with [*], [i] or .key after it
_REF = re.compile(r"\$\(steps\.([^.()\[\]$]+)\.results\.([^.()\[\]$]+)(?:\[(\*|\d+)\]|\.([^()\[\]$]+))?\)")


def _read(steps_dir: str, step: str, name: str) -> str:
    path = os.path.join(steps_dir, f"step-{step}", "results", name)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except OSError:
        raise CommandError(f"$(steps.{step}.results.{name}): step {step!r} wrote no result "
                           f"{name!r} ({path})") from None


def _parsed(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _value(m: re.Match, steps_dir: str) -> str | list[str]:
    text = _read(steps_dir, m.group(1), m.group(2))
    index, key = m.group(3), m.group(4)
    if index is None and key is None:
        return text
    value = _parsed(text)
    if key is not None:
        if not isinstance(value, dict) or key not in value:
            raise CommandError(f"{m.group(0)}: the result is not an object with key {key!r}")
        return str(value[key])
    if not isinstance(value, list):
        raise CommandError(f"{m.group(0)}: the result is not an array")
    if index == "*":
        return [str(v) for v in value]
    if int(index) >= len(value):
        raise CommandError(f"{m.group(0)}: index out of range ({len(value)} elements)")
    return str(value[int(index)])


def _in_string(text: str, steps_dir: str) -> str:
    def one(m: re.Match) -> str:
        v = _value(m, steps_dir)
        if isinstance(v, list):
            raise CommandError(f"{m.group(0)}: a whole array must be an argument of its own")
        return v
    return _REF.sub(one, text)


def apply_step_results(argv: Sequence[str], env: Mapping[str, str], steps_dir: str
                       ) -> tuple[list[str], dict[str, str]]:
    """``argv`` and ``env`` with earlier steps' results in place; CommandError when one is
    missing or of the wrong shape."""
    out: list[str] = []
    for a in argv:
        m = _REF.fullmatch(a.strip()) if "$(steps." in a else None
        if m and m.group(3) == "*":
            out.extend(_value(m, steps_dir))  # type: ignore[arg-type]
        else:
            out.append(_in_string(a, steps_dir) if "$(steps." in a else a)
    new_env = {k: (_in_string(v, steps_dir) if "$(steps." in v else v) for k, v in env.items()}
    return out, new_env
