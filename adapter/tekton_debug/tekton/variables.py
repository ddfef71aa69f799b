"""Tekton's ``$(...)`` variable references: finding them and reading what they name.

Shared by validation (is every reference declared?) and substitution (what does it become?).
Tekton writes the same variable several ways; they are normalised to the dotted form:
``$(params["x"])`` and ``$(params['x'])`` are ``params.x``, ``$(results['r'].path)`` is
``results.r.path``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

# A reference: "$(" then anything but parentheses then ")". Kubernetes' own $(VAR) env
# references share the syntax; they name no known Tekton variable and are left alone.
REFERENCE = re.compile(r"\$\(([^()$]*)\)")
_BRACKETED = re.compile(r"""\[\s*(?:"([^"]*)"|'([^']*)')\s*\]""")
_SUFFIX = re.compile(r"\[(\*|\d+)\]$")


@dataclass(frozen=True)
class Reference:
    start: int  # offset of "$(" in the text
    end: int  # offset just after ")"
    text: str  # as written, e.g. '$(params["x"])'
    name: str  # normalised, e.g. "params.x"


def normalize(expr: str) -> str:
    """``params["a"]['b']`` -> ``params.a.b``; surrounding blanks removed."""
    return _BRACKETED.sub(lambda m: "." + (m.group(1) if m.group(1) is not None else m.group(2)),
                          expr.strip())


def references(text: str) -> Iterator[Reference]:
    """Every ``$(...)`` in ``text``, in order."""
    if not isinstance(text, str) or "$(" not in text:
        return
    for m in REFERENCE.finditer(text):
        yield Reference(m.start(), m.end(), m.group(0), normalize(m.group(1)))


def sole_reference(text: Any) -> Reference | None:
    """The reference ``text`` is, blanks around it aside, when it is one and nothing else
    (``" $(params.a[*]) "``): what passes an array or object whole rather than inside a string.
    None for anything else: no reference, two, one inside other text, not a string."""
    if not isinstance(text, str):
        return None
    first = next(references(text), None)
    return first if first is not None and first.text == text.strip() else None


@dataclass(frozen=True)
class ParamRef:
    """What a ``params.`` reference names."""

    name: str  # the param's name
    key: str | None = None  # an object param's key: $(params.obj.key)
    index: int | None = None  # an array element: $(params.arr[0])
    star: bool = False  # the whole array or object: $(params.x[*])


def param_ref(name: str, types: Mapping[str, str]) -> ParamRef | None:
    """Read a normalised ``params.…`` reference; ``types`` maps declared param names to types.

    Param names may contain dots (string and array params), so a declared name is matched
    whole before the text is read as ``object.key``. None when ``name`` is not a params reference.
    """
    if not name.startswith("params."):
        return None
    rest = name[len("params."):]
    index: int | None = None
    star = False
    m = _SUFFIX.search(rest)
    if m:
        rest = rest[:m.start()]
        if m.group(1) == "*":
            star = True
        else:
            index = int(m.group(1))
    if not rest:
        return None
    if rest in types or "." not in rest:
        return ParamRef(rest, None, index, star)
    obj, key = rest.split(".", 1)
    if obj in types or types.get(obj) == "object":
        return ParamRef(obj, key, index, star)
    return ParamRef(rest, None, index, star)
