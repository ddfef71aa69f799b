"""The file waiter: sees files as they appear, honours .err twins, and can be cancelled."""

from __future__ import annotations

import threading

import pytest

from tekton_debug.entrypoint.lifecycle import SkipStep, WaitCancelled
from tekton_debug.entrypoint.postwriter import FilePostWriter
from tekton_debug.entrypoint.waiter import CancelToken, FileWaiter

MODES = [pytest.param(True, id="inotify"), pytest.param(False, id="poll")]


def in_thread(fn):
    box = {}
    started = threading.Event()

    def run():
        started.set()
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - handed to the test
            box["error"] = e

    t = threading.Thread(target=run)
    t.start()
    started.wait()
    return t, box


@pytest.mark.parametrize("inotify", MODES)
def test_wait_returns_when_the_file_is_written(tmp_path, inotify):
    target = tmp_path / "out"
    t, box = in_thread(lambda: FileWaiter(use_inotify=inotify).wait(
        str(target), expect_content=False, breakpoint_on_failure=False))
    FilePostWriter().write(str(target))
    t.join(10)
    assert not t.is_alive() and "error" not in box


@pytest.mark.parametrize("inotify", MODES)
def test_wait_for_content_ignores_an_empty_file(tmp_path, inotify):
    target = tmp_path / "ready"
    target.write_text("")
    waiter = FileWaiter(use_inotify=inotify)
    t, box = in_thread(lambda: waiter.wait(str(target), expect_content=True,
                                           breakpoint_on_failure=False))
    t.join(0.05)
    assert t.is_alive()
    target.write_text("READY")
    t.join(10)
    assert not t.is_alive() and "error" not in box


def test_err_twin_skips_without_breakpoint_and_passes_with_it(tmp_path):
    (tmp_path / "out.err").write_text("")
    with pytest.raises(SkipStep):
        FileWaiter().wait(str(tmp_path / "out"), expect_content=False, breakpoint_on_failure=False)
    FileWaiter().wait(str(tmp_path / "out"), expect_content=False, breakpoint_on_failure=True)


def test_wait_any_returns_the_file_that_appeared(tmp_path):
    paths = [str(tmp_path / "out.beforestepexit"), str(tmp_path / "out.beforestepexit.err")]
    t, box = in_thread(lambda: FileWaiter().wait_any(paths))
    FilePostWriter().write(paths[1], "1\n")
    t.join(10)
    assert box["value"] == paths[1]


@pytest.mark.parametrize("inotify", MODES)
def test_cancel_ends_every_wait(tmp_path, inotify):
    token = CancelToken()
    waiters = [in_thread(lambda: FileWaiter(token, use_inotify=inotify).wait(
        str(tmp_path / "never"), expect_content=False, breakpoint_on_failure=False))
        for _ in range(2)]
    token.cancel()
    for t, box in waiters:
        t.join(10)
        assert isinstance(box.get("error"), WaitCancelled)
    with pytest.raises(WaitCancelled):
        FileWaiter(token).wait_any([str(tmp_path / "never")])
    token.close()
