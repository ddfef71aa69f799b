"""Running a step's edited definition in its paused container (retry in place).

The container already has the step's environment, mounts and working directory; what changes is
what the file now says the step runs. The script travels inside the command as a here-document
with a delimiter it does not contain (exec's stdin cannot be closed on every cluster, so ``cat``
from stdin could wait for ever), into a temporary file that is removed afterwards.
"""

from __future__ import annotations

import secrets
import shlex

from tekton_debug.runtimes.local.environment import SCRIPT_PREAMBLE, expand
from tekton_debug.tekton.model import Step


def literal_env(step: Step) -> dict[str, str]:
    """The ``env`` values the file gives ``step`` (already substituted) literally, expanded in
    order: what a retry sets on top of the container's own (a Secret or ConfigMap value stays
    what the container has)."""
    declared: dict[str, str] = {}
    for e in step.env:
        if e.value_from is None:
            declared[e.name] = expand(e.value or "", declared)
    return declared


def exec_argv(step: Step, working_dir: str) -> list[str]:
    """An argv to exec in the step's container that runs ``step`` (already substituted) as the
    step would have run, with the literal ``env`` values the file now gives it on top of the
    container's own."""
    declared = literal_env(step)
    assignments = [shlex.quote(f"{k}={v}") for k, v in declared.items()]
    args = [expand(a, declared) for a in step.args]
    cd = f"cd {shlex.quote(working_dir)} || exit 1; " if working_dir else ""
    run = f"env {' '.join(assignments)} " if assignments else ""
    if step.script:
        text = step.script.lstrip() if step.script.strip().startswith("#!") else \
            SCRIPT_PREAMBLE + step.script
        delimiter = "TEKTON_DEBUG_SCRIPT"
        while delimiter in text:
            delimiter = f"TEKTON_DEBUG_SCRIPT_{secrets.token_hex(8)}"
        if not text.endswith("\n"):
            text += "\n"
        body = (f"f=$(mktemp) || exit 1; cat > \"$f\" <<'{delimiter}' || exit 1\n{text}{delimiter}\n"
                f'chmod +x "$f" || exit 1; {cd}{run}"$f" "$@"; c=$?; rm -f "$f"; exit $c')
        return ["sh", "-c", body, "sh", *args]
    command = [expand(c, declared) for c in step.command]
    return ["sh", "-c", f'{cd}exec {run}"$@"', "sh", *command, *args]
