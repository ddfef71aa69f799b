"""The files next to a document are read once while they are unchanged, and again when one of
them is saved, added or removed."""

from __future__ import annotations

import os

from tekton_debug.lsp.neighbours import Neighbours
from tekton_debug.tekton import finder

TASK = """\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: {name}
spec:
  params: [{{name: {param}}}]
  steps: [{{image: alpine:3.20}}]
"""


def params(doc) -> list[str]:
    return [p["name"] for p in doc.data["spec"]["params"]]


def counting(monkeypatch) -> list[str]:
    """The files parsed from now on."""
    parsed: list[str] = []
    load = finder.load_documents

    def counted(text, file=None):
        parsed.append(os.path.basename(file))
        return load(text, file)

    monkeypatch.setattr(finder, "load_documents", counted)
    return parsed


def test_a_directory_is_read_once_while_its_files_are_unchanged(tmp_path, monkeypatch):
    for name in ("a", "b", "c"):
        (tmp_path / f"{name}.yaml").write_text(TASK.format(name=name, param="x"))
    parsed = counting(monkeypatch)
    neighbours = Neighbours()
    here = str(tmp_path / "run.yaml")

    assert params(neighbours.local("Task", "c", [], here)) == ["x"]
    assert params(neighbours.local("Task", "b", [], here)) == ["x"]
    assert neighbours.local("Task", "none", [], here) is None
    assert sorted(parsed) == ["a.yaml", "b.yaml", "c.yaml"]


def test_a_file_saved_added_or_removed_is_seen_at_the_next_lookup(tmp_path, monkeypatch):
    (tmp_path / "a.yaml").write_text(TASK.format(name="a", param="x"))
    neighbours = Neighbours()
    here = str(tmp_path / "run.yaml")
    assert params(neighbours.local("Task", "a", [], here)) == ["x"]

    (tmp_path / "a.yaml").write_text(TASK.format(name="a", param="renamed"))
    assert params(neighbours.local("Task", "a", [], here)) == ["renamed"]

    (tmp_path / "b.yml").write_text(TASK.format(name="b", param="y"))
    assert params(neighbours.local("Task", "b", [], here)) == ["y"]

    (tmp_path / "a.yaml").unlink()
    assert neighbours.local("Task", "a", [], here) is None


def test_what_the_document_holds_is_found_without_reading_its_directory(tmp_path, monkeypatch):
    (tmp_path / "other.yaml").write_text(TASK.format(name="a", param="x"))
    from tekton_debug.tekton.yamlpos import load_documents

    docs = load_documents(TASK.format(name="a", param="mine"), str(tmp_path / "run.yaml"))
    parsed = counting(monkeypatch)

    assert params(Neighbours().local("Task", "a", docs, str(tmp_path / "run.yaml"))) == ["mine"]
    assert parsed == []


def test_only_the_last_directories_used_are_kept(tmp_path, monkeypatch):
    folders = []
    for n in range(3):
        folders.append(tmp_path / f"d{n}")
        folders[-1].mkdir()
        (folders[-1] / "t.yaml").write_text(TASK.format(name="t", param=f"p{n}"))
    parsed = counting(monkeypatch)
    neighbours = Neighbours(kept=2)
    for folder in folders + folders[-1:]:
        neighbours.local("Task", "t", [], str(folder / "run.yaml"))
    assert len(parsed) == 3  # the last one was kept
    neighbours.local("Task", "t", [], str(folders[0] / "run.yaml"))
    assert len(parsed) == 4  # the first one was not
