"""CEL ``when`` expressions (``when: [{cel: "..."}]``), as Tekton evaluates them with cel-go: the
expression, its ``$(...)`` references replaced first, in CEL's standard environment with no
variables, must give a boolean. The cel-python library (``celpy``) reads and evaluates it; it is
imported only when a Pipeline has such an expression.
"""

from __future__ import annotations

from tekton_debug.errors import UserError


class CelError(UserError):
    """A CEL expression that Tekton cannot evaluate (its PipelineRun fails:
    CELEvaluationFailed)."""


def compile_error(expression: str) -> str | None:
    """Why ``expression`` is not CEL (None when it is). Tekton's webhook compiles it as written,
    before any substitution: a reference must be inside a CEL string (``'$(params.x)'``)."""
    import celpy

    try:
        celpy.Environment().compile(expression)
    except celpy.CELParseError as exc:
        return _parse_error(expression, exc)
    return None


def _parse_error(expression: str, exc: Exception) -> str:
    column = getattr(exc, "column", None)
    if isinstance(column, int) and 0 < column <= len(expression):
        return f"{expression!r} is not CEL at column {column} ({expression[column - 1:][:12]!r})"
    return f"{expression!r} is not CEL"


def evaluate(expression: str) -> bool:
    """The boolean ``expression`` (references already replaced) gives. Raises UserError when it
    does not compile, fails, or is not a boolean, with Tekton's wording."""
    import celpy

    env = celpy.Environment()
    try:
        value = env.program(env.compile(expression)).evaluate({})
    except celpy.CELParseError as exc:
        raise CelError(f"invalid CEL expression: {_parse_error(expression, exc)}",
                        fix="write a CEL expression, e.g. '$(params.branch)' == 'main'") from None
    except celpy.CELEvalError as exc:
        raise CelError(f"the CEL expression {expression} failed: {exc.args[0] if exc.args else exc}",
                        fix="compare values of the same type: quote both sides as strings, or "
                            "neither") from None
    if not isinstance(value, celpy.celtypes.BoolType):
        raise CelError(f"The CEL expression {expression} is not evaluated to a boolean",
                        fix="make it a comparison or a test, e.g. '$(params.x)' == 'yes'")
    return bool(value)
