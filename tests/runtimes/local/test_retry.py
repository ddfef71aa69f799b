"""A retry of a paused step ("fix and retry"): prepared without holding up the run's other
requests, and leaving nothing behind however its start goes."""

from __future__ import annotations

import threading

import pytest

from tekton_debug.errors import WrongTime
from tekton_debug.events import Release, RunFinished, SecretValues, StepPaused

from .test_local_runtime import make_run, start

WAIT = 30


def paused_run(runtime):
    rt, rec = start(runtime, make_run([dict(name="a", command=["false"])]))
    rec.wait_for(StepPaused)
    return rt, rec


def test_the_run_answers_while_a_retry_is_being_prepared(runtime, monkeypatch):
    rt, rec = paused_run(runtime)
    preparing, go_on = threading.Event(), threading.Event()
    prepare = rt._retry_process

    def slow(*args):  # as a container's Python step is probed by exec
        preparing.set()
        assert go_on.wait(WAIT)
        return prepare(*args)

    monkeypatch.setattr(rt, "_retry_process", slow)
    codes = []
    retry = threading.Thread(target=lambda: codes.append(
        rt.rerun(0, make_run([dict(name="a", command=["true"])]))))
    retry.start()
    try:
        assert preparing.wait(WAIT)
        assert rt.exec(0, ["echo", "hi"]).stdout == b"hi\n"  # not waiting for the retry
        with pytest.raises(WrongTime, match="being retried already"):
            rt.rerun(0, make_run([dict(name="a", command=["true"])]))
    finally:
        go_on.set()
        retry.join(WAIT)
    assert codes == [0]
    rt.release(0, Release.CONTINUE)
    assert rec.wait_for(RunFinished)


def test_a_retry_that_fails_to_start_can_be_retried_again(runtime, monkeypatch):
    rt, rec = paused_run(runtime)

    def broken(*args):
        raise OSError("no space left on device")

    monkeypatch.setattr(rt, "_retry_process", broken)
    with pytest.raises(OSError):
        rt.rerun(0, make_run([dict(name="a", command=["true"])]))
    monkeypatch.undo()

    assert rt.rerun(0, make_run([dict(name="a", command=["true"])])) == 0
    rt.release(0, Release.CONTINUE)
    assert rec.wait_for(RunFinished)


def test_a_retry_whose_start_fails_after_its_process_is_made_leaves_nothing(runtime, monkeypatch):
    rt, rec = paused_run(runtime)
    made = {}
    prepare = rt._retry_process

    class Debugger:  # the retry's Python debugger: a listening socket and a thread
        closed = False

        def close(self):
            self.closed = True

    def prepared(*args):
        process, local = prepare(*args)
        made["process"], made["debugger"] = process, Debugger()
        rt._steps[0].retry_python = made["debugger"]
        end = process.end
        process.end = lambda: (made.setdefault("ended", True), end())
        return process, local

    emit = rt._emit

    def failing_emit(event):
        if isinstance(event, SecretValues):
            raise RuntimeError("the event queue is gone")
        emit(event)

    monkeypatch.setattr(rt, "_retry_process", prepared)
    monkeypatch.setattr(rt, "_emit", failing_emit)
    with pytest.raises(RuntimeError):
        rt.rerun(0, make_run([dict(name="a", command=["true"])]))
    monkeypatch.undo()

    assert made["debugger"].closed
    assert made.get("ended")
    assert rt._steps[0].retry is None and rt._steps[0].retry_python is None
    rt.release(0, Release.CONTINUE)
    assert rec.wait_for(RunFinished)
