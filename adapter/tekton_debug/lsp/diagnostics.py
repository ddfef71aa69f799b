"""Diagnostics: the problems ``tekton.validation.diagnose`` finds, where they stand.

The message is the one the CLI prints (``tekton-debug run``), followed by its fix on a second line.
A problem that spans several lines (a whole step) is underlined on its first line only, where its
key or entry starts; the full extent of the entry is obvious from the indentation.
"""

from __future__ import annotations

from lsprotocol import types

from tekton_debug.errors import Problem
from tekton_debug.lsp.document import Analysis
from tekton_debug.lsp.source import Source
from tekton_debug.tekton.validation import diagnose

SOURCE = "tekton-debug"


def diagnostics(analysis: Analysis, source: Source) -> list[types.Diagnostic]:
    """Nothing for YAML that is not a Task or TaskRun."""
    if not analysis.tekton:
        return []
    out = []
    for p in diagnose(analysis.text, analysis.file):
        if p.file not in (None, analysis.file):
            continue  # a neighbour's problem belongs to that file
        out.append(types.Diagnostic(range=problem_range(p, source), message=message(p),
                                    severity=types.DiagnosticSeverity.Error, source=SOURCE))
    return out


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
