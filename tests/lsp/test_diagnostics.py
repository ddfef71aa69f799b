"""Diagnostics as the editor shows them: the CLI's message and fix, on the line at fault."""

from __future__ import annotations

import subprocess
import sys

import pytest
from lsprotocol import types

from tests.lsp.conftest import TASK, TASKRUN, line_of, position_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

MISSPELT = TASK.replace("$(params.version)", "$(params.versoin)")


async def test_valid_task_has_no_diagnostics(editor):
    _, diags = await editor.open(TASK)

    assert diags == []


async def test_undeclared_param_is_reported_at_its_reference(editor):
    _, diags = await editor.open(MISSPELT)

    assert len(diags) == 1
    d = diags[0]
    start = position_of(MISSPELT, "$(params.versoin)")
    assert d.range.start == start
    assert d.range.end == types.Position(line=start.line,
                                         character=start.character + len("$(params.versoin)"))
    assert d.severity == types.DiagnosticSeverity.Error
    assert 'param "versoin"' in d.message
    assert 'did you mean "version"' in d.message


async def test_diagnostic_says_what_the_cli_says(editor, tmp_path):
    uri, diags = await editor.open(MISSPELT, name="misspelt.yaml")

    path = tmp_path / "misspelt.yaml"
    cli = subprocess.run([sys.executable, "-m", "tekton_debug", "run", str(path)],
                         capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60)
    assert cli.returncode == 2
    message, fix = diags[0].message.split("\nfix: ")
    line = diags[0].range.start.line + 1
    assert f"{path}:{line}:" in cli.stderr
    assert message in cli.stderr
    assert f"fix: {fix}" in cli.stderr


async def test_fixing_the_document_clears_its_diagnostics(editor):
    uri, diags = await editor.open(MISSPELT)
    assert len(diags) == 1

    after = await editor.change(uri, 2, TASK)

    assert after == []


async def test_typing_a_mistake_reports_it(editor):
    uri, _ = await editor.open(TASK)

    after = await editor.change(uri, 2, MISSPELT)

    assert [d.range.start.line for d in after] == [line_of(MISSPELT, "$(params.versoin)")]


async def test_saving_publishes_the_diagnostics_again(editor):
    uri, diags = await editor.open(MISSPELT)

    again = await editor._diagnostics_after(uri, lambda: editor.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))))

    assert again == diags


async def test_before_steps_naming_a_missing_step_is_reported_at_the_entry(editor):
    text = TASKRUN.replace("- package", "- packge")

    _, diags = await editor.open(text)

    assert len(diags) == 1
    assert diags[0].range.start == position_of(text, "packge")
    assert 'beforeSteps names step "packge"' in diags[0].message
    assert 'did you mean "package"' in diags[0].message


async def test_yaml_syntax_error_gives_one_diagnostic_at_its_line(editor):
    broken = TASK.replace("image: alpine:3.20\n", "image: alpine: 3.20\n", 1)

    uri, diags = await editor.open(broken)

    assert len(diags) == 1
    assert diags[0].range.start.line == line_of(broken, "image: alpine: 3.20")
    assert diags[0].message.startswith("YAML syntax error")
    # the server is still serving, and recovers when the text is fixed
    assert await editor.change(uri, 2, TASK) == []


async def test_yaml_that_is_not_tekton_gets_no_diagnostics(editor):
    _, diags = await editor.open("""\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
        spec:
          template:
            spec:
              containers:
                - name: web
                  args: ["$(params.nothing)"]
        """)

    assert diags == []


async def test_broken_yaml_that_is_not_tekton_gets_no_diagnostics(editor):
    _, diags = await editor.open("""\
        kind: ConfigMap
        data:
          a: b: c
        """)

    assert diags == []


async def test_columns_count_utf16_units_after_wide_characters(editor):
    text = TASK.replace("echo building $(params.version)", 'echo "😀 é" $(params.versoin)')

    _, diags = await editor.open(text)

    line = text.splitlines()[diags[0].range.start.line]
    before = line[:line.index("$(params.versoin)")]
    assert diags[0].range.start.character == len(before.encode("utf-16-le")) // 2
    assert diags[0].range.start.character == len(before) + 1  # the emoji is two UTF-16 units
