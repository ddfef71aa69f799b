"""Reading a TaskRun's state from the objects the cluster shows: pure functions over the TaskRun and
pod dicts and the step logs, so that every rule can be tested without a cluster.

There is no "paused" status in Tekton (tekton-facts.md section 4): a paused step's container just
keeps running. The entrypoint's log banners are the signal, and they are what is matched here.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from tekton_debug.events import PauseKind, Release, StepOutcome

ON_FAILURE_BANNER = "debug onFailure breakpoint has taken effect, waiting for user's decision:"
BEFORE_STEP_BANNER = "debug before step breakpoint has taken effect, waiting for user's decision:"
BREAKPOINT_EXITING = re.compile(r"Breakpoint exiting with exit code (-?\d+)")
BEFORE_STEP_SKIPPED = "Skipping execute step script because before step breakpoint fail-continue"
STEP_SKIPPED = "Skipping step because a previous step failed"
BANNER_CHOICES = re.compile(r"^\s*(?:\S+ \S+ )?[12]\) (?:fail-)?continue, use cmd: ")
# Lines some entrypoints and shells print with the failed command's code, last one wins.
EXIT_CODE_HINTS = re.compile(
    r"(?:exit(?:ed)?(?: with)? (?:code|status)|exit code)[:= ]+(\d{1,3})\b", re.I)
SCRIPTS_DIR = "/tekton/debug/scripts"


def script_for(kind: PauseKind, release: Release) -> str:
    """The debug script that ends a pause of ``kind`` the way ``release`` says."""
    if kind is PauseKind.ON_FAILURE:
        name = "debug-continue" if release is Release.CONTINUE else "debug-fail-continue"
    else:
        name = ("debug-beforestep-continue" if release is Release.CONTINUE
                else "debug-beforestep-fail-continue")
    return f"{SCRIPTS_DIR}/{name}"


RELEASED_ALREADY = 75  # exit code of release_argv's guard: a debug script already ended the pause


def release_argv(index: int, kind: PauseKind, release: Release) -> list[str]:
    """Run the debug script for ``release`` unless one has already ended this pause.

    A user's shell may have run a script a moment before, and the step has not said so in its log
    yet; a second script would change the outcome (``debug-fail-continue`` after
    ``debug-continue`` writes 1 into ``out.breakpointexit``). The guard exits with
    :data:`RELEASED_ALREADY` when the pause's exit file is already there."""
    run_dir = f"/tekton/run/{index}"
    files = (["out.breakpointexit"] if kind is PauseKind.ON_FAILURE
             else ["out.beforestepexit", "out.beforestepexit.err"])
    written = " || ".join(f"[ -e {run_dir}/{name} ]" for name in files)
    return ["sh", "-c",
            f"if {written}; then exit {RELEASED_ALREADY}; fi; exec {script_for(kind, release)}"]


@dataclass(frozen=True)
class LineSignal:
    """What one line of a step's log means for the debugger."""

    paused: PauseKind | None = None
    resumed: Release | None = None
    skipped: bool = False
    banner: bool = False  # part of a banner (the banner line or its two choices)


def classify(line: str) -> LineSignal:
    if ON_FAILURE_BANNER in line:
        return LineSignal(paused=PauseKind.ON_FAILURE, banner=True)
    if BEFORE_STEP_BANNER in line:
        return LineSignal(paused=PauseKind.BEFORE_STEP, banner=True)
    if BANNER_CHOICES.search(line) and SCRIPTS_DIR.rsplit("/", 1)[-1] in line:
        return LineSignal(banner=True)
    m = BREAKPOINT_EXITING.search(line)
    if m:
        return LineSignal(resumed=Release.CONTINUE if m.group(1) == "0" else Release.FAIL_CONTINUE)
    if BEFORE_STEP_SKIPPED in line:
        return LineSignal(resumed=Release.FAIL_CONTINUE)
    if STEP_SKIPPED in line:
        return LineSignal(skipped=True)
    return LineSignal()


def exit_code_hint(lines: list[str]) -> int | None:
    """The failed command's exit code, where the step's output states it (Tekton's entrypoint does
    not: on a cluster the code of a step paused on failure is known only if the log says it)."""
    for line in reversed(lines):
        m = EXIT_CODE_HINTS.search(line)
        if m:
            return int(m.group(1))
    return None


