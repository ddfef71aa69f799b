"""Run directories: marked with their owner, swept once the owner is gone, never someone else's."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tekton_debug.errors import UserError
from tekton_debug.runtimes.local import rundir


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_directory_whose_owner_died_is_swept_by_the_next_one(tmp_path):
    left = rundir.create(tmp_path, "demo")
    (left / rundir.OWNER_FILE).write_text(f"{dead_pid()} 1")

    mine = rundir.create(tmp_path, "demo")

    assert not left.exists() and mine.exists()


def test_a_live_owners_directory_stays(tmp_path):
    other = rundir.create(tmp_path, "demo")  # this process is alive: its run goes on

    rundir.create(tmp_path, "demo")

    assert other.exists()


def test_a_reused_pid_does_not_keep_a_dead_runs_directory(tmp_path):
    left = rundir.create(tmp_path, "demo")
    pid, start = (left / rundir.OWNER_FILE).read_text().split()
    (left / rundir.OWNER_FILE).write_text(f"{pid} {int(start) - 1}")  # same pid, older process

    assert rundir.sweep(tmp_path) == [left]


def test_directories_without_an_owner_are_left_alone(tmp_path):
    kept = rundir.create(tmp_path, "demo", keep=True)
    unrelated = tmp_path / "tekton-debug-by-hand"
    unrelated.mkdir()

    rundir.create(tmp_path, "demo")

    assert kept.exists() and unrelated.exists()


def test_a_temp_dir_with_a_colon_is_refused_with_what_to_do(tmp_path):
    with pytest.raises(UserError, match="contains ':'") as caught:
        rundir.create(tmp_path / "a:b", "demo")
    assert "TMPDIR" in caught.value.first.fix
