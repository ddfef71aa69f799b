"""A client that reads slowly: the adapter's memory stays bounded and no line is lost."""

from __future__ import annotations

import json
import subprocess
import sys
import time


def _frame(seq: int, command: str, arguments: dict) -> bytes:
    body = json.dumps({"seq": seq, "type": "request", "command": command,
                       "arguments": arguments}).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def test_a_million_lines_to_a_stalled_client_keep_memory_bounded_and_all_arrive(tmp_path):
    task = tmp_path / "loud.yaml"
    task.write_text("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: loud\nspec:\n"
                    "  steps:\n    - name: print\n      image: alpine\n"
                    "      script: |\n        awk 'BEGIN { for (i = 1; i <= 1000000; i++) "
                    "printf \"%d %0240d\\n\", i, 0 }'\n")
    proc = subprocess.Popen([sys.executable, "-m", "tekton_debug", "dap"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=tmp_path)
    try:
        for seq, (command, args) in enumerate([
                ("initialize", {"adapterID": "tekton"}),
                ("launch", {"task": str(task)}),
                ("configurationDone", {})], 1):
            proc.stdin.write(_frame(seq, command, args))
        proc.stdin.flush()
        # the client reads nothing for a while: the step's output must wait, not pile up
        peak = 0
        for _ in range(30):
            time.sleep(0.1)
            peak = max(peak, _rss_kb(proc.pid))
        # the step writes 250 MB; what waits for the client is bounded (a few dozen MB)
        assert peak < 150_000, f"adapter RSS {peak} kB while the client was not reading"
        text = []
        reader = proc.stdout
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = reader.read(1)
                assert byte, "the adapter closed the stream"
                header += byte
            length = int(header.split(b":")[1])
            message = json.loads(reader.read(length))
            if message.get("event") == "output" and message["body"].get("category") == "stdout":
                text.append(message["body"]["output"])
            if message.get("event") == "terminated":
                break
        lines = "".join(text).splitlines()
        assert len(lines) == 1_000_000
        assert [line.split()[0] for line in (lines[0], lines[-1])] == ["1", "1000000"]
    finally:
        proc.kill()
        proc.wait()
