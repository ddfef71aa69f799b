"""Code lenses: "Debug Task" / "Debug TaskRun" on the ``kind:`` line of the object that runs.

The lens runs the client command ``tekton.debugFile`` with the document's URI. A file runs its
first TaskRun, else its first Task (``tekton.loader.choose_document``), so the lens stands on that
object only.
"""

from __future__ import annotations

from lsprotocol import types

from tekton_debug.lsp.document import Analysis, TektonObject
from tekton_debug.lsp.source import Source

DEBUG_FILE_COMMAND = "tekton.debugFile"


def runnable(analysis: Analysis) -> TektonObject | None:
    for kind in ("TaskRun", "Task"):
        for o in analysis.objects:
            if o.kind == kind:
                return o
    return None


def code_lenses(analysis: Analysis, source: Source) -> list[types.CodeLens]:
    o = runnable(analysis)
    if o is None:
        return []
    key = o.doc.key_span(("kind",))
    value = o.doc.span(("kind",))
    if key is None or value is None:
        return []
    rng = source.range(key.line - 1, key.column - 1, value.end_line - 1, value.end_column - 1)
    return [types.CodeLens(range=rng, command=types.Command(
        title=f"Debug {o.kind}", command=DEBUG_FILE_COMMAND, arguments=[source.uri]))]
