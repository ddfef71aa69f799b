"""Small helpers shared by the model's tests."""

from __future__ import annotations

import os
import textwrap

import pytest

from tekton_debug.errors import Problem, ValidationError
from tekton_debug.tekton.loader import load_text

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def yaml_text(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def problems_of(text: str, file: str = "t.yaml") -> list[Problem]:
    """The problems loading ``text`` reports (the test fails when it loads)."""
    with pytest.raises(ValidationError) as err:
        load_text(yaml_text(text), file=file)
    return err.value.problems


def only_problem(text: str, containing: str, file: str = "t.yaml") -> Problem:
    """The one problem whose message contains ``containing``."""
    found = [p for p in problems_of(text, file) if containing in p.message]
    assert len(found) == 1, f"expected one problem with {containing!r}, got {found}"
    return found[0]


def task(steps: str, extra: str = "", api: str = "tekton.dev/v1") -> str:
    """A Task document with the given (already indented by 4) steps and extra spec fields."""
    return yaml_text(f"""
        apiVersion: {api}
        kind: Task
        metadata:
          name: t
        spec:
        """) + textwrap.indent(textwrap.dedent(extra).strip("\n"), "  ") + \
        ("\n" if extra.strip() else "") + "  steps:\n" + \
        textwrap.indent(textwrap.dedent(steps).strip("\n"), "    ") + "\n"
