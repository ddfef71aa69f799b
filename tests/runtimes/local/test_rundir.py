"""Run directories: marked with their owner, swept once the owner is gone, never someone else's;
the control files on a private tmpfs unless the user chose where the run goes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

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


# ---- the control files on a private tmpfs ------------------------------------------------------
def on_tmpfs(path) -> bool:
    done = subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True)
    return done.stdout.strip() == "tmpfs"


@pytest.fixture
def private_tmpfs(monkeypatch, tmp_path):
    """XDG_RUNTIME_DIR a private directory on /dev/shm's tmpfs; the temp dir the test's own."""
    if not on_tmpfs("/dev/shm"):
        pytest.skip("/dev/shm is not a tmpfs here")
    runtime_dir = Path(tempfile.mkdtemp(dir="/dev/shm"))  # mode 0700, this user's
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    yield runtime_dir
    shutil.rmtree(runtime_dir, ignore_errors=True)


def test_control_files_go_to_a_private_tmpfs_directory_unless_the_user_chose_a_place(
        private_tmpfs, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # set by pam_tmpdir, Nix, CI: no choice of a run
    run_dir = rundir.create(None, "demo")
    control = rundir.create_control(None, "demo")

    assert run_dir.parent == tmp_path
    assert control is not None and control.parent == private_tmpfs / "tekton-debug"
    assert on_tmpfs(control) and (control.parent.stat().st_mode & 0o777) == 0o700
    # a PipelineRun's TaskRuns, in its run directory: theirs too
    assert rundir.create_control(run_dir, "task") is not None
    # a place the user chose, or a run kept for a look afterwards: all in the run directory
    assert rundir.create_control(tmp_path / "mine", "demo") is None
    assert rundir.create_control(None, "demo", keep=True) is None


def test_a_runtime_dir_that_others_can_enter_is_not_used(private_tmpfs):
    private_tmpfs.chmod(0o755)

    control = rundir.create_control(None, "demo")

    assert control is None or not control.is_relative_to(private_tmpfs)
    rundir.remove(control)


def test_a_control_directory_whose_owner_died_is_swept_by_the_next_run(private_tmpfs):
    left = rundir.create_control(None, "demo")
    assert left is not None
    (left / rundir.OWNER_FILE).write_text(f"{dead_pid()} 1")
    alive_one = rundir.create_control(None, "demo")

    rundir.create(None, "demo")

    assert not left.exists() and alive_one is not None and alive_one.exists()


@pytest.fixture
def shm(private_tmpfs, monkeypatch):
    """A /dev/shm of the test's own (a sticky tmpfs directory), no XDG_RUNTIME_DIR."""
    place = Path(tempfile.mkdtemp(dir="/dev/shm"))
    place.chmod(0o1777)
    monkeypatch.setattr(rundir, "SHM", str(place))
    monkeypatch.setattr(rundir, "_shm_base", None)
    monkeypatch.delenv("XDG_RUNTIME_DIR")
    yield place
    shutil.rmtree(place, ignore_errors=True)


def test_a_run_killed_without_a_runtime_dir_is_swept_by_a_run_that_has_one(
        shm, private_tmpfs, monkeypatch):
    left = rundir.create_control(None, "demo")  # from ssh or cron: in /dev/shm
    assert left is not None and left.is_relative_to(shm)
    (left / rundir.OWNER_FILE).write_text(f"{dead_pid()} 1")

    monkeypatch.setenv("XDG_RUNTIME_DIR", str(private_tmpfs))
    rundir.create(None, "demo")

    assert not left.exists()


def test_a_directory_another_user_made_under_this_users_name_does_not_put_the_files_on_disk(
        shm):
    taken = shm / f"tekton-debug-{os.getuid()}"
    taken.mkdir(mode=0o700)
    os.chown(taken, 65534, 65534)  # made first by another user, to make the secrets go to disk

    control = rundir.create_control(None, "demo")

    assert control is not None and control.parent.parent == shm and on_tmpfs(control)
    assert control.parent != taken and control.parent.stat().st_uid == os.getuid()
    assert (control.parent.stat().st_mode & 0o777) == 0o700
    assert rundir.create_control(None, "again").parent == control.parent  # found again


def test_without_a_private_tmpfs_the_files_go_to_the_run_directory_and_the_user_is_told_once(
        shm, monkeypatch):
    shm.chmod(0o777)  # not sticky: another user could rename what is made there
    monkeypatch.setattr(rundir, "_notice", [])
    monkeypatch.setattr(rundir, "_notice_said", False)

    assert rundir.create_control(None, "demo") is None
    assert rundir.create_control(None, "demo") is None

    notice = rundir.take_notice()
    assert notice and "XDG_RUNTIME_DIR" in notice and "secret" in notice
    assert rundir.take_notice() is None
