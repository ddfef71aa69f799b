"""A pipeline task's ``matrix``: the combinations of params it fans out into, as Tekton makes them
(``pkg/apis/pipeline/v1/matrix_types.go``).

- ``matrix.params`` (arrays) give the cross product. Each param added spreads over the
  combinations so far, its values outermost: ``a: [1, 2]``, ``b: [x, y]`` give
  ``{a:1,b:x} {a:2,b:x} {a:1,b:y} {a:2,b:y}``.
- Each ``matrix.include`` entry (strings) is added to every combination it does not contradict
  (its params that the combination has are equal); one that matches no combination by any of
  its values is a combination of its own. With ``include`` only, each entry is one combination.
- An empty array in ``matrix.params`` skips the task ("Matrix Parameters have an empty array").
- At most ``MAX_COMBINATIONS`` combinations (Tekton's ``default-max-matrix-combinations-count``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from tekton_debug.tekton.model import Pos

#: Tekton's default ``default-max-matrix-combinations-count`` (config-defaults)
MAX_COMBINATIONS = 256
#: the skipping reason of a matrixed task with an empty array in its ``matrix.params``
EMPTY_ARRAY_SKIP = "Matrix Parameters have an empty array"


@dataclass
class MatrixInclude:
    name: str
    params: dict[str, Any]  # as written: $(...) not resolved


@dataclass
class Matrix:
    """``matrix:`` as written (values are resolved by the pipeline layer when the task is ready)."""

    params: dict[str, Any] = field(default_factory=dict)  # name -> an array (or a reference)
    include: list[MatrixInclude] = field(default_factory=list)
    pos: Pos | None = None

    @property
    def names(self) -> list[str]:
        """Every param the matrix gives, in order of appearance."""
        out = list(self.params)
        for inc in self.include:
            out += list(inc.params)
        return list(dict.fromkeys(out))

    def values(self) -> Iterator[Any]:
        """Every value as written (where references count)."""
        yield from self.params.values()
        for inc in self.include:
            yield from inc.params.values()


def is_fanned_out(matrix: Any) -> bool:
    """A pipeline task's ``matrix`` as written fans the task out: a mapping that gives params or
    ``include`` entries (an empty one, or none, runs the task once)."""
    return isinstance(matrix, dict) and bool(matrix.get("params") or matrix.get("include"))


Combination = dict[str, str]


def fan_out(params: list[tuple[str, list[str]]], include: list[Combination]) -> list[Combination]:
    """The combinations of resolved ``matrix.params`` (in order) and ``matrix.include`` entries."""
    if include and not params:
        return [dict(c) for c in include]
    combos: list[Combination] = []
    for name, values in params:
        if not combos:
            combos = [{name: v} for v in values]
        else:
            combos = [{**c, name: v} for v in values for c in combos]
    for inc in include:  # added to every combination it does not contradict
        for c in combos:
            if all(c[k] == v for k, v in inc.items() if k in c):
                c.update(inc)
    for inc in include:  # one that matches no combination by any value is its own
        if inc and not any(c.get(k) == v for c in combos for k, v in inc.items() if k in c):
            combos.append(dict(inc))
    return combos


def count(params: list[tuple[str, list[str] | None]], include: list[Combination]) -> int:
    """How many combinations Tekton counts for its limit (a value not known yet, e.g. a reference
    to an array, counts as one, as Tekton's webhook counts the Pipeline as written)."""
    if not params:
        return len(include)
    total = 1
    for _, values in params:
        if values:
            total *= len(values)
    known = {name: values or [] for name, values in params}
    extra = 0
    for inc in include:
        for name, value in inc.items():
            if name in known:
                if value not in known[name]:
                    extra += 1
                else:
                    break
    return total + extra


def combination(params: Mapping[str, str]) -> str:
    """A combination's params as shown beside its TaskRun: " (a=1, b=x)"; "" for none."""
    return f" ({', '.join(f'{k}={v}' for k, v in params.items())})" if params else ""
