"""A PipelineRun on the host: Tekton's ordering, when, finally, retries, onError, timeouts and
results; a failed step pausing only its own TaskRun while the others go on."""

from __future__ import annotations

import os
import queue
import textwrap
import threading
import time

import pytest

from tekton_debug.errors import UserError
from tekton_debug.events import (Notice, PauseKind, PipelineRunFinished, Progress, Release,
                                 StepLog, StepPaused, TaskEnded, TaskEvent, TaskStarted)
from tekton_debug.options import LaunchOptions
from tekton_debug.pipeline.run import PipelineSession
from tests import containers

EXAMPLE = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "pipeline",
                       "pipeline.yaml")
WAIT = 30.0


class Recorder:
    def __init__(self) -> None:
        self.events: list = []
        self.queue: queue.Queue = queue.Queue()
        self._added = threading.Condition()

    def __call__(self, ev) -> None:
        with self._added:
            self.events.append(ev)
            self._added.notify_all()
        self.queue.put(ev)

    def next(self, kind, predicate=lambda ev: True, timeout: float = WAIT):
        """The next event of ``kind`` matching ``predicate``; the events before it are passed
        over for good (a later ``next`` does not see them)."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.queue.get(timeout=max(0.01, deadline - time.monotonic()))
            if _matches(ev, kind, predicate):
                return ev

    def seen(self, kind, predicate=lambda ev: True, timeout: float = WAIT):
        """The first event of ``kind`` matching ``predicate``, whether it came before or after
        the other events waited for: TaskRuns that run together end in any order."""
        def first():
            return next((ev for ev in self.events if _matches(ev, kind, predicate)), None)
        with self._added:
            if not self._added.wait_for(lambda: first() is not None, timeout):
                raise AssertionError(f"no {kind.__name__} as expected within {timeout:g} s; "
                                     f"events: {self.events}")
            return first()

    def ended(self) -> dict[str, TaskEnded]:
        return {e.task: e for e in self.events if isinstance(e, TaskEnded)}

    def output(self, task: str) -> str:
        return "".join(e.event.data.decode() for e in self.events
                       if isinstance(e, TaskEvent) and e.task == task
                       and isinstance(e.event, StepLog))

    def order(self, kind=TaskStarted) -> list[str]:
        return [e.task for e in self.events if isinstance(e, kind)]


def _matches(ev, kind, predicate) -> bool:
    inner = ev.event if isinstance(ev, TaskEvent) else ev
    return isinstance(inner, kind) and predicate(ev)


def pipeline_file(tmp_path, body: str, name: str = "p.yaml") -> str:
    path = tmp_path / name
    path.write_text("apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata: {name: p}\nspec:\n"
                    + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n")
    return str(path)


def start(path: str, *, on_failure: bool = False, **options):
    rec = Recorder()
    ps = PipelineSession(LaunchOptions(task_file=path, **options), rec)
    ps.load()
    ps.plan.on_failure = on_failure
    return ps, rec


def finish(ps: PipelineSession, rec: Recorder) -> PipelineRunFinished:
    ps.start()
    try:
        return rec.next(PipelineRunFinished)
    finally:
        ps.close()


def step(script: str, name: str = "s") -> str:
    return f"{{steps: [{{name: {name}, image: alpine, script: {script!r}}}]}}"


def test_example_runs_clone_build_tests_and_skips_publish_then_notifies():
    ps, rec = start(EXAMPLE)
    end = finish(ps, rec)
    assert (end.succeeded, end.reason) == (True, "Completed")
    assert end.message == "Tasks Completed: 5 (Failed: 0, Cancelled 0), Skipped: 1"
    order = rec.order()
    assert order[:2] == ["clone", "build"] and set(order[2:4]) == {"lint", "unit-tests"}
    assert order[4:] == ["notify"]
    assert rec.ended()["publish"].reason == "When Expressions evaluated to false"
    version = end.results["version"]
    assert version.startswith("1.4.") and "published" not in end.results
    assert f"testing {version}: got 'hello from hello'" in rec.output("unit-tests")
    assert "pipeline: Completed, unit tests: Succeeded" in rec.output("notify")


def test_example_with_publish_passes_the_version_down_and_gives_pipeline_results():
    ps, rec = start(EXAMPLE, params={"publish": "true", "app-name": "demo"})
    end = finish(ps, rec)
    assert (end.succeeded, end.reason) == (True, "Succeeded")
    assert end.results["published"] == f"registry.example/demo:{end.results['version']}"


def test_independent_tasks_run_at_the_same_time(tmp_path):
    # each task waits for the other's file: only a parallel start lets both finish
    path = pipeline_file(tmp_path, """
        workspaces: [{name: ws}]
        tasks:
          - name: left
            workspaces: [{name: w, workspace: ws}]
            taskSpec:
              workspaces: [{name: w}]
              steps: [{name: s, image: alpine, script: "touch $(workspaces.w.path)/left; for i in $(seq 100); do [ -e $(workspaces.w.path)/right ] && exit 0; sleep 0.05; done; exit 1"}]
          - name: right
            workspaces: [{name: w, workspace: ws}]
            taskSpec:
              workspaces: [{name: w}]
              steps: [{name: s, image: alpine, script: "touch $(workspaces.w.path)/right; for i in $(seq 100); do [ -e $(workspaces.w.path)/left ] && exit 0; sleep 0.05; done; exit 1"}]
        """)
    ps, rec = start(path)
    assert finish(ps, rec).reason == "Succeeded"


def test_a_task_after_a_when_skipped_task_runs_but_one_needing_its_results_is_skipped(tmp_path):
    path = pipeline_file(tmp_path, f"""
        params: [{{name: go, default: "no"}}]
        tasks:
          - name: guarded
            when: [{{input: $(params.go), operator: in, values: ["yes"]}}]
            taskSpec: {{results: [{{name: r}}], steps: [{{image: alpine, script: "printf x > $(results.r.path)"}}]}}
          - name: ordered-after
            runAfter: [guarded]
            taskSpec: {step("echo ran")}
          - name: needs-result
            params: [{{name: v, value: $(tasks.guarded.results.r)}}]
            taskSpec: {{params: [{{name: v}}], steps: [{{image: alpine, script: "echo $(params.v)"}}]}}
        """)
    ps, rec = start(path)
    end = finish(ps, rec)
    ended = rec.ended()
    assert ended["guarded"].reason == "When Expressions evaluated to false"
    assert ended["ordered-after"].status == "succeeded"
    assert ended["needs-result"].reason == "Results were missing"
    assert (end.succeeded, end.reason) == (True, "Completed")


def test_a_failed_task_stops_new_tasks_and_finally_sees_the_failure(tmp_path):
    path = pipeline_file(tmp_path, f"""
        tasks:
          - name: breaks
            taskSpec: {step("exit 3")}
          - name: later
            runAfter: [breaks]
            taskSpec: {step("echo never")}
        finally:
          - name: report
            params:
              - {{name: all, value: $(tasks.status)}}
              - {{name: one, value: $(tasks.breaks.status)}}
              - {{name: two, value: $(tasks.later.status)}}
            taskSpec: {{params: [{{name: all}}, {{name: one}}, {{name: two}}], steps: [{{image: alpine, script: "echo $(params.all) $(params.one) $(params.two)"}}]}}
        """)
    ps, rec = start(path)
    end = finish(ps, rec)
    assert (end.succeeded, end.reason) == (False, "Failed")
    assert rec.ended()["later"].reason == "PipelineRun was stopping"
    assert "Failed Failed None" in rec.output("report")
    assert "later" not in rec.order()


def test_on_error_continue_lets_the_run_go_on_and_succeed(tmp_path):
    path = pipeline_file(tmp_path, f"""
        tasks:
          - name: flaky
            onError: continue
            taskSpec: {step("exit 1")}
          - name: after
            runAfter: [flaky]
            taskSpec: {step("echo after")}
        """)
    ps, rec = start(path)
    end = finish(ps, rec)
    assert end.succeeded and rec.ended()["after"].status == "succeeded"
    assert rec.ended()["flaky"].status == "failed"


def test_retries_run_a_failed_task_again(tmp_path):
    counter = tmp_path / "attempts"
    path = pipeline_file(tmp_path, f"""
        tasks:
          - name: second-time-lucky
            retries: 2
            taskSpec: {step(f"echo x >> {counter}; [ $(wc -l < {counter}) -ge 2 ]")}
        """)
    ps, rec = start(path)
    end = finish(ps, rec)
    assert end.reason == "Succeeded" and counter.read_text().count("x") == 2
    assert [e.attempt for e in rec.events if isinstance(e, TaskStarted)] == [0, 1]


@pytest.mark.parametrize("runtime", ["local", "container"])
def test_a_retried_taskrun_sees_its_retry_count(tmp_path, runtime):
    image = "alpine"
    if runtime == "container":
        if containers.podman() is None:
            pytest.skip("podman is not installed or does not work here")
        image = containers.busybox()
    count = "$(context.task.retry-count)"
    path = pipeline_file(tmp_path, f"""
        tasks:
          - name: counted
            retries: 2
            taskSpec:
              steps: [{{name: s, image: "{image}", script: "echo try {count}; [ {count} = 2 ]"}}]
        """)
    ps, rec = start(path, runtime=runtime)
    end = finish(ps, rec)
    assert end.reason == "Succeeded", end.message
    assert rec.output("counted").split() == ["try", "0", "try", "1", "try", "2"]


def test_a_paused_step_holds_only_its_taskrun_while_the_others_finish(tmp_path):
    path = pipeline_file(tmp_path, f"""
        tasks:
          - name: fails
            taskSpec: {step("echo about to fail; exit 4", "compile")}
          - name: also-fails
            taskSpec: {step("sleep 0.2; exit 5", "check")}
          - name: independent
            taskSpec: {step("sleep 0.3; echo done")}
        finally:
          - name: cleanup
            taskSpec: {step("echo cleaning")}
        """)
    ps, rec = start(path, on_failure=True)
    ps.start()
    try:
        first = rec.seen(StepPaused, lambda ev: ev.task == "fails")
        assert first.event.kind is PauseKind.ON_FAILURE and first.event.exit_code == 4
        # the others go on: one more pause, one task to its end (in either order: the three
        # run side by side, their sleeps no promise of which is first on a busy machine)
        rec.seen(StepPaused, lambda ev: ev.task == "also-fails")
        rec.seen(TaskEnded, lambda ev: ev.task == "independent")
        assert [t for t, _, _ in ps.paused()] == ["fails", "also-fails"]
        assert ps.states["fails"].status == "running"
        ps.session_of("fails").release(Release.CONTINUE)  # marked passed
        rec.seen(TaskEnded, lambda ev: ev.task == "fails")
        assert ps.states["fails"].status == "succeeded"
        ps.session_of("also-fails").release(Release.FAIL_CONTINUE)
        end = rec.seen(PipelineRunFinished)
        assert (end.succeeded, end.reason) == (False, "Failed")
        assert rec.ended()["cleanup"].status == "succeeded"
    finally:
        ps.close()


def test_a_before_task_breakpoint_pauses_before_the_tasks_first_step(tmp_path):
    path = pipeline_file(tmp_path, f"""
        tasks:
          - name: first
            taskSpec: {step("echo one")}
          - name: second
            runAfter: [first]
            taskSpec: {step("echo two", "go")}
        """)
    ps, rec = start(path)
    ps.plan.before_tasks.add("second")
    ps.start()
    try:
        paused = rec.next(StepPaused)
        assert paused.task == "second" and paused.event.kind is PauseKind.BEFORE_STEP
        assert rec.ended()["first"].status == "succeeded"
        ps.session_of("second").release(Release.CONTINUE)
        assert rec.next(PipelineRunFinished).reason == "Succeeded"
    finally:
        ps.close()


def test_stop_cancels_the_run_but_finally_tasks_still_run(tmp_path):
    path = pipeline_file(tmp_path, f"""
        tasks:
          - name: stuck
            taskSpec: {step("exit 1")}
          - name: after
            runAfter: [stuck]
            taskSpec: {step("echo never")}
        finally:
          - name: cleanup
            taskSpec: {step("echo cleaning up")}
        """)
    ps, rec = start(path, on_failure=True)
    ps.start()
    try:
        rec.next(StepPaused)
        ps.terminate()
        end = rec.next(PipelineRunFinished)
        assert (end.succeeded, end.reason) == (False, "Cancelled")
        assert "cleaning up" in rec.output("cleanup")
        assert rec.ended()["after"].reason == "PipelineRun was gracefully cancelled"
    finally:
        ps.close()


def test_stop_while_a_taskrun_starts_cancels_it_once_started(tmp_path):
    from tekton_debug.runtimes.local.runtime import LocalRuntime

    entered, go_on = threading.Event(), threading.Event()

    def slow_runtime(options):  # as a runtime that takes its time to reach its cluster
        entered.set()
        go_on.wait(WAIT)
        return LocalRuntime.from_options(options)

    path = pipeline_file(tmp_path, f"""
        tasks:
          - name: long
            taskSpec: {step("sleep 60")}
        """)
    rec = Recorder()
    ps = PipelineSession(LaunchOptions(task_file=path), rec, runtime_factory=slow_runtime)
    ps.load()
    ps.start()
    try:
        assert entered.wait(WAIT)
        ps.terminate()
        time.sleep(0.2)  # the cancel reaches the TaskRun while it is still starting
        go_on.set()
        end = rec.next(PipelineRunFinished)  # well before the step's minute
        assert (end.succeeded, end.reason) == (False, "Cancelled")
        assert rec.ended()["long"].status == "cancelled"
    finally:
        go_on.set()
        ps.close()


class SlowStart:
    """A runtime factory whose TaskRuns' starts wait until ``go_on`` is set, as a start that pulls
    an image; a cancel sets it, as it ends a pull (unless ``pull_on``). With ``fail`` the start
    then fails."""

    def __init__(self, *, fail: bool = False, pull_on: bool = False) -> None:
        from tekton_debug.runtimes.local.runtime import LocalRuntime

        self.entered, self.go_on, self.cancelled = (threading.Event(), threading.Event(),
                                                     threading.Event())
        outer = self

        class Runtime(LocalRuntime):
            def start(self, run, plan, listener):
                outer.entered.set()
                outer.go_on.wait(WAIT * 2)
                if fail:
                    raise UserError("the image could not be pulled")
                super().start(run, plan, listener)

            def cancel(self, reason="TaskRunCancelled"):
                outer.cancelled.set()
                if not pull_on:
                    outer.go_on.set()
                super().cancel(reason)

        self.runtime = Runtime

    def __call__(self, options):
        return self.runtime.from_options(options)


def slow_pipeline(tmp_path, body: str, slow: SlowStart, **options):
    rec = Recorder()
    ps = PipelineSession(LaunchOptions(task_file=pipeline_file(tmp_path, body), **options), rec,
                         runtime_factory=slow)
    ps.load()
    return ps, rec


@pytest.mark.parametrize("fail", [False, True], ids=["starts", "fails-to-start"])
def test_stop_cancels_a_taskrun_at_once_while_its_runtime_starts(tmp_path, fail):
    # a start the cancel cuts short and that then fails ends cancelled too, not failed
    slow = SlowStart(fail=fail)
    ps, rec = slow_pipeline(tmp_path, f"""
        tasks:
          - name: long
            taskSpec: {step("sleep 60")}
        """, slow)
    ps.start()
    try:
        assert slow.entered.wait(WAIT)
        ps.terminate()
        assert slow.cancelled.wait(WAIT), "the cancel waited for the start to end"
        end = rec.next(PipelineRunFinished)
        assert (end.succeeded, end.reason) == (False, "Cancelled")
        assert rec.ended()["long"].status == "cancelled"
    finally:
        slow.go_on.set()
        ps.close()


def test_a_taskrun_queued_when_close_gives_up_leaves_nothing_on_disk(tmp_path, monkeypatch):
    from tekton_debug.pipeline import run as pipeline_run

    monkeypatch.setitem(pipeline_run.START_THREADS, "local", 1)  # "sub" waits for "first"
    monkeypatch.setattr(pipeline_run, "CLOSE_WAIT", 0.2)
    slow = SlowStart(fail=True, pull_on=True)  # the pull goes on past close()
    ps, rec = slow_pipeline(tmp_path, f"""
        workspaces: [{{name: ws}}]
        tasks:
          - name: first
            taskSpec: {step("true")}
          - name: sub
            workspaces: [{{name: w, workspace: ws, subPath: deeper}}]
            taskSpec:
              workspaces: [{{name: w}}]
              steps: [{{name: s, image: alpine, script: "true"}}]
        """, slow, runtime="local")
    ps.start()
    run_dir = os.path.dirname(os.path.dirname(ps.workspaces["ws"]))
    try:
        assert slow.entered.wait(WAIT) and os.path.isdir(run_dir)
        ps.close()
        assert not os.path.exists(run_dir)
        slow.go_on.set()
        assert ps.wait(WAIT)
        assert {t: e.status for t, e in rec.ended().items()} == \
            {"first": "cancelled", "sub": "cancelled"}
        assert not os.path.exists(run_dir)
    finally:
        slow.go_on.set()
        ps.close()


def test_a_failing_scheduler_tells_the_end_once_the_taskruns_starting_have_ended(tmp_path):
    slow = SlowStart(pull_on=True)
    ps, rec = slow_pipeline(tmp_path, f"""
        tasks:
          - name: long
            taskSpec: {step("sleep 60")}
        """, slow)

    def bug(*, hard):
        raise RuntimeError("a bug")

    ps._cancel = bug  # the scheduler fails while the TaskRun starts
    ps.start()
    try:
        assert slow.entered.wait(WAIT)
        ps.terminate()
        rec.next(Notice, lambda ev: "failed while running the pipeline" in ev.message)
        slow.go_on.set()
        end = rec.next(PipelineRunFinished)
        assert (end.succeeded, end.reason) == (False, "Cancelled")
        ended = rec.ended()["long"]
        assert ended.status == "cancelled"
        assert rec.events.index(ended) < rec.events.index(end)
    finally:
        slow.go_on.set()
        ps.close()


def test_tasks_timeout_cancels_the_tasks_and_runs_finally(tmp_path):
    path = tmp_path / "pr.yaml"
    path.write_text(textwrap.dedent(f"""
        apiVersion: tekton.dev/v1
        kind: PipelineRun
        metadata: {{name: pr}}
        spec:
          timeouts: {{pipeline: 1m, tasks: 1s}}
          pipelineSpec:
            tasks:
              - name: slow
                taskSpec: {step("sleep 20")}
            finally:
              - name: after
                taskSpec: {step("echo finally ran")}
        """))
    ps, rec = start(str(path))
    started = time.monotonic()
    end = finish(ps, rec)
    assert time.monotonic() - started < 15
    assert rec.ended()["slow"].status == "timedOut" and not end.succeeded
    assert "finally ran" in rec.output("after")


def test_workspaces_are_shared_with_subpaths_and_bound_host_directories(tmp_path):
    host = tmp_path / "host"
    host.mkdir()
    path = pipeline_file(tmp_path, """
        workspaces: [{name: shared}, {name: out}]
        tasks:
          - name: write
            workspaces: [{name: w, workspace: shared, subPath: part}]
            taskSpec:
              workspaces: [{name: w}]
              steps: [{image: alpine, script: "echo hello > $(workspaces.w.path)/f"}]
          - name: read
            runAfter: [write]
            workspaces: [{name: w, workspace: shared}, {name: o, workspace: out}]
            taskSpec:
              workspaces: [{name: w}, {name: o}]
              steps: [{image: alpine, script: "cat $(workspaces.w.path)/part/f > $(workspaces.o.path)/copy"}]
        """)
    ps, rec = start(path, workspaces={"out": str(host)})
    assert finish(ps, rec).reason == "Succeeded"
    assert (host / "copy").read_text() == "hello\n"


def test_unknown_workspace_binding_from_the_command_line_is_a_user_error(tmp_path):
    path = pipeline_file(tmp_path, f"""
        tasks:
          - name: a
            taskSpec: {step("true")}
        """)
    from tekton_debug.errors import UserError
    with pytest.raises(UserError, match="declares no workspace 'nope'"):
        PipelineSession(LaunchOptions(task_file=path, workspaces={"nope": str(tmp_path)}),
                        Recorder()).load()


def test_each_taskrun_is_named_and_labelled_as_tekton_does(tmp_path):
    ps, rec = start(EXAMPLE)
    finish(ps, rec)
    session = ps.sessions["build"]
    assert session.run.name == "build-and-publish-run-build"
    labels = session.run.raw["metadata"]["labels"]
    assert labels["tekton.dev/pipelineTask"] == "build"
    assert labels["tekton.dev/pipeline"] == "build-and-publish"
    assert labels["tekton.dev/memberOf"] == "tasks"


def test_auto_asks_about_an_image_once_for_the_whole_pipeline_run(tmp_path):
    # three tasks of an image that cannot be had: one pull is tried, not one per TaskRun, and
    # every task runs on this host, saying why
    image = "localhost:1/tekton-debug-test/absent:1"
    tasks = "".join(f"""
      - name: t{i}
        taskSpec: {{steps: [{{name: s, image: "{image}", script: "echo ran t{i}"}}]}}"""
                    for i in range(3))
    ps, rec = start(pipeline_file(tmp_path, "tasks:" + tasks), runtime="auto")

    assert finish(ps, rec).succeeded
    pulls = [e for e in rec.events if isinstance(e, TaskEvent) and isinstance(e.event, Progress)
             and e.event.message == f"pulling image {image}"]
    assert len(pulls) == 1, pulls
    for i in range(3):
        assert f"ran t{i}" in rec.output(f"t{i}")
        notices = [e.event.message for e in rec.events if isinstance(e, TaskEvent)
                   and e.task == f"t{i}" and isinstance(e.event, Notice)]
        assert any("not in their images" in n and image in n for n in notices), notices


def test_other_tasks_output_goes_on_while_a_pause_is_being_handed_on(tmp_path):
    # a front end that takes its time over a pause (a step's end goes before other output)
    # must not hold up the output of the tasks that go on
    path = pipeline_file(tmp_path, f"""
        tasks:
          - name: fails
            taskSpec: {step("exit 3")}
          - name: logs
            taskSpec: {step("for i in $(seq 400); do echo line $i; sleep 0.005; done")}
    """)
    seen_meanwhile = []
    handled = threading.Event()

    class Slow(Recorder):
        def __call__(self, ev) -> None:
            super().__call__(ev)
            if isinstance(ev, TaskEvent) and isinstance(ev.event, StepPaused):
                before = len(self.output("logs"))
                deadline = time.monotonic() + WAIT
                while len(self.output("logs")) == before and time.monotonic() < deadline:
                    time.sleep(0.01)
                seen_meanwhile.append(len(self.output("logs")) > before)
                handled.set()

    rec = Slow()
    ps = PipelineSession(LaunchOptions(task_file=path), rec)
    ps.load()
    ps.start()
    try:
        assert handled.wait(2 * WAIT)
        assert seen_meanwhile == [True]
        ps.session_of("fails").release(Release.FAIL_CONTINUE)
        rec.next(PipelineRunFinished)
    finally:
        ps.close()
    assert "line 400" in rec.output("logs")
