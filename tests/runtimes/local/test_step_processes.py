"""What a step starts ends with the step, as in a container: also what left its process group with
`setsid` (a daemon, `eval $(ssh-agent)`), and also when the process running the run is killed."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from tekton_debug.events import Release, RunFinished, StepPaused
from tekton_debug.runtimes.local.process import PidWindow

from .test_local_runtime import alive, make_run, start

WAIT = 30


def gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


def wait_for_pid(path, timeout: float = WAIT) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        time.sleep(0.01)
    raise AssertionError(f"{path} was never written")


def test_a_setsid_process_of_a_step_ends_with_the_step(runtime, tmp_path):
    pidfile = tmp_path / "pid"
    run = make_run([dict(name="a", script=f"setsid sleep 300 >/dev/null 2>&1 &\necho $! > {pidfile}"),
                    dict(name="b", command=["true"])])
    rt, rec = start(runtime, run)

    assert rec.wait_for(RunFinished).succeeded
    daemon = wait_for_pid(pidfile)

    assert os.getsid(daemon) == daemon if alive(daemon) else True  # its own session indeed
    assert gone(daemon)


def test_a_forking_daemon_ends_with_the_step_but_lives_while_it_is_paused(runtime, tmp_path):
    pidfile = tmp_path / "pid"
    script = (f"setsid -f sh -c 'echo $$ > {pidfile}; exec sleep 300' >/dev/null 2>&1\n"
              "exit 1")  # like `eval $(ssh-agent)`: the daemon's parent is gone at once
    rt, rec = start(runtime, make_run([dict(name="a", script=script)]))
    rec.wait_for(StepPaused)
    daemon = wait_for_pid(pidfile)
    assert alive(daemon)  # the step's "container" is alive while it is paused

    rt.release(0, Release.CONTINUE)
    rec.wait_for(RunFinished)

    assert gone(daemon)


def test_processes_that_are_not_the_steps_are_left_alone(runtime, tmp_path):
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        pidfile = tmp_path / "pid"
        rt, rec = start(runtime, make_run([dict(
            name="a", script=f"setsid sleep 300 >/dev/null 2>&1 &\necho $! > {pidfile}")]))
        rec.wait_for(RunFinished)
        assert gone(wait_for_pid(pidfile))
        rt.close()

        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_the_setsid_processes_of_many_runs_at_once_end_with_their_steps(runtime, tmp_path):
    # their steps end together: one search through /proc finds them all
    pidfiles = [tmp_path / f"pid{i}" for i in range(6)]
    runs = [start(runtime, make_run([dict(
        name="a", script=f"setsid sleep 300 >/dev/null 2>&1 &\necho $! > {pidfile}")]))
        for pidfile in pidfiles]
    for _, rec in runs:
        assert rec.wait_for(RunFinished).succeeded

    assert all(gone(wait_for_pid(pidfile)) for pidfile in pidfiles)


def test_a_setsid_process_of_a_command_run_in_a_step_ends_with_the_run(runtime, tmp_path):
    pidfile = tmp_path / "pid"
    rt, rec = start(runtime, make_run([dict(name="a", command=["false"])]))
    rec.wait_for(StepPaused)
    # the command waits for its daemon: its group is killed when it ends
    rt.exec(0, ["sh", "-c", f"setsid -f sh -c 'echo $$ > {pidfile}; exec sleep 300' "
                            f">/dev/null 2>&1; until [ -s {pidfile} ]; do sleep 0.01; done"])
    daemon = wait_for_pid(pidfile)
    rt.release(0, Release.CONTINUE)
    rec.wait_for(RunFinished)
    assert alive(daemon)  # not the step's: the step's end leaves it

    rt.close()

    assert not alive(daemon)


def test_a_setsid_process_of_a_retried_step_ends_with_the_retry(runtime, tmp_path):
    pidfile = tmp_path / "pid"
    rt, rec = start(runtime, make_run([dict(name="a", command=["false"])]))
    rec.wait_for(StepPaused)
    edited = make_run([dict(name="a", script=f"setsid -f sh -c 'echo $$ > {pidfile}; "
                                             "exec sleep 300' >/dev/null 2>&1\n"
                                             f"until [ -s {pidfile} ]; do sleep 0.01; done\n"
                                             "exit 1")])
    assert rt.rerun(0, edited) == 1
    daemon = wait_for_pid(pidfile)

    assert gone(daemon)  # the retry's "container" ended, the run goes on
    assert rt.finished is None
    rt.release(0, Release.CONTINUE)
    rec.wait_for(RunFinished)


def test_a_killed_parent_leaves_no_setsid_process(tmp_path):
    pidfile = tmp_path / "pid"
    code = f"""
import time
from tekton_debug.runtimes.local import LocalRuntime
from tekton_debug.events import DebugPlan
from tekton_debug.tekton.model import Step, TaskRun, TaskSpec
script = "setsid -f sh -c 'echo $$ > {pidfile}; exec sleep 300' >/dev/null 2>&1; sleep 300"
run = TaskRun("demo", TaskSpec([Step(0, "a", script=script)]))
LocalRuntime({str(tmp_path)!r}).start(run, DebugPlan(), lambda ev: None)
time.sleep(300)
"""
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        daemon = wait_for_pid(pidfile)
        assert alive(daemon)
    finally:
        parent.kill()
        parent.wait()

    assert gone(daemon)


def test_a_killed_parent_leaves_no_process_of_any_of_its_overlapping_runs(tmp_path):
    # a PipelineRun's TaskRuns run side by side in one process: one of them ending (and leaving
    # the watchdog they share) must not leave the others unwatched
    files = {name: tmp_path / name for name in ("first", "second", "third")}
    code = f"""
