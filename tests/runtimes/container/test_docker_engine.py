"""The docker engine path, for real: the docker CLI against podman's Docker-compatible API socket
(``podman system service``, on a unix socket of the test's own, named by DOCKER_HOST)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from tekton_debug.events import Release, RunFinished, StepPaused
from tests import containers
from tests.runtimes.container.conftest import WAIT


@pytest.fixture
def docker_host(podman, image, tmp_path, monkeypatch):
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed (.ci/run installs Debian's docker.io)")
    sock = tmp_path / "podman.sock"
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    host = f"unix://{sock}"
    monkeypatch.setenv("DOCKER_HOST", host)
    deadline = time.time() + WAIT
    while time.time() < deadline:
        if sock.exists() and subprocess.run(["docker", "ps", "-q"],
                                            capture_output=True).returncode == 0:
            break
        time.sleep(0.1)
    yield host
    service.terminate()
    try:
        service.wait(10)
    except subprocess.TimeoutExpired:
        service.kill()
        service.wait()


def test_steps_run_pause_and_continue_through_the_docker_cli(docker_host, session, task_file):
    task = task_file("""\
        - name: fails
          image: IMAGE
          script: |
            cat /etc/only-in-image
            exit 5
        - name: after
          image: IMAGE
          command: [echo, after ran]
        """)
    s, rec = session(task, engine="docker")
    assert s.runtime.engine.name == "docker"
    paused = rec.wait_for(StepPaused)
    assert paused.exit_code == 5
    assert containers.MARKER_TEXT in rec.log(0)
    res = s.evaluate(0, "cat /etc/only-in-image")
    assert containers.MARKER_TEXT in res.stdout.decode()
    assert s.shell_command(0)[0].endswith("docker")
    s.release(Release.CONTINUE)
    assert rec.wait_for(RunFinished).succeeded
    assert rec.log(1) == "after ran\n"
    s.close()
    assert containers.engine_containers(s.container_run_id) == []


def test_docker_without_a_daemon_says_how_to_start_one(monkeypatch, tmp_path):
    if shutil.which("docker") is None:
        pytest.skip("the docker CLI is not installed")
    from tekton_debug.errors import UserError
    from tekton_debug.runtimes.container.engine import find_engine
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/nothing.sock")
    with pytest.raises(UserError) as err:
        find_engine("docker")
    assert "docker does not work" in str(err.value)
    assert "start the Docker daemon" in str(err.value)
