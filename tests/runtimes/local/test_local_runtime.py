"""The local runtime end to end, with real processes: what a user sees of a TaskRun run here."""

from __future__ import annotations

import os
import queue
import subprocess
import threading
import time

import pytest

from tekton_debug.errors import UserError, WrongTime
from tekton_debug.events import (
    DebugPlan, Notice, PauseKind, Release, RunFinished, StepFinished, StepLog, StepOutcome,
    SecretValues, StepPaused, StepResumed, StepStarted,
)
from tekton_debug.runtimes.local import LocalRuntime
from tekton_debug.tekton.model import (EnvVar, ParamSpec, ResultSpec, Step, TaskRun, TaskSpec,
                                       WorkspaceDecl)

from tests.runtimes.local.test_rundir import on_tmpfs, private_tmpfs  # noqa: F401

WAIT = 30  # seconds: only a hung run ever gets near this


class Recorder:
    """Collects the events; lets a test wait for one."""

    def __init__(self):
        self.events = []
        self._q: queue.Queue = queue.Queue()
        self.thread_ids = set()

    def __call__(self, ev):
        self.thread_ids.add(threading.get_ident())
        self.events.append(ev)
        self._q.put(ev)

    def wait_for(self, kind, pred=lambda ev: True):
        while True:
            ev = self._q.get(timeout=WAIT)
            if isinstance(ev, kind) and pred(ev):
                return ev

    def of(self, kind):
        return [e for e in self.events if isinstance(e, kind)]

    def log(self, index, stream):
        return b"".join(e.data for e in self.events
                        if isinstance(e, StepLog) and e.index == index and e.stream == stream)


def make_run(steps, timeout=None, **spec):
    run = TaskRun("demo", TaskSpec([Step(i, **s) for i, s in enumerate(steps)], **spec))
    run.timeout = timeout
    return run


@pytest.fixture
def runtime(tmp_path):
    rts = []

    def factory(**kw):
        rt = LocalRuntime(tmp_path / "runs", **kw)
        rts.append(rt)
        return rt

    yield factory
    for rt in rts:
        rt.close()


def start(runtime, run, plan=None, **kw):
    rt = runtime(**kw)
    rec = Recorder()
    rt.start(run, plan or DebugPlan(), rec)
    return rt, rec


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"
    except FileNotFoundError:
        return False


# ---- passing and failing runs -------------------------------------------------------------

def test_passing_run_reports_every_step_then_succeeds(runtime):
    run = make_run([dict(name="a", image="alpine", script="echo one"),
                    dict(name="b", command=["sh", "-c", "echo two"])])
    rt, rec = start(runtime, run)
    finished = rec.wait_for(RunFinished)
    assert finished.succeeded and finished.reason == "Succeeded"
    kinds = [type(e).__name__ for e in rec.events if not isinstance(e, (Notice, StepLog, SecretValues))]
    assert kinds == ["StepStarted", "StepFinished", "StepStarted", "StepFinished", "RunFinished"]
    assert rec.log(0, "stdout") == b"one\n" and rec.log(1, "stdout") == b"two\n"
    assert [f.outcome for f in rec.of(StepFinished)] == [StepOutcome.SUCCEEDED] * 2
    assert len(rec.thread_ids) == 1  # serialised on one thread


def test_images_are_not_run_locally_is_said_once(runtime):
    run = make_run([dict(name="a", image="alpine", command=["true"]),
                    dict(name="b", image="busybox", command=["true"])])
    rt, rec = start(runtime, run)
    rec.wait_for(RunFinished)
    warnings = [n for n in rec.of(Notice) if "images are not run locally" in n.message]
    assert len(warnings) == 1 and warnings[0].level == "warning"


def test_failing_middle_step_pauses_with_its_real_exit_code(runtime):
    run = make_run([dict(name="a", command=["true"]),
                    dict(name="b", script="echo before-failing\nexit 3"),
                    dict(name="c", script="echo later > $(results.out.path)")],
                   results=[ResultSpec("out")])
    rt, rec = start(runtime, run)
    paused = rec.wait_for(StepPaused)
    assert (paused.index, paused.kind, paused.exit_code) == (1, PauseKind.ON_FAILURE, 3)
    logged_before_pause = rec.log(1, "stdout")
    assert logged_before_pause == b"before-failing\n"
    assert not rec.of(StepStarted)[1:] or all(e.index <= 1 for e in rec.of(StepStarted))
    rt.release(1, Release.CONTINUE)
    finished = rec.wait_for(RunFinished)
    assert finished.succeeded  # debug-continue: the container exits 0
    assert rec.of(StepResumed) == [StepResumed(1, Release.CONTINUE)]
    assert [f.outcome for f in rec.of(StepFinished)] == [StepOutcome.SUCCEEDED] * 3
    assert (rt.layout.results_dir / "out").read_text() == "later\n"


