"""Quick fixes (``textDocument/codeAction``) for what the language server warns about.

- ``debug.breakpoints`` without ``onFailure``: current Tekton accepts it (tektoncd/pipeline#9719),
  v0.62 to v1.15 reject the TaskRun. A warning at ``breakpoints``, fixed by adding
  ``onFailure: enabled`` (which also pauses on a failing step).
"""

from __future__ import annotations

from lsprotocol import types

from tekton_debug.lsp.document import Analysis
from tekton_debug.lsp.source import Source

BREAKPOINTS_WITHOUT_ON_FAILURE = "breakpoints-without-onFailure"
_SOURCE = "tekton-debug"
_PATH = ("spec", "debug", "breakpoints")


def older_tekton_warnings(analysis: Analysis, source: Source) -> list[types.Diagnostic]:
    out = []
    for o in analysis.objects:
        if o.kind != "TaskRun":
            continue
        spec = o.doc.data.get("spec")
        debug = spec.get("debug") if isinstance(spec, dict) else None
        bps = debug.get("breakpoints") if isinstance(debug, dict) else None
        if not isinstance(bps, dict) or "onFailure" in bps:
            continue
        key = o.doc.keys.get(_PATH)
        edit = _add_on_failure(o.doc, bps, source)
        if key is None or edit is None:
            continue
        out.append(types.Diagnostic(
            range=source.span_range(key), severity=types.DiagnosticSeverity.Warning,
            source=_SOURCE, code=BREAKPOINTS_WITHOUT_ON_FAILURE,
            message="Tekton v1.15 and earlier reject breakpoints without onFailure "
                    "(tektoncd/pipeline#9719): this TaskRun runs only on newer clusters\n"
                    "fix: add `onFailure: enabled` under breakpoints",
            data={"edit": {"range": _range_json(edit.range), "newText": edit.new_text}}))
    return out


def code_actions(uri: str, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    actions = []
    for d in diagnostics:
        if d.code != BREAKPOINTS_WITHOUT_ON_FAILURE or not isinstance(d.data, dict):
            continue
        edit = d.data.get("edit") or {}
        r = edit.get("range") or {}
        try:
            text_edit = types.TextEdit(range=types.Range(
                start=types.Position(**r["start"]), end=types.Position(**r["end"])),
                new_text=str(edit["newText"]))
        except (KeyError, TypeError):
            continue
        actions.append(types.CodeAction(
            title="Add `onFailure: enabled` (accepted by every Tekton with beforeSteps)",
            kind=types.CodeActionKind.QuickFix, diagnostics=[d], is_preferred=True,
            edit=types.WorkspaceEdit(changes={uri: [text_edit]})))
    return actions


def _add_on_failure(doc, bps: dict, source: Source) -> types.TextEdit | None:
    value = doc.span(_PATH)
    if value is None:
        return None
    line0, col0 = value.line - 1, value.column - 1
    if source.line(line0)[col0:col0 + 1] == "{":  # flow style: {beforeSteps: [a]}
        text = "onFailure: enabled" + (", " if bps else "")
        at = source.position(line0, col0 + 1)
        return types.TextEdit(range=types.Range(start=at, end=at), new_text=text)
    first = next(iter(bps), None)
    key = doc.keys.get(_PATH + (first,)) if first is not None else None
    if key is None:
        return None
    at = source.position(key.line - 1, 0)
    return types.TextEdit(range=types.Range(start=at, end=at),
                          new_text=" " * (key.column - 1) + "onFailure: enabled\n")


def _range_json(r: types.Range) -> dict:
    return {"start": {"line": r.start.line, "character": r.start.character},
            "end": {"line": r.end.line, "character": r.end.character}}
