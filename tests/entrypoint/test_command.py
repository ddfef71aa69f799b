"""`tekton-debug entrypoint` as a real process with Tekton's flags, standing where Tekton's
entrypoint binary stands."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tekton_debug.entrypoint.command import FlagError, parse_flags
from tekton_debug.entrypoint.layout import DEBUG_INFO_ENV, RunLayout
from tekton_debug.entrypoint.scripts import write_debug_scripts

LAUNCH = ("import sys; from tekton_debug.entrypoint.command import main; "
          "sys.exit(main(sys.argv[1:]))")


@pytest.fixture
def layout(tmp_path):
    layout = RunLayout(tmp_path, 2)
    layout.create(["step-a", "step-b"])
    write_debug_scripts(layout.debug_scripts_dir, tekton_root=str(layout.tekton), step_count=2)
    layout.downward_ready.write_text("READY")
    return layout


def tekton_flags(layout, i, *extra):
    """The flags Tekton's pod builder gives step i."""
    wait = ["-wait_file", str(layout.wait_file(i))] + (["-wait_file_content"] if i == 0 else [])
    return [*wait, "-post_file", str(layout.post_file(i)),
            "-termination_path", str(layout.termination_path(i)),
            "-step_metadata_dir", str(layout.step_metadata_dir(i)), *extra]


def start(layout, i, *flags_and_command):
    return subprocess.Popen([sys.executable, "-c", LAUNCH, *tekton_flags(layout, i),
                             *flags_and_command],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_go_flag_syntax():
    flags, positional, args = parse_flags(
        ["--post_file=/tekton/run/0/out", "-breakpoint_on_failure", "-wait_file_content=false",
         "-timeout", "10s", "-entrypoint", "sh", "--", "-c", "echo -x --"])
    assert flags["post_file"] == "/tekton/run/0/out"
    assert flags["breakpoint_on_failure"] is True and flags["wait_file_content"] is False
    assert flags["timeout"] == "10s" and flags["entrypoint"] == "sh"
    assert flags["termination_path"] == "/tekton/termination"
    assert positional == [] and args == ["-c", "echo -x --"]
    with pytest.raises(FlagError, match="not defined: -nope"):
        parse_flags(["-nope", "x"])
    with pytest.raises(FlagError, match="needs an argument"):
        parse_flags(["-post_file"])


def test_successful_step_writes_out_and_exit_code(layout):
    p = start(layout, 0, "-entrypoint", "sh", "--", "-c", "echo hello; echo oops >&2")
    out, err = p.communicate(timeout=30)
    assert p.returncode == 0
    assert out == "hello\n" and "oops" in err
    assert layout.post_file(0).exists()
    assert layout.exit_code_file(0).read_text() == "0"
    msg = json.loads(layout.termination_path(0).read_text())
    assert [m["key"] for m in msg] == ["StartedAt"]


def test_failed_step_pauses_until_debug_continue(layout):
    p = start(layout, 0, "-breakpoint_on_failure", "-entrypoint", "sh", "--", "-c", "exit 4")
    banner = p.stderr.readline()
    assert banner.endswith("debug onFailure breakpoint has taken effect, waiting for user's "
                           "decision:\n")
    # named where a user inside the container runs it, as Tekton's entrypoint does
    assert p.stderr.readline().endswith(
        "1) continue, use cmd: /tekton/debug/scripts/debug-continue\n")
    assert p.poll() is None
    assert not layout.post_file(0).exists() and not layout.err_file(0).exists()
    env = {**os.environ, DEBUG_INFO_ENV: str(layout.step_info_dir(0))}
    subprocess.run([str(layout.debug_scripts_dir / "debug-continue")], env=env, check=True,
                   capture_output=True)
    p.communicate(timeout=30)
    assert p.returncode == 0
    assert layout.post_file(0).exists()


def test_next_step_runs_after_fail_continue_and_exits_with_one(layout):
    first = start(layout, 0, "-breakpoint_on_failure", "-entrypoint", "false")
    second = start(layout, 1, "-breakpoint_on_failure", "-entrypoint", "echo", "--", "second")
    first.stderr.readline()  # the banner
    env = {**os.environ, DEBUG_INFO_ENV: str(layout.step_info_dir(0))}
    subprocess.run([str(layout.debug_scripts_dir / "debug-fail-continue")], env=env, check=True,
                   capture_output=True)
    first.communicate(timeout=30)
    out, _ = second.communicate(timeout=30)
    assert first.returncode == 1
    assert second.returncode == 0 and out == "second\n"


def test_step_after_failure_is_skipped_without_breakpoint(layout):
    first = start(layout, 0, "-entrypoint", "sh", "--", "-c", "exit 3")
    second = start(layout, 1, "-entrypoint", "echo", "--", "never")
    first.communicate(timeout=30)
    out, err = second.communicate(timeout=30)
    assert first.returncode == 3 and second.returncode == 1
    assert out == "" and "Skipping step because a previous step failed" in err
    assert layout.err_file(1).exists()


def test_step_timeout_kills_the_command_and_does_not_pause(layout):
    p = start(layout, 0, "-breakpoint_on_failure", "-timeout", "200ms", "-entrypoint", "sleep",
              "--", "30")
    _, err = p.communicate(timeout=30)
    assert p.returncode == 1
    assert "breakpoint" not in err
    assert layout.err_file(0).exists()


def test_sigterm_cancels_a_paused_step_without_waiting(layout):
    p = start(layout, 0, "-breakpoint_on_failure", "-entrypoint", "false")
    p.stderr.readline()
    p.terminate()
    p.communicate(timeout=30)
    assert p.returncode == 9
    assert layout.err_file(0).exists()


def test_unknown_flag_is_a_usage_error(layout):
    p = start(layout, 0, "-no_such_flag", "-entrypoint", "true")
    _, err = p.communicate(timeout=30)
    assert p.returncode == 2 and "flag provided but not defined: -no_such_flag" in err


def test_entrypoint_imports_neither_yaml_nor_kubernetes():
    code = ("import sys; import tekton_debug.entrypoint.command; "
            "print(sorted(m for m in ('yaml', 'kubernetes', 'pygls', 'debugpy') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
