"""The TaskRuns of one PipelineRun that tekton-debug runs on a cluster, found by its group label.

No PipelineRun object exists there (Tekton cannot pass ``debug`` into a PipelineRun's TaskRuns):
the TaskRuns carry Tekton's labels (``tekton.dev/pipeline``, ``tekton.dev/pipelineRun``,
``tekton.dev/pipelineTask``) and ``GROUP_LABEL`` with the run's id; a matrix combination's TaskRun
carries ``MATRIX_INDEX_LABEL`` and a retry's ``RETRY_LABEL``. A run is named by that id, or by its
PipelineRun's name (the most recent run of that name).
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tekton_debug.errors import UserError
from tekton_debug.options import LaunchOptions
from tekton_debug.runtimes.kubernetes import annotate
from tekton_debug.runtimes.kubernetes import steps as st
from tekton_debug.runtimes.kubernetes.connect import call, connect, user_error
from tekton_debug.runtimes.kubernetes.follow import epoch_seconds
from tekton_debug.tekton.pipeline import GROUP_LABEL, MATRIX_INDEX_LABEL, RETRY_LABEL


@dataclass(frozen=True)
class GroupMember:
    """One TaskRun of the run, as the cluster has it now."""

    task: str  # its pipeline task
    task_run: str
    is_finally: bool
    status: str  # the Succeeded condition's reason: Pending, Running, Succeeded, Failed...
    finished: bool
    succeeded: bool | None  # None while it runs
    paused_step: str | None  # the step paused now, from the pause annotations
    paused_reason: str | None  # onFailure or beforeStep
    created: str
    started_at: float | None = None  # status.startTime, seconds since the epoch
    finished_at: float | None = None  # status.completionTime
    index: int | None = None  # a matrix combination's index
    attempt: int = 0  # the retries before this TaskRun

    @property
    def key(self) -> str:
        """What names its TaskRun to the front ends, as in a launched run: the pipeline task,
        ``task[i]`` for combination i of a matrix."""
        return self.task if self.index is None else f"{self.task}[{self.index}]"


@dataclass(frozen=True)
class Group:
    uid: str
    pipeline: str
    pipeline_run: str
    namespace: str
    members: list[GroupMember]
    other_runs: int = 0  # earlier runs of the same PipelineRun name, when named by it


def find_group(options: LaunchOptions, wanted: str) -> Group:
    """The TaskRuns of run ``wanted`` (its id, or its PipelineRun's name), oldest first. Raises
    UserError when no TaskRun carries it."""
    cluster = connect(options)
    api = client.CustomObjectsApi(cluster.api)
    ns = cluster.namespace
    try:
        listed = call(cluster, "list TaskRuns", lambda: api.list_namespaced_custom_object(
            "tekton.dev", "v1", ns, "taskruns", label_selector=GROUP_LABEL))
    except ApiException as e:
        raise user_error(cluster, f"list the TaskRuns of namespace {ns}", e) from None
    items = listed.get("items") or []
    runs: dict[str, list[dict]] = {}
    for tr in items:
        labels = (tr.get("metadata") or {}).get("labels") or {}
        runs.setdefault(str(labels.get(GROUP_LABEL)), []).append(tr)
    uid = wanted if wanted in runs else None
    by_name = [u for u, trs in runs.items() if any(
        ((t.get("metadata") or {}).get("labels") or {}).get("tekton.dev/pipelineRun") == wanted
        for t in trs)]
    if uid is None and by_name:
        uid = max(by_name, key=lambda u: min(_created(t) for t in runs[u]))
    if uid is None:
        known = sorted({f"{_label(trs[0], 'tekton.dev/pipelineRun')} ({u})"
                        for u, trs in runs.items()})
        raise UserError(
            f"no TaskRun in namespace {ns!r} ({cluster.where}) belongs to a PipelineRun "
            f"{wanted!r}: none has the label {GROUP_LABEL}={wanted} or "
            f"tekton.dev/pipelineRun={wanted} with it",
            fix=("runs there: " + ", ".join(known[:20]) if known else
                 "no PipelineRun run by tekton-debug has TaskRuns there; check the namespace "
                 "(-n) and context") + f"; list them with: kubectl get taskruns -n {ns} -L "
                 f"{GROUP_LABEL} -L tekton.dev/pipelineRun")
    trs = sorted(runs[uid], key=_created)
    members = []
    for tr in trs:
        meta = tr.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        c = st.condition(tr)
        done = st.final(tr)
        members.append(GroupMember(
            task=_label(tr, "tekton.dev/pipelineTask") or str(meta.get("name")),
            task_run=str(meta.get("name")),
            is_finally=_label(tr, "tekton.dev/memberOf") == "finally",
            status=str(c.get("reason") or "Pending"),
            finished=done is not None, succeeded=done[0] if done else None,
            paused_step=annotations.get(annotate.STEP) if done is None else None,
            paused_reason=annotations.get(annotate.REASON) if done is None else None,
            created=_created(tr),
            started_at=epoch_seconds((tr.get("status") or {}).get("startTime")),
            finished_at=epoch_seconds((tr.get("status") or {}).get("completionTime")),
            index=_number(tr, MATRIX_INDEX_LABEL), attempt=_number(tr, RETRY_LABEL) or 0))
    return Group(uid=uid, pipeline=_label(trs[0], "tekton.dev/pipeline"),
                 pipeline_run=_label(trs[0], "tekton.dev/pipelineRun"), namespace=ns,
                 members=members, other_runs=max(0, len(by_name) - 1) if uid != wanted else 0)


def _label(tr: dict, key: str) -> str:
    return str(((tr.get("metadata") or {}).get("labels") or {}).get(key) or "")


def _number(tr: dict, key: str) -> int | None:
    """A label holding a count or an index; None when absent or not one."""
    text = _label(tr, key)
    return int(text) if text.isdigit() and len(text) <= 6 else None


def _created(tr: dict) -> str:
    return str((tr.get("metadata") or {}).get("creationTimestamp") or "")


