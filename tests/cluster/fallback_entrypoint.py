"""A minimal Tekton entrypoint (the step lifecycle of tekton-facts.md section 2).

Used by the test cluster only while ``tekton_debug.entrypoint`` is not available, so that the
cluster's pods behave as Tekton's do. Run as a script: ``python fallback_entrypoint.py <flags>``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

POLL = 0.02


def _parse(argv: list[str]) -> tuple[dict, list[str]]:
    flags: dict = {"wait_file": "", "wait_file_content": False, "post_file": "",
                   "termination_path": "", "step_metadata_dir": "", "breakpoint_on_failure": False,
                   "debug_before_step": False, "on_error": "", "timeout": "", "results": "",
                   "entrypoint": ""}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return flags, argv[i + 1:]
        name = a.lstrip("-").split("=", 1)[0]
        if name not in flags:
            raise SystemExit(f"entrypoint: unknown flag {a}")
        if isinstance(flags[name], bool):
            flags[name] = True
        elif "=" in a:
            flags[name] = a.split("=", 1)[1]
        else:
            i += 1
            flags[name] = argv[i]
        i += 1
    return flags, []


def _touch(path: str, content: str = "") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(content)


def _wait_for(*paths: str, content: bool = False) -> str:
    while True:
        for p in paths:
            try:
                if os.path.exists(p) and (not content or os.path.getsize(p) > 0):
                    return p
            except OSError:
                pass
        time.sleep(POLL)


def _duration(text: str) -> float | None:
    if not text:
        return None
    from tekton_debug.tekton.duration import parse_duration
    return parse_duration(text) or None


def main(argv: list[str]) -> int:
    flags, args = _parse(argv)
    post = flags["post_file"]
    run_dir = os.path.dirname(post)
    if flags["wait_file"]:
        got = _wait_for(flags["wait_file"], flags["wait_file"] + ".err",
                        content=flags["wait_file_content"])
        if got.endswith(".err") and not flags["breakpoint_on_failure"]:
            print("Skipping step because a previous step failed", file=sys.stderr, flush=True)
            _touch(post + ".err")
            return 1
    if flags["debug_before_step"]:
        print("debug before step breakpoint has taken effect, waiting for user's decision:\n"
              "1) continue, use cmd: /tekton/debug/scripts/debug-beforestep-continue\n"
              "2) fail-continue, use cmd: /tekton/debug/scripts/debug-beforestep-fail-continue",
              flush=True)
        got = _wait_for(post + ".beforestepexit", post + ".beforestepexit.err")
        if got.endswith(".err"):
            _touch(post + ".err")
            return 1
    cmd = [flags["entrypoint"], *args] if flags["entrypoint"] else args
    started = time.time()
    proc = subprocess.Popen(cmd)
    stop = lambda *_: proc.send_signal(signal.SIGTERM)  # noqa: E731
    signal.signal(signal.SIGTERM, stop)
    try:
        code = proc.wait(timeout=_duration(flags["timeout"]))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        _touch(post + ".err")
        return 1
    if flags["step_metadata_dir"] and not (code and flags["breakpoint_on_failure"]):
        _touch(os.path.join(flags["step_metadata_dir"], "exitCode"), str(code))
    if flags["termination_path"]:
        _touch(flags["termination_path"], json.dumps(
            [{"key": "StartedAt", "value": time.strftime("%Y-%m-%dT%H:%M:%S.000Z",
                                                         time.gmtime(started)), "type": 3}]))
    if code == 0:
        _touch(post)
        return 0
    if flags["breakpoint_on_failure"]:
        print("debug onFailure breakpoint has taken effect, waiting for user's decision:\n"
              "1) continue, use cmd: /tekton/debug/scripts/debug-continue\n"
              "2) fail-continue, use cmd: /tekton/debug/scripts/debug-fail-continue", flush=True)
        exit_file = os.path.join(run_dir, "out.breakpointexit")
        _wait_for(exit_file)
        time.sleep(POLL)  # the script writes the file in one go; let it finish
        try:
            return int(open(exit_file).read().strip() or 0)
        except ValueError:
            return 0
    if flags["on_error"] == "continue":
        _touch(post)
        return 0
    _touch(post + ".err")
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
