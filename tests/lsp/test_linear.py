"""Diagnosing a document costs time linear in its size: the text is split into lines once, not
once per problem or per reference (10,000 problems took 33 s when each split it again)."""

from __future__ import annotations

from tekton_debug.lsp import document
from tekton_debug.lsp.diagnostics import diagnostics
from tekton_debug.lsp.document import analyse
from tekton_debug.lsp.source import Source
from tekton_debug.tekton import validation, yamlpos


class CountingText(str):
    """A document's text that counts how often it is split into lines."""

    splits = 0

    def splitlines(self, *args, **kwargs):  # type: ignore[override]
        CountingText.splits += 1
        return super().splitlines(*args, **kwargs)


def task_with_bad_references(steps: int) -> str:
    head = ("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: big\nspec:\n"
            "  params:\n    - name: known\n  steps:\n")
    return head + "".join(
        f"    - name: s{i}\n      image: alpine:3.20\n      script: |\n"
        f"        echo $(params.unknown{i}) $(params.known)\n" for i in range(steps))


def counting_documents(text, file=None):
    """load_documents, with each document's text counting its splits from then on."""
    docs = yamlpos.load_documents(text, file)
    for doc in docs:
        doc.text, doc._lines = CountingText(doc.text), None
    return docs


def test_a_thousand_problems_split_the_text_a_bounded_number_of_times(monkeypatch):
    monkeypatch.setattr(validation, "load_documents", counting_documents)
    monkeypatch.setattr(document, "load_documents", counting_documents)
    text = task_with_bad_references(1000)
    CountingText.splits = 0
    analysis = analyse(text, "/work/big.yaml")
    found = diagnostics(analysis, Source(text, "file:///work/big.yaml"))
    assert len(found) == 1000
    assert all("unknown" in d.message for d in found)
    assert [d.range.start.line for d in found[:2]] == [11, 15]  # each at its own line
    assert CountingText.splits <= 2  # once per parse (analysis, diagnosis): not per problem
