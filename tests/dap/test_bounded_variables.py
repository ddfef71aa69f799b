"""What the Results scope, the Workspaces tree and the REPL read from a step is bounded, and says
so: a huge result, an endless command, special files and hostile file names in a workspace."""

from __future__ import annotations

import textwrap
import time

import pytest

from tekton_debug.dap.variables import MAX_ENTRIES, RESULT_PREVIEW
from tekton_debug.events import MAX_EXEC_OUTPUT

pytestmark = pytest.mark.timeout(120)

TASK = textwrap.dedent("""\
    apiVersion: tekton.dev/v1
    kind: Task
    metadata:
      name: hostile
    spec:
      results:
        - name: big
        - name: pipe
      workspaces:
        - name: source
      steps:
        - name: make-a-mess
          image: alpine
          script: |
            cd $(workspaces.source.path)
            mkfifo fifo
            ln -s /dev/zero zero
            ln -s / root-link
            printf 'hello' > "$(printf 'evil\\nf 3 fake')"
            mkdir many && (cd many && i=0; while [ $i -lt 1005 ]; do : > f$i; i=$((i+1)); done)
            exit 1
    """)


@pytest.fixture
def paused(dap, tmp_path):
    task = tmp_path / "task.yaml"
    task.write_text(TASK)
    dap.start({"type": "tekton", "request": "launch", "task": str(task)})
    dap.wait_event("stopped", timeout=60)
    # written while paused: a step that ends with a result over 4 KB fails before it could pause
    dap.request("evaluate", {"context": "repl", "expression":
                             "head -c 3000000 /dev/zero | tr '\\0' a > $(results.big.path); "
                             "mkfifo $(results.pipe.path)"})
    frame = dap.request("stackTrace", {"threadId": 1})["body"]["stackFrames"][0]
    scopes = {s["name"]: s["variablesReference"]
              for s in dap.request("scopes", {"frameId": frame["id"]})["body"]["scopes"]}
    return dap, scopes


def children(dap, ref: int) -> dict[str, dict]:
    return {v["name"]: v for v in
            dap.request("variables", {"variablesReference": ref})["body"]["variables"]}


def test_a_huge_result_is_shown_cut_with_a_mark(paused):
    dap, scopes = paused
    results = children(dap, scopes["Results"])
    big = results["big"]["value"]
    assert big.startswith("a" * 1000)
    assert big.endswith(f"\n[truncated: only the first {RESULT_PREVIEW:,} bytes are shown]")
    assert len(big) < RESULT_PREVIEW + 100
    assert results["pipe"]["value"] == "(not a regular file: not read)"


def test_the_workspace_tree_opens_no_special_file_follows_no_link_and_escapes_names(paused):
    dap, scopes = paused
    (workspace,) = children(dap, scopes["Workspaces"]).values()
    started = time.monotonic()
    entries = children(dap, workspace["variablesReference"])
    assert time.monotonic() - started < 20  # nothing waited for the FIFO or read /dev/zero
    assert entries["fifo"]["value"] == "FIFO (not opened)"
    assert entries["zero"]["value"] == "symbolic link to /dev/zero (not followed)"
    assert entries["root-link"]["value"] == "symbolic link to / (not followed)"
    assert entries["root-link"]["variablesReference"] == 0  # nothing to expand out there
    # one entry, its newline written as an escape: no "fake" entry of 3 bytes
    assert entries["evil\\nf 3 fake"]["value"] == "5 bytes"
    assert not any(name.startswith("f 3") or name == "fake" for name in entries)
    content = children(dap, entries["evil\\nf 3 fake"]["variablesReference"])
    assert content["content"]["value"] == "hello"
    many = children(dap, entries["many/"]["variablesReference"])
    assert len(many) == MAX_ENTRIES + 1
    assert many["..."]["value"] == (f"more than {MAX_ENTRIES} entries: only the first "
                                    f"{MAX_ENTRIES} are listed")


def test_the_repl_stops_a_command_that_writes_without_end(paused):
    dap, _ = paused
    started = time.monotonic()
    result = dap.request("evaluate", {"expression": "yes", "context": "repl"})["body"]["result"]
    assert time.monotonic() - started < 30  # not the 60 s timeout: stopped at the limit
    assert result.startswith("y\ny\n")
    assert result.endswith(f"[truncated: the command was stopped after {MAX_EXEC_OUTPUT:,} "
                           "bytes of output; run it in a shell, or send its output to a file]")
    assert len(result) < MAX_EXEC_OUTPUT + 200
    # and the session goes on
    assert dap.request("evaluate", {"expression": "echo ok", "context": "repl"}
                       )["body"]["result"] == "ok"
