"""YAML with positions: plain Python objects plus where every part of them stands in the file.

``load_documents`` parses a (multi-document) YAML text with PyYAML's safe composer and returns one
:class:`YamlDoc` per document: its data as plain dicts, lists and scalars, and a table from *paths*
to places. A path is a tuple of mapping keys and sequence indexes, e.g. ``("spec", "steps", 2)``:

    doc.pos(("spec", "steps", 2))               # where steps[2] stands (first to last line)
    doc.key_pos(("spec", "steps", 2, "onError"))  # where the key ``onError`` is written

Syntax errors become :class:`UserError` with the file, line and column of the problem.
A document built from an already parsed object (``YamlDoc.from_object``) has no positions; every
lookup then answers ``None``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from tekton_debug.errors import Problem, UserError
from tekton_debug.tekton.model import Pos

Path = tuple  # of str (mapping keys) and int (sequence indexes)

try:  # the C loader is much faster and reports the same marks
    _Loader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader


@dataclass(frozen=True)
class Span:
    """Where a YAML node stands: 1-based lines and columns, end column exclusive."""

    line: int
    column: int
    end_line: int
    end_column: int

    def pos(self, file: str | None) -> Pos:
        return Pos(file, self.line, self.column, self.end_line)


@dataclass
class YamlDoc:
    """One YAML document: its data and the place of each value and each key in it."""

    file: str | None
    data: Any
    index: int = 0  # position of the document in its file (0-based)
    text: str = ""  # the whole file's text
    values: dict[Path, Span] = field(default_factory=dict)
    keys: dict[Path, Span] = field(default_factory=dict)
    # the ``|`` or ``>`` block scalars: path -> line where their text starts
    block_starts: dict[Path, int] = field(default_factory=dict)
    duplicate_keys: list[Problem] = field(default_factory=list)
    # the text's lines, split once (shared by the documents of one file): lookups per problem
    # or per reference must not split the whole text again (10,000 of them were quadratic)
    _lines: list[str] | None = field(default=None, repr=False, compare=False)

    @property
    def lines(self) -> list[str]:
        if self._lines is None:
            self._lines = self.text.splitlines()
        return self._lines

    @classmethod
    def from_object(cls, data: Any, file: str | None = None) -> "YamlDoc":
        return cls(file=file, data=data)

    @property
    def located(self) -> bool:
        return bool(self.values)

    def span(self, path: Iterable) -> Span | None:
        return self.values.get(tuple(path))

    def key_span(self, path: Iterable) -> Span | None:
        return self.keys.get(tuple(path))

    def pos(self, path: Iterable) -> Pos | None:
        """Where the value at ``path`` stands, or None when unknown."""
        s = self.span(path)
        return s.pos(self.file) if s else None

    def key_pos(self, path: Iterable) -> Pos | None:
        """Where the key that ends ``path`` is written (a mapping key), or None."""
        s = self.key_span(path)
        return s.pos(self.file) if s else None

    def text_pos(self, path: Iterable) -> Pos | None:
        """Where a scalar's text starts: the line after ``key: |`` for block scalars."""
        p = tuple(path)
        span = self.values.get(p)
        if span is None:
            return None
        if p in self.block_starts:
            line = self.block_starts[p]
            lines = self.lines
            text = lines[line - 1] if 0 < line <= len(lines) else ""
            column = len(text) - len(text.lstrip(" ")) + 1
            return Pos(self.file, line, column, max(span.end_line, line))
        return span.pos(self.file)

    def nearest(self, path: Iterable, *, key: bool = False) -> Span | None:
        """The span of ``path``, or of its closest ancestor that has one.

        With ``key``, the key of ``path`` is preferred to its value (to point at a field name)."""
        p = tuple(path)
        while True:
            if key and p in self.keys:
                return self.keys[p]
            if p in self.values:
                return self.values[p]
            if not p:
                return None
            p = p[:-1]
            key = True


