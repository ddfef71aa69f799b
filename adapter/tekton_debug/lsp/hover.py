"""Hover: what a ``$(...)`` variable is, and what the debug keys do in which Tekton release."""

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
          column0: int) -> types.Hover | None:
    if not analysis.tekton:
        return None
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
