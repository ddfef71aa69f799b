"""Files a user names are read only when they are regular files of bounded size."""

from __future__ import annotations

import os

import pytest

from tekton_debug.errors import UserError
from tekton_debug.tekton import files
from tekton_debug.tekton.loader import load_file
from tests.tekton.test_loader import LIB_TASK, REF_RUN, yaml_text

pytestmark = pytest.mark.timeout(30)  # a FIFO that blocked would hang, not fail


def message(err: pytest.ExceptionInfo) -> str:
    problem = err.value.first
    return f"{problem.file}: {problem.message} (fix: {problem.fix})"


def test_a_fifo_as_the_task_file_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "task.yaml")
    with pytest.raises(UserError) as err:
        load_file(str(tmp_path / "task.yaml"))
    assert message(err) == (f"{tmp_path}/task.yaml: this is a FIFO (named pipe), not a regular "
                            "file: it is not read (fix: give the path of a Task or TaskRun YAML "
                            "file)")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null", "/dev/urandom"])
def test_a_device_as_the_task_file_is_refused_unread(device):
    with pytest.raises(UserError) as err:
        load_file(device)
    assert "this is a character device, not a regular file" in message(err)


def test_a_link_to_a_device_is_refused_like_the_device(tmp_path):
    os.symlink("/dev/zero", tmp_path / "task.yaml")
    with pytest.raises(UserError, match="character device"):
        load_file(str(tmp_path / "task.yaml"))


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "big.yaml"
    path.write_text("# " + "x" * 5000 + "\n")
    monkeypatch.setattr(files, "MAX_YAML_SIZE", 4096)
    with pytest.raises(UserError) as err:
        files.read_text(str(path), limit=4096)
    assert "the file is larger than 4096 bytes: it is not read" in message(err)
    path.write_text("# " + "x" * 4000 + "\n")
    assert files.read_text(str(path), limit=4096).startswith("# x")


def test_the_default_limit_refuses_a_large_task_file(tmp_path):
    path = tmp_path / "big.yaml"
    with open(path, "wb") as f:
        f.truncate(files.MAX_YAML_SIZE + 1)  # sparse: no disk used
    with pytest.raises(UserError, match="larger than 4 MiB"):
        load_file(str(path))


def test_a_directory_is_refused(tmp_path):
    with pytest.raises(UserError) as err:
        load_file(str(tmp_path))
    assert "this is a directory, not a file" in message(err)


def test_special_neighbours_are_skipped_when_looking_for_a_task_ref(tmp_path):
    os.mkfifo(tmp_path / "a-fifo.yaml")  # sorted before lib.yaml: it would be read first
    os.symlink("/dev/zero", tmp_path / "b-zero.yaml")
    (tmp_path / "lib.yaml").write_text(yaml_text(LIB_TASK))
    (tmp_path / "run.yaml").write_text(yaml_text(REF_RUN))
    run = load_file(str(tmp_path / "run.yaml"))
    assert run.task_name == "lib-task"
