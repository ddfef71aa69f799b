"""Real parts on loopback for the resolvers: a git repository (file://), an HTTP server on
127.0.0.1, a cache of each test's own."""

from __future__ import annotations

import http.server
import subprocess
import threading
import textwrap

import pytest

from tekton_debug.resolution.cache import Cache
from tekton_debug.resolution.reference import Reference
from tekton_debug.resolution.remote import Remote


def task_yaml(name: str, message: str = "hello") -> str:
    return textwrap.dedent(f"""\
        apiVersion: tekton.dev/v1
        kind: Task
        metadata:
          name: {name}
        spec:
          steps:
            - name: say
              image: busybox
              script: |
                echo {message}
        """)


def ref(resolver: str, **params) -> Reference:
    return Reference(resolver, params, file="run.yaml", line=7, column=5)


@pytest.fixture
def cache(tmp_path) -> Cache:
    return Cache(str(tmp_path / "cache"))


@pytest.fixture
def online(cache) -> Remote:
    return Remote(cache=cache, timeout=10)


@pytest.fixture
def offline(cache) -> Remote:
    return Remote(offline=True, cache=cache, timeout=10)


class GitRepo:
    def __init__(self, path) -> None:
        self.path = path
        self.url = f"file://{path}"
        self.git("init", "-q", "-b", "main")
        self.git("config", "user.email", "t@example.com")
        self.git("config", "user.name", "t")

    def git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", str(self.path), *args], check=True,
                              capture_output=True, text=True).stdout.strip()

    def commit(self, files: dict[str, str], message: str = "change") -> str:
        for name, text in files.items():
            p = self.path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text)
            self.git("add", name)
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path) -> GitRepo:
    (tmp_path / "repo").mkdir()
    return GitRepo(tmp_path / "repo")


class Files(http.server.BaseHTTPRequestHandler):
    """Serves ``server.files`` (path -> (status, body)); counts requests."""

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.requests.append(self.path)
        status, body = self.server.files.get(self.path, (404, b"not found"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Files)
    server.files, server.requests = {}, []
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on."""
    from .registry import free_port
    return free_port()
