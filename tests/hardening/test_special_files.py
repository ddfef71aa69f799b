"""A Task path, a neighbouring YAML file or a breakpoint source that is a FIFO, a device or an
endless file: `run` and the DAP server answer at once with a clear error (or skip the
neighbour), and nothing blocks or fills the memory. The language server: tests/lsp/test_bounds.py."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from tests.dap.dapclient import DapClient

pytestmark = pytest.mark.timeout(60)  # a hang fails here instead of blocking the run

TASK = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: lib-task
    spec:
      steps:
        - name: only
          image: alpine
          script: echo hi
    """)

TASKRUN = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: TaskRun
    metadata:
      name: run
    spec:
      taskRef:
        name: lib-task
    """)


@pytest.fixture
def specials(tmp_path):
    """A FIFO (no writer ever comes) and a link to /dev/zero, both named like YAML files."""
    os.mkfifo(tmp_path / "a-fifo.yaml")
    os.symlink("/dev/zero", tmp_path / "b-zero.yaml")
    return {"fifo": tmp_path / "a-fifo.yaml", "zero": tmp_path / "b-zero.yaml"}


@pytest.mark.parametrize("which, kind", [("fifo", "a FIFO (named pipe)"),
                                         ("zero", "a character device")])
def test_run_refuses_a_special_file_at_once(specials, which, kind):
    res = subprocess.run([sys.executable, "-m", "tekton_debug", "run", str(specials[which])],
                         capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert res.returncode == 2, res.stderr
    assert res.stderr.startswith(f"error: {specials[which]}: this is {kind}, not a regular file")
    assert "Traceback" not in res.stderr


def test_dap_answers_launches_and_breakpoints_in_special_files(specials, tmp_path):
    (tmp_path / "lib.yaml").write_text(TASK)
    client = DapClient(cwd=str(tmp_path))
    try:
        client.request("initialize", {"adapterID": "tekton", "linesStartAt1": True,
                                      "columnsStartAt1": True})
        for path in specials.values():  # before launch the adapter reads the source itself
            body = client.request("setBreakpoints", {"source": {"path": str(path)},
                                                     "breakpoints": [{"line": 7}]})["body"]
            assert [bp["verified"] for bp in body["breakpoints"]] == [False]
        response = client.request("launch", {"type": "tekton", "request": "launch",
                                             "task": str(specials["fifo"])}, check=False)
        assert response["success"] is False
        assert "this is a FIFO (named pipe), not a regular file" in response["message"]
    finally:
        client.close()
    assert "Traceback" not in client.stderr.decode()


def test_run_finds_a_task_ref_past_special_neighbours(specials, tmp_path):
    (tmp_path / "lib.yaml").write_text(TASK)
    (tmp_path / "run.yaml").write_text(TASKRUN)
    res = subprocess.run([sys.executable, "-m", "tekton_debug", "run", str(tmp_path / "run.yaml"),
                          "--runtime", "local"], capture_output=True, text=True, timeout=60,
                         stdin=subprocess.DEVNULL, cwd=str(tmp_path))
    assert "hi" in res.stdout and res.returncode == 0, res.stdout + res.stderr