def test_fail_continue_runs_later_steps_and_the_run_fails(runtime):
    run = make_run([dict(name="a", command=["sh", "-c", "exit 2"]),
                    dict(name="b", command=["sh", "-c", "echo ran"])])
    rt, rec = start(runtime, run)
    rec.wait_for(StepPaused)
    rt.release(0, Release.FAIL_CONTINUE)
    finished = rec.wait_for(RunFinished)
    assert not finished.succeeded and finished.reason == "Failed"
    assert '"step-a" exited with code 1' in finished.message
    assert rec.log(1, "stdout") == b"ran\n"
    outcomes = [(f.outcome, f.exit_code) for f in rec.of(StepFinished)]
    assert outcomes == [(StepOutcome.FAILED, 1), (StepOutcome.SUCCEEDED, 0)]


def test_without_on_failure_later_steps_are_skipped_as_in_tekton(runtime):
    run = make_run([dict(name="a", command=["sh", "-c", "exit 4"]),
                    dict(name="b", command=["sh", "-c", "echo never"])])
    rt, rec = start(runtime, run, DebugPlan(on_failure=False))
    finished = rec.wait_for(RunFinished)
    assert not finished.succeeded and '"step-a" exited with code 4' in finished.message
    assert rec.of(StepPaused) == []
    assert [f.outcome for f in rec.of(StepFinished)] == [StepOutcome.FAILED, StepOutcome.SKIPPED]
    assert rec.log(1, "stdout") == b""
    assert [e.index for e in rec.of(StepStarted)] == [0]


def test_on_error_continue_without_breakpoint_lets_the_run_succeed(runtime):
    run = make_run([dict(name="a", command=["sh", "-c", "exit 5"], on_error="continue"),
                    dict(name="b", command=["true"])])
    rt, rec = start(runtime, run, DebugPlan(on_failure=False))
    assert rec.wait_for(RunFinished).succeeded
    first = rec.of(StepFinished)[0]
    assert first.exit_code == 5
    assert rt.layout.exit_code_file(0).read_text() == "5"


# ---- before-step pauses -------------------------------------------------------------------

def test_before_step_pause_then_continue_runs_the_step(runtime):
    run = make_run([dict(name="a", command=["true"]),
                    dict(name="b", command=["sh", "-c", "echo b-ran"])])
    rt, rec = start(runtime, run, DebugPlan(before_steps={"b"}))
    paused = rec.wait_for(StepPaused)
    assert (paused.index, paused.kind, paused.exit_code) == (1, PauseKind.BEFORE_STEP, None)
    assert rec.log(1, "stdout") == b""
    rt.release(1, Release.CONTINUE)
    assert rec.wait_for(RunFinished).succeeded
    assert rec.log(1, "stdout") == b"b-ran\n"


def test_before_step_fail_continue_does_not_run_the_step(runtime):
    run = make_run([dict(name="a", command=["sh", "-c", "echo a-ran"]),
                    dict(name="b", command=["true"])])
    rt, rec = start(runtime, run, DebugPlan(before_steps={"a"}))
    rec.wait_for(StepPaused)
    rt.release(0, Release.FAIL_CONTINUE)
    finished = rec.wait_for(RunFinished)
    assert not finished.succeeded
    assert rec.log(0, "stdout") == b""
    assert rec.of(StepFinished)[0].outcome == StepOutcome.FAILED
    assert rec.of(StepFinished)[1].outcome == StepOutcome.SUCCEEDED  # the breakpoint lets it run


def test_pause_before_next_is_used_once(runtime):
    run = make_run([dict(name="a", command=["true"]), dict(name="b", command=["true"])])
    plan = DebugPlan(pause_before_next=True)
    rt, rec = start(runtime, run, plan)
    assert rec.wait_for(StepPaused).index == 0
    assert plan.pause_before_next is False
    rt.release(0, Release.CONTINUE)
    assert rec.wait_for(RunFinished).succeeded
    assert len(rec.of(StepPaused)) == 1