# ---- TaskRun ------------------------------------------------------------------------------------

def condition(taskrun: dict | None) -> dict:
    for c in ((taskrun or {}).get("status") or {}).get("conditions") or []:
        if c.get("type") == "Succeeded":
            return c
    return {}


def final(taskrun: dict | None) -> tuple[bool, str, str] | None:
    """(succeeded, reason, message) once the TaskRun has finished, else None."""
    c = condition(taskrun)
    if c.get("status") in ("True", "False"):
        return c.get("status") == "True", str(c.get("reason") or ""), str(c.get("message") or "")
    return None


def pod_name(taskrun: dict | None) -> str:
    """The name of the TaskRun's pod (``status.podName``), "" before Tekton has created it."""
    name = ((taskrun or {}).get("status") or {}).get("podName")
    return name if isinstance(name, str) else ""


def step_status(taskrun: dict | None, index: int) -> dict:
    steps = ((taskrun or {}).get("status") or {}).get("steps") or []
    return steps[index] if index < len(steps) and isinstance(steps[index], dict) else {}


# ---- pod ----------------------------------------------------------------------------------------

def container_status(pod: dict | None, name: str) -> dict:
    for cs in ((pod or {}).get("status") or {}).get("containerStatuses") or []:
        if cs.get("name") == name:
            return cs
    return {}


def container_state(pod: dict | None, name: str) -> tuple[str, dict]:
    """("running" | "terminated" | "waiting" | "unknown", the state's details)."""
    state = container_status(pod, name).get("state") or {}
    for key in ("terminated", "running", "waiting"):
        if key in state and state[key] is not None:
            return key, state[key] or {}
    return "unknown", {}


def pod_started(pod: dict | None, containers: list[str]) -> bool:
    return any(container_state(pod, c)[0] in ("running", "terminated") for c in containers)


def pending_message(taskrun: dict | None, pod: dict | None) -> str:
    """What the run is waiting for before its steps run."""
    if pod is None:
        msg = condition(taskrun).get("message")
        return f"waiting for the TaskRun's pod ({msg})" if msg else "waiting for the TaskRun's pod"
    status = pod.get("status") or {}
    for cs in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        waiting = (cs.get("state") or {}).get("waiting") or {}
        reason = waiting.get("reason")
        if reason in ("ErrImagePull", "ImagePullBackOff", "InvalidImageName"):
            return f"cannot pull image {cs.get('image')} for {cs.get('name')}: " \
                   f"{waiting.get('message') or reason}"
        if reason == "ContainerCreating":
            return f"pulling image {cs.get('image')} for {cs.get('name')}"
    phase = status.get("phase") or "Pending"
    for c in status.get("conditions") or []:
        if c.get("type") == "PodScheduled" and c.get("status") == "False":
            return f"waiting for a node for pod {pod['metadata'].get('name')}: " \
                   f"{c.get('message') or c.get('reason')}"
    return f"pod {(pod.get('metadata') or {}).get('name')} is {phase}: starting containers"


def termination_reason(message: str | None) -> str | None:
    """The ``Reason`` an entrypoint recorded in a termination message (Tekton's JSON array)."""
    import json
    if not message:
        return None
    try:
        items = json.loads(message)
    except ValueError:
        return None
    for item in items if isinstance(items, list) else []:
        if isinstance(item, dict) and item.get("key") == "Reason":
            return str(item.get("value"))
    return None


