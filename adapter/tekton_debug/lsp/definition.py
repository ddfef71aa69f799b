"""Go to definition: from ``$(params.x)`` (results, workspaces too) to where ``x`` is declared,
from a ``beforeSteps`` entry to its step, and from a step's ``ref: {name: x}`` to the StepAction
(in the same file or next to it, as the loader finds it)."""

from __future__ import annotations

from lsprotocol import types

from tekton_debug.lsp.document import Analysis, Declared, referenced_task
from tekton_debug.lsp.refs import reference_at, resolve
from tekton_debug.lsp.source import Source, uri_of


def definition(analysis: Analysis, source: Source, line0: int,
               column0: int) -> types.Location | None:
    obj = analysis.object_at(line0 + 1)
    if obj is None:
        return None
    action = _step_action(analysis, obj, source, line0, column0)
    if action is not None:
        return action
    task = referenced_task(analysis, obj)
    ref = reference_at(source.line(line0), column0)
    if ref is not None:
        target = resolve(ref.name, task)
        if target is None or target.declared is None:
            return None
        d = target.declared
        if target.key is not None:
            key_span = d.doc.key_span(d.path + ("properties", target.key))
            if key_span is not None:
                return _location(d, source, key_span)
        return _location(d, source)
    if task is None:
        return None
    for path, span in obj.doc.values.items():
        if len(path) >= 2 and path[-2] == "beforeSteps" and isinstance(path[-1], int) \
                and span.line == line0 + 1 and span.column - 1 <= column0 <= span.end_column - 1:
            step = task.find("steps", obj.doc.data["spec"]["debug"]["breakpoints"]
                             ["beforeSteps"][path[-1]]) if path[:-2] == (
                "spec", "debug", "breakpoints") else None
            if step is not None:
                return _location(step, source)
    return None


def _location(d: Declared, source: Source, span=None) -> types.Location | None:
    span = span or d.name_span
    if span is None:
        return None
    if d.doc.file and (source.file is None or d.doc.file != source.file):
        other = Source(d.doc.text, uri_of(d.doc.file), source.units)
        return types.Location(uri=other.uri, range=other.span_range(span))
    return types.Location(uri=source.uri, range=source.span_range(span))


def _step_action(analysis: Analysis, obj, source: Source, line0: int,
                 column0: int) -> types.Location | None:
    """The StepAction named by the ``ref: {name: ...}`` under the cursor."""
    from tekton_debug.lsp.neighbours import NEIGHBOURS

    for path, span in obj.doc.values.items():
        if len(path) >= 4 and path[-2:] == ("ref", "name") and path[-4] == "steps" \
                and span.line == line0 + 1 and span.column - 1 <= column0 <= span.end_column - 1:
            name = obj.doc.data
            for key in path:
                name = name[key]
            if not isinstance(name, str):
                return None
            doc = NEIGHBOURS.local("StepAction", name, analysis.docs, analysis.file)
            if doc is None:
                return None
            target = doc.span(("metadata", "name")) or doc.span(())
            if target is None:
                return None
            if doc.file and doc.file != source.file:
                other = Source(doc.text, uri_of(doc.file), source.units)
                return types.Location(uri=other.uri, range=other.span_range(target))
            return types.Location(uri=source.uri, range=source.span_range(target))
    return None
