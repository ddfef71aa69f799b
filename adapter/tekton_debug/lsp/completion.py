"""Completion: Tekton variables after ``$(``, and step names in ``beforeSteps``.

Works on the line's text, not on the YAML: while a variable is being typed the YAML often does not
parse (an open quote or bracket), or parses as something else (an indented line right under
``kind: Task`` continues its value). The declarations then come from the text without the line
being typed (:func:`without_line`, analysed by the server off its event loop), or else from the
last version of the document that parsed.
"""

from __future__ import annotations

import re

from lsprotocol import types

from tekton_debug.lsp.document import Analysis, TaskInfo, referenced_task
from tekton_debug.lsp.refs import candidates
from tekton_debug.lsp.source import Source

TRIGGER_CHARACTERS = ["(", ".", "[", " ", "-"]

_WORD = re.compile(r"[A-Za-z0-9_\-]*")
_TYPED = re.compile(r"^[A-Za-z0-9_.\-\[\]*]*$")
_FLOW_BEFORE_STEPS = re.compile(r"^\s*(?:-\s+)?beforeSteps:\s*\[(?P<items>[^\]]*)$")
_BLOCK_ITEM = re.compile(r"^(?P<indent>\s*)-\s*(?P<item>[^\s#]*)$")
_BLOCK_KEY = re.compile(r"^(?P<indent>\s*)beforeSteps:\s*(#.*)?$")
_KINDS = {"param": types.CompletionItemKind.Variable, "result": types.CompletionItemKind.Field,
          "workspace": types.CompletionItemKind.Folder,
          "field": types.CompletionItemKind.Property,
          "context": types.CompletionItemKind.Constant, "root": types.CompletionItemKind.Module}


def without_line(text: str, line0: int) -> str | None:
    """``text`` with line ``line0`` (the one being typed, which may not parse yet) left blank;
    None when it has no such line."""
    lines = text.splitlines(keepends=True)
    if not 0 <= line0 < len(lines):
        return None
    lines[line0] = "\n"
    return "".join(lines)


def typed_variable(before: str) -> str | None:
    """What is typed of a variable at the end of ``before`` (the line up to the cursor), after
    its ``$(``; None when the cursor is not in one."""
    start = before.rfind("$(")
    if start < 0 or ")" in before[start:]:
        return None
    return before[start + 2:]


def completes(source: Source, line0: int, column0: int) -> bool:
    """Whether completion may offer something at the cursor: a variable or a ``beforeSteps``
    entry is being typed there."""
    typed = typed_variable(source.line(line0)[:column0])
    return (typed is not None and _TYPED.match(typed) is not None) \
        or _before_steps(source, line0, column0) is not None


def completion(analysis: Analysis, repaired: Analysis | None, fallback: Analysis | None,
               source: Source, line0: int, column0: int) -> list[types.CompletionItem]:
    """Items at the cursor. When no Task or TaskRun of ``analysis`` holds the line (its YAML
    does not parse, or the line hides the object around it): ``repaired`` is the analysis of the
    text :func:`without_line` ``line0``, ``fallback`` the last analysis of this document that
    parsed."""
    known = _known(analysis, repaired, fallback, line0 + 1)
    if known is None:
        return []
    obj = known.object_at(line0 + 1)
    if obj is None:
        return []
    task = referenced_task(known, obj)
    typed = typed_variable(source.line(line0)[:column0])
    if typed is not None and _TYPED.match(typed):
        return _variables(typed, task, source, line0, column0)
    names = _before_steps(source, line0, column0)
    if names is not None and task is not None:
        return _steps(task, names, source, line0, column0)
    return []


def _known(analysis: Analysis, repaired: Analysis | None, fallback: Analysis | None,
           line: int) -> Analysis | None:
    """The analysis to take declarations from: this text's when one of its objects holds
    ``line``; else this text without the line being typed; else this text's other objects;
    else, while this text does not parse, the last one that did. None outside Tekton."""
    if any(o.contains(line) for o in analysis.objects):
        return analysis
    if repaired is not None and repaired.objects:
        return repaired
    if analysis.objects:
        return analysis
    if not analysis.tekton:
        return None
    return fallback if fallback is not None and fallback.objects else None


def _variables(typed: str, task: TaskInfo | None, source: Source, line0: int,
               column0: int) -> list[types.CompletionItem]:
    all_candidates = candidates(task)
    head, dot, partial = typed.rpartition(".")
    head += dot
    chosen = [c for c in all_candidates if c.head == head]
    if not chosen and "." in typed:  # names may hold dots: "params.my.pa"
        root, _, partial = typed.partition(".")
        head = root + "."
        chosen = [c for c in all_candidates if c.head == head]
    after = source.line(line0)[column0:]
    rest = _WORD.match(after).group(0)  # type: ignore[union-attr]
    after = after[len(rest):]
    rng = source.range(line0, column0 - len(partial), line0, column0 + len(rest))
    items = []
    for i, c in enumerate(chosen):
        new_text = c.label + (")" if c.complete and not after.startswith(")") else "")
        items.append(types.CompletionItem(
            label=c.label, kind=_KINDS[c.kind], detail=c.detail or None,
            documentation=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                              value=c.documentation) if c.documentation else None,
            sort_text=f"{i:04d}", filter_text=c.label,
            text_edit=types.TextEdit(range=rng, new_text=new_text)))
    return items


def _before_steps(source: Source, line0: int, column0: int) -> list[str] | None:
    """The names already listed when the cursor is on an item of a ``beforeSteps`` list."""
    before = source.line(line0)[:column0]
    m = _FLOW_BEFORE_STEPS.match(before)
    if m:
        return [s.strip().strip("\"'") for s in m.group("items").split(",")][:-1]
    m = _BLOCK_ITEM.match(before)
    if not m:
        return None
    indent = len(m.group("indent"))
    listed = []
    for i in range(line0 - 1, -1, -1):
        line = source.line(i)
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        k = _BLOCK_KEY.match(line)
        if k and len(k.group("indent")) <= indent:
            return listed
        item = _BLOCK_ITEM.match(line.rstrip())
        if item and len(item.group("indent")) == indent:
            listed.append(item.group("item").strip("\"'"))
            continue
        return None
    return None


def _steps(task: TaskInfo, listed: list[str], source: Source, line0: int,
           column0: int) -> list[types.CompletionItem]:
    before = source.line(line0)[:column0]
    partial = re.search(r"[^\s,\[\-\"']*$", before).group(0)  # type: ignore[union-attr]
    rng = source.range(line0, column0 - len(partial), line0, column0)
    items = []
    for d in task.steps:
        step = d.spec
        if not getattr(step, "name", None) or d.name in listed:
            continue  # Tekton cannot pause before an unnamed step
        items.append(types.CompletionItem(
            label=d.name, kind=types.CompletionItemKind.Function,
            detail=f"step {step.index + 1}" + (f" ({step.image})"  # type: ignore[union-attr]
                                               if getattr(step, "image", None) else ""),
            text_edit=types.TextEdit(range=rng, new_text=d.name)))
    return items
