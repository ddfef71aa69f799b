"""The YAML files next to a document, for the features that follow a reference into them.

A ``taskRef`` or a step's ``ref`` that names what is not in the document is looked up as the
loader does (``tekton.finder``): in the other ``*.yaml``/``*.yml`` files of its directory. Reading
a directory of many large files takes seconds, and a completion, a hover or a definition follows
the same reference at every keystroke; so the directories read are kept (the few last used), each
with the name, size and modification time of its files, and read again when these change (a file
saved, added or removed): one ``stat`` per file instead of reading them all.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from tekton_debug.tekton.finder import Directory, Finder
from tekton_debug.tekton.yamlpos import YamlDoc

#: Directories kept: their documents are held in memory.
KEPT = 4


def _signature(folder: str) -> tuple | None:
    """The name, size and modification time of each YAML file of ``folder``."""
    found = []
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if not entry.name.endswith((".yaml", ".yml")):
                    continue
                try:
                    st = entry.stat()
                except OSError:  # removed meanwhile, or a dangling link: not read either
                    continue
                found.append((entry.name, st.st_size, st.st_mtime_ns))
    except OSError:
        return None
    return tuple(sorted(found))


class Neighbours:
    """The directories read, each kept while its files are unchanged. Safe to share between
    threads: one lookup at a time."""

    def __init__(self, kept: int = KEPT) -> None:
        self._kept = kept
        self._directories: OrderedDict[str, tuple[tuple | None, Directory]] = OrderedDict()
        self._lock = threading.Lock()

    def local(self, kind: str, name: str, docs: list[YamlDoc],
              file: str | None) -> YamlDoc | None:
        """What ``Finder(docs, file).local(kind, name)`` finds: the document of ``kind`` named
        ``name`` in ``docs``, else in the files next to ``file``."""
        found, _ = Finder(docs, None).local(kind, name)
        if found is not None or file is None:
            return found
        folder = os.path.dirname(os.path.abspath(file))
        with self._lock:
            found, _ = Finder(docs, file, directory=self._directory(folder)).local(kind, name)
        return found

    def _directory(self, folder: str) -> Directory:
        signature = _signature(folder)
        kept = self._directories.get(folder)
        if kept is not None and kept[0] == signature:
            self._directories.move_to_end(folder)
            return kept[1]
        directory = Directory()
        self._directories[folder] = (signature, directory)
        self._directories.move_to_end(folder)
        while len(self._directories) > self._kept:
            self._directories.popitem(last=False)
        return directory


#: The language server's: every feature reads the same directories.
NEIGHBOURS = Neighbours()
