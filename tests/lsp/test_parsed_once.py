"""The language server parses a document's text once per version: its diagnostics come from the
documents its analysis parsed, and are the ones ``tekton-debug check`` finds in the text."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from tekton_debug.lsp.diagnostics import problems
from tekton_debug.lsp.document import analyse
from tekton_debug.tekton import validation
from tekton_debug.tekton.validation import diagnose

REPO = Path(__file__).resolve().parents[2]
FILES = sorted(p for d in ("examples", "tests/data") for p in (REPO / d).rglob("*.y*ml"))
TEXTS = {
    "syntax error": "apiVersion: tekton.dev/v1\nkind: Task\nspec:\n  steps: [\n",
    "tab": "apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n\tname: t\n",
    "config map": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    "empty": "",
    "two documents": "apiVersion: tekton.dev/v1\nkind: Task\nmetadata: {name: a}\nspec:\n"
                     "  steps: [{image: alpine, script: echo $(params.x)}]\n---\n"
                     "apiVersion: tekton.dev/v1\nkind: TaskRun\nmetadata: {name: r}\nspec:\n"
                     "  taskRef: {name: missing}\n",
}


def from_text(text: str, file: str) -> list:
    """What the editor showed before: ``diagnose`` parsing the text itself."""
    return diagnose(text, file, search=True, remote_severity="warning")


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_diagnostics_from_the_analysis_are_those_of_the_text(path):
    text = path.read_text()
    analysis = analyse(text, str(path))
    data = copy.deepcopy([d.data for d in analysis.docs])

    assert problems(analysis) == from_text(text, str(path))
    assert [d.data for d in analysis.docs] == data, "diagnostics changed the analysed documents"


@pytest.mark.parametrize("name", TEXTS)
def test_diagnostics_of_broken_and_other_texts_are_those_of_the_text(name, tmp_path):
    file = str(tmp_path / "doc.yaml")
    assert problems(analyse(TEXTS[name], file)) == from_text(TEXTS[name], file)


def test_the_examples_compared_include_problems():
    found = [p for path in FILES for p in problems(analyse(path.read_text(), str(path)))]
    assert len({p.file for p in found}) >= 20  # the bad files of tests/data, each its own


def test_diagnostics_do_not_parse_the_text_again(monkeypatch, tmp_path):
    text = TEXTS["two documents"]
    analysis = analyse(text, str(tmp_path / "doc.yaml"))

    def parse(*args, **kwargs):
        raise AssertionError("the text was parsed again")

    monkeypatch.setattr(validation, "load_documents", parse)
    found = problems(analysis)
    assert any('param "x"' in p.message for p in found)
    assert any('"missing"' in p.message for p in found)
