"""Document symbols: each Task or TaskRun, with its params, results, workspaces and steps."""

from __future__ import annotations

from lsprotocol import types

from tekton_debug.lsp.document import Analysis, Declared, TaskInfo
from tekton_debug.lsp.source import Source
from tekton_debug.tekton.yamlpos import Span

_GROUPS = (("params", types.SymbolKind.Variable), ("results", types.SymbolKind.Field),
           ("workspaces", types.SymbolKind.Module), ("steps", types.SymbolKind.Function))


def document_symbols(analysis: Analysis, source: Source) -> list[types.DocumentSymbol]:
    out = []
    for o in analysis.objects:
        span = o.span
        if span is None:
            continue
        name_span = o.doc.span(("metadata", "name")) or o.doc.key_span(("kind",)) or span
        children = _task_children(o.task, source) if o.task and o.task.doc is o.doc else []
        out.append(types.DocumentSymbol(
            name=o.name or o.kind, detail=o.kind,
            kind=types.SymbolKind.Class if o.kind == "Task" else types.SymbolKind.Object,
            range=_whole(span, source), selection_range=source.span_range(name_span),
            children=children))
    return out


def _task_children(task: TaskInfo, source: Source) -> list[types.DocumentSymbol]:
    groups = []
    for group, kind in _GROUPS:
        entries: list[Declared] = getattr(task, group)
        key = task.doc.key_span(task.base + (group,))
        value = task.doc.span(task.base + (group,))
        if key is None or value is None:
            continue
        children = [_symbol(d, kind, source) for d in entries if d.span is not None]
        groups.append(types.DocumentSymbol(
            name=group, kind=types.SymbolKind.Namespace,
            range=_whole(Span(key.line, key.column, value.end_line, value.end_column), source),
            selection_range=source.span_range(key), children=children))
    groups.sort(key=lambda s: (s.range.start.line, s.range.start.character))
    return groups


def _symbol(d: Declared, kind: types.SymbolKind, source: Source) -> types.DocumentSymbol:
    span, name_span = d.span, d.name_span
    detail = _detail(d)
    return types.DocumentSymbol(name=d.name, kind=kind, detail=detail or None,
                                range=_whole(span, source),  # type: ignore[arg-type]
                                selection_range=source.span_range(name_span))  # type: ignore


def _detail(d: Declared) -> str:
    spec = d.spec
    if d.path[-2] == "steps":
        return getattr(spec, "image", None) or ""
    if d.path[-2] == "params":
        return getattr(spec, "type", "")
    if d.path[-2] == "workspaces":
        return getattr(spec, "path", "")
    return getattr(spec, "type", "")


def _whole(span: Span, source: Source) -> types.Range:
    """A span's lines from its start to the end of its last line (blank tail excluded)."""
    end_line0 = span.end_line - 1
    return source.range(span.line - 1, span.column - 1, end_line0,
                         max(len(source.line(end_line0).rstrip()), span.end_column - 1
                             if span.end_line == span.line else 0))
