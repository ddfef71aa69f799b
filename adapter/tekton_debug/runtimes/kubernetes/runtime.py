"""The kubernetes runtime: TaskRuns with breakpoints on a cluster with Tekton.

How a run is followed (no polling; zero API requests while a step is paused):

- one watch on the TaskRun (field selector on its name) and one on its pods (label
  ``tekton.dev/taskRun``); only a pod owned by the TaskRun (owner uid) is taken as its pod;
- one driver thread walks the steps in order: it waits for the step's container to run, follows its
  log (one stream, resumed if it drops), reports the pause banners as StepPaused, and when the
  container ends reports StepFinished; after the last step (or when the run ends early) it reports
  RunFinished with Tekton's reason;
- continue / fail-continue run the debug scripts by exec in the paused step's container.

Events reach the listener from one dispatcher thread, in order.

``next`` (pause before the next step) is not supported on a cluster: Tekton fixes ``beforeSteps``
when the TaskRun is created. Doing it would mean a before-step breakpoint on every step, released
by exec unless wanted, which costs a pause and an exec per step and leaves every later step stuck
if the debugger goes away (an attached session must be able to leave the TaskRun as it is). The
runtime says so with a Notice and continues; breakpoints set before launch (``beforeSteps``) work.

The exit code of a step paused on failure: Tekton's entrypoint writes it nowhere a client can read
while the step is paused (the termination message has no exit code and the container still runs);
it is taken from the step's log when a line states it, else left unknown (None).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Callable, Sequence

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tekton_debug.errors import RuntimeUnavailable, UserError, WrongTime
from tekton_debug.options import LaunchOptions
from tekton_debug.events import (
    DebugPlan, ExecResult, Listener, Notice, PauseKind, Progress, Release, RunFinished,
    RuntimeEvent, SecretValues, StepEnvironment, StepFinished, StepLog, StepPaused, StepResumed,
    StepStarted,
)
from tekton_debug.runtimes.kubernetes import podexec, preflight, secrets
from tekton_debug.runtimes.kubernetes.annotate import PauseAnnotator
from tekton_debug.runtimes.kubernetes import steps as st
from tekton_debug.runtimes.kubernetes.connect import (BACKOFF, Cluster, call, connect,
                                                      is_connection_error, server_message,
                                                      user_error)
from tekton_debug.runtimes.kubernetes.follow import (WATCH_RETRIES, LogReader, ObjectWatch,
                                                     describe, epoch_seconds)
from tekton_debug.runtimes.kubernetes.manifest import build_taskrun, rerun_manifest
from tekton_debug.tekton.duration import format_duration, parse_duration
from tekton_debug.tekton.model import TaskRun, shown

log = logging.getLogger(__name__)

GROUP, VERSION, PLURAL = "tekton.dev", "v1", "taskruns"
LOG_RETRIES = WATCH_RETRIES  # a log stream outlasts an outage as long as the watches do
EVENT_BACKLOG = 256  # events (log chunks) waiting for a slow listener
STREAM_END_GRACE = 2.0  # after a log stream ends: time for the pod watch to show the exit
POD_GONE_GRACE = 10.0  # after the pod is deleted: time for Tekton to finish the TaskRun
_STOP = object()
#: Seconds to wait for the cluster to resolve a remote Task (Tekton's own default is 1 minute).
RESOLUTION_WAIT = 90


class KubernetesRuntime:
    name = "kubernetes"

    def __init__(self, options: LaunchOptions | None = None, *,
                 connector: Callable[[LaunchOptions], Cluster] = connect) -> None:
        self.options = options or LaunchOptions(runtime="kubernetes")
        self._connector = connector
        self.cluster: Cluster | None = None
        self.model: TaskRun | None = None
        self.taskrun_name = ""
        self.taskrun_uid = ""
        self._cond = threading.Condition()
        self._taskrun: dict | None = None
        # pods owned by the TaskRun, by name; its pod is the one status.podName names
        self._pods: dict[str, dict] = {}
        self._deleted_pods: set[str] = set()
        self._taskrun_deleted = False
        self._lost: str | None = None
        self._paused: dict[int, PauseKind] = {}
        self._retrying: set[int] = set()
        self._released: dict[int, tuple[PauseKind, Release]] = {}
        self._skipped_in_log: set[int] = set()
        self._lines: dict[int, list[str]] = {}
        self._partial: dict[int, str] = {}
        # bounded: a client that reads slowly slows the log streams down (TCP does the rest),
        # instead of the adapter buffering everything
        self._events: queue.Queue = queue.Queue(maxsize=EVENT_BACKLOG)
        self._listener: Listener | None = None
        self._threads: list[threading.Thread] = []
        self._watches: list[ObjectWatch] = []
        self._readers: list[LogReader] = []
        self._closed = threading.Event()
        self._finished = False
        self._next_noticed = False
        self._plan: DebugPlan | None = None
        self._annotator: PauseAnnotator | None = None
        self._rerun_of: dict | None = None  # the finished TaskRun that start() copies

    # ---- launching and attaching -----------------------------------------------------------
    def _connect(self) -> Cluster:
        if self.cluster is None:
            self.cluster = self._connector(self.options)
        return self.cluster

    def start(self, run: TaskRun, plan: DebugPlan, listener: Listener) -> None:
        cluster = self._connect()
        self._plan = plan
        info = preflight.check(cluster, need_debug=bool(plan.on_failure or plan.before_steps))
        timeout = parse_duration(self.options.timeout) if self.options.timeout else None
        if self._rerun_of is not None:
            built = rerun_manifest(self._rerun_of, run, plan,
                                   breakpoints_field=info.breakpoints_field,
                                   before_steps_supported=info.before_steps)
            if timeout is not None:
                built.manifest["spec"]["timeout"] = format_duration(timeout)
        else:
            built = build_taskrun(run, plan, namespace=cluster.namespace,
                                  params=self.options.params,
                                  host_workspaces=self.options.workspaces, timeout=timeout,
                                  breakpoints_field=info.breakpoints_field,
                                  before_steps_supported=info.before_steps)
        api = client.CustomObjectsApi(cluster.api)
        try:
            obj = call(cluster, "create the TaskRun", lambda: api.create_namespaced_custom_object(
                GROUP, VERSION, cluster.namespace, PLURAL, built.manifest))
        except ApiException as e:
            raise self._create_error(e) from None
        self.model = run
        run.name = obj["metadata"]["name"]
        run.namespace = cluster.namespace
        if run.unresolved is not None:
            info.notices.append(f"the remote Task was not fetched here ({run.unresolved}); the "
                                "cluster's resolver fetches it: its steps show once it has, "
                                "without their lines")
            obj = self._resolved_by_cluster(run, obj)
        # read once the steps are known (a remote Task's from the cluster): the log readers start
        # after this event, so the values are known before anything a step prints is shown
        secret_values, notices = self._secrets(run, info)
        self._begin(obj, listener)
        self._emit(SecretValues(secret_values))
        for text in notices + info.notices + built.notices:
            self._emit(Notice(text, level="warning"))
        self._emit(Notice(f"TaskRun {run.name} created in namespace {cluster.namespace} "
                          f"({cluster.where}); debug: {built.manifest['spec'].get('debug')}"))
        self._follow()

    def _secrets(self, run: TaskRun, info: preflight.TektonInfo
                 ) -> tuple[frozenset[str], list[str]]:
        """The values of the Secrets the run uses, and what to tell when they cannot be read."""
        assert self.cluster is not None
        names = secrets.referenced(run)
        if not names:
            return frozenset(), []
        if not info.secrets_readable:
            return frozenset(), [secrets.unmasked_notice(self.cluster, names)]
        return secrets.read_values(self.cluster, names), []

    def _create_error(self, e: ApiException) -> UserError:
        assert self.cluster is not None
        message = server_message(e)
        if "enable-api-fields" in message:
            return RuntimeUnavailable(f"the cluster refused the TaskRun: {message}",
                                      fix=f"run: {preflight.ALPHA_PATCH}")
        if e.status in (400, 422):
            return UserError(f"the cluster refused the TaskRun: {message}",
                             fix="fix the Task or TaskRun file accordingly")
        return user_error(self.cluster, "create the TaskRun", e)

    def prepare_rerun(self, task_run: str) -> TaskRun:
        """Read the finished TaskRun ``task_run`` to run it again with debug on: ``start`` then
        creates a copy of it (see ``manifest.rerun_manifest``). Raises UserError when there is no
        such TaskRun or it has not finished."""
        cluster = self._connect()
        obj = self._read_taskrun(task_run)
        if not st.final(obj):
            reason = next((c.get("reason") for c in (obj.get("status") or {}).get("conditions")
                           or [] if c.get("type") == "Succeeded"), None) or "not started"
            raise UserError(f"TaskRun {task_run} is still running ({reason}): a re-run copies a "
                            "finished TaskRun",
                            fix=f"attach to it instead (tekton-debug run --attach {task_run} "
                                "--runtime kubernetes), or wait until it has finished")
        self._rerun_of = obj
        model = self._model_of(obj)
        model.namespace = cluster.namespace
        return model

    def _read_taskrun(self, task_run: str) -> dict:
        cluster = self._connect()
        api = client.CustomObjectsApi(cluster.api)
        try:
            return call(cluster, f"read TaskRun {task_run}", lambda: api.get_namespaced_custom_object(
                GROUP, VERSION, cluster.namespace, PLURAL, task_run))
        except ApiException as e:
            if e.status == 404:
                raise UserError(f"there is no TaskRun {task_run!r} in namespace "
                                f"{cluster.namespace!r} ({cluster.where})",
                                fix=f"list them with: kubectl get taskruns -n {cluster.namespace}"
                                ) from None
            raise user_error(cluster, f"read TaskRun {task_run}", e) from None

    def attach(self, task_run: str, plan: DebugPlan, listener: Listener) -> TaskRun:
        cluster = self._connect()
        self._plan = plan
        info = preflight.check(cluster, attach=True, need_debug=False)
        obj = self._read_taskrun(task_run)
        self.model = self._model_of(obj)
        debug = self.model.debug
        plan.on_failure = bool(debug and debug.on_failure)
        plan.before_steps = set(debug.before_steps) if debug else set()
        secret_values, notices = self._secrets(self.model, info)
        self._begin(obj, listener)
        self._emit(SecretValues(secret_values))
        for text in notices + info.notices:
            self._emit(Notice(text, level="warning"))
        if debug is None:
            self._emit(Notice(f"TaskRun {task_run} was created without debug: its steps will not "
                              "pause", level="warning"))
        self._follow()
        return self.model

    def _resolved_by_cluster(self, run: TaskRun, obj: dict) -> dict:
        """Wait (watching, bounded) until the cluster has resolved the TaskRun's remote Task
        (``status.taskSpec``) or given up, and take its steps into ``run``. Returns the TaskRun
        as last seen."""
        from kubernetes import watch

        assert self.cluster is not None
        cluster = self.cluster
        api = client.CustomObjectsApi(cluster.api)
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        latest = obj
        try:
            for event in watch.Watch().stream(
                    api.list_namespaced_custom_object, GROUP, VERSION, cluster.namespace, PLURAL,
                    field_selector=f"metadata.name={obj['metadata']['name']}",
                    resource_version=rv, timeout_seconds=RESOLUTION_WAIT):
                latest = event.get("object") or latest
                status = latest.get("status") or {}
                if status.get("taskSpec") or status.get("completionTime"):
                    break
        except (ApiException, OSError, ValueError) as e:
            log.warning("waiting for the cluster to resolve the Task: %s", e)
        if (latest.get("status") or {}).get("taskSpec"):
            model = self._model_of(latest)
            run.task = model.task
        return latest

    def _model_of(self, obj: dict) -> TaskRun:
        """The model of a TaskRun in the cluster: its Task as Tekton resolved it."""
        from tekton_debug.tekton.loader import load_object

        assert self.cluster is not None
        spec = dict(obj.get("spec") or {})
        task_spec = (obj.get("status") or {}).get("taskSpec") or spec.get("taskSpec")
        if task_spec is None and isinstance(spec.get("taskRef"), dict) and \
                spec["taskRef"].get("resolver"):
            conditions = (obj.get("status") or {}).get("conditions") or []
            why = next((c.get("message") for c in conditions if c.get("type") == "Succeeded"
                        and c.get("status") == "False"), None)
            raise UserError(f"TaskRun {(obj.get('metadata') or {}).get('name')}: the cluster has "
                            f"not resolved its remote Task (resolver "
                            f"{spec['taskRef']['resolver']})" + (f": {why}" if why else ""),
                            fix="attach again once the cluster has resolved it (kubectl get "
                                "taskrun shows it running)" if why is None else
                                "fix the reference; the TaskRun failed before its steps")
        if task_spec is None and isinstance(spec.get("taskRef"), dict):
            name = spec["taskRef"].get("name")
            api = client.CustomObjectsApi(self.cluster.api)
            try:
                task = call(self.cluster, f"read Task {name}", lambda: api.get_namespaced_custom_object(
                    GROUP, VERSION, self.cluster.namespace, "tasks", name))
            except ApiException as e:
                raise user_error(self.cluster, f"read Task {name} (taskRef of the TaskRun)", e
                                 ) from None
            task_spec = task.get("spec") or {}
        spec.pop("taskRef", None)
        spec["taskSpec"] = task_spec or {"steps": []}
        meta = obj.get("metadata") or {}
        clean = {"apiVersion": obj.get("apiVersion") or "tekton.dev/v1", "kind": "TaskRun",
                 "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "labels")
                              if k in meta},
                 "spec": {k: v for k, v in spec.items() if k not in ("status", "statusMessage")}}
        model = load_object(clean)
        model.name = meta.get("name") or model.name
        model.namespace = meta.get("namespace") or self.cluster.namespace
        return model

    def _begin(self, obj: dict, listener: Listener) -> None:
        self._listener = listener
        self.taskrun_name = obj["metadata"]["name"]
        self.taskrun_uid = obj["metadata"].get("uid", "")
        with self._cond:
            self._taskrun = obj
        assert self.cluster is not None
        self._annotator = PauseAnnotator(self.cluster, self.taskrun_name,
                                         lambda text: self._emit(Notice(text, level="warning")))
        self._spawn(self._dispatch, "events")

    def _follow(self) -> None:
        cluster = self.cluster
        assert cluster is not None
        custom = client.CustomObjectsApi(cluster.api)
        core = client.CoreV1Api(cluster.api)
        rv = ((self._taskrun or {}).get("metadata") or {}).get("resourceVersion")
        self._watches = [
            ObjectWatch(cluster, f"taskrun/{self.taskrun_name}",
                        custom.list_namespaced_custom_object,
                        dict(group=GROUP, version=VERSION, namespace=cluster.namespace,
                             plural=PLURAL, field_selector=f"metadata.name={self.taskrun_name}"),
                        self._on_taskrun, self._on_lost, resource_version=rv),
            ObjectWatch(cluster, f"pods/{self.taskrun_name}", core.list_namespaced_pod,
                        dict(namespace=cluster.namespace,
                             label_selector=f"{podexec.TASKRUN_LABEL}={self.taskrun_name}"),
                        self._on_pod, self._on_lost),
        ]
        for w in self._watches:
            w.start()
        self._spawn(self._drive, "driver")

    def _spawn(self, target: Callable[[], None], name: str) -> None:
        t = threading.Thread(target=target, name=f"k8s-{name}-{self.taskrun_name}", daemon=True)
        self._threads.append(t)
        t.start()

    # ---- watch callbacks -------------------------------------------------------------------
    def _on_taskrun(self, type_: str, obj: dict) -> None:
        with self._cond:
            if type_ == "DELETED":
                self._taskrun_deleted = True
            elif (obj.get("metadata") or {}).get("uid") == self.taskrun_uid:
                self._taskrun = obj
            self._cond.notify_all()

    @property
    def _pod(self) -> dict | None:
        """The TaskRun's pod: the one its ``status.podName`` names, among the pods it owns. Another
        pod with its label and owner uid is never taken for it (nor exec'd into)."""
        name = st.pod_name(self._taskrun)
        return self._pods.get(name) if name else None

    @property
    def _pod_deleted(self) -> bool:
        return st.pod_name(self._taskrun) in self._deleted_pods

    def _on_pod(self, type_: str, obj: dict) -> None:
        owners = (obj.get("metadata") or {}).get("ownerReferences") or []
        name = (obj.get("metadata") or {}).get("name") or ""
        with self._cond:
            if type_ == "DELETED":
                self._pods.pop(name, None)
                self._deleted_pods.add(name)
            elif any(o.get("uid") == self.taskrun_uid for o in owners) or name in self._pods:
                # a pod followed so far that no longer belongs to the TaskRun is kept as it now
                # is, so that exec refuses it
                self._pods[name] = obj
                self._deleted_pods.discard(name)
            else:
                log.warning("ignoring pod %s: labelled for TaskRun %s but not owned by it",
                            name, self.taskrun_name)
                return
            self._cond.notify_all()

    def _on_lost(self, e: BaseException) -> None:
        with self._cond:
            if self._lost is None:
                self._lost = describe(e)
            self._cond.notify_all()

    def _wait(self, predicate: Callable[[], bool], timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: predicate() or self._closed.is_set(), timeout) \
                and not self._closed.is_set()

    # ---- the driver: steps in order ----------------------------------------------------------
    def _drive(self) -> None:
        try:
            self._drive_steps()
        except Exception as e:  # noqa: BLE001 - report, never leave the session hanging
            log.exception("following TaskRun %s failed", self.taskrun_name)
            self._finish(RunFinished(False, "Unknown",
                                     f"lost track of TaskRun {self.taskrun_name}: {e}"))

    def _containers(self) -> list[str]:
        assert self.model is not None
        names = []
        for i, step in enumerate(self.model.task.steps):
            names.append(st.step_status(self._taskrun, i).get("container") or step.container)
        return names

    def _ended(self) -> bool:
        return bool(st.final(self._taskrun) or self._taskrun_deleted or self._lost)

    def _drive_steps(self) -> None:
        assert self.model is not None
        containers = self._containers()
        shown = None
        while True:
            with self._cond:
                started = st.pod_started(self._pod, containers)
                if started or self._ended() or self._pod_deleted or self._closed.is_set():
                    break
                message = st.pending_message(self._taskrun, self._pod)
            if message != shown:
                self._emit(Progress(message))
                shown = message
            self._wait(lambda: self._changed_since(message, containers))
        if shown is not None:
            self._emit(Progress("pod started", done=True))
        for i in range(len(self.model.task.steps)):
            containers = self._containers()
            if not self._run_step(i, containers[i]):
                break
        self._wait(lambda: self._ended(), timeout=None if not self._pod_deleted else POD_GONE_GRACE)
        if not self._ended():
            self._wait(lambda: self._ended(), timeout=POD_GONE_GRACE)
        self._finish(self._run_finished())

    def _changed_since(self, message: str, containers: list[str]) -> bool:
        return st.pod_started(self._pod, containers) or self._ended() or self._pod_deleted or \
            st.pending_message(self._taskrun, self._pod) != message

    def _run_step(self, i: int, container: str) -> bool:
        """Follow step ``i`` to its end; False when the run ended before it could start."""
        def startable() -> bool:
            state = st.container_state(self._pod, container)[0]
            return state in ("running", "terminated") or self._pod_deleted or self._ended()

        self._wait(startable)
        with self._cond:
            state = st.container_state(self._pod, container)[0]
            pod_name = (self._pod or {}).get("metadata", {}).get("name")
        if state not in ("running", "terminated") or pod_name is None:
            return False
        self._emit(StepStarted(i))
        reader = LogReader(self._connect(), pod_name, container, lambda d: self._on_log(i, d))
        self._readers.append(reader)
        failures = 0
        while not self._closed.is_set():
            try:
                reader.read()
            except ApiException as e:
                if e.status == 404 or self._pod_deleted:
                    break
                if e.status == 400 and "waiting to start" in server_message(e):
                    self._wait(lambda: st.container_state(self._pod, container)[0] != "waiting"
                               or self._pod_deleted, timeout=5.0)
                    continue
                if not (is_connection_error(e) or (e.status or 0) >= 500):
                    self._emit(Notice(f"cannot read the log of {container}: {describe(e)}",
                                      level="warning"))
                    break
                failures += 1
            except Exception as e:  # noqa: BLE001 - the connection broke
                if self._closed.is_set():
                    return False
                failures += 1
                log.info("log stream of %s dropped: %s", container, e)
            else:
                if self._wait(lambda: st.container_state(self._pod, container)[0] == "terminated"
                              or self._pod_deleted or self._ended(), timeout=STREAM_END_GRACE):
                    if st.container_state(self._pod, container)[0] == "terminated" or \
                            self._pod_deleted:
                        break
                    if self._ended() and not self._pod:
                        break
                    continue  # ended but the container still runs: the stream dropped
                failures = 0
                continue
            if failures > LOG_RETRIES:
                self._emit(Notice(f"lost the log stream of {container} ({self.cluster.where if self.cluster else ''})",
                                  level="warning"))
                # the steps after it cannot be followed either: end as the watches do
                self._on_lost(RuntimeError(f"the log of {container} could not be read again"))
                break
            self._closed.wait(min(BACKOFF * (2 ** (failures - 1)), 8.0))
        self._flush_line(i)
        self._wait(lambda: st.container_state(self._pod, container)[0] == "terminated"
                   or self._pod_deleted, timeout=STREAM_END_GRACE)
        with self._cond:
            kind, term = st.container_state(self._pod, container)
            run_final = st.final(self._taskrun)
            step_status = st.step_status(self._taskrun, i)
            pod_gone = self._pod_deleted
            skipped = i in self._skipped_in_log
        if kind != "terminated" and not pod_gone and not self._ended():
            return False
        if kind != "terminated" and not run_final and not self._taskrun_deleted:
            # the pod went away: give Tekton a moment to say why
            self._wait(lambda: bool(st.final(self._taskrun)), timeout=POD_GONE_GRACE)
            run_final = st.final(self._taskrun)
        if i in self._paused:
            self._resumed(i, None, terminated=kind == "terminated")
        outcome, code, message = st.outcome(term if kind == "terminated" else None, step_status,
                                            run_final, released=self._released.get(i),
                                            skipped_in_log=skipped)
        self._emit(StepFinished(i, outcome, code, message))
        return kind == "terminated" and not pod_gone

    def _run_finished(self) -> RunFinished:
        with self._cond:
            fin = st.final(self._taskrun)
            pod_gone, deleted, lost = self._pod_deleted, self._taskrun_deleted, self._lost
            timeout = (self._taskrun or {}).get("spec", {}).get("timeout")
        if fin is not None:
            succeeded, reason, message = fin
            if reason == "TaskRunTimeout":
                message = (f"the TaskRun's timeout ({timeout or '1h'}) expired; Tekton deleted its "
                           f"pod. {message}").strip()
            elif pod_gone and not succeeded and reason != "TaskRunCancelled":
                message = f"the TaskRun's pod was deleted. {message}".strip()
            return RunFinished(succeeded, reason, message, _results(self._taskrun))
        if deleted:
            return RunFinished(False, "TaskRunDeleted", f"TaskRun {self.taskrun_name} was deleted")
        if lost:
            where = self.cluster.where if self.cluster else "the API server"
            return RunFinished(False, "ConnectionLost",
                               f"lost the connection to {where} ({lost}); the TaskRun may still "
                               f"be running: attach to {self.taskrun_name} again to follow it")
        if pod_gone:
            return RunFinished(False, "PodDeleted",
                               f"the pod of TaskRun {self.taskrun_name} was deleted")
        return RunFinished(False, "Unknown", "the run ended")

    # ---- logs and pauses ---------------------------------------------------------------------
    def _on_log(self, i: int, data: bytes) -> None:
        self._emit(StepLog(i, "stdout", data))
        text = self._partial.get(i, "") + data.decode("utf-8", "replace")
        lines = text.split("\n")
        self._partial[i] = lines.pop()[-8192:]
        for line in lines:
            self._line(i, line)

    def _flush_line(self, i: int) -> None:
        rest = self._partial.pop(i, "")
        if rest:
            self._line(i, rest)

    def _line(self, i: int, line: str) -> None:
        signal = st.classify(line)
        recent = self._lines.setdefault(i, [])
        if signal.paused is not None:
            code = st.exit_code_hint(recent[-20:]) if signal.paused is PauseKind.ON_FAILURE \
                else None
            with self._cond:
                self._paused[i] = signal.paused
            self._emit(StepPaused(i, signal.paused, code))
            if self._annotator is not None and self.model is not None:
                self._annotator.paused(self.model.task.steps[i].debug_name, signal.paused.value)
        elif signal.resumed is not None:
            self._resumed(i, signal.resumed)
        elif signal.skipped:
            self._skipped_in_log.add(i)
        elif not signal.banner and self._paused.get(i) is PauseKind.BEFORE_STEP:
            self._resumed(i, Release.CONTINUE)  # the step's own output: it was let run
        if not signal.banner:
            recent.append(line)
            del recent[:-40]

    def _resumed(self, i: int, release: Release | None, *, terminated: bool = False,
                 only: PauseKind | None = None) -> None:
        """The pause of step ``i`` ended (once, whoever noticed first). With ``only``: if it is
        still that pause (the step's log may already show the next one: run, failed, paused)."""
        with self._cond:
            if only is not None and self._paused.get(i) is not only:
                return
            kind = self._paused.pop(i, None)
            if kind is None:
                return
            if release is None:  # the container ended without telling how
                release = Release.FAIL_CONTINUE if kind is PauseKind.BEFORE_STEP and terminated \
                    else Release.CONTINUE
            self._released[i] = (kind, release)
        self._emit(StepResumed(i, release))
        if self._annotator is not None:
            self._annotator.cleared()

    # ---- acting ------------------------------------------------------------------------------
    def _require_model(self) -> None:
        """A shell, the REPL or the variables before the TaskRun is known (still connecting, or
        the connection failed) are the client's timing, not a bug."""
        if self.model is None:
            raise WrongTime("the TaskRun is not known yet: the cluster has not answered",
                            fix="wait for the launch or attach to finish")

    def _pod_for_exec(self, index: int) -> tuple[str, str]:
        self._require_model()
        if not 0 <= index < len(self.model.task.steps):
            raise UserError(f"there is no step {index + 1}: the Task has "
                            f"{len(self.model.task.steps)} steps")
        container = self._containers()[index]
        with self._cond:
            pod = self._pod if not self._pod_deleted else None
            pod_name = st.pod_name(self._taskrun)
        podexec.check_owned(pod, self.taskrun_name, self.taskrun_uid, container,
                            pod_name=pod_name)
        assert pod is not None
        return pod["metadata"]["name"], container

    def exec(self, index: int, argv: Sequence[str], *, stdin: bytes | None = None,
             timeout: float | None = 30.0) -> ExecResult:
        pod, container = self._pod_for_exec(index)
        return podexec.run(self._connect(), pod, container, argv, stdin=stdin, timeout=timeout)

    def rerun(self, index: int, run: TaskRun) -> int:
        from tekton_debug.runtimes.rerun import exec_argv
        from tekton_debug.tekton.params import resolve_params
        from tekton_debug.tekton.substitution import substitute_step, substitution_context

        with self._cond:
            kind = self._paused.get(index)
            if kind is not PauseKind.ON_FAILURE or index in self._retrying:
                raise WrongTime(f"step {index + 1} is not paused on a failure" if kind is not
                                PauseKind.ON_FAILURE else f"step {index + 1} is being retried")
            self._retrying.add(index)
        try:
            env = self.step_environment(index)
            ctx = substitution_context(
                run, resolve_params(run, self.options.params), results_dir=env.results_dir,
                workspaces=dict(env.workspaces), task_run_name=self.taskrun_name,
                namespace=self._connect().namespace, uid=self.taskrun_uid)
            step = substitute_step(run.task.steps[index], ctx)
            pod, container = self._pod_for_exec(index)
            result = podexec.run(self._connect(), pod, container,
                                 exec_argv(step, step.working_dir or env.working_dir),
                                 timeout=step.timeout,
                                 on_output=lambda stream, data: self._emit(
                                     StepLog(index, stream, data)))
        finally:
            with self._cond:
                self._retrying.discard(index)
        if result.exit_code != 0:
            self._emit(StepPaused(index, PauseKind.ON_FAILURE, result.exit_code))
        return result.exit_code

    def release(self, index: int, release: Release) -> None:
        with self._cond:
            kind = self._paused.get(index)
        if kind is None:
            raise WrongTime(f"step {index + 1} is not paused")
        if self._plan.halt and release is Release.FAIL_CONTINUE:
            # "Stop": a fail-continue would let the next step start before the cancel reaches
            # the cluster; cancelling first ends the paused step failed with nothing after it
            self.cancel()
            return
        script = st.script_for(kind, release)
        pod, container = self._pod_for_exec(index)
        try:
            result = podexec.run(self._connect(), pod, container,
                                 st.release_argv(index, kind, release), timeout=60.0)
        except UserError:
            with self._cond:
                if index not in self._paused:  # it ended meanwhile: its container is gone
                    raise WrongTime(f"step {index + 1} is not paused any more") from None
            raise
        if result.exit_code == st.RELEASED_ALREADY:
            raise WrongTime(f"step {index + 1} is not paused: a debug script has already "
                            "released it")
        if result.exit_code != 0:
            said = (result.stderr or result.stdout).decode("utf-8", "replace").strip()
            raise UserError(f"{script} failed in {pod}/{container} with exit code "
                            f"{result.exit_code}" + (f": {said}" if said else ""),
                            fix="open a shell in the step and run the script by hand to see why")
        self._resumed(index, release, only=kind)
        plan = self._plan
        if plan is not None and plan.pause_before_next:
            plan.pause_before_next = False
            if not self._next_noticed:
                self._next_noticed = True
                self._emit(Notice(
                    "on a cluster, Tekton fixes where steps pause when the TaskRun is created: "
                    "\"next\" continues without pausing before the next step. Set a breakpoint on "
                    "the step (beforeSteps) before launching to pause there", level="warning"))

    def cancel(self, reason: str = "TaskRunCancelled") -> None:
        cluster = self._connect()
        with self._cond:
            if st.final(self._taskrun) or self._taskrun_deleted:
                return
        api = client.CustomObjectsApi(cluster.api)
        body = {"spec": {"status": "TaskRunCancelled",
                         "statusMessage": f"cancelled from tekton-debug ({reason})"}}
        try:
            call(cluster, "cancel the TaskRun", lambda: api.patch_namespaced_custom_object(
                GROUP, VERSION, cluster.namespace, PLURAL, self.taskrun_name, body,
                _content_type="application/merge-patch+json"))
        except ApiException as e:
            if e.status == 404:
                return
            raise user_error(cluster, f"cancel TaskRun {self.taskrun_name}", e) from None

    def step_environment(self, index: int) -> StepEnvironment:
        self._require_model()
        step = self.model.task.steps[index]
        container = self._containers()[index]
        with self._cond:
            spec = st.container_spec(self._pod, container)
        env, secret = st.environment(spec) if spec else (
            {e.name: e.value or "" for e in step.env}, {e.name for e in step.env if e.secret})
        command = st.original_command(spec) if spec else [*step.command, *step.args]
        working_dir = spec.get("workingDir") or step.working_dir or "/workspace"
        workspaces = {w.name: w.path for w in self.model.task.workspaces}
        return StepEnvironment(env=env, secret_env=frozenset(secret), working_dir=working_dir,
                               command=command, container=container,
                               results_dir="/tekton/results", workspaces=workspaces)

    def shell_command(self, index: int) -> list[str]:
        pod, container = self._pod_for_exec(index)
        env = self.step_environment(index)
        cluster = self._connect()
        return st.shell_argv(cluster.namespace, pod, container, env.working_dir,
                             cluster.kubectl_flags())

    # ---- time left ---------------------------------------------------------------------------
    def deadline(self) -> float | None:
        """From the TaskRun itself: its start (or creation) time and its ``spec.timeout``."""
        with self._cond:
            tr = self._taskrun or {}
        text = (tr.get("spec") or {}).get("timeout")
        try:
            seconds = parse_duration(text) if text else 3600.0
        except UserError:
            return None
        if seconds == 0:
            return None
        started = epoch_seconds((tr.get("status") or {}).get("startTime")) or \
            epoch_seconds((tr.get("metadata") or {}).get("creationTimestamp"))
        return started + seconds if started else None

    # ---- events ------------------------------------------------------------------------------
    def _emit(self, ev: RuntimeEvent | object) -> None:
        while not self._closed.is_set():
            try:
                self._events.put(ev, timeout=0.5)
                return
            except queue.Full:
                continue  # the listener is slow: wait for it, unless the runtime closes

    def _finish(self, ev: RunFinished) -> None:
        if self._finished:
            return
        self._finished = True
        if self._annotator is not None:
            self._annotator.cleared()
        self._emit(ev)
        self._emit(_STOP)

    def _dispatch(self) -> None:
        while True:
            ev = self._events.get()
            if ev is _STOP or self._closed.is_set():
                return
            listener = self._listener
            if listener is None:
                continue
            try:
                listener(ev)
            except Exception:  # noqa: BLE001 - the listener's bug must not stop the run
                log.exception("listener failed on %r", ev)

    def close(self) -> None:
        if self._closed.is_set():
            return
        if self._annotator is not None:
            self._annotator.close()
        self._closed.set()
        with self._cond:
            self._cond.notify_all()
        for w in self._watches:
            w.stop()
        for r in self._readers:
            r.close()
        try:
            self._events.put_nowait(_STOP)  # wakes the dispatcher; a full queue wakes it anyway
        except queue.Full:
            pass
        me = threading.current_thread()
        for t in self._threads:
            if t is not me:
                t.join(2.0)

    # ---- for tests and the benchmark -----------------------------------------------------------
    @property
    def requests_opened(self) -> int:
        """Watch and log requests opened so far (a paused run opens none)."""
        return sum(w.requests for w in self._watches) + sum(r.requests for r in self._readers)



def _results(taskrun: dict | None) -> dict[str, str]:
    """The TaskRun's results as its status reports them (v1 ``results``, v1beta1
    ``taskResults``); arrays and objects as JSON, as they are substituted."""
    status = (taskrun or {}).get("status") or {}
    out: dict[str, str] = {}
    for r in status.get("results") or status.get("taskResults") or []:
        if isinstance(r, dict) and isinstance(r.get("name"), str):
            out[r["name"]] = shown(r.get("value"))
    return out
