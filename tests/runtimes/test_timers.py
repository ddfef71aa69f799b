"""The process's one timer thread: deadlines fire in their order, cancelled ones never."""

from __future__ import annotations

import queue

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
