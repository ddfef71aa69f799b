"""Real containers: podman with the tests' containers.conf and locally built images. Without podman
these tests are skipped, unless TEKTON_DEBUG_REQUIRE_CONTAINERS=1 (CI), where that is a failure."""

from __future__ import annotations

import os
import queue
import textwrap
import threading

import pytest

from tests import containers

WAIT = 60  # seconds: only a hung run ever gets near this


@pytest.fixture(scope="session")
def podman():
    path = containers.podman()
    if path is None:
        if os.environ.get("TEKTON_DEBUG_REQUIRE_CONTAINERS") == "1":
            pytest.fail("podman does not work here (tests/run.sh installs it)")
        pytest.skip("podman is not installed or does not work here")
    return path


@pytest.fixture(scope="session")
def image(podman):
    return containers.busybox()


@pytest.fixture(scope="session")
def shellless_image(podman):
    return containers.shellless()


class Recorder:
    """Collects the events; lets a test wait for one."""

    def __init__(self):
        self.events = []
        self._q: queue.Queue = queue.Queue()
        self.lock = threading.Lock()

    def __call__(self, ev):
        self.events.append(ev)
        self._q.put(ev)

    def wait_for(self, kind, pred=lambda ev: True, timeout=WAIT):
        while True:
            ev = self._q.get(timeout=timeout)
            if isinstance(ev, kind) and pred(ev):
                return ev

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]

    def log(self, index, stream="stdout"):
        from tekton_debug.events import StepLog
        return b"".join(e.data for e in self.events
                        if isinstance(e, StepLog) and e.index == index and e.stream == stream
                        ).decode(errors="replace")


@pytest.fixture
def task_file(tmp_path, image):
    """Writes a Task whose steps (YAML text, IMAGE for the test image) are given."""

    def write(steps: str, extra: str = "", name: str = "task.yaml") -> str:
        text = textwrap.dedent("""\
            apiVersion: tekton.dev/v1
            kind: Task
            metadata:
              name: demo
            spec:
            """) + textwrap.indent(textwrap.dedent(extra).replace("image: IMAGE", f"image: {image}"),
                                   "  ") + "  steps:\n" + \
            textwrap.indent(textwrap.dedent(steps).replace("image: IMAGE", f"image: {image}"), "    ")
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write


@pytest.fixture
def session(tmp_path):
    """Starts sessions on the container runtime; closes them after the test."""
    from tekton_debug.options import LaunchOptions
    from tekton_debug.session.session import Session

    made = []

    def start(task: str, *, plan=None, start=True, **options):
        rec = Recorder()
        options.setdefault("runtime", "container")
        s = Session(LaunchOptions(task_file=task, **options), rec)
        s.load()
        if plan:
            plan(s.plan)
        made.append(s)
        s.container_run_id = None
        if start:
            s.start()
            s.container_run_id = getattr(s.runtime, "run_id", None)
        return s, rec

    yield start
    for s in made:
        s.close()
