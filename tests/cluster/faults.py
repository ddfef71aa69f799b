"""Faults over HTTP, for a test cluster run as a program (``python -m tests.cluster``).

``FaultClient`` has the same fault methods as ``ClusterServer``; ``ClusterProcess`` starts the
program on a free port and stops it (and every process it started) on ``stop()``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class FaultClient:
    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def _call(self, method: str, what: str, body: dict | None = None):
        data = json.dumps(body or {}).encode() if method != "GET" else None
        req = urllib.request.Request(f"{self.url}/_test/{what}", data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")

    def drop_watches(self, abrupt: bool = False) -> int:
        return self._call("POST", "drop-watches", {"abrupt": abrupt})["dropped"]

    def expire_next_watch(self, count: int = 1) -> None:
        self._call("POST", "expire-next-watch", {"count": count})

    def refuse_exec(self, container: str | None = None) -> None:
        self._call("POST", "refuse-exec", {"container": container})

    def allow_exec(self) -> None:
        self._call("POST", "allow-exec")

    def deny(self, verb: str, resource: str, subresource: str = "") -> None:
        self._call("POST", "deny", {"verb": verb, "resource": resource, "subresource": subresource})

    def allow(self, verb: str, resource: str, subresource: str = "") -> None:
        self._call("POST", "allow", {"verb": verb, "resource": resource, "subresource": subresource})

    def delete_pod(self, name: str, namespace: str = "default") -> None:
        self._call("POST", "delete-pod", {"name": name, "namespace": namespace})

    def expire_timeout(self, taskrun: str, namespace: str = "default") -> None:
        self._call("POST", "expire-timeout", {"name": taskrun, "namespace": namespace})

    def go_away(self, seconds: float) -> None:
        """Returns as the server starts going away (the answer is sent first)."""
        self._call("POST", "go-away", {"seconds": seconds})

    def request_counts(self) -> dict[tuple[str, str], int]:
        return {(r["verb"], r["path"]): r["count"] for r in self._call("GET", "requests")}

    def reset_request_counts(self) -> None:
        self._call("DELETE", "requests")


class ClusterProcess(FaultClient):
    """``python -m tests.cluster`` as a child process on a free port."""

    def __init__(self, kubeconfig: str, *extra_args: str) -> None:
        self.kubeconfig = kubeconfig
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.cluster", "--kubeconfig", kubeconfig, "--port", "0",
             *extra_args], cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on " not in line:
            self.proc.kill()
            raise RuntimeError(f"the test cluster did not start: {line!r}")
        super().__init__(line.split("listening on ")[1].split()[0])

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        return self.proc.returncode
