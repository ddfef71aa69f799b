"""Pipelines in the editor: the "Debug Pipeline" code lens, completion of ``$(tasks.``, and go to
definition from a pipeline task's ``taskRef`` (to the Task) and from ``$(tasks.X.results.Y)`` (to
the result's declaration in X's Task). Diagnostics come from ``tekton.validation.diagnose``, which
checks Pipelines with the same validation as ``run`` and the DAP launch.

Each function reads the document's :class:`~tekton_debug.lsp.document.Analysis` (its YAML parsed
once, for every feature) and answers None when the place is not a Pipeline's, so that the Task
features answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from tekton_debug.lsp.completion import typed_variable
from tekton_debug.lsp.document import Analysis, task_info
from tekton_debug.lsp.lenses import DEBUG_FILE_COMMAND
from tekton_debug.lsp.refs import reference_at
from tekton_debug.lsp.source import Source, uri_of
from tekton_debug.tekton.matrix import is_fanned_out
from tekton_debug.tekton.pipeline import task_references
from tekton_debug.tekton.pipeline_loader import PIPELINE_KINDS
from tekton_debug.tekton.validation import kind_of
from tekton_debug.tekton.yamlpos import Path, Span, YamlDoc

_TYPED_TASKS = re.compile(r"^tasks\.(?P<rest>[A-Za-z0-9_.\-]*)$")


@dataclass
class _PipelineTask:
    name: str
    path: Path
    raw: dict
    is_finally: bool

    @property
    def matrixed(self) -> bool:
        return is_fanned_out(self.raw.get("matrix"))


@dataclass
class _Pipeline:
    doc: YamlDoc
    base: Path
    docs: list[YamlDoc]

    @property
    def tasks(self) -> list[_PipelineTask]:
        spec = _get(self.doc.data, self.base)
        out = []
        for key in ("tasks", "finally"):
            entries = spec.get(key) if isinstance(spec, dict) else None
            for i, pt in enumerate(entries if isinstance(entries, list) else []):
                if isinstance(pt, dict) and isinstance(pt.get("name"), str):
                    out.append(_PipelineTask(pt["name"], self.base + (key, i), pt,
                                             key == "finally"))
        return out

    def task_at(self, line: int) -> _PipelineTask | None:
        for t in self.tasks:
            span = self.doc.span(t.path)
            if span and span.line <= line <= span.end_line:
                return t
        return None

    def task_spec_of(self, t: _PipelineTask):
        """The declarations of ``t``'s Task: inline, or the Task its taskRef names."""
        if isinstance(t.raw.get("taskSpec"), dict):
            return task_info(self.doc, t.path + ("taskSpec",))
        task_doc = self.task_doc_of(t)
        return task_info(task_doc, ("spec",)) if task_doc is not None else None

    def task_doc_of(self, t: _PipelineTask) -> YamlDoc | None:
        ref = t.raw.get("taskRef")
        if not isinstance(ref, dict) or not isinstance(ref.get("name"), str):
            return None
        from tekton_debug.lsp.neighbours import NEIGHBOURS
        try:
            found = NEIGHBOURS.local("Task", ref["name"], self.docs, self.doc.file)
        except Exception:  # noqa: BLE001 - unreadable neighbours: not found
            return None
        return found if found is not None and found.located else None


def _get(data: Any, path: Path) -> Any:
    for p in path:
        data = data.get(p) if isinstance(data, dict) else None
    return data


def pipeline_at(analysis: Analysis, line: int) -> _Pipeline | None:
    """The Pipeline, or PipelineRun with a pipelineSpec, whose lines hold ``line`` (1-based)."""
    for d in analysis.docs:
        span = d.span(())
        if span is None or not span.line <= line <= span.end_line:
            continue
        kind = kind_of(d)
        if kind == "Pipeline":
            return _Pipeline(d, ("spec",), analysis.docs)
        if kind == "PipelineRun" and isinstance(_get(d.data, ("spec", "pipelineSpec")), dict):
            return _Pipeline(d, ("spec", "pipelineSpec"), analysis.docs)
    return None


# ---- the code lens ---------------------------------------------------------------------------

def pipeline_lenses(analysis: Analysis, source: Source) -> list[types.CodeLens] | None:
    """"Debug Pipeline" / "Debug PipelineRun" on the kind line of what the file runs (its first
    PipelineRun, else its first Pipeline, when it holds no TaskRun); None for other files."""
    docs = analysis.docs
    kinds = [kind_of(d) for d in docs]
    if "TaskRun" in kinds:
        return None
    chosen = next((d for kind in PIPELINE_KINDS for d in docs if kind_of(d) == kind
                   and str(d.data.get("apiVersion") or "").startswith("tekton.dev/")), None)
    if chosen is None:
        return None
    key, value = chosen.key_span(("kind",)), chosen.span(("kind",))
    if key is None or value is None:
        return []
    rng = source.range(key.line - 1, key.column - 1, value.end_line - 1, value.end_column - 1)
    return [types.CodeLens(range=rng, command=types.Command(
        title=f"Debug {kind_of(chosen)}", command=DEBUG_FILE_COMMAND, arguments=[source.uri]))]


# ---- completion ------------------------------------------------------------------------------

