"""Errors a user can cause.

Every such error is a :class:`UserError` raised where it is detected, carrying a message for the
user, the file and line it concerns and how to fix it. The front ends (CLI, DAP, LSP) turn it into
their own form in one place each; nothing else catches it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input, located in a file where there is one."""

    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    fix: str | None = None
    end_line: int | None = None
    end_column: int | None = None
    #: "error": Tekton (or our loader) refuses it; "warning": Tekton accepts it, but it is likely
    #: to fail at run time or does not do what it seems to
    severity: str = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = ""
        if self.file:
            where = self.file
            if self.line:
                where += f":{self.line}"
                if self.column:
                    where += f":{self.column}"
            where += ": "
        text = f"{where}{self.message}"
        if self.fix:
            text += f"\n  fix: {self.fix}"
        return text


class UserError(Exception):
    """An error the user can fix. ``problems`` holds one or more located problems."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: int | None = None, fix: str | None = None,
                 problems: list[Problem] | None = None) -> None:
        if problems is None:
            problems = [Problem(message, file, line, column, fix)]
        self.problems: list[Problem] = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.problems)

    @property
    def first(self) -> Problem:
        return self.problems[0]


class ValidationError(UserError):
    """A Tekton document that Tekton's webhook (or our loader) would reject."""


class RuntimeUnavailable(UserError):
    """The chosen runtime cannot serve this request (no cluster, missing permission, ...)."""


class WrongTime(UserError):
    """A request that makes no sense in the session's current state (continue while running...)."""
