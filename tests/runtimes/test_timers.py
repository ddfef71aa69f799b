"""The process's one timer thread: deadlines fire in their order, cancelled ones never, also
when no thread can be started."""

from __future__ import annotations

import queue
import threading

from tekton_debug.runtimes import timers as timers_module
from tekton_debug.runtimes.timers import Timers

WAIT = 30


def test_deadlines_fire_in_their_order_and_cancelled_ones_never():
    timers, fired = Timers(), queue.Queue()
    timers.call_later(0.2, lambda: fired.put("late"))
    cancelled = timers.call_later(0.1, lambda: fired.put("cancelled"))
    timers.call_later(3600, lambda: fired.put("an hour away")).cancel()
    timers.call_later(0.05, lambda: fired.put("early"))
    cancelled.cancel()

    assert [fired.get(timeout=WAIT), fired.get(timeout=WAIT)] == ["early", "late"]
    assert fired.empty()


def test_a_deadline_that_waits_does_not_hold_up_the_others():
    timers, fired = Timers(), queue.Queue()
    release = queue.Queue()
    timers.call_later(0, lambda: release.get(timeout=WAIT))  # a run's cancel: waits for its steps
    timers.call_later(0.05, lambda: fired.put("next"))

    assert fired.get(timeout=WAIT) == "next"
    release.put(None)


_Thread = threading.Thread


class _NoThreads:
    """``threading.Thread`` as the timers module sees it, refusing to start the threads named
    in ``refused`` (the process limit reached) until they are taken out."""

    def __init__(self, *refused: str) -> None:
        self.refused = set(refused)

    def __call__(self, *args, **kwargs):
        thread = _Thread(*args, **kwargs)
        if thread.name in self.refused:
            def refuse():
                raise RuntimeError("can't start new thread")
            thread.start = refuse
        return thread


def test_a_deadline_fires_when_no_thread_can_be_started_for_it(monkeypatch):
    timers, fired = Timers(), queue.Queue()
    monkeypatch.setattr(timers_module.threading, "Thread", _NoThreads("deadline"))
    timers.call_later(0, lambda: fired.put("first"), name="deadline")
    assert fired.get(timeout=WAIT) == "first"

    timers.call_later(0.05, lambda: fired.put("later"), name="deadline")
    assert fired.get(timeout=WAIT) == "later"


def test_deadlines_fire_once_a_timer_thread_can_be_started_again(monkeypatch):
    timers, fired = Timers(), queue.Queue()
    refusing = _NoThreads("timers")
    monkeypatch.setattr(timers_module.threading, "Thread", refusing)
    timers.call_later(0.05, lambda: fired.put("first"))  # no timer thread now

    refusing.refused.clear()
    timers.call_later(0.1, lambda: fired.put("second"))
    assert [fired.get(timeout=WAIT), fired.get(timeout=WAIT)] == ["first", "second"]


def test_a_deadline_cancelled_after_it_came_due_but_before_it_ran_does_not_run(monkeypatch):
    timers, fired = Timers(), queue.Queue()
    starting, go = threading.Event(), threading.Event()

    class Held(_Thread):
        def start(self):
            if self.name == "held":  # due, taken from the heap: its thread is about to start
                starting.set()
                go.wait(WAIT)
            super().start()

    monkeypatch.setattr(timers_module.threading, "Thread", Held)
    deadline = timers.call_later(0, lambda: fired.put("ran"), name="held")
    assert starting.wait(WAIT)
    deadline.cancel()
    go.set()
    timers.call_later(0.05, lambda: fired.put("next"))

    assert fired.get(timeout=WAIT) == "next"
    assert fired.empty()


def test_cancelling_a_deadline_that_is_not_the_next_due_leaves_the_timer_thread_asleep():
    # a PipelineRun's close cancels twenty TaskRuns' hour-long timeouts: only the one due first
    # changes when the thread must wake
    timers, fired = Timers(), queue.Queue()
    wakes = []
    notify = timers._wake.notify
    timers._wake.notify = lambda *a: (wakes.append(1), notify(*a))
    first = timers.call_later(0.3, lambda: fired.put("first"))
    later = [timers.call_later(3600 + i, lambda: fired.put("later")) for i in range(5)]
    woken = len(wakes)

    for deadline in later:
        deadline.cancel()
    assert len(wakes) == woken
    first.cancel()
    assert len(wakes) == woken + 1

    timers.call_later(0.05, lambda: fired.put("after"))
    assert fired.get(timeout=WAIT) == "after"
    assert fired.empty()
