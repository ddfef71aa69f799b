"""The container runtime end to end, with real podman containers: each step runs in its image, a
failed step pauses with its container alive, and nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from tekton_debug.cli.run import piped_shell
from tekton_debug.errors import UserError
from tekton_debug.events import (
    MAX_EXEC_OUTPUT, Notice, PauseKind, Progress, Release, RunFinished, StepFinished, StepOutcome,
    StepPaused, StepResumed,
)
from tests import containers
from tests.runtimes.container.conftest import WAIT


def running(name: str) -> bool:
    out = subprocess.run(["podman", "ps", "--filter", f"name=^{name}$", "--format",
                          "{{.Names}}"], capture_output=True, text=True).stdout
    return name in out.split()


def left_behind(s) -> list[str]:
    """The engine's containers of this session's run (any state)."""
    assert s.container_run_id, "the session ran no containers"
    return containers.engine_containers(s.container_run_id)


def test_each_step_runs_in_its_image_not_on_the_host(session, task_file):
    task = task_file("""\
        - name: look
          image: IMAGE
          script: |
            cat /etc/only-in-image
            if [ -e /usr/lib/os-release ]; then echo host-file-seen; else echo no-host-file; fi
            echo "image env: $IMAGE_VAR"
        """)
    assert os.path.exists("/usr/lib/os-release")  # the host has it; the image does not
    s, rec = session(task)
    finished = rec.wait_for(RunFinished)
    assert finished.succeeded, rec.events
    out = rec.log(0)
    assert containers.MARKER_TEXT in out
    assert "no-host-file" in out and "host-file-seen" not in out
    assert "image env: from-image" in out
    s.close()
    assert left_behind(s) == []


def test_params_env_results_working_dir_and_user(session, task_file):
    task = task_file("""\
        - name: show
          image: IMAGE
          workingDir: $(workspaces.src.path)/sub
          securityContext:
            runAsUser: 1234
            runAsGroup: 1234
          env:
            - name: GREETING
              value: hello-$(params.who)
            - name: BOTH
              value: $(GREETING)-again
          script: |
            echo "env: $GREETING $BOTH"
            echo "pwd: $(pwd)"
            echo "uid: $(id -u) gid: $(id -g)"
            printf 'made in a container' > $(results.answer.path)
        - name: read
          image: IMAGE
          command: [cat, $(results.answer.path)]
        """, extra="""\
        params:
          - name: who
            default: nobody
        results:
          - name: answer
        workspaces:
          - name: src
        """)
    s, rec = session(task, params={"who": "tekton"})
    assert rec.wait_for(RunFinished).succeeded, rec.events
    out = rec.log(0)
    assert "env: hello-tekton hello-tekton-again" in out
    assert "pwd: /workspace/src/sub" in out
    assert "uid: 1234 gid: 1234" in out
    assert rec.log(1) == "made in a container"


def test_workspaces_are_shared_between_steps_and_with_the_host(session, task_file, tmp_path):
    host = tmp_path / "source"
    host.mkdir()
    (host / "from-host.txt").write_text("written on the host\n")
    task = task_file("""\
        - name: write
          image: IMAGE
          script: |
            cat $(workspaces.source.path)/from-host.txt
            echo from-step-one > $(workspaces.source.path)/from-step.txt
            echo scratch > $(workspaces.scratch.path)/note
        - name: read
          image: IMAGE
          script: |
            cat $(workspaces.source.path)/from-step.txt $(workspaces.scratch.path)/note
        """, extra="""\
        workspaces:
          - name: source
          - name: scratch
        """)
    s, rec = session(task, workspaces={"source": str(host)})
    assert rec.wait_for(RunFinished).succeeded, rec.events
    assert "written on the host" in rec.log(0)
    assert rec.log(1) == "from-step-one\nscratch\n"
    assert (host / "from-step.txt").read_text() == "from-step-one\n"


def test_failed_step_pauses_with_its_container_alive_and_continue_goes_on(session, task_file):
    task = task_file("""\
        - name: fails
          image: IMAGE
          script: |
            echo about to fail
            exit 3
        - name: after
          image: IMAGE
          command: [echo, after ran]
        """)
    s, rec = session(task)
    paused = rec.wait_for(StepPaused)
    assert (paused.index, paused.kind, paused.exit_code) == (0, PauseKind.ON_FAILURE, 3)
    name = s.runtime.container_name(0)
    assert running(name)
    res = s.evaluate(0, "cat /etc/only-in-image; echo cwd=$(pwd)")
    assert res.exit_code == 0
    assert containers.MARKER_TEXT in res.stdout.decode()
    assert "cwd=/workspace" in res.stdout.decode()
    endless = s.evaluate(0, "yes")  # stopped at the output limit, not at the 60 s timeout
    assert endless.truncated and len(endless.stdout) == MAX_EXEC_OUTPUT
    assert endless.stdout.startswith(b"y\ny\n")
    env = s.environment(0)
    assert env.details["engineContainer"] == name
    assert env.details["imageDigest"].startswith("sha256:")
    s.release(Release.CONTINUE)
    done = rec.wait_for(RunFinished)
    assert done.succeeded
    assert rec.log(1) == "after ran\n"
    first = next(e for e in rec.of(StepFinished) if e.index == 0)
    assert first.outcome is StepOutcome.SUCCEEDED and "marked passed" in first.message
    assert "about to fail" in rec.log(0)


def test_piped_shell_in_the_paused_container_runs_the_debug_scripts(session, task_file):
    task = task_file("""\
        - name: fails
          image: IMAGE
          command: [sh, -c, "exit 1"]
        """)
    s, rec = session(task)
    rec.wait_for(StepPaused)
    argv = piped_shell(s.shell_command(0))
    res = subprocess.run(argv, input=b"cat /etc/only-in-image\necho $PS1\ndebug-fail-continue\n",
                         capture_output=True, timeout=WAIT)
    assert containers.MARKER_TEXT in res.stdout.decode()
    resumed = rec.wait_for(StepResumed)
    assert resumed.release is Release.FAIL_CONTINUE
    done = rec.wait_for(RunFinished)
    assert not done.succeeded and done.reason == "Failed"
    s.close()
    assert left_behind(s) == []


def test_interactive_shell_on_a_terminal(session, task_file):
    pexpect = pytest.importorskip("pexpect")
    task = task_file("""\
        - name: fails
          image: IMAGE
          command: [sh, -c, "exit 1"]
        """)
    s, rec = session(task)
    rec.wait_for(StepPaused)
    argv = s.shell_command(0)
    child = pexpect.spawn(argv[0], argv[1:], timeout=WAIT, encoding="utf-8")
    child.expect_exact("[step-fails] $ ")
    child.sendline("cat /etc/only-in-image")
    child.expect_exact(containers.MARKER_TEXT)
    child.sendline("debug-continue")
    assert rec.wait_for(RunFinished).succeeded
    child.close(force=True)


def test_fail_continue_marks_the_step_failed_and_the_run_fails(session, task_file):
    task = task_file("""\
        - name: fails
          image: IMAGE
          command: [sh, -c, "exit 2"]
        - name: next
          image: IMAGE
          command: [echo, still runs]
        """)
    s, rec = session(task)
    rec.wait_for(StepPaused)
    s.release(Release.FAIL_CONTINUE)
    done = rec.wait_for(RunFinished)
    assert not done.succeeded
    assert rec.log(1) == "still runs\n"  # Tekton runs later steps after a fail-continue
    s.close()
    assert left_behind(s) == []


def test_before_step_pause_has_the_container_up_before_the_step_runs(session, task_file):
    task = task_file("""\
        - name: first
          image: IMAGE
          command: [sh, -c, "echo ran > /workspace/ran"]
        """)
    s, rec = session(task, plan=lambda p: p.before_steps.add("first"))
    paused = rec.wait_for(StepPaused)
    assert paused.kind is PauseKind.BEFORE_STEP
    res = s.evaluate(0, "ls /workspace; cat /etc/only-in-image")
    assert "ran" not in res.stdout.decode().split()
    assert containers.MARKER_TEXT in res.stdout.decode()
    s.release(Release.CONTINUE)
    assert rec.wait_for(RunFinished).succeeded


def test_stop_while_paused_cancels_and_removes_every_container(session, task_file):
    task = task_file("""\
        - name: fails
          image: IMAGE
          command: [sh, -c, "exit 1"]
        - name: never
          image: IMAGE
          command: [echo, never]
        """)
    s, rec = session(task)
    rec.wait_for(StepPaused)
    s.terminate()
    done = rec.wait_for(RunFinished)
    assert done.reason == "TaskRunCancelled"
    assert "never" not in rec.log(1)
    s.close()
    assert left_behind(s) == []


def test_the_taskrun_timeout_expires_while_paused(session, task_file):
    task = task_file("""\
        - name: fails
          image: IMAGE
          command: [sh, -c, "exit 1"]
        """)
    s, rec = session(task, timeout="3s")
    rec.wait_for(StepPaused)
    done = rec.wait_for(RunFinished, timeout=WAIT)
    assert done.reason == "TaskRunTimeout"
    s.close()
    assert left_behind(s) == []


def test_a_running_step_is_killed_on_cancel(session, task_file):
    task = task_file("""\
        - name: sleeps
          image: IMAGE
          script: |
            echo sleeping
            sleep 600
        """)
    s, rec = session(task)
    deadline = time.time() + WAIT
    while "sleeping" not in rec.log(0) and time.time() < deadline:
        time.sleep(0.05)
    s.runtime.cancel()
    assert rec.wait_for(RunFinished).reason == "TaskRunCancelled"
    s.close()
    assert left_behind(s) == []


def test_an_image_without_a_shell_still_pauses_with_a_shell_and_the_scripts(
        session, task_file, shellless_image):
    task = task_file(f"""\
        - name: distroless
          image: {shellless_image}
          command: [/app/busybox, "false"]
        """)
    s, rec = session(task)
    paused = rec.wait_for(StepPaused)
    assert paused.exit_code == 1
    res = s.evaluate(0, "cat /etc/only-in-image; [ -e /bin/sh ] || echo no-shell-in-image")
    assert containers.MARKER_TEXT in res.stdout.decode()
    assert "no-shell-in-image" in res.stdout.decode()
    assert "the image has none" in s.environment(0).details["shell"]
    shell = subprocess.run(piped_shell(s.shell_command(0)), input=b"debug-continue\n",
                           capture_output=True, timeout=WAIT)
    assert b"this image has no shell" in shell.stderr
    assert rec.wait_for(RunFinished).succeeded


def test_a_missing_image_is_an_error_naming_the_step_before_anything_runs(session, task_file):
    task = task_file("""\
        - name: fine
          image: IMAGE
          command: [echo, hi]
        - name: broken
          image: localhost/tekton-debug-test/no-such-image:1
          command: [echo, hi]
        """)
    s, rec = session(task, start=False)
    with pytest.raises(UserError) as err:
        s.start()
    text = str(err.value)
    assert "no-such-image" in text and "'broken'" in text and "task.yaml:10" in text
    assert any(isinstance(e, Progress) and "pulling" in e.message for e in rec.events)
    assert not [e for e in rec.events if not isinstance(e, Progress)]


def test_no_engine_is_an_error_saying_what_to_install(monkeypatch, tmp_path):
    from tekton_debug.runtimes.container.engine import find_engine
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UserError) as err:
        find_engine()
    assert "podman is not installed" in str(err.value)
    assert "apt-get install podman" in str(err.value)


def test_auto_falls_back_to_host_processes_naming_the_image(session, task_file):
    task = task_file("""\
        - name: hello
          image: localhost/tekton-debug-test/not-here:1
          command: [echo, hello from the host]
        """)
    s, rec = session(task, runtime="auto")
    assert rec.wait_for(RunFinished).succeeded
    assert s.runtime.name == "local"
    notice = next(e for e in rec.of(Notice) if "not in their images" in e.message)
    assert "not-here:1" in notice.message
    assert rec.log(0) == "hello from the host\n"


def test_auto_runs_containers_when_it_can(session, task_file):
    task = task_file("""\
        - name: hello
          image: IMAGE
          command: [cat, /etc/only-in-image]
        """)
    s, rec = session(task, runtime="auto")
    assert rec.wait_for(RunFinished).succeeded
    assert s.runtime.name == "container"
    assert containers.MARKER_TEXT in rec.log(0)


def test_a_step_gets_only_the_secrets_it_references(session, task_file, monkeypatch):
    monkeypatch.setenv("TEKTON_DEBUG_SECRET_DB_PASSWORD", "s3cr3t-value")
    task = task_file("""\
        - name: uses
          image: IMAGE
          env:
            - name: PASSWORD
              valueFrom:
                secretKeyRef: {name: db, key: password}
          script: |
            [ "$PASSWORD" = s3cr3t-value ] && echo has-it
        - name: other
          image: IMAGE
          script: |
            env | grep -c s3cr3t || echo none-here
        """)
    s, rec = session(task)
    assert rec.wait_for(RunFinished).succeeded
    assert "has-it" in rec.log(0)
    assert "none-here" in rec.log(1)
    # the value is not on any command line
    assert not subprocess.run(["pgrep", "-f", "s3cr3t"], capture_output=True).stdout


def test_leftovers_of_a_killed_run_are_swept_at_the_next_start(session, task_file, image):
    # a container labelled as a run of a process that no longer exists
    dead = subprocess.Popen(["true"])
    dead.wait()
    subprocess.run(["podman", "run", "-d", "--name", "td-deadbeef-step-left",
                    "--label", "io.tekton-debug.run=deadbeef",
                    "--label", f"io.tekton-debug.owner={dead.pid}.1",
                    image, "sleep", "600"], check=True, capture_output=True)
    # (at once: any tekton-debug starting on this machine meanwhile would sweep it as well)
    from tekton_debug.runtimes.container.engine import find_engine
    swept = find_engine("podman").sweep()
    assert containers.engine_containers("deadbeef") == []
    if "td-deadbeef-step-left" not in swept:
        pytest.skip("another tekton-debug on this machine swept the container first")


def test_a_run_says_what_it_swept(task_file, image):
    dead = subprocess.Popen(["true"])
    dead.wait()
    task = task_file("""\
        - name: hello
          image: IMAGE
          command: [echo, hi]
        """)
    # the CLI's first start sweeps; a container made for it just before is what a killed run left
    script = (f"import subprocess, sys\n"
              f"subprocess.run(['podman', 'run', '-d', '--name', 'td-deadbee2-step-left', "
              f"'--label', 'io.tekton-debug.run=deadbee2', '--label', "
              f"'io.tekton-debug.owner={dead.pid}.1', {image!r}, 'sleep', '600'], check=True, "
              f"capture_output=True)\n"
              f"from tekton_debug.cli.main import main\n"
              f"sys.exit(main(['run', {task!r}, '--runtime', 'container']))\n")
    res = subprocess.run([os.sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=WAIT)
    if "td-deadbee2-step-left" not in res.stderr:  # another tekton-debug here swept it first
        assert containers.engine_containers("deadbee2") == []
        pytest.skip("another tekton-debug on this machine swept the container first")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "earlier run" in res.stderr
    assert containers.engine_containers("deadbee2") == []


def _wait_gone(run_id: str) -> list[str]:
    deadline = time.time() + WAIT
    left = containers.engine_containers(run_id)
    while left and time.time() < deadline:
        time.sleep(0.2)
        left = containers.engine_containers(run_id)
    return left


ADAPTER = """
import sys, time
from tekton_debug.options import LaunchOptions
from tekton_debug.session.session import Session
from tekton_debug.events import StepPaused
def on(ev):
    if isinstance(ev, StepPaused):
        print("paused", s.runtime.run_id, s.runtime.run_dir, flush=True)