def test_release_of_a_step_that_is_not_paused_is_refused(runtime):
    run = make_run([dict(name="a", command=["true"]), dict(name="b", command=["false"])])
    rt, rec = start(runtime, run)
    rec.wait_for(StepPaused)
    with pytest.raises(WrongTime):
        rt.release(0, Release.CONTINUE)
    rt.release(1, Release.CONTINUE)
    rec.wait_for(RunFinished)


# ---- a paused step's environment ----------------------------------------------------------

def test_exec_in_a_paused_step_sees_its_env_cwd_params_and_paths(runtime, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "hello.txt").write_text("hi")
    run = make_run([dict(name="build", working_dir="$(workspaces.source.path)",
                         env=[EnvVar("GREETING", "hello $(params.who)"),
                              EnvVar("TOKEN", value_from={"secretKeyRef": {"name": "git",
                                                                           "key": "token"}})],
                         script="exit 1")],
                   params=[ParamSpec("who", default="world")],
                   workspaces=[WorkspaceDecl("source")], results=[ResultSpec("digest")])
    host = {**os.environ, "TEKTON_DEBUG_SECRET_GIT_TOKEN": "s3cret"}
    rt, rec = start(runtime, run, params={"who": "tekton"}, workspaces={"source": str(src)},
                    host_env=host)
    rec.wait_for(StepPaused)
    res = rt.exec(0, ["sh", "-c", 'echo "$GREETING|$TOKEN|$(pwd)|$HOME"; ls'])
    greeting, token, cwd, home = res.stdout.decode().splitlines()[0].split("|")
    assert greeting == "hello tekton" and token == "s3cret"
    assert cwd == str(src) and home == str(rt.layout.home)
    assert "hello.txt" in res.stdout.decode()
    env = rt.step_environment(0)
    assert env.secret_env == {"TOKEN"} and env.working_dir == str(src)
    assert env.workspaces == {"source": str(src)} and env.container == "step-build"
    res = rt.exec(0, ["sh", "-c", "command -v debug-continue"])
    assert res.stdout.decode().strip() == str(rt.layout.debug_scripts_dir / "debug-continue")
    rt.release(0, Release.CONTINUE)
    rec.wait_for(RunFinished)


def test_missing_secret_leaves_the_variable_unset_with_a_notice(runtime):
    run = make_run([dict(name="a", command=["sh", "-c", 'test -z "${TOKEN+set}"'],
                         env=[EnvVar("TOKEN", value_from={"secretKeyRef": {"name": "git",
                                                                           "key": "token"}})])])
    host = {k: v for k, v in os.environ.items() if not k.startswith("TEKTON_DEBUG_SECRET_")}
    rt, rec = start(runtime, run, host_env=host)
    assert rec.wait_for(RunFinished).succeeded
    assert any("TEKTON_DEBUG_SECRET_GIT_TOKEN" in n.message for n in rec.of(Notice))


def test_shell_command_opens_a_shell_in_the_step(runtime):
    run = make_run([dict(name="a", env=[EnvVar("WHO", "it's \"me\" $x")], command=["false"])])
    rt, rec = start(runtime, run)
    rec.wait_for(StepPaused)
    argv = rt.shell_command(0)
    done = subprocess.run(argv, input=b'echo "$WHO"; pwd; exit\n', capture_output=True,
                          timeout=WAIT)
    lines = done.stdout.decode().splitlines()
    assert "it's \"me\" $x" in lines and str(rt.layout.workspace_root) in lines
    rt.release(0, Release.CONTINUE)
    rec.wait_for(RunFinished)


def test_the_shell_puts_no_secret_on_a_command_line(runtime):
    host = {**os.environ, "TEKTON_DEBUG_SECRET_GIT_TOKEN": "tok-on-no-argv"}
    run = make_run([dict(name="a", command=["false"], env=[
        EnvVar("TOKEN", value_from={"secretKeyRef": {"name": "git", "key": "token"}})])])
    rt, rec = start(runtime, run, host_env=host)
    rec.wait_for(StepPaused)
    argv = rt.shell_command(0)
    assert not any("tok-on-no-argv" in a for a in argv)
    script = open(argv[1]).read()
    assert "tok-on-no-argv" not in script  # nor in the command the script runs
    env_file = os.path.join(os.path.dirname(argv[1]), "shell-env")
    assert os.stat(env_file).st_mode & 0o077 == 0  # the values: for this user only
    done = subprocess.run(argv, input=b'echo "$TOKEN"; exit\n', capture_output=True,
                          timeout=WAIT)
    assert done.stdout.decode().splitlines()[:1] == ["tok-on-no-argv"]
    rt.release(0, Release.CONTINUE)
    rec.wait_for(RunFinished)


