"""Warnings about older Tekton releases, each with its quick fix."""

from __future__ import annotations

import textwrap

import pytest
from lsprotocol import types

from tekton_debug.tekton.loader import load_text

pytestmark = pytest.mark.asyncio(loop_scope="module")

BLOCK = """\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: pause-before-test
spec:
  debug:
    breakpoints:
      beforeSteps: [test]
  taskSpec:
    steps:
      - name: test
        image: alpine:3.20
        script: echo
"""

FLOW = BLOCK.replace("    breakpoints:\n      beforeSteps: [test]\n",
                     "    breakpoints: {beforeSteps: [test]}\n")


def apply(text: str, edit: types.TextEdit) -> str:
    lines = text.splitlines(keepends=True)
    start, end = edit.range.start, edit.range.end
    offset = sum(len(x) for x in lines[:start.line]) + start.character
    stop = sum(len(x) for x in lines[:end.line]) + end.character
    return text[:offset] + edit.new_text + text[stop:]


async def quick_fix(editor, text: str) -> tuple[types.Diagnostic, str]:
    uri, diags = await editor.open(text, name="run.yaml")
    [warning] = diags
    actions = await editor.client.text_document_code_action_async(types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), range=warning.range,
        context=types.CodeActionContext(diagnostics=[warning])))
    [action] = actions
    assert action.kind == types.CodeActionKind.QuickFix
    [edit] = action.edit.changes[uri]
    return warning, apply(textwrap.dedent(text), edit)


@pytest.mark.parametrize("text", [BLOCK, FLOW], ids=["block", "flow"])
async def test_breakpoints_without_on_failure_warn_of_older_tekton_with_a_quick_fix(editor, text):
    warning, fixed = await quick_fix(editor, text)

    assert warning.severity == types.DiagnosticSeverity.Warning
    assert warning.range.start.line == 6  # the breakpoints key
    assert "v1.15 and earlier" in warning.message and "9719" in warning.message
    run = load_text(fixed, file="run.yaml")
    assert run.debug.on_failure and run.debug.before_steps == ["test"]
    _, after = await editor.open(fixed, name="fixed.yaml")
    assert after == []


async def test_breakpoints_with_on_failure_have_no_warning(editor):
    text = BLOCK.replace("      beforeSteps: [test]\n",
                         "      onFailure: enabled\n      beforeSteps: [test]\n")
    _, diags = await editor.open(text, name="run.yaml")

    assert diags == []
