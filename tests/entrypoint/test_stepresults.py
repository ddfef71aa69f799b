"""Step results reach a later step's env, command and args when it starts."""

from __future__ import annotations

import threading

import pytest

from tekton_debug.entrypoint.command import ProcessRunner
from tekton_debug.entrypoint.lifecycle import CommandError
from tekton_debug.entrypoint.stepresults import apply_step_results


@pytest.fixture
def steps(tmp_path):
    d = tmp_path / "step-make" / "results"
    d.mkdir(parents=True)
    (d / "name").write_text("Ada")
    (d / "list").write_text('["a", "b"]')
    (d / "obj").write_text('{"url": "x.com"}')
    return str(tmp_path)


def test_strings_arrays_and_objects(steps):
    argv, env = apply_step_results(
        ["echo", "$(steps.make.results.list[*])", "hi $(steps.make.results.name)",
         "$(steps.make.results.list[1])"],
        {"URL": "$(steps.make.results.obj.url)", "PLAIN": "x"}, steps)
    assert argv == ["echo", "a", "b", "hi Ada", "b"]
    assert env == {"URL": "x.com", "PLAIN": "x"}


def test_a_result_not_written_is_a_clear_error(steps):
    with pytest.raises(CommandError, match="step 'make' wrote no result 'nope'"):
        apply_step_results(["$(steps.make.results.nope)"], {}, steps)


def test_the_entrypoint_command_replaces_them_too(steps, tmp_path, monkeypatch):
    """`tekton-debug entrypoint` (in a container) reads them from /tekton/steps as Tekton's does."""
    out = tmp_path / "out"
    monkeypatch.setenv("NAME", "$(steps.make.results.name)")
    runner = ProcessRunner(["sh", "-c", 'printf "%s|%s" "$1" "$NAME" > "$0"', str(out),
                            "$(steps.make.results.obj.url)"], threading.Event(), steps)
    assert runner.run(10) == 0
    assert out.read_text() == "x.com|Ada"