import time
from tekton_debug.runtimes.local import LocalRuntime
from tekton_debug.events import DebugPlan, RunFinished
from tekton_debug.tekton.model import Step, TaskRun, TaskSpec
files = {({k: str(v) for k, v in files.items()})!r}
def start(name, then="sleep 300"):
    script = f"setsid -f sh -c 'echo $$ > {{files[name]}}; exec sleep 300' >/dev/null 2>&1; {{then}}"
    rt = LocalRuntime({str(tmp_path)!r})
    rt.start(TaskRun(name, TaskSpec([Step(0, "a", script=script)])), DebugPlan(), lambda ev: None)
    return rt
first, second = start("first", "true"), start("second")
while first.finished is None:
    time.sleep(0.01)
first.close()
third = start("third")
time.sleep(300)
"""
    parent = subprocess.Popen([sys.executable, "-c", code])
    try:
        second, third = wait_for_pid(files["second"]), wait_for_pid(files["third"])
        assert alive(second) and alive(third)
    finally:
        parent.kill()
        parent.wait()

    assert gone(second) and gone(third)


def test_a_killed_parent_leaves_no_directory_of_its_run(tmp_path):
    # the watchdog removes them: the secret values in the control files do not wait for the
    # next run's sweep
    code = """
import sys, time
from tekton_debug.runtimes.local import LocalRuntime
from tekton_debug.events import DebugPlan
from tekton_debug.tekton.model import Step, TaskRun, TaskSpec
rt = LocalRuntime()
rt.start(TaskRun("demo", TaskSpec([Step(0, "a", script="sleep 300")])), DebugPlan(), id)
print(f"dirs {rt.run_dir} {rt.control_dir}", flush=True)
time.sleep(300)
"""
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        line = next(line for line in parent.stdout if line.startswith("dirs "))
        run_dir, control_dir = (Path(p) for p in line.split()[1:])
        assert run_dir.is_relative_to(tmp_path) and run_dir.is_dir() and control_dir.is_dir()
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()

    deadline = time.monotonic() + WAIT
    while (run_dir.exists() or control_dir.exists()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not run_dir.exists() and not control_dir.exists()


def test_a_pid_window_holds_the_processes_started_after_it_opened():
    # the step's sweep reads the environment of these only: a step's processes all come after
    # the step began
    before = subprocess.Popen(["sleep", "30"])
    try:
        window = PidWindow()
        after = subprocess.Popen(["sleep", "30"])
        try:
            test = window.test()
            assert test is not None
            assert test(after.pid)
            assert not test(before.pid) and not test(os.getpid())
        finally:
            after.kill()
            after.wait()
    finally:
        before.kill()
        before.wait()


def test_a_pid_window_open_too_long_to_tell_lets_every_process_be_searched():
    window = PidWindow()
    window.opened -= 3600  # time enough to hand out every PID many times over
    assert window.test() is None


def test_a_watchdog_every_run_left_kills_nothing_when_the_process_dies(tmp_path):
    # it lingers for the next run; a group it was told of has ended, and its number may have
    # been given to another process meanwhile (here: the bystander)
    bystander = subprocess.Popen(["sleep", "300"], start_new_session=True)
    code = f"""
import sys, time
from tekton_debug.runtimes.local import process
pipe = process._WATCHDOG.join("+{bystander.pid}\\nmTEKTON_DEBUG_STEP=gone/")
process._WATCHDOG.leave(pipe)
print(pipe._proc.pid, flush=True)
time.sleep(300)
"""
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        watchdog = int(parent.stdout.readline())
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    try:
        assert gone(watchdog)  # it read the end of its input, and did what it had to

        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_what_one_runs_sweep_leaves_is_not_put_on_the_others_swept_with_it(monkeypatch):
    # one look through /proc for the marks of many runs: a process of one that does not die
    # makes that run's close search for its mark, not every run's
    from tekton_debug.runtimes.local.process import MARK_ENV, Sweeper, mark_of

    windows = [PidWindow() for _ in range(3)]
    ids = [f"sweep{os.getpid()}-{i}" for i in range(3)]
    procs = [subprocess.Popen(["sleep", "300"], env={**os.environ, MARK_ENV: f"{i}/0"})
             for i in ids]
    blocker, stuck, fine = procs
    held, go = threading.Event(), threading.Event()
    kill = os.kill

    def refusing_kill(pid, sig):
        if pid == blocker.pid:  # the first sweep is under way while the other two are asked
            held.set()
            go.wait(WAIT)
        if pid != stuck.pid:  # a process that does not die
            kill(pid, sig)

    monkeypatch.setattr(os, "kill", refusing_kill)
    sweeper = Sweeper()
    try:
        first = sweeper.ask([mark_of(ids[0], 0)], [windows[0]])
        assert held.wait(WAIT)
        sweeps = [sweeper.ask([mark_of(i, 0)], [w]) for i, w in zip(ids[1:], windows[1:])]
        go.set()

        assert first.wait(WAIT)
        assert not sweeps[0].wait(WAIT) and sweeps[0].done.is_set()
        assert sweeps[1].wait(WAIT)
    finally:
        go.set()
        monkeypatch.undo()
        for proc in procs:
            proc.kill()
            proc.wait()
