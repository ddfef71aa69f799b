"""A pause other tools can see: annotations on the TaskRun while one of its steps is paused.

Tekton has no "paused" status (a paused TaskRun is ``Running`` like a hung one; tektoncd/dashboard
#2268), so while a step is paused the TaskRun carries

    tekton-debug.dev/paused-step:  the step's name
    tekton-debug.dev/paused-reason: onFailure | beforeStep
    tekton-debug.dev/paused-since: when the pause began (RFC 3339, UTC)

and they are removed when the pause ends, for ``kubectl get taskrun -o yaml``, dashboards and
scripts. The patches go out from a thread of their own, newest wish first (a pause and its release
in quick succession end with no annotation), so that following the logs never waits on the API.
Without ``patch`` on taskruns a notice says so once; the run goes on.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tekton_debug.runtimes.kubernetes.connect import Cluster, call

log = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "tekton.dev", "v1", "taskruns"
STEP = "tekton-debug.dev/paused-step"
REASON = "tekton-debug.dev/paused-reason"
SINCE = "tekton-debug.dev/paused-since"
KEYS = (STEP, REASON, SINCE)


def paused_annotations(step: str, reason: str, since: float) -> dict[str, str]:
    return {STEP: step, REASON: reason,
            SINCE: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(since))}


class PauseAnnotator:
    """Keeps the TaskRun's pause annotations equal to the latest ``paused``/``cleared`` call."""

    def __init__(self, cluster: Cluster, taskrun: str, notice: Callable[[str], None]) -> None:
        self._cluster, self._taskrun, self._notice = cluster, taskrun, notice
        self._cond = threading.Condition()
        self._wanted: dict[str, str] | None = None  # None: no annotations
        self._applied: dict[str, str] | None = None
        self._refused = False
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="pause-annotations", daemon=True)
        self._thread.start()

    def paused(self, step: str, reason: str) -> None:
        self._want(paused_annotations(step, reason, time.time()))

    def cleared(self) -> None:
        self._want(None)

    def _want(self, wanted: dict[str, str] | None) -> None:
        with self._cond:
            self._wanted = wanted
            self._cond.notify()

    def close(self, timeout: float = 5.0) -> None:
        """Apply what is wanted still (a release just before the end), then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._closed or self._wanted != self._applied)
                if self._wanted == self._applied or self._refused:
                    if self._closed:
                        return
                    if self._refused:
                        self._applied = self._wanted
                    continue
                wanted = self._wanted
            self._apply(wanted)
            with self._cond:
                self._applied = wanted

    def _apply(self, wanted: dict[str, str] | None) -> None:
        body = {"metadata": {"annotations": wanted if wanted is not None
                             else {key: None for key in KEYS}}}
        api = client.CustomObjectsApi(self._cluster.api)
        try:
            call(self._cluster, "annotate the TaskRun", lambda: api.patch_namespaced_custom_object(
                GROUP, VERSION, self._cluster.namespace, PLURAL, self._taskrun, body,
                _content_type="application/merge-patch+json"))
        except ApiException as e:
            if e.status == 403:
                with self._cond:
                    self._refused = True
                self._notice(
                    "the TaskRun cannot be annotated as paused (no permission to patch taskruns "
                    f"in namespace {self._cluster.namespace!r}): other tools see it as Running. "
                    'Add verbs: ["patch"] on taskruns to your Role to show pauses')
            elif e.status != 404:  # a TaskRun deleted meanwhile needs no annotation
                log.warning("could not annotate TaskRun %s: %s", self._taskrun, e.reason)
        except Exception as e:  # noqa: BLE001 - the cluster went away: the run says so elsewhere
            log.warning("could not annotate TaskRun %s: %s", self._taskrun, e)
