"""The debug adapter survives whatever a client sends (tests/hardening/dapfuzz.py says what).

Each example is one conversation with a new `tekton-debug dap` process over its real stdio: a few
hundred messages in all. benchmarks/fuzz_dap.py plays the same conversations by the ten thousand.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from tests.hardening.dapfuzz import (Corrupt, Request, Stats, WaitStopped, conversations,
                                      converse, make_files, report)

pytestmark = pytest.mark.timeout(300)

MESSAGES = 250  # at least; benchmarks/fuzz_dap.py sends 10,000


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return make_files(tmp_path_factory.mktemp("fuzz"))


def test_adapter_answers_every_request_and_ends_cleanly_on_a_corrupt_stream(files):
    stats = Stats()

    # No shrinking: every example is an adapter process, and shrinking one would take minutes;
    # a failing conversation is printed whole, and its problems say what went wrong.
    @settings(max_examples=15, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(conversations(files))
    def conversation(actions):
        problems = converse(actions, files.directory, stats)
        assert problems == []

    while stats.messages < MESSAGES:
        conversation()
    print(report(stats, 0))

    assert stats.succeeded > 0 and stats.failed > 0
    assert stats.corrupt_exits > 0


@pytest.mark.parametrize("garbage", [
    b"Content-Length: abc\r\n\r\n{}",
    b"Content-Length: %d\r\n\r\n" % (64 * 1024 * 1024 + 1),
    b"hello there\r\n\r\n",
], ids=["not-a-number", "over-the-limit", "no-colon"])
def test_corrupt_stream_during_a_paused_run_leaves_no_process_behind(files, garbage):
    launch = {"type": "tekton", "request": "launch", "task": files.task}
    actions = [Request("initialize", {"adapterID": "tekton"}), Request("launch", launch),
               Request("setExceptionBreakpoints", {"filters": ["onFailure"]}),
               Request("configurationDone", {}), WaitStopped(), Corrupt(garbage, "garbage")]

    assert converse(actions, files.directory, Stats()) == []
