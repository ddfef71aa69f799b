"""What a remote reference asks for, what it resolved to, and the interface of a resolver.

No I/O here: the loader (``tekton.loader``) builds a :class:`Reference` from a ``taskRef`` (or a
step's ``ref``) that names a ``resolver``, and asks the :class:`Resolver` it was given. The real
one (``resolution.remote``) fetches over the network and caches; tests and the language server
may hand the loader any object with a ``resolve`` method, e.g. :class:`Fixed`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Mapping, Protocol

from tekton_debug.errors import UserError

#: The resolvers tekton-debug can run on this machine (Tekton's own names).
RESOLVERS = ("git", "http", "bundles", "hub", "cluster")

_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


def redact(text: str) -> str:
    """``https://user:token@host/x`` -> ``https://***@host/x``: credentials written into a URL
    reach no message, log or cache file."""
    return _USERINFO.sub("***@", text)


@dataclass(frozen=True)
class Reference:
    """A ``taskRef``/``ref`` with a resolver, its params already substituted (see ``substitute``)."""

    resolver: str
    params: Mapping[str, object] = field(default_factory=dict)
    kind: str = "Task"  # what the referrer expects: "Task" or "StepAction"
    where: str = "taskRef"  # how the referrer names it, e.g. "taskRef", "steps[0].ref"
    file: str | None = None
    line: int | None = None
    column: int | None = None
    namespace: str | None = None  # the run's namespace (the cluster resolver's default)

    def param(self, name: str, default: str | None = None) -> str | None:
        value = self.params.get(name)
        if value is None or value == "":
            return default
        return value if isinstance(value, str) else str(value)

    def describe(self) -> str:
        """``taskRef (resolver git, url: ..., pathInRepo: ...)``, never a secret's value."""
        shown = ", ".join(f"{k}: {v}" for k, v in self.params.items() if isinstance(v, str))
        return redact(f"{self.where} (resolver {self.resolver}{', ' + shown if shown else ''})")

    def error(self, why: str, fix: str) -> UserError:
        """A failure to resolve, located at the reference: what, which resolver, why."""
        return UserError(f"{self.describe()}: {redact(why)}", file=self.file, line=self.line,
                         column=self.column, fix=redact(fix))


@dataclass(frozen=True)
class Resolved:
    """What a reference named: the YAML text and where it came from."""

    text: str
    source: str  # for people: "git file:///srv/tasks.git @ 3f2a1c0 : task/build.yaml"
    file: str | None = None  # a local copy of ``text`` (positions and breakpoints point into it)
    digest: str = ""  # "sha256:..." of the text, or the commit / image digest it came from
    cached: bool = False  # served from the cache without asking the network


class Resolver(Protocol):
    def resolve(self, ref: Reference) -> Resolved: ...


class Fixed:
    """A resolver that answers from a dictionary: ``{(resolver, ((param, value), ...)): text}``
    or a function of the Reference. For tests, and for callers that already hold the text."""

    def __init__(self, answers: Mapping[tuple, str]) -> None:
        self.answers = dict(answers)
        self.asked: list[Reference] = []

    @staticmethod
    def key(resolver: str, **params: str) -> tuple:
        return (resolver, tuple(sorted(params.items())))

    def resolve(self, ref: Reference) -> Resolved:
        self.asked.append(ref)
        key = (ref.resolver, tuple(sorted((k, v) for k, v in ref.params.items()
                                          if isinstance(v, str))))
        if key not in self.answers:
            raise ref.error("not found", "check the reference's params")
        return Resolved(self.answers[key], source=f"{ref.resolver} (given)")