def syntax_error(err: yaml.YAMLError, file: str | None, text: str = "") -> UserError:
    """A UserError for a PyYAML error, located at the problem's mark."""
    if isinstance(err, yaml.reader.ReaderError):  # a character YAML refuses (NUL, control)
        before = text[:err.position] if text else ""
        line, column = before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1
        code = err.character if isinstance(err.character, int) else ord(str(err.character)[:1] or "?")
        what = "a NUL byte (\\0)" if code == 0 else f"the control character U+{code:04X}"
        message = f"the file contains {what}, which YAML does not allow"
        fix = ("remove it (is this a binary file, or saved as UTF-16?); to put such a character "
               "in a value, write it as an escape in a double-quoted string, e.g. \"\\x01\"")
        return UserError(message, problems=[Problem(message, file, line if text else None,
                                                    column if text else None, fix)])
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    context = getattr(err, "context", None)
    message = f"YAML syntax error: {problem}"
    if context:
        message += f" ({context})"
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    fix = _syntax_fix(problem)
    if mark is not None and text:
        lines = text.splitlines()
        if mark.line < len(lines) and "\t" in lines[mark.line][:mark.column + 1]:
            fix = _syntax_fix("tab")
    return UserError(message, problems=[Problem(message, file, line, column, fix)])


def _syntax_fix(problem: str) -> str:
    p = problem.lower()
    if re.search(r"\btabs?\b", p):
        return "indent with spaces; YAML does not allow tabs for indentation"
    if "mapping values are not allowed" in p:
        return "quote the value (it contains ': '), or check the indentation of this line"
    if "could not find expected ':'" in p:
        return "write the key as `key: value`, or check the indentation"
    if "expected <block end>" in p:
        return "align this line with the keys above it (same indentation)"
    if "undefined alias" in p:
        return "define the anchor (&name) before using the alias (*name)"
    if "found unexpected end of stream" in p or "unexpected end" in p:
        return "close the open quote or bracket"
    return "fix the YAML syntax at this place (check indentation and quotes)"


def load_documents(text: str, file: str | None = None) -> list[YamlDoc]:
    """Every non-empty document in ``text``. Raises UserError on a YAML syntax error."""
    lines = text.splitlines()
    docs: list[YamlDoc] = []
    try:
        for i, node in enumerate(yaml.compose_all(text, Loader=_Loader)):
            if node is None:
                continue
            builder = _Builder(file, lines)
            data = builder.build(node, ())
            if data is None:
                continue
            docs.append(YamlDoc(file=file, data=data, index=i, text=text, values=builder.values,
                                keys=builder.keys, block_starts=builder.block_starts,
                                duplicate_keys=builder.duplicates, _lines=lines))
    except yaml.YAMLError as e:
        raise syntax_error(e, file, text) from None
    return docs


#: Values that aliases (``*name``) may add to a file, counted as if each were written out. An
#: alias shares its anchor's value, but whoever walks the data (validation, substitution, JSON)
#: visits it once per alias: nine aliases of nine aliases... ("billion laughs") are refused here
#: before anything walks them. Kubernetes' YAML decoder refuses "excessive aliasing" likewise.
MAX_ALIASED_VALUES = 100_000


