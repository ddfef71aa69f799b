"""The debug scripts: how a user (or the debugger, by exec) ends a pause.

They have the names and effects of the scripts Tekton places in ``/tekton/debug/scripts``
(``pkg/pod/scripts_constants.go``), plus the TEP-0042 seed's aliases:

=================================  ===========================================================
``debug-continue``                 touch ``run/<i>/out``, write ``0`` to ``out.breakpointexit``
``debug-fail-continue``            touch ``run/<i>/out.err``, write ``1`` to ``out.breakpointexit``
``debug-beforestep-continue``      write ``0`` to ``out.beforestepexit``
``debug-beforestep-fail-continue`` write ``1`` to ``out.beforestepexit.err``
``debug-continue-failure``         (seed alias) = ``debug-fail-continue``
``debug-breakpointexit``           (seed alias: leave the breakpoint, step passed) = ``debug-continue``
``debug-retry``                    not Tekton's: ends the shell it is typed in with SIGUSR1, which
                                   ``tekton-debug run`` reads as "run the step again as its file
                                   defines it now" (retry in place); it writes no file
=================================  ===========================================================

The step number is the only numeric entry of ``${TEKTON_DEBUG_INFO_DIR:-<tekton>/debug/info}``; the
step count is baked in, and a number past the last step prints a message and exits 0, as Tekton's do.

Two differences from Tekton's text, both invisible to a reader of the files: exit files are written
to a temporary name and renamed into place (a watcher that reacts within milliseconds must never see
an empty exit file; Tekton's reader polls once a second and gets away with ``>``), and the step
number is found with shell built-ins (no ``ls``/``grep``/``sed`` processes: releasing a pause is on
the latency path). ``out``/``out.err`` is always created before ``out.breakpointexit`` (issue #5636).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

CONTINUE = "debug-continue"
FAIL_CONTINUE = "debug-fail-continue"
BEFORE_STEP_CONTINUE = "debug-beforestep-continue"
BEFORE_STEP_FAIL_CONTINUE = "debug-beforestep-fail-continue"
CONTINUE_FAILURE = "debug-continue-failure"  # seed alias of debug-fail-continue
BREAKPOINT_EXIT = "debug-breakpointexit"  # seed alias of debug-continue
RETRY = "debug-retry"  # tekton-debug's own: retry the step in place

# the scripts that release a pause, as Tekton's (and the seed's aliases)
SCRIPT_NAMES = (CONTINUE, FAIL_CONTINUE, BEFORE_STEP_CONTINUE, BEFORE_STEP_FAIL_CONTINUE,
                CONTINUE_FAILURE, BREAKPOINT_EXIT)

_PREAMBLE = "#!/bin/sh\nset -e\n"

_RETRY_TEXT = _PREAMBLE + """\
# Not one of Tekton's debug scripts: tekton-debug's retry in place. The shell this is typed in
# ends with SIGUSR1; tekton-debug then runs the paused step again, as its file defines it now.
parent=$(cat "/proc/$PPID/comm" 2>/dev/null || true)
case "$parent" in
	*sh) ;;
	*) echo "debug-retry: type it in the shell that tekton-debug opened in the paused step" >&2
	   exit 1 ;;
esac
echo "debug-retry: leaving the shell to run the step again as its file defines it now"
kill -USR1 "$PPID"
"""

_FIND_STEP = """\
numberOfSteps={count}
tektonRun={run}
debugInfo="${{TEKTON_DEBUG_INFO_DIR:-{info}}}"

stepNumber=""
for entry in "$debugInfo"/*; do
\tname="${{entry##*/}}"
\tcase "$name" in
\t\t''|*[!0-9]*) ;;
\t\t*) stepNumber="$name" ;;
\tesac
done
if [ -z "$stepNumber" ]; then
\techo "$(basename "$0"): cannot tell which step this is: no step number in $debugInfo" >&2
\techo "run it inside a step (its environment sets TEKTON_DEBUG_INFO_DIR)" >&2
\texit 1
fi

# write_atomically FILE CONTENT: a reader sees the whole content or no file at all.
write_atomically() {{
\tprintf '%s\\n' "$2" > "$1.tmp.$$"
\tmv -f "$1.tmp.$$" "$1"
}}

if [ "$stepNumber" -lt "$numberOfSteps" ]; then
"""

_LAST_STEP = """\
\techo "Executing step $stepNumber..."
else
\techo "Last step (no. $stepNumber) has already been executed, {what} exiting !"
\texit 0
fi
"""

_BODIES = {
    CONTINUE: ('\t: > "$tektonRun/$stepNumber/out" # Mark step as success\n'
               '\twrite_atomically "$tektonRun/$stepNumber/out.breakpointexit" 0\n', "breakpoint"),
    FAIL_CONTINUE: ('\t: > "$tektonRun/$stepNumber/out.err" # Mark step as a failure\n'
                    '\twrite_atomically "$tektonRun/$stepNumber/out.breakpointexit" 1\n',
                    "breakpoint"),
    BEFORE_STEP_CONTINUE: ('\twrite_atomically "$tektonRun/$stepNumber/out.beforestepexit" 0\n',
                           "before step breakpoint"),
    BEFORE_STEP_FAIL_CONTINUE: (
        '\twrite_atomically "$tektonRun/$stepNumber/out.beforestepexit.err" 1\n',
        "before step breakpoint"),
}
_ALIASES = {CONTINUE_FAILURE: FAIL_CONTINUE, BREAKPOINT_EXIT: CONTINUE}


def script_text(name: str, *, tekton_root: str = "/tekton", step_count: int,
                shell: str = "/bin/sh") -> str:
    """The text of debug script ``name`` for a TaskRun of ``step_count`` steps, run by ``shell``
    (a container runtime names a shell of its own, for images that have none)."""
    if name == RETRY:
        return _RETRY_TEXT.replace("/bin/sh", shell, 1)
    body, what = _BODIES[_ALIASES.get(name, name)]
    root = tekton_root.rstrip("/") or "/"
    head = _FIND_STEP.format(count=int(step_count), run=shlex.quote(f"{root}/run"),
                             info=_quote_in_double(f"{root}/debug/info"))
    preamble = _PREAMBLE.replace("/bin/sh", shell, 1)
    return preamble + head + body + _LAST_STEP.format(what=what)


def write_debug_scripts(scripts_dir: Path, *, tekton_root: str = "/tekton",
                        step_count: int, shell: str = "/bin/sh") -> dict[str, Path]:
    """Write every debug script, executable, into ``scripts_dir``; return name -> path."""
    scripts_dir = Path(scripts_dir)
    scripts_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name in (*SCRIPT_NAMES, RETRY):
        path = scripts_dir / name
        tmp = scripts_dir / f".{name}.tmp"
        tmp.write_text(script_text(name, tekton_root=tekton_root, step_count=step_count,
                                   shell=shell))
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)
        written[name] = path
    return written


def _quote_in_double(text: str) -> str:
    """``text`` made literal inside a double-quoted shell word."""
    return "".join("\\" + c if c in '\\"$`' else c for c in text)
