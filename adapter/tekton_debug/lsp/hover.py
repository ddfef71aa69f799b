"""Hover: what a ``$(...)`` variable is, what the debug keys do in which Tekton release, and
what a remote reference (``taskRef``/a step's ``ref`` with a ``resolver``) resolves to, from the
cache."""

from __future__ import annotations

from lsprotocol import types

from tekton_debug.lsp.document import Analysis, referenced_task
from tekton_debug.lsp.refs import reference_at, resolve
from tekton_debug.lsp.source import Source
from tekton_debug.tekton.yamlpos import Path

_ALPHA = ("Tekton accepts `debug` only when the `feature-flags` ConfigMap (namespace "
          "`tekton-pipelines`) sets `enable-api-fields: \"alpha\"`.")

# (the key's path, ending with the key) -> what it does; "*" matches a TaskRun's spec base
DEBUG_KEYS: dict[Path, str] = {
    ("spec", "debug"): (
        "**debug**: pause the TaskRun's steps for debugging.\n\n"
        "- `breakpoints: {onFailure: enabled, beforeSteps: [...]}`: Tekton v0.53 and later\n"
        "- `breakpoint: [\"onFailure\"]`: Tekton v0.26 to v0.52\n\n" + _ALPHA + "\n\n"
        "PipelineRuns have no debug field: debug one TaskRun at a time."),
    ("spec", "debug", "breakpoints"): (
        "**breakpoints** (Tekton v0.53 and later)\n\n"
        "- `onFailure: enabled`: a failed step pauses instead of exiting\n"
        "- `beforeSteps: [<step>, ...]` (v0.63 and later): pause before these steps start\n\n"
        "Since v0.62 Tekton rejects `breakpoints` without `onFailure: enabled`."),
    ("spec", "debug", "breakpoints", "onFailure"): (
        "**onFailure**: when a step fails it pauses, keeping its container, instead of exiting. "
        "The only value is `enabled`.\n\n"
        "Continue with `debug-continue` (the step counts as passed) or `debug-fail-continue` "
        "(failed); the steps after it run either way. A step timeout or a cancellation never "
        "pauses, and the pause overrides `onError: continue`."),
    ("spec", "debug", "breakpoints", "beforeSteps"): (
        "**beforeSteps** (Tekton v0.63 and later): pause before each listed step starts.\n\n"
        "Raw step names (no `step-` prefix), each once. Works only together with "
        "`onFailure: enabled`. An unnamed step cannot be listed: name it `unnamed-<i>` to keep "
        "its container name.\n\n"
        "Run the step with `debug-beforestep-continue`, or skip it as failed with "
        "`debug-beforestep-fail-continue`."),
    ("spec", "debug", "breakpoint"): (
        "**breakpoint** (Tekton v0.26 to v0.52): `breakpoint: [\"onFailure\"]` pauses a failed "
        "step.\n\nTekton v0.53 and later no longer accept this spelling: write "
        "`breakpoints: {onFailure: enabled}`."),
    ("spec", "breakpoint"): (
        "**breakpoint** (the TEP-0042 draft, never shipped in Tekton): "
        "`breakpoint: {onFailure: true}`.\n\n"
        "tekton-debug reads it as `debug.breakpoints.onFailure: enabled`; a cluster rejects it, "
        "so prefer `debug: {breakpoints: {onFailure: enabled}}`."),
    ("spec", "breakpoint", "onFailure"): (
        "**onFailure: true** (the TEP-0042 draft's spelling): pause a failed step. A cluster "
        "rejects it; write `debug: {breakpoints: {onFailure: enabled}}`."),
}


def hover(analysis: Analysis, fallback: Analysis | None, source: Source, line0: int,
          column0: int, resolver=None) -> types.Hover | None:
    if not analysis.tekton:
        return None
    if resolver is not None:
        remote = _remote(analysis, source, line0, resolver)
        if remote is not None:
            return remote
    known = analysis if analysis.objects else fallback
    if known is None or not known.objects:
        return None
    obj = known.object_at(line0 + 1)
    if obj is None:
        return None
    text = source.line(line0)
    ref = reference_at(text, column0)
    if ref is not None:
        target = resolve(ref.name, referenced_task(known, obj))
        if target is None:
            return None
        return _hover(target.markdown, source.range(line0, ref.start, line0, ref.end))
    if known is not analysis:
        return None
    for path, span in obj.doc.keys.items():
        if span.line == line0 + 1 and span.column - 1 <= column0 < span.end_column - 1:
            if obj.kind == "TaskRun" and path in DEBUG_KEYS:
                return _hover(DEBUG_KEYS[path], source.span_range(span))
    return None


def _hover(markdown: str, rng: types.Range) -> types.Hover:
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown,
                                                    value=markdown), range=rng)


def _remote(analysis: Analysis, source: Source, line0: int, resolver) -> types.Hover | None:
    """On the lines of a remote reference: what it resolves to (``resolver`` answers from the
    cache), or why it does not."""
    from tekton_debug.tekton.finder import Finder

    for d in analysis.docs:
        for path, span in d.values.items():
            if not (span.line <= line0 + 1 <= span.end_line) or not path:
                continue
            is_ref = path[-1] == "taskRef" or (len(path) >= 3 and path[-1] == "ref"
                                               and path[-3] == "steps")
            value = d.data
            for key in path if is_ref else ():
                value = value[key]
            if not is_ref or not isinstance(value, dict) or not value.get("resolver"):
                continue
            kind = "Task" if path[-1] == "taskRef" else "StepAction"
            found = Finder(analysis.docs, analysis.file, resolver=resolver).find(
                kind, value, d, path)
            if found.doc is not None:
                meta = found.doc.data.get("metadata") or {}
                spec = found.doc.data.get("spec") or {}
                text = (f"**{kind} {meta.get('name')}**, from the cache: {found.source}")
                if isinstance(spec, dict) and spec.get("description"):
                    text += f"\n\n{spec['description']}"
                if isinstance(spec, dict) and isinstance(spec.get("steps"), list):
                    names = [st.get("name") or f"unnamed-{i}" for i, st in
                             enumerate(spec["steps"]) if isinstance(st, dict)]
                    text += "\n\nSteps: " + ", ".join(f"`{n}`" for n in names)
            elif found.problem is not None:
                text = f"**{kind}**: {found.problem.message}" + (
                    f"\n\n{found.problem.fix}" if found.problem.fix else "")
            else:
                continue
            return _hover(text, source.span_range(span))
    return None