class _Builder:
    """Turns a composed node tree into plain objects and records each node's span."""

    def __init__(self, file: str | None, lines: list[str]) -> None:
        self.file = file
        self.lines = lines
        self.values: dict[Path, Span] = {}
        self.keys: dict[Path, Span] = {}
        self.block_starts: dict[Path, int] = {}
        self.duplicates: list[Problem] = []
        self._constructor = yaml.constructor.SafeConstructor()
        self._active: set[int] = set()  # nodes being built (a recursive alias must not loop)
        # nodes already built: an alias reuses the value, so nested aliases cannot blow up
        self._built: dict[int, Any] = {}
        # how many values each built node stands for, aliases counted written out
        self._sizes: dict[int, int] = {}
        self._aliased = 0  # values added by aliases so far
        self._parents: list[Node] = []  # the collections being built, innermost last

    def build(self, node: Node, path: Path) -> Any:
        if id(node) in self._built:  # an alias: the anchored value again (as PyYAML shares it)
            self._count_alias(node)
            self.values.setdefault(path, self._span(node))
            return self._built[id(node)]
        if id(node) in self._active:
            return None
        self._active.add(id(node))
        self._parents.append(node)
        try:
            if isinstance(node, MappingNode):
                value: Any = self._mapping(node, path)
                size = 1 + sum(self._sizes.get(id(v), 1) for _, v in node.value)
            elif isinstance(node, SequenceNode):
                value = [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
                size = 1 + sum(self._sizes.get(id(v), 1) for v in node.value)
            else:
                value = self._scalar(node, path)
                size = 1
            self.values.setdefault(path, self._span(node))
            self._built[id(node)] = value
            self._sizes[id(node)] = size
            return value
        finally:
            self._parents.pop()
            self._active.discard(id(node))

    def _count_alias(self, node: Node) -> None:
        self._aliased += self._sizes.get(id(node), 1)
        if self._aliased <= MAX_ALIASED_VALUES:
            return
        # PyYAML keeps no place for an alias itself: point at the collection that holds it
        where = self._parents[-1] if self._parents else node
        line, column = where.start_mark.line + 1, where.start_mark.column + 1
        anchor = f" of the value anchored at line {node.start_mark.line + 1}"
        message = (f"YAML aliases here expand the file to more than {MAX_ALIASED_VALUES:,} "
                   f"values (each alias{anchor} repeats it whole); such a file is refused")
        raise UserError(message, problems=[Problem(
            message, self.file, line, column,
            "write the repeated values out, or use fewer aliases of aliases")])

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        if node.style in ("|", ">"):
            self.block_starts[path] = node.start_mark.line + 2
        try:
            return self._constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            return node.value  # e.g. an unknown tag: keep the text
        except (ValueError, OverflowError):  # e.g. an impossible timestamp
            return node.value

    def _mapping(self, node: MappingNode, path: Path) -> dict:
        # the keys written here; the ones `<<: *anchor` brings are overridden by them, silently
        written = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        try:
            self._constructor.flatten_mapping(node)  # resolve `<<: *anchor` merge keys
        except yaml.constructor.ConstructorError:
            pass
        out: dict = {}
        seen_written: set = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):  # a complex key (`? [a, b]`)
                span = self._span(key_node)
                text = json.dumps(self.build(key_node, path + ("<key>",)), default=str)
                self.duplicates.append(Problem(
                    f"the key {text} is a {'list' if isinstance(key_node, SequenceNode) else 'mapping'}"
                    f": Kubernetes objects have only plain string keys", self.file, span.line,
                    span.column, fix="write a plain key (`name: value`), or remove the `? ` entry",
                    end_line=span.end_line, end_column=span.end_column))
                continue
            key = self._scalar(key_node, ("<key>",))
            try:
                hash(key)
            except TypeError:
                key = str(key)
            sub = path + (key,)
            is_written = id(key_node) in written
            if key in out and is_written and key in seen_written:
                span = self._span(key_node)
                self.duplicates.append(Problem(
                    f"key {key!r} is written twice in the same mapping; Kubernetes rejects this",
                    self.file, span.line, span.column,
                    fix=f"remove one of the {key!r} keys", end_line=span.end_line,
                    end_column=span.end_column))
            if is_written:
                seen_written.add(key)
                if key in out:  # overrides what a merge brought: its place is the one written
                    self.values.pop(sub, None)
            self.keys[sub] = self._span(key_node)
            out[key] = self.build(value_node, sub)
        return out

    def _span(self, node: Node) -> Span:
        start = node.start_mark
        line, col = start.line + 1, start.column + 1
        end_line, end_col = self._end(node)
        return Span(line, col, max(end_line, line), end_col)

    def _end(self, node: Node) -> tuple[int, int]:
        """(last line, end column) of a node, ignoring trailing blank lines and comments."""
        if isinstance(node, (MappingNode, SequenceNode)) and not node.flow_style:
            last = node.value[-1] if node.value else None
            if last is None:
                return node.start_mark.line + 1, node.start_mark.column + 1
            if isinstance(node, MappingNode):
                last = last[1]
            return self._end(last)
        end = node.end_mark
        start_line = node.start_mark.line + 1
        if end.column == 0 and end.line + 1 > start_line:
            line = end.line  # the node ended with the previous line's break
            while line > start_line and line <= len(self.lines) and not self.lines[line - 1].strip():
                line -= 1
            end_col = len(self.lines[line - 1]) + 1 if 0 < line <= len(self.lines) else 1
            return line, end_col
        return end.line + 1, end.column + 1
