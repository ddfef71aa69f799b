"""Hover, document symbols and go-to-definition, as the editor shows them."""

from __future__ import annotations

import pytest
from lsprotocol import types

from tests.lsp.conftest import TASK, TASKRUN, line_of, position_of

pytestmark = pytest.mark.asyncio(loop_scope="module")

DEBUG_RUN = """\
apiVersion: tekton.dev/v1
kind: TaskRun
metadata:
  name: old-and-new
spec:
  debug:
    breakpoint: ["onFailure"]
  taskSpec:
    steps:
      - name: build
        image: alpine
        script: exit 1
"""


def doc(uri):
    return types.TextDocumentIdentifier(uri=uri)


async def hover_at(client, uri, position):
    return await client.text_document_hover_async(types.HoverParams(
        text_document=doc(uri), position=position))


async def definition_at(client, uri, position):
    result = await client.text_document_definition_async(types.DefinitionParams(
        text_document=doc(uri), position=position))
    if isinstance(result, (list, tuple)):
        assert len(result) == 1
        return result[0]
    return result


# ---- hover ------------------------------------------------------------------------------------

async def test_hover_over_a_param_shows_its_type_default_and_description(client, editor):
    uri, _ = await editor.open(TASK)

    h = await hover_at(client, uri, position_of(TASK, "$(params.version)", 5))

    text = h.contents.value
    assert "version" in text and "(string)" in text
    assert "The version to build." in text
    assert "Default: `1.0`" in text
    start = position_of(TASK, "$(params.version)")
    assert h.range == types.Range(start=start, end=types.Position(
        line=start.line, character=start.character + len("$(params.version)")))


async def test_hover_over_a_required_param_says_it_has_no_default(client, editor):
    text = TASK.replace("echo app >", "echo $(params.flags[*]) >")
    uri, _ = await editor.open(text)

    h = await hover_at(client, uri, position_of(text, "$(params.flags[*])", 3))

    assert "(array)" in h.contents.value
    assert "Required: no default." in h.contents.value


async def test_hover_shows_an_array_or_object_default_as_json(client, editor):
    text = TASK.replace("type: array\n", "type: array\n      default: [-v, --race]\n") \
        .replace("echo app >", "echo $(params.flags[*]) >")
    assert "default: [-v, --race]" in text
    uri, _ = await editor.open(text)

    flags = await hover_at(client, uri, position_of(text, "$(params.flags[*])", 3))
    target = await hover_at(client, uri, position_of(text, "$(params.target.os)", 3))

    assert 'Default: `["-v", "--race"]`' in flags.contents.value
    assert 'Default: `{"os": "linux"}`' in target.contents.value


async def test_hover_over_a_result_path_shows_where_it_is_written(client, editor):
    uri, _ = await editor.open(TASK)

    h = await hover_at(client, uri, position_of(TASK, "$(results.artifact.path)", 12))

    assert "/tekton/results/artifact" in h.contents.value
    assert "The built file's name." in h.contents.value


async def test_hover_over_a_workspace_path_shows_its_mount_path(client, editor):
    uri, _ = await editor.open(TASK)

    h = await hover_at(client, uri, position_of(TASK, "$(workspaces.source.path)", 14))

    assert "`/src`" in h.contents.value


async def test_hover_over_an_undeclared_param_says_so(client, editor):
    text = TASK.replace("$(params.version)", "$(params.versoin)")
    uri, _ = await editor.open(text)

    h = await hover_at(client, uri, position_of(text, "$(params.versoin)", 4))

    assert 'param "versoin" is not declared' in h.contents.value


async def test_hover_over_before_steps_names_the_tekton_versions(client, editor):
    uri, _ = await editor.open(TASKRUN)

    h = await hover_at(client, uri, position_of(TASKRUN, "beforeSteps", 3))

    assert "v0.63" in h.contents.value
    assert "onFailure: enabled" in h.contents.value
    assert h.range.start == position_of(TASKRUN, "beforeSteps")


async def test_hover_over_on_failure_and_breakpoints_and_debug(client, editor):
    uri, _ = await editor.open(TASKRUN)

    on_failure = await hover_at(client, uri, position_of(TASKRUN, "onFailure"))
    breakpoints = await hover_at(client, uri, position_of(TASKRUN, "breakpoints", 2))
    debug = await hover_at(client, uri, position_of(TASKRUN, "debug:", 1))

    assert "The only value is `enabled`" in on_failure.contents.value
    assert "v0.53 and later" in breakpoints.contents.value
    assert "enable-api-fields" in debug.contents.value


async def test_hover_over_the_old_breakpoint_spelling_says_which_versions_accept_it(client, editor):
    uri, _ = await editor.open(DEBUG_RUN)

    h = await hover_at(client, uri, position_of(DEBUG_RUN, "breakpoint:", 3))

    assert "v0.26 to v0.52" in h.contents.value
    assert "v0.53 and later no longer accept" in h.contents.value


async def test_no_hover_on_ordinary_keys_or_outside_tekton(client, editor):
    uri, _ = await editor.open(TASK)
    assert await hover_at(client, uri, position_of(TASK, "image", 1)) is None

    other = "apiVersion: v1\nkind: ConfigMap\ndata:\n  run: $(params.version)\n"
    uri, _ = await editor.open(other, name="config.yaml")
    assert await hover_at(client, uri, position_of(other, "$(params", 3)) is None


# ---- document symbols -------------------------------------------------------------------------

