"""Diagnostics: the problems ``tekton.validation.diagnose`` finds, where they stand.

The message is the one the CLI prints (``tekton-debug run``), followed by its fix on a second line.
A problem that spans several lines (a whole step) is underlined on its first line only, where its
key or entry starts; the full extent of the entry is obvious from the indentation.
"""

from __future__ import annotations

from lsprotocol import types

from tekton_debug.errors import Problem
from tekton_debug.lsp.actions import older_tekton_warnings
from tekton_debug.lsp.document import Analysis
from tekton_debug.lsp.source import Source
from tekton_debug.tekton.validation import diagnose

SOURCE = "tekton-debug"

_SEVERITY = {"error": types.DiagnosticSeverity.Error,
             "warning": types.DiagnosticSeverity.Warning}


def diagnostics(analysis: Analysis, source: Source, resolver=None) -> list[types.Diagnostic]:
    """The problems `tekton-debug check` reports for this file (warnings as warnings); nothing
    for YAML that is not meant for Tekton (a ConfigMap, a Deployment). Remote references are
    asked of ``resolver`` (the server gives a cache-only one: no network while typing); one that
    cannot be resolved that way is a warning."""
    if not (analysis.tekton or any(_meant_for_tekton(d.data) for d in analysis.docs)):
        return []
    out = []
    for p in problems(analysis, resolver):
        if p.file not in (None, analysis.file):
            continue  # a neighbour's problem belongs to that file
        out.append(types.Diagnostic(range=problem_range(p, source), message=message(p),
                                    severity=_SEVERITY.get(p.severity,
                                                           types.DiagnosticSeverity.Error),
                                    source=SOURCE))
    return out + older_tekton_warnings(analysis, source)


def problems(analysis: Analysis, resolver=None) -> list[Problem]:
    """What ``diagnose`` finds in the analysed text, from the documents the analysis parsed (or
    its syntax error): the text is parsed once per version, not once more for diagnostics."""
    if analysis.syntax_error is not None:
        return [analysis.syntax_error]
    return diagnose(analysis.text, analysis.file, docs=analysis.docs, resolver=resolver,
                    search=analysis.file is not None, remote_severity="warning")


def _meant_for_tekton(data: object) -> bool:
    """A tekton.dev object, or a Task or TaskRun whatever its apiVersion: `kind: task` and a
    Task without apiVersion are the CLI's errors, so they are the editor's too."""
    if not isinstance(data, dict):
        return False
    api = data.get("apiVersion")
    return (isinstance(api, str) and api.startswith("tekton.dev/")) or \
        (api is None and data.get("kind") in ("Task", "TaskRun"))


def message(p: Problem) -> str:
    return f"{p.message}\nfix: {p.fix}" if p.fix else p.message


def problem_range(p: Problem, source: Source) -> types.Range:
    if not p.line:
        return source.line_range(0)
    line0 = p.line - 1
    col0 = (p.column or 1) - 1
    single = p.end_line in (None, p.line) and p.end_column is not None
    if single and p.end_column - 1 > col0:  # type: ignore[operator]
        return source.range(line0, col0, line0, p.end_column - 1)  # type: ignore[operator]
    return source.line_range(line0, col0)
