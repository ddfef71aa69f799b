"""Finding what a reference names: the Task of a ``taskRef``, the StepAction of a step's ``ref``.

Both go through the same search, as in Tekton: the documents of the same file first, then the
other ``*.yaml``/``*.yml`` files of its directory (or ``search_dir``) in name order, and a
reference with a ``resolver`` goes to the resolver the caller gave (``tekton_debug.resolution``:
any object with ``resolve(Reference) -> Resolved``), its params substituted from the run's as
Tekton does (``tekton.references``). Without one, a remote reference is a clear "cannot be
resolved here" that names the reference and where it stands.

Reading a directory costs the same for every reference in it, so a :class:`Directory` cache may
be shared by the finders of many files (``tekton-debug check`` over a directory).
"""

from __future__ import annotations

import dataclasses
import glob
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from tekton_debug.errors import Problem, UserError
from tekton_debug.tekton.files import read_text
from tekton_debug.tekton.model import param_value, yaml_text
from tekton_debug.tekton.yamlpos import Path, YamlDoc, load_documents

#: How many of the neighbouring files a "not found" message names.
_LISTED_FILES = 5

#: The kinds a reference of each kind may name.
_KINDS = {"Task": ("Task", "ClusterTask"), "StepAction": ("StepAction",)}


def _named(doc: YamlDoc, kind: str, name: str) -> bool:
    data = doc.data
    if not isinstance(data, dict) or data.get("kind") not in _KINDS.get(kind, (kind,)):
        return False
    meta = data.get("metadata")
    return isinstance(meta, dict) and meta.get("name") == name


@dataclass
class Directory:
    """The YAML files of directories, read once each (unreadable files are skipped: a
    neighbour's problem is not this file's)."""

    files: dict[str, list[str]] = field(default_factory=dict)  # directory -> absolute paths
    docs: dict[str, list[YamlDoc]] = field(default_factory=dict)  # absolute path -> documents
    # directory -> (kind, name) -> (the first document of that kind and name, its path)
    indexes: dict[str, dict[tuple, tuple[YamlDoc, str]]] = field(default_factory=dict)

    def paths(self, directory: str) -> list[str]:
        if directory not in self.files:
            self.files[directory] = sorted(os.path.abspath(p) for p in (
                glob.glob(os.path.join(directory, "*.yaml")) +
                glob.glob(os.path.join(directory, "*.yml"))))
        return self.files[directory]

    def parsed(self, path: str, text: str) -> list[YamlDoc] | None:
        """The documents of ``path`` if it was read already with this very ``text``."""
        docs = self.docs.get(os.path.abspath(path))
        if not docs or docs[0].text != text:
            return None
        if docs[0].file == path:
            return docs
        # read as a neighbour, under its absolute path: the same documents, named as given
        return [dataclasses.replace(d, file=path, duplicate_keys=[
            dataclasses.replace(p, file=path) for p in d.duplicate_keys]) for d in docs]

    def known(self, path: str, docs: list[YamlDoc]) -> None:
        """``docs`` are what ``path`` holds (already parsed by the caller)."""
        self.docs.setdefault(os.path.abspath(path), docs)

    def index(self, directory: str) -> dict[tuple, tuple[YamlDoc, str]]:
        if directory not in self.indexes:
            index: dict[tuple, tuple[YamlDoc, str]] = {}
            for p in self.paths(directory):
                for d in self.documents(p):
                    meta = d.data.get("metadata") if isinstance(d.data, dict) else None
                    if isinstance(meta, dict) and isinstance(meta.get("name"), str):
                        kind = d.data.get("kind")
                        index.setdefault((kind if kind != "ClusterTask" else "Task",
                                          meta["name"]), (d, p))
            self.indexes[directory] = index
        return self.indexes[directory]

    def documents(self, path: str) -> list[YamlDoc]:
        if path not in self.docs:
            try:  # a FIFO, a device or a huge file is skipped unread
                self.docs[path] = load_documents(read_text(path), path)
            except UserError:
                self.docs[path] = []
        return self.docs[path]


@dataclass
class Found:
    """What a reference named (``doc``), or why it was not found (``problem``)."""

    doc: YamlDoc | None
    problem: Problem | None = None
    source: str | None = None  # a remote reference: where the text came from