def pipeline_completion(analysis: Analysis, repaired: Analysis | None, source: Source, line0: int,
                        column0: int) -> list[types.CompletionItem] | None:
    """After ``$(tasks.``: the tasks a task may refer to, then ``results.`` / ``status`` /
    ``reason`` (and ``matrix.`` for a matrixed task), then the results its Task declares (with
    ``[*]`` for a matrixed task's, which are arrays). None elsewhere. ``repaired``: the analysis
    of the text without the line being typed, when no Pipeline of this text holds the line (it
    does not parse, or hides the Pipeline around it; ``completion.without_line``)."""
    typed = typed_variable(source.line(line0)[:column0])
    m = _TYPED_TASKS.match(typed) if typed is not None else None
    if m is None:
        return None
    pipeline = pipeline_at(analysis, line0 + 1)
    if pipeline is None and repaired is not None:
        pipeline = pipeline_at(repaired, line0 + 1)
    if pipeline is None:
        return None
    here = pipeline.task_at(line0 + 1)
    in_finally = bool(here and here.is_finally)
    rest = m.group("rest")
    parts = rest.split(".")
    items: list[tuple[str, str, types.CompletionItemKind]] = []
    tasks = {t.name: t for t in pipeline.tasks
             if not t.is_finally and (here is None or t.name != here.name)}
    if len(parts) == 1:
        items = [(n, "a task of this Pipeline", types.CompletionItemKind.Module) for n in tasks]
        if in_finally:
            items.append(("status)", "Succeeded, Failed, Completed or None: how the tasks ended",
                          types.CompletionItemKind.Constant))
    elif len(parts) == 2 and parts[0] in tasks:
        items = [("results.", "a result of this task", types.CompletionItemKind.Field)]
        if tasks[parts[0]].matrixed:
            items.append(("matrix.", "how many TaskRuns its matrix made, or results gathered",
                          types.CompletionItemKind.Field))
        if in_finally:
            items += [("status)", "Succeeded, Failed or None", types.CompletionItemKind.Constant),
                      ("reason)", "why it ended that way", types.CompletionItemKind.Constant)]
    elif len(parts) == 3 and parts[0] in tasks and parts[1] == "results":
        spec = pipeline.task_spec_of(tasks[parts[0]])
        whole = "[*]" if tasks[parts[0]].matrixed else ""
        for d in spec.results if spec else []:
            items.append((d.name + whole + ")", (f"every TaskRun's {d.name}, an array" if whole
                                                 else d.spec.description
                                                 or f"result of task {parts[0]}"),
                          types.CompletionItemKind.Field))
    elif len(parts) == 3 and parts[0] in tasks and parts[1] == "matrix" and \
            tasks[parts[0]].matrixed:
        spec = pipeline.task_spec_of(tasks[parts[0]])
        items = [("length)", "how many TaskRuns its matrix made", types.CompletionItemKind.Constant)]
        items += [(f"{d.name}.length)", f"how many TaskRuns gave {d.name}",
                   types.CompletionItemKind.Constant) for d in (spec.results if spec else [])]
    partial = parts[-1]
    after = source.line(line0)[column0:]
    rng = source.range(line0, column0 - len(partial), line0, column0)
    out = []
    for i, (label, detail, kind) in enumerate(items):
        text = label[:-1] if label.endswith(")") and after.startswith(")") else label
        out.append(types.CompletionItem(label=label.rstrip(")"), kind=kind, detail=detail,
                                        sort_text=f"{i:04d}", filter_text=label.rstrip(")"),
                                        text_edit=types.TextEdit(range=rng, new_text=text)))
    return out


# ---- go to definition ------------------------------------------------------------------------

def pipeline_definition(analysis: Analysis, source: Source, line0: int,
                        column0: int) -> types.Location | None:
    pipeline = pipeline_at(analysis, line0 + 1)
    if pipeline is None:
        return None
    ref = reference_at(source.line(line0), column0)
    if ref is not None:
        found = list(task_references(ref.text))
        if not found:
            return None
        target = next((t for t in pipeline.tasks if t.name == found[0].task), None)
        if target is None:
            return None
        if found[0].what == "results":
            spec = pipeline.task_spec_of(target)
            declared = spec.find("results", found[0].result) if spec else None
            if declared is not None:
                return _location(source, declared.doc, declared.name_span)
        return _location(source, pipeline.doc, pipeline.doc.span(target.path + ("name",)))
    for t in pipeline.tasks:
        span = pipeline.doc.span(t.path + ("taskRef", "name"))
        if span and span.line == line0 + 1 and span.column - 1 <= column0 <= span.end_column - 1:
            task_doc = pipeline.task_doc_of(t)
            if task_doc is None:
                return None
            return _location(source, task_doc, task_doc.span(("metadata", "name"))
                             or task_doc.span(()))
    return None


def _location(source: Source, doc: YamlDoc, span: Span | None) -> types.Location | None:
    if span is None:
        return None
    if doc.file and (source.file is None or doc.file != source.file):
        other = Source(doc.text, uri_of(doc.file), source.units)
        return types.Location(uri=other.uri, range=other.span_range(span))
    return types.Location(uri=source.uri, range=source.span_range(span))