def test_step_without_command_or_script_is_refused_before_any_event(runtime):
    rt = runtime()
    rec = Recorder()
    with pytest.raises(UserError, match="neither command nor script"):
        rt.start(make_run([dict(name="a", image="alpine")]), DebugPlan(), rec)
    assert rec.events == []


# ---- logs ---------------------------------------------------------------------------------

def test_logs_keep_stdout_and_stderr_apart_and_lose_nothing(runtime):
    script = ("i=0; while [ $i -lt 2000 ]; do echo out-$i; echo err-$i >&2; i=$((i+1)); done\n"
              "exit 1")
    run = make_run([dict(name="a", script=script)])
    rt, rec = start(runtime, run)
    rec.wait_for(StepPaused)  # everything logged before the pause is already delivered
    out = rec.log(0, "stdout").decode().splitlines()
    err = [line for line in rec.log(0, "stderr").decode().splitlines() if line.startswith("err-")]
    assert out == [f"out-{i}" for i in range(2000)]
    assert err == [f"err-{i}" for i in range(2000)]
    rt.release(0, Release.CONTINUE)
    rec.wait_for(RunFinished)


# ---- cancel, timeouts, no orphans ---------------------------------------------------------

def test_cancel_leaves_no_process_behind(runtime, tmp_path):
    pids = tmp_path / "pids"
    run = make_run([dict(name="a", script=f"sleep 300 & echo $! > {pids}; echo $$ >> {pids}; "
                                          f"echo started; wait")])
    rt, rec = start(runtime, run)
    rec.wait_for(StepLog, lambda ev: ev.data.endswith(b"started\n"))
    started = [int(p) for p in pids.read_text().split()]
    assert all(alive(p) for p in started)
    rt.cancel()
    finished = rec.wait_for(RunFinished)
    assert finished.reason == "TaskRunCancelled" and not finished.succeeded
    assert rec.of(StepFinished)[0].outcome == StepOutcome.CANCELLED
    assert not any(alive(p) for p in started)


def test_background_process_of_a_finished_step_is_killed_with_it(runtime, tmp_path):
    pids = tmp_path / "pids"
    run = make_run([dict(name="a", script=f"sleep 300 >/dev/null 2>&1 & echo $! > {pids}")])
    rt, rec = start(runtime, run)
    assert rec.wait_for(RunFinished).succeeded
    assert not alive(int(pids.read_text()))


