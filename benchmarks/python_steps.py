"""Python steps under debugpy, through the DAP server, each figure beside its baseline.

  (i)  a Python step with a breakpoint that is never hit  vs  the same step run plainly
       (configurationDone -> terminated at the client; the difference is what debugpy costs)
       beside debugpy's floor: starting Python and importing debugpy's debugger (pydevd), less
       starting Python alone (what any use of debugpy in the step costs before it does anything)
       and, closer up, the step's Python alone: the script run by the bootstrap that would start
       debugpy at a breakpoint (connected to a listener that sends it a line never reached)
       vs the script run plainly, per interpreter (sys.settrace before 3.12, sys.monitoring on)
  (ii) the script reaches a breakpoint -> `stopped` at the client
       (the script stamps time.time() on the line before; the client stamps the event's arrival):
       the first hit apart (debugpy is started then: its import is paid at the first stop),
       then the hits after it

Run: .venv/bin/python benchmarks/python_steps.py [--runs N] [--hits N] [--python PATH ...]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dap import ADAPTER, Dap, ms, p90, write_task


def python_task(hits: int, python: str = sys.executable,
                image: str = "python") -> tuple[str, int, int]:
    """(a Task of one Python step in ``image``, run by ``python``, the line of a breakpoint never
    hit, the line hit ``hits`` times, each time just after ``stamp = time.time()``)."""
    script = "\n".join([
        f"#!{python}",
        "import time",
        "def never():",
        "    return 'never called'",  # line 4 of the script
        "total = 0",
        "for i in range(int('$(params.hits)')):",
        "    stamp = time.time()",
        "    total += i",  # line 8 of the script
        "print('total', total)",
        "",
    ])
    text = ("apiVersion: tekton.dev/v1\nkind: Task\nmetadata:\n  name: bench-python\nspec:\n"
            "  params:\n    - name: hits\n      default: \"0\"\n  steps:\n"
            f"    - name: py\n      image: {image}\n      script: |\n")
    first = text.count("\n") + 1
    text += "".join(f"        {line}\n" if line else "\n" for line in script.split("\n")[:-1])
    return text, first + 3, first + 7


def _run(task: str, cwd: str, lines: list[int], hits: int,
         on_stop=None, runtime: str = "local") -> float:
    """configurationDone -> terminated (ms), calling ``on_stop(dap, after, t, body)`` per stop."""
    dap = Dap(ADAPTER, cwd=cwd)
    try:
        dap.request("initialize", {"adapterID": "tekton", "clientID": "bench",
                                   "linesStartAt1": True, "columnsStartAt1": True})
        launch = dap.send("launch", {"type": "tekton", "request": "launch", "task": task,
                                     "runtime": runtime,
                                     "params": {"hits": str(hits)}})
        dap.event("initialized")
        dap.request("setBreakpoints", {"source": {"path": task},
                                       "breakpoints": [{"line": n} for n in lines]})
        dap.request("setExceptionBreakpoints", {"filters": ["onFailure"]})
        start = time.time()
        dap.request("configurationDone")
        dap.wait(lambda m: m.get("type") == "response" and m.get("request_seq") == launch)
        after = 0
        for _ in range(hits if on_stop else 0):
            after, t, m = dap.event("stopped", after=after, timeout=60)
            on_stop(dap, t, m["body"])
            after += 1
        _, end, _ = dap.event("terminated", timeout=60)
        output = "".join(m.get("body", {}).get("output", "") for _, m in dap.messages
                         if m.get("event") == "output")
        if "total" not in output:
            raise RuntimeError(f"the step did not run to its end: {output[-500:]!r}")
        return ms(end - start)
    finally:
        dap.close()


def measure_never_hit(runs: int, runtime: str = "local",
                      **where: str) -> tuple[list[float], list[float]]:
    """(with a breakpoint never hit, plainly): configurationDone -> terminated, in ms
    (``where``: ``python_task``'s python and image)."""
    debugged, plain = [], []
    with tempfile.TemporaryDirectory(prefix="bench-python-") as tmp:
        text, never, _ = python_task(0, **where)
        task = write_task(Path(tmp), "task.yaml", text)
        _run(task, tmp, [never], 0, runtime=runtime)  # warm up (debugpy's files, page cache)
        for _ in range(runs):  # interleaved, so that the machine's load falls on both alike
            debugged.append(_run(task, tmp, [never], 0, runtime=runtime))
            plain.append(_run(task, tmp, [], 0, runtime=runtime))
    return debugged, plain


def measure_import_floor(runs: int) -> list[float]:
    """Starting Python and importing debugpy's debugger, less starting Python alone (ms)."""
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    importing = [sys.executable, "-c", "import debugpy.server.api, pydevd"]
    out = []
    for _ in range(runs + 1):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        bare = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run(importing, env=env, check=True)
        out.append(ms(time.perf_counter() - t - bare))
    return out[1:]


def measure_bootstrap(python: str, runs: int) -> tuple[list[float], list[float]]:
    """(the script under the bootstrap, plainly): the step's Python from start to exit, in ms."""
    import socket
    import threading

    from tekton_debug.python import debugpy_cli

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:  # the adapter's side of the control channel: a line never reached
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.sendall(debugpy_cli.configuration([4], False))  # `return` of never()
            threading.Thread(target=lambda c=conn: (c.recv(1), c.close()), daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    hooked, plain = [], []
    with tempfile.TemporaryDirectory(prefix="bench-python-") as tmp:
        text, _, _ = python_task(0, python)
        lines = text.splitlines()
        body = [line[8:] for line in lines[lines.index("      script: |") + 1:]]
        script = Path(tmp) / "script.py"
        script.write_text("\n".join(body).replace("$(params.hits)", "0") + "\n")
        argv = debugpy_cli.command(python, [], server.getsockname()[1], str(script), [])
        for i in range(runs + 1):  # interleaved; the first round warms the caches up
            for out, command in ((hooked, argv), (plain, [python, str(script)])):
                t = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, check=True)
                if "total 0" not in done.stdout:
                    raise RuntimeError(f"the script did not run to its end: {done.stderr[-300:]}")
                if i:
                    out.append(ms(time.perf_counter() - t))
    server.close()
    return hooked, plain


def measure_hits(hits: int, runtime: str = "local", **where: str) -> list[float]:
    """The script stamps its clock, the next line holds a breakpoint: stamp -> `stopped` (ms)."""
    out: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-python-") as tmp:
        text, _, hit = python_task(hits, **where)
        task = write_task(Path(tmp), "task.yaml", text)

        def on_stop(dap: Dap, t: float, body: dict) -> None:
            stamp = dap.request("evaluate", {"expression": "stamp", "context": "watch"})
            out.append(ms(t - float(stamp["body"]["result"])))
            dap.send("continue", {"threadId": body["threadId"]})

        _run(task, tmp, [hit], hits, on_stop, runtime=runtime)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--hits", type=int, default=20)
    ap.add_argument("--python", action="append", default=[],
                    help="another interpreter for the step-level figure (e.g. a Python 3.12+)")
    args = ap.parse_args()
    debugged, plain = measure_never_hit(args.runs)
    bootstrap = {}
    for python in [sys.executable, *args.python]:
        hooked, bare = measure_bootstrap(python, args.runs * 3)
        version = subprocess.run([python, "-c", "import sys; print(sys.version.split()[0])"],
                                 capture_output=True, text=True, check=True).stdout.strip()
        bootstrap[version] = {"hooked_ms": statistics.median(hooked),
                              "plain_ms": statistics.median(bare),
                              "extra_ms": statistics.median(hooked) - statistics.median(bare)}
    floor = measure_import_floor(args.runs)
    hits = measure_hits(args.hits)
    first, hits = hits[0], hits[1:]
    print(json.dumps({
        "never_hit_ms": statistics.median(debugged), "plain_ms": statistics.median(plain),
        "extra_ms": statistics.median(debugged) - statistics.median(plain),
        "debugpy_import_floor_ms": statistics.median(floor),
        "step_python_alone": bootstrap,
        "first_hit_to_stopped_ms": first,
        "hit_to_stopped_ms_median": statistics.median(hits), "hit_to_stopped_ms_p90": p90(hits),
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