s = Session(LaunchOptions(task_file=sys.argv[1], runtime="container"), on)
s.load(); s.start()
time.sleep(600)
"""


@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_a_killed_adapter_leaves_no_container_and_no_run_directory(task_file, signal_name):
    import signal
    task = task_file("""\
        - name: fails
          image: IMAGE
          command: [sh, -c, "exit 1"]
        - name: waiting
          image: IMAGE
          command: [echo, never]
        """)
    proc = subprocess.Popen([os.sys.executable, "-c", ADAPTER, task], stdout=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline().split()
        assert line[:1] == ["paused"], line
        run_id, run_dir = line[1], line[2]
        deadline = time.time() + WAIT  # the paused one, and the next one being started
        while len(containers.engine_containers(run_id)) < 2 and time.time() < deadline:
            time.sleep(0.1)
        assert len(containers.engine_containers(run_id)) == 2
        os.kill(proc.pid, getattr(signal, signal_name))
        proc.wait(WAIT)
        assert _wait_gone(run_id) == []
        deadline = time.time() + WAIT
        while os.path.exists(run_dir) and time.time() < deadline:
            time.sleep(0.1)
        assert not os.path.exists(run_dir)
    finally:
        proc.kill()
        proc.wait()


def test_ctrl_c_in_the_terminal_cancels_and_cleans_up(task_file):
    import signal
    task = task_file("""\
        - name: sleeps
          image: IMAGE
          script: |
            echo sleeping
            sleep 600
        """)
    proc = subprocess.Popen([os.sys.executable, "-m", "tekton_debug", "run", task, "--runtime",
                             "container"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        for line in proc.stdout:
            if "sleeping" in line:
                break
        assert containers.owned_by(proc.pid)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(WAIT) == 130
        deadline = time.time() + WAIT
        while containers.owned_by(proc.pid) and time.time() < deadline:
            time.sleep(0.2)
        assert containers.owned_by(proc.pid) == []
    finally:
        proc.kill()
        proc.wait()


def test_sidecars_start_before_the_steps_share_their_network_and_stop_after(session, task_file):
    task = task_file("""\
        - name: ask
          image: IMAGE
          script: |
            for i in $(seq 100); do
              reply=$(echo hello | nc 127.0.0.1 7777 2>/dev/null) && [ -n "$reply" ] && break
              sleep 0.1
            done
            echo "the sidecar said: $reply"
        """, extra="""\
        sidecars:
          - name: server
            image: IMAGE
            script: |
              echo sidecar up
              while true; do echo from-sidecar | nc -l -p 7777; done
        """)
    s, rec = session(task)
    done = rec.wait_for(RunFinished)
    assert done.succeeded, rec.events
    assert "the sidecar said: from-sidecar" in rec.log(0)
    assert any("[sidecar server] sidecar up" in e.message for e in rec.of(Notice))
    s.close()
    assert left_behind(s) == []


def test_compute_resources_limits_apply_to_the_step_container(session, task_file):
    task = task_file("""\
        - name: limited
          image: IMAGE
          computeResources:
            limits:
              memory: 64Mi
          script: |
            cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes
        """)
    s, rec = session(task)
    assert rec.wait_for(RunFinished).succeeded, rec.events
    assert rec.log(0).strip() == str(64 * 1024 * 1024)


def test_image_pull_policy_never_refuses_a_missing_image_without_pulling(session, task_file):
    task = task_file("""\
        - name: offline
          image: localhost/tekton-debug-test/never-here:1
          imagePullPolicy: Never
          command: [echo, hi]
        """)
    s, rec = session(task, start=False)
    with pytest.raises(UserError) as err:
        s.start()
    assert "imagePullPolicy is Never" in str(err.value) and "'offline'" in str(err.value)
    assert not any(isinstance(e, Progress) for e in rec.events)  # no pull was tried
