"""The debug scripts, run for real with sh in a temporary layout: each writes exactly the files
Tekton's script of the same name writes, in the order that lets the next step start."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from tekton_debug.entrypoint.layout import DEBUG_INFO_ENV, RunLayout
from tekton_debug.entrypoint.scripts import SCRIPT_NAMES, write_debug_scripts

STEPS = 3


@pytest.fixture
def layout(tmp_path):
    layout = RunLayout(tmp_path / "run dir $x", STEPS)  # a root that needs quoting
    layout.create(["step-a", "step-b", "step-c"])
    write_debug_scripts(layout.debug_scripts_dir, tekton_root=str(layout.tekton), step_count=STEPS)
    return layout


def run_script(layout, name, step, info_dir=None):
    env = dict(os.environ)
    env[DEBUG_INFO_ENV] = str(info_dir or layout.step_info_dir(step))
    return subprocess.run([str(layout.debug_scripts_dir / name)], env=env, capture_output=True,
                          text=True)


def files_of(layout, step):
    d = layout.run_dir(step)
    return {p.name: p.read_text() for p in d.iterdir() if p.is_file()}


def test_every_script_is_an_executable_posix_sh_script_with_set_e(layout):
    for name in (*SCRIPT_NAMES, "debug-retry"):
        path = layout.debug_scripts_dir / name
        assert os.access(path, os.X_OK)
        assert path.read_text().startswith("#!/bin/sh\nset -e\n")


def test_debug_retry_ends_the_shell_it_is_typed_in_with_sigusr1_and_writes_no_file(layout):
    env = dict(os.environ, PATH=f"{os.environ['PATH']}:{layout.debug_scripts_dir}")
    env[DEBUG_INFO_ENV] = str(layout.step_info_dir(1))
    shell = subprocess.run(["sh", "-c", "debug-retry; echo still here"], env=env,
                           capture_output=True, text=True)
    assert shell.returncode == -signal.SIGUSR1
    assert "still here" not in shell.stdout
    assert "run the step again" in shell.stdout
    assert all(files_of(layout, i) == {} for i in range(3))


def test_debug_retry_outside_a_shell_kills_nothing_and_says_where_to_type_it(layout):
    done = run_script(layout, "debug-retry", 1)
    assert done.returncode == 1
    assert "type it in the shell" in done.stderr


@pytest.mark.parametrize("name, expected", [
    ("debug-continue", {"out": "", "out.breakpointexit": "0\n"}),
    ("debug-fail-continue", {"out.err": "", "out.breakpointexit": "1\n"}),
    ("debug-beforestep-continue", {"out.beforestepexit": "0\n"}),
    ("debug-beforestep-fail-continue", {"out.beforestepexit.err": "1\n"}),
    ("debug-continue-failure", {"out.err": "", "out.breakpointexit": "1\n"}),
    ("debug-breakpointexit", {"out": "", "out.breakpointexit": "0\n"}),
])
def test_script_writes_exactly_tektons_files_in_its_own_step(layout, name, expected):
    done = run_script(layout, name, 1)
    assert done.returncode == 0, done.stderr
    assert "Executing step 1..." in done.stdout
    assert files_of(layout, 1) == expected
    assert files_of(layout, 0) == {} and files_of(layout, 2) == {}


@pytest.mark.parametrize("name, marker", [("debug-continue", "out"),
                                          ("debug-fail-continue", "out.err")])
def test_post_file_exists_before_breakpointexit_appears(layout, name, marker):
    """Issue #5636: whoever sees out.breakpointexit must already be able to see out / out.err."""
    import inotify_simple
    ino = inotify_simple.INotify()
    ino.add_watch(str(layout.run_dir(0)), inotify_simple.flags.CREATE | inotify_simple.flags.MOVED_TO)
    assert run_script(layout, name, 0).returncode == 0
    names = [e.name for e in ino.read(timeout=0)]
    ino.close()
    assert marker in names and "out.breakpointexit" in names
    assert names.index(marker) < names.index("out.breakpointexit")


def test_exit_file_appears_by_rename_never_empty(layout):
    import inotify_simple
    ino = inotify_simple.INotify()
    f = inotify_simple.flags
    ino.add_watch(str(layout.run_dir(0)), f.CREATE | f.MOVED_TO)
    run_script(layout, "debug-continue", 0)
    events = [(e.name, f.from_mask(e.mask)) for e in ino.read(timeout=0)]
    ino.close()
    exit_events = [flags for name, flags in events if name == "out.breakpointexit"]
    assert exit_events == [[f.MOVED_TO]]


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_step_number_past_the_last_step_prints_a_message_and_exits_zero(layout, tmp_path, name):
    info = tmp_path / "info"
    (info / str(STEPS)).mkdir(parents=True)
    done = run_script(layout, name, 0, info_dir=info)
    assert done.returncode == 0
    assert f"Last step (no. {STEPS}) has already been executed" in done.stdout
    assert all(files_of(layout, i) == {} for i in range(STEPS))


def test_without_info_dir_the_script_fails_and_says_why(layout, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_script(layout, "debug-continue", 0, info_dir=empty)
    assert done.returncode == 1
    assert "cannot tell which step this is" in done.stderr


def test_default_info_dir_is_the_tekton_one(tmp_path):
    """In a container there is no TEKTON_DEBUG_INFO_DIR: /tekton/debug/info/<i> is the only entry."""
    layout = RunLayout(tmp_path, 2)
    layout.create()
    (layout.debug_info_dir / "1").mkdir()
    write_debug_scripts(layout.debug_scripts_dir, tekton_root=str(layout.tekton), step_count=2)
    env = {k: v for k, v in os.environ.items() if k != DEBUG_INFO_ENV}
    done = subprocess.run([str(layout.debug_scripts_dir / "debug-continue")], env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert files_of(layout, 1) == {"out": "", "out.breakpointexit": "0\n"}


def test_step_count_is_baked_in(tmp_path):
    write_debug_scripts(tmp_path, tekton_root="/tekton", step_count=7)
    text = (tmp_path / "debug-continue").read_text()
    assert "numberOfSteps=7\n" in text
    assert "tektonRun=/tekton/run\n" in text