async def test_symbols_list_the_task_its_steps_params_results_and_workspaces(client, editor):
    uri, _ = await editor.open(TASK)

    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc(uri)))

    assert [(s.name, s.detail) for s in symbols] == [("build-app", "Task")]
    task = symbols[0]
    assert task.range.start.line == line_of(TASK, "apiVersion")
    groups = {g.name: g for g in task.children}
    assert list(groups) == ["params", "results", "workspaces", "steps"]
    assert [s.name for s in groups["params"].children] == ["version", "flags", "target"]
    assert [s.name for s in groups["results"].children] == ["artifact"]
    assert [s.name for s in groups["workspaces"].children] == ["source"]
    build, package = groups["steps"].children
    assert (build.name, build.detail) == ("build", "alpine:3.20")
    assert build.range.start.line == line_of(TASK, "- name: build")
    assert build.range.end.line == line_of(TASK, "echo app >")
    assert build.selection_range.start == position_of(TASK, "- name: build", len("- name: "))
    assert package.range.start.line == line_of(TASK, "- name: package")
    assert package.range.end.line == line_of(TASK, "printf app")


async def test_symbols_of_a_file_with_a_taskrun_and_a_task(client, editor):
    uri, _ = await editor.open(TASKRUN)

    symbols = await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc(uri)))

    assert [(s.name, s.detail) for s in symbols] == [("build-app-run", "TaskRun"),
                                                    ("build-app", "Task")]
    assert symbols[0].range.end.line < line_of(TASKRUN, "---") < symbols[1].range.start.line


async def test_no_symbols_outside_tekton(client, editor):
    other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"
    uri, _ = await editor.open(other)

    assert not await client.text_document_document_symbol_async(
        types.DocumentSymbolParams(text_document=doc(uri)))


# ---- go to definition -------------------------------------------------------------------------

async def test_param_reference_leads_to_its_declaration(client, editor):
    uri, _ = await editor.open(TASK)

    loc = await definition_at(client, uri, position_of(TASK, "$(params.version)", 10))

    assert loc.uri == uri
    assert loc.range.start == position_of(TASK, "version")  # "- name: version"
    assert loc.range.end.character == loc.range.start.character + len("version")


async def test_object_key_reference_leads_to_the_key_in_properties(client, editor):
    uri, _ = await editor.open(TASK)

    loc = await definition_at(client, uri, position_of(TASK, "$(params.target.os)", 16))

    assert loc.range.start == position_of(TASK, "os: {type")


async def test_result_and_workspace_references_lead_to_their_declarations(client, editor):
    uri, _ = await editor.open(TASK)

    result = await definition_at(client, uri, position_of(TASK, "$(results.artifact.path)", 3))
    workspace = await definition_at(client, uri, position_of(TASK, "$(workspaces.source", 15))

    assert result.range.start == position_of(TASK, "artifact")
    assert workspace.range.start == position_of(TASK, "source")


async def test_before_steps_entry_leads_to_its_step(client, editor):
    uri, _ = await editor.open(TASKRUN)

    loc = await definition_at(client, uri, position_of(TASKRUN, "- package", 4))

    assert loc.range.start == position_of(TASKRUN, "package", occurrence=1)
    assert loc.range.start.line == line_of(TASKRUN, "- name: package")


async def test_undeclared_reference_has_no_definition(client, editor):
    text = TASK.replace("$(params.version)", "$(params.versoin)")
    uri, _ = await editor.open(text)

    assert not await definition_at(client, uri, position_of(text, "$(params.versoin)", 10))


async def test_before_steps_entry_leads_to_the_step_of_a_task_in_a_neighbouring_file(
        client, editor, tmp_path):
    (tmp_path / "task.yaml").write_text(TASK)
    run_only = TASKRUN.split("---\n")[0]
    uri, diags = await editor.open(run_only, name="run.yaml")
    assert diags == []

    loc = await definition_at(client, uri, position_of(run_only, "- package", 4))

    assert loc.uri == (tmp_path / "task.yaml").as_uri()
    assert loc.range.start == position_of(TASK, "- name: package", len("- name: "))


# ---- StepActions ------------------------------------------------------------------------------

STEP_ACTION = """\
apiVersion: tekton.dev/v1beta1
kind: StepAction
metadata:
  name: say-hello
spec:
  image: alpine:3.20
  script: echo hello
"""

USES_ACTION = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: greets
spec:
  steps:
    - name: hello
      ref:
        name: say-hello
"""


async def test_definition_of_a_step_ref_is_the_stepaction_next_to_the_file(client, editor):
    (editor.tmp_path / "action.yaml").write_text(STEP_ACTION)
    uri, diagnostics = await editor.open(USES_ACTION)
    assert diagnostics == []

    loc = await definition_at(client, uri, position_of(USES_ACTION, "say-hello", 2))

    assert loc.uri.endswith("/action.yaml")
    assert loc.range.start == types.Position(line=3, character=8)


async def test_a_step_ref_to_no_stepaction_is_an_error_in_the_editor(client, editor):
    _, diagnostics = await editor.open(USES_ACTION.replace("say-hello", "say-bye"))
    (d,) = diagnostics
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.message.startswith('StepAction "say-bye" (steps[0].ref) was not found')


async def test_warnings_show_as_warnings(client, editor):
    _, diagnostics = await editor.open(STEP_ACTION.replace("alpine:3.20", "alpine"))
    (d,) = diagnostics
    assert d.severity == types.DiagnosticSeverity.Warning
    assert d.message.startswith("image 'alpine' has neither tag nor digest")