class Finder:
    """Finds the documents references name, for one file and the documents it holds."""

    def __init__(self, docs: list[YamlDoc], file: str | None, search_dir: str | None = None,
                 resolver: Any = None, *, directory: Directory | None = None,
                 namespace: str | None = None, report_missing: bool = True,
                 values: Mapping[str, object] | None = None,
                 remote_severity: str = "error") -> None:
        self.docs = docs
        self.report_missing = report_missing  # False: what is not here is not a problem
        self.file = file
        self.search_dir = search_dir
        self.resolver = resolver
        self.directory = directory or Directory()
        self.namespace = namespace
        # "warning": a remote reference that cannot be resolved (no resolver, not in the cache)
        # is only a warning (an editor asks the cache, not the network); None: not reported
        self.remote_severity = remote_severity
        self.values = dict(values or {})  # param values given for the run (override its own)
        self._remote: dict[tuple, Found] = {}

    # ---- local -----------------------------------------------------------------------------

    def local(self, kind: str, name: str) -> tuple[YamlDoc | None, list[str]]:
        """The document of ``kind`` named ``name`` in this file or its directory, and the places
        searched (for the error message)."""
        searched = [self.file or "the given text"]
        for d in self.docs:
            if _named(d, kind, name):
                return d, searched
        folder = self.search_dir or (os.path.dirname(os.path.abspath(self.file))
                                     if self.file else None)
        if not folder:
            return None, searched
        this = os.path.abspath(self.file) if self.file else None
        others = [p for p in self.directory.paths(folder) if p != this]
        names = [os.path.basename(p) for p in others[:_LISTED_FILES]]
        if len(others) > _LISTED_FILES:
            names.append(f"and {len(others) - _LISTED_FILES} more")
        searched.append(f"{folder}/*.yaml, *.yml ({len(others)} other file"
                        f"{'' if len(others) == 1 else 's'}"
                        + (": " + ", ".join(names) if names else "") + ")")
        hit = self.directory.index(folder).get((kind, name))
        if hit is not None:  # (this file's own too, when only some of its documents were given)
            return hit[0], searched
        return None, searched

    # ---- any reference ---------------------------------------------------------------------

    def find(self, kind: str, ref: dict, at: YamlDoc, path: Path,
             params: dict[str, Any] | None = None) -> Found:
        """The document ``ref`` (written at ``path`` in ``at``) names. ``params``: the run's
        params, substituted into a resolver's params as Tekton does."""
        what = "taskRef" if kind == "Task" else \
            "steps[{}].ref".format(path[-2]) if len(path) >= 2 and isinstance(path[-2], int) \
            else "the step's ref"
        if ref.get("resolver") is not None:
            return self._remote_find(kind, ref, at, path, what, params or {})
        name = ref.get("name")
        if not isinstance(name, str):
            return Found(None)  # validation says what is wrong with the ref itself
        doc, searched = self.local(kind, name)
        if doc is not None or not self.report_missing:
            return Found(doc)
        span = at.nearest(path + ("name",))
        fix = (f"put the Task (kind: Task, metadata.name: {name}) in this file or next to it, "
               "or embed it under taskSpec") if kind == "Task" else \
            (f"put the StepAction (kind: StepAction, metadata.name: {name}) in this file or "
             "next to it, or reference it through a resolver")
        return Found(None, Problem(f'{kind} "{name}" ({what}) was not found; searched: '
                                   f'{", ".join(searched)}', at.file,
                                   span.line if span else None, span.column if span else None,
                                   fix))

    def _remote_find(self, kind: str, ref: dict, at: YamlDoc, path: Path, what: str,
                     run_params: dict[str, Any]) -> Found:
        span = at.nearest(path + ("resolver",), key=True) or at.nearest(path)
        line, column = (span.line, span.column) if span else (None, None)
        if self.resolver is None and self.remote_severity is None:
            return Found(None)
        if self.resolver is None:
            shown = ", ".join(f"{p.get('name')}: {yaml_text(p.get('value'))}"
                              for p in ref.get("params") or []
                              if isinstance(p, dict) and isinstance(p.get("value"), str))
            return Found(None, Problem(
                f"{what} (resolver {yaml_text(ref.get('resolver'))}"
                f"{', ' + shown if shown else ''}) cannot be resolved here: no resolver was "
                "given to this check", at.file, line, column,
                f"`tekton-debug check` and `run` resolve it (from the cache with --offline); or "
                f"save the {kind}'s YAML next to this file and reference it by name",
                severity=self.remote_severity))
        from tekton_debug.tekton.references import remote_reference

        values = {k: param_value(v) for k, v in run_params.items()}
        values.update(self.values)
        meta = at.data.get("metadata") if isinstance(at.data, dict) else None
        context = {"context.taskRun.name": str((meta or {}).get("name") or ""),
                   "context.taskRun.namespace": str((meta or {}).get("namespace") or "default")}
        reference = remote_reference(at, path, ref, values, kind=kind, where=what,
                                     context=context)
        key = (reference.resolver, repr(sorted(reference.params.items())), kind)
        if key in self._remote:
            return self._remote[key]
        try:
            resolved = self.resolver.resolve(reference)
            docs = load_documents(resolved.text, resolved.file or resolved.source)
        except UserError as e:
            first = e.problems[0]
            found = Found(None, Problem(first.message, first.file or at.file,
                                        first.line or line, first.column or column, first.fix,
                                        severity=self.remote_severity or "error"))
        else:
            doc = next((d for d in docs if isinstance(d.data, dict) and
                        d.data.get("kind") in _KINDS[kind]), None)
            found = Found(doc, None if doc else Problem(
                f"{reference.describe()} resolved to {resolved.source}, which holds no {kind}",
                at.file, line, column, f"point the reference at a {kind}"), resolved.source)
        self._remote[key] = found
        return found
