"""How a step's Python is started under debugpy, and which Pythons cannot be."""

from __future__ import annotations

import os

from tekton_debug.python import debugpy_cli


def test_the_command_connects_to_the_adapter_and_waits_before_running_the_script():
    argv = debugpy_cli.command("/usr/bin/python3", ["-u"], 4711, "/run/script-1", ["a", "b"])
    assert argv == ["/usr/bin/python3", "-u", "-c", debugpy_cli.BOOTSTRAP,
                    "--connect", "127.0.0.1:4711", "--configure-subProcess", "false",
                    "--wait-for-client", "/run/script-1", "a", "b"]


def test_only_debugpy_is_added_to_the_path_of_the_steps_python(tmp_path):
    directory = debugpy_cli.python_path(tmp_path)
    assert os.listdir(directory) == ["debugpy"]
    assert os.path.isfile(os.path.join(directory, "debugpy", "__main__.py"))
    env = debugpy_cli.environment({"PYTHONPATH": "/mine", "HOME": "/h"}, directory)
    assert env["PYTHONPATH"] == f"{directory}{os.pathsep}/mine" and env["HOME"] == "/h"


def test_pythons_too_old_or_told_to_ignore_pythonpath_are_refused_with_the_reason():
    assert debugpy_cli.too_old("3.8") is None and debugpy_cli.too_old("3.13") is None
    assert "Python is 3.7; debugpy 1.8.22 needs Python 3.8" in debugpy_cli.too_old("3.7")
    assert "2.7" in debugpy_cli.too_old("2.7")
    assert "did not tell its version" in debugpy_cli.too_old("garbage")
    assert "-I" in debugpy_cli.unusable_options(["-I"])
    assert "-uE" in debugpy_cli.unusable_options(["-uE"])
    assert debugpy_cli.unusable_options(["-u", "-X", "dev"]) is None
