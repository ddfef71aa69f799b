from __future__ import annotations

import threading
from typing import Callable, Iterator

import pytest

from tests.cluster.fixtures import cluster, cluster_process, kubectl_env  # noqa: F401
from tekton_debug.options import LaunchOptions
from tekton_debug.events import RuntimeEvent
from tekton_debug.runtimes.kubernetes import KubernetesRuntime


class Recorder:
    """A listener that keeps every event and lets a test wait for one."""

    def __init__(self) -> None:
        self.events: list[RuntimeEvent] = []
        self._cond = threading.Condition()

    def __call__(self, ev: RuntimeEvent) -> None:
        with self._cond:
            self.events.append(ev)
            self._cond.notify_all()

    def wait_for(self, pred: Callable[[RuntimeEvent], bool], timeout: float = 30.0
                 ) -> RuntimeEvent:
        with self._cond:
            found: list[RuntimeEvent] = []

            def seen() -> bool:
                found[:] = [e for e in self.events if pred(e)]
                return bool(found)
            if not self._cond.wait_for(seen, timeout):
                raise AssertionError(f"no such event; got {self.events!r}")
            return found[0]

    def of(self, kind: type) -> list:
        with self._cond:
            return [e for e in self.events if isinstance(e, kind)]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_runtime(cluster) -> Iterator[Callable[..., KubernetesRuntime]]:  # noqa: F811
    made: list[KubernetesRuntime] = []

    def make(**options) -> KubernetesRuntime:
        rt = KubernetesRuntime(LaunchOptions(runtime="kubernetes", kubeconfig=cluster.kubeconfig,
                                             **options))
        made.append(rt)
        return rt
    yield make
    for rt in made:
        rt.close()