def test_killed_parent_leaves_no_step_process(tmp_path):
    pids = tmp_path / "pids"
    code = f"""
import sys, time
from tekton_debug.runtimes.local import LocalRuntime
from tekton_debug.events import DebugPlan
from tekton_debug.tekton.model import Step, TaskRun, TaskSpec
run = TaskRun("demo", TaskSpec([Step(0, "a", script="sleep 300 & echo $! > {pids}; wait")]))
LocalRuntime({str(tmp_path)!r}).start(run, DebugPlan(), lambda ev: print(ev, flush=True))
time.sleep(300)
"""
    parent = subprocess.Popen([os.sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    for line in parent.stdout:
        if line.startswith("StepStarted"):
            break
    while not pids.exists() or not pids.read_text().strip():
        subprocess.run(["sh", "-c", "sleep 0.01"])  # the step writes its pid right after start
    child = int(pids.read_text())
    assert alive(child)
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + WAIT  # the watchdog acts at once; a loaded machine is slow
    while alive(child) and time.monotonic() < deadline:
        subprocess.run(["sh", "-c", "sleep 0.01"])
    assert not alive(child)


def test_run_timeout_while_paused_ends_the_run_with_taskrun_timeout(runtime):
    run = make_run([dict(name="a", command=["false"]), dict(name="b", command=["true"])],
                   timeout=0.5)
    rt, rec = start(runtime, run)
    rec.wait_for(StepPaused)
    finished = rec.wait_for(RunFinished)
    assert finished.reason == "TaskRunTimeout" and not finished.succeeded
    assert [f.outcome for f in rec.of(StepFinished)] == [StepOutcome.TIMED_OUT,
                                                         StepOutcome.SKIPPED]


def test_a_timeout_that_comes_as_the_run_ends_says_nothing_and_stops_nothing(runtime):
    # the deadline was taken from the timer heap just before the run finished and cancelled it
    rt, rec = start(runtime, make_run([dict(name="a", command=["true"])], timeout=3600))
    finished = rec.wait_for(RunFinished)

    rt._time_out(3600)
    rt.close()
    rt._time_out(3600)

    # no "timeout expired: stopping it" waits for the listener
    assert not [e for e in list(rt._events.queue) if isinstance(e, Notice)]
    assert rt.finished is finished and finished.succeeded


def test_step_timeout_kills_the_step_and_never_pauses(runtime):
    run = make_run([dict(name="a", command=["sleep", "30"], timeout=0.2)])
    rt, rec = start(runtime, run)
    finished = rec.wait_for(RunFinished)
    assert not finished.succeeded
    assert rec.of(StepPaused) == []
    assert rec.of(StepFinished)[0].outcome == StepOutcome.TIMED_OUT


def test_close_removes_the_run_directory(runtime):
    run = make_run([dict(name="a", command=["true"])])
    rt, rec = start(runtime, run)
    rec.wait_for(RunFinished)
    run_dir = rt.run_dir
    assert (run_dir / "tekton" / "run" / "0" / "out").exists()
    rt.close()
    rt.close()  # idempotent
    assert not run_dir.exists()


def files_under(path) -> list:
    return [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]


def test_the_control_files_are_on_a_private_tmpfs_and_go_with_close(private_tmpfs, tmp_path):
    host = {**os.environ, "TEKTON_DEBUG_SECRET_GIT_TOKEN": "tok-never-on-disk"}
    run = make_run([dict(name="a", script='printf %s "$TOKEN" > $(results.out.path)\nexit 1', env=[
        EnvVar("TOKEN", value_from={"secretKeyRef": {"name": "git", "key": "token"}})])],
        results=[ResultSpec("out")])
    rt = LocalRuntime(host_env=host)
    try:
        rec = Recorder()
        rt.start(run, DebugPlan(on_failure=True), rec)
        rec.wait_for(StepPaused)
        rt.shell_command(0)  # writes the step's environment, the secret's value among it
        run_dir, control = rt.run_dir, rt.control_dir

        assert run_dir.parent == tmp_path and on_tmpfs(control)
        assert sorted(os.listdir(run_dir)) == [".owner", "home", "workspace"]  # and what can grow
        holding = [f for f in files_under(control) if b"tok-never-on-disk" in open(f, "rb").read()]
        assert holding  # the result and the shell's environment, on the tmpfs only
        assert not [f for f in files_under(run_dir) if b"tok-never-on-disk" in open(f, "rb").read()]
    finally:
        rt.close()
    assert not run_dir.exists() and not control.exists()


def test_a_task_file_loaded_by_the_loader_runs_with_its_params_and_results(runtime, tmp_path):
    from tekton_debug.tekton.loader import load_file
    path = tmp_path / "task.yaml"
    path.write_text("""\
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: greet
spec:
  params:
    - name: who
      default: world
  results:
    - name: greeting
  steps:
    - name: write
      image: alpine
      script: |
        printf 'hello %s' "$(params.who)" > $(results.greeting.path)
    - name: show
      image: alpine
      command: ["cat", "$(results.greeting.path)"]
""")
    run = load_file(str(path))
    rt, rec = start(runtime, run, params={"who": "tekton"})
    assert rec.wait_for(RunFinished).succeeded
    assert rec.log(1, "stdout") == b"hello tekton"
    assert b'"key":"greeting","value":"hello tekton"' in rt.layout.termination_path(1).read_bytes()


def test_release_after_a_script_already_released_the_step_is_refused(runtime):
    run = make_run([dict(name="a", command=["sh", "-c", "echo a-ran"])])
    rt, rec = start(runtime, run, DebugPlan(before_steps={"a"}))
    rec.wait_for(StepPaused)
    rt.exec(0, ["debug-beforestep-fail-continue"])  # as a user would in a shell
    with pytest.raises(WrongTime, match="not paused"):
        rt.release(0, Release.CONTINUE)
    assert not rec.wait_for(RunFinished).succeeded
    assert rec.log(0, "stdout") == b""