def outcome(term: dict | None, step_status_: dict, run_final: tuple[bool, str, str] | None, *,
            released: tuple[PauseKind, Release] | None, skipped_in_log: bool
            ) -> tuple[StepOutcome, int | None, str | None]:
    """How a step ended, from its container's ``terminated`` state (None when the pod went away
    first), the TaskRun's step status, how the run ended and what the log said."""
    run_reason = run_final[1] if run_final else ""
    if term is None:
        if run_reason == "TaskRunTimeout":
            return StepOutcome.TIMED_OUT, None, "the TaskRun's timeout expired"
        why = "the TaskRun was cancelled" if run_reason == "TaskRunCancelled" else \
            "the pod was deleted"
        return StepOutcome.CANCELLED, None, why
    code = term.get("exitCode")
    code = int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None
    reasons = {step_status_.get("terminationReason"), term.get("reason"),
               termination_reason(term.get("message"))}
    if reasons & {"TaskRunCancelled", "Cancelled"} and code != 0:
        return StepOutcome.CANCELLED, code, "the TaskRun was cancelled"
    if reasons & {"TaskRunTimeout"} and code != 0:
        return StepOutcome.TIMED_OUT, code, "the TaskRun's timeout expired"
    if reasons & {"TimeoutExceeded"}:
        return StepOutcome.TIMED_OUT, code, "the step's timeout expired"
    if released is not None:
        kind, how = released
        if kind is PauseKind.ON_FAILURE:
            if how is Release.CONTINUE:
                return StepOutcome.SUCCEEDED, code, "marked passed (debug-continue)"
            return StepOutcome.FAILED, code, "marked failed (debug-fail-continue)"
        if how is Release.FAIL_CONTINUE:
            return StepOutcome.FAILED, code, "not run: released with debug-beforestep-fail-continue"
    if code == 0:
        return StepOutcome.SUCCEEDED, 0, None
    if skipped_in_log or reasons & {"Skipped"}:
        return StepOutcome.SKIPPED, code, "a previous step failed"
    return StepOutcome.FAILED, code, f"exited with code {code}" if code is not None else None


# ---- the step's environment, from its container ----------------------------------------------------

def container_spec(pod: dict | None, name: str) -> dict:
    for c in ((pod or {}).get("spec") or {}).get("containers") or []:
        if c.get("name") == name:
            return c
    return {}


def original_command(container: dict) -> list[str]:
    """The step's own argv: Tekton runs ``/tekton/bin/entrypoint <flags> -entrypoint CMD -- ARGS``."""
    args = list(container.get("args") or [])
    command = list(container.get("command") or [])
    argv = command + args
    if "-entrypoint" in argv:
        i = argv.index("-entrypoint")
        cmd = argv[i + 1] if i + 1 < len(argv) else ""
        rest = argv[argv.index("--", i) + 1:] if "--" in argv[i:] else []
        return [cmd, *rest] if cmd else rest
    if "--" in argv:
        return argv[argv.index("--") + 1:]
    return argv


def environment(container: dict) -> tuple[dict[str, str], set[str]]:
    """The container's environment as the pod spec gives it, and the names whose values come from
    Secrets. Values the spec does not hold (from Secrets, ConfigMaps, fields) are shown as
    references: reading them would need more than the step's own permissions."""
    env: dict[str, str] = {}
    secret: set[str] = set()
    for e in container.get("env") or []:
        name = e.get("name")
        if not name:
            continue
        if "value" in e and e.get("value") is not None:
            env[name] = str(e["value"])
            continue
        source = e.get("valueFrom") or {}
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"] or {}
            env[name] = f"<from secret {ref.get('name')}/{ref.get('key')}>"
            secret.add(name)
        elif "configMapKeyRef" in source:
            ref = source["configMapKeyRef"] or {}
            env[name] = f"<from configMap {ref.get('name')}/{ref.get('key')}>"
        elif "fieldRef" in source:
            env[name] = f"<from field {(source['fieldRef'] or {}).get('fieldPath')}>"
        elif "resourceFieldRef" in source:
            env[name] = f"<from resource {(source['resourceFieldRef'] or {}).get('resource')}>"
        else:
            env[name] = ""
    return env, secret


def shell_argv(namespace: str, pod: str, container: str, working_dir: str,
               kubectl_flags: list[str]) -> list[str]:
    """``kubectl exec -it`` into the step with a shell that starts in its working directory, with
    the debug scripts on its PATH (as the banners of ``tekton-debug`` promise: ``debug-continue``).

    The only text put into the shell string is the working directory, quoted."""
    script = (f"cd {shlex.quote(working_dir)} 2>/dev/null; PATH=\"$PATH:{SCRIPTS_DIR}\"; "
              "export PATH; exec sh -i")
    return ["kubectl", "exec", "-it", "-n", namespace, *kubectl_flags, pod, "-c", container,
            "--", "sh", "-c", script]
