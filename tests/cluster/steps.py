"""How a pod's step "containers" run on this host: the pod directory, the debug scripts and the
entrypoint command. Uses the project's entrypoint package where it exists, a minimal stand-in
(``fallback_entrypoint.py``) where it does not yet.
"""

from __future__ import annotations

import os
import stat
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def _project_entrypoint_available() -> bool:
    try:
        import tekton_debug.entrypoint.command  # noqa: F401
        import tekton_debug.entrypoint.layout  # noqa: F401
        import tekton_debug.entrypoint.scripts  # noqa: F401
    except ImportError:
        return False
    return True


USE_PROJECT = os.environ.get("TEST_CLUSTER_FALLBACK_ENTRYPOINT") != "1" and \
    _project_entrypoint_available()


def entrypoint_argv() -> list[str]:
    """The argv prefix that runs Tekton's entrypoint; Tekton's flags follow it."""
    if USE_PROJECT:
        return [sys.executable, "-c", "import sys; from tekton_debug.entrypoint.command import main; "
                "sys.exit(main(sys.argv[1:]))"]
    return [sys.executable, os.path.join(HERE, "fallback_entrypoint.py")]


def step_info_dir(root: str, index: int) -> str:
    """The directory a step sees as ``/tekton/debug/info`` (TEKTON_DEBUG_INFO_DIR)."""
    return os.path.join(root, "steps", str(index), "debug", "info")


def termination_path(root: str, index: int) -> str:
    """Step ``index``'s own ``/tekton/termination`` (each container has its own)."""
    return os.path.join(root, "tekton", "termination", str(index))


def lay_out(root: str, step_count: int, container_names: list[str]) -> None:
    """Create the pod's volumes under ``root`` (``prepare`` and ``place-scripts``)."""
    if USE_PROJECT:
        from pathlib import Path

        from tekton_debug.entrypoint.layout import RunLayout
        from tekton_debug.entrypoint.scripts import write_debug_scripts
        layout = RunLayout(Path(root), step_count)
        layout.create(container_names)
        write_debug_scripts(layout.debug_scripts_dir, tekton_root=str(layout.tekton),
                            step_count=step_count)
        return
    tekton = os.path.join(root, "tekton")
    for sub in ("bin", "scripts", "debug/scripts", "downward", "results", "steps", "home",
                "termination"):
        os.makedirs(os.path.join(tekton, sub), exist_ok=True)
    os.makedirs(os.path.join(root, "workspace"), exist_ok=True)
    for i in range(step_count):
        os.makedirs(os.path.join(tekton, "run", str(i), "status"), exist_ok=True)
        os.makedirs(os.path.join(step_info_dir(root, i), str(i)), exist_ok=True)
    if not USE_PROJECT:
        _write_fallback_scripts(os.path.join(tekton, "debug", "scripts"), tekton, step_count)


_SCRIPT = """#!/bin/sh
set -e
n=$(ls "${{TEKTON_DEBUG_INFO_DIR:?this command runs only inside a step}}")
if [ "$n" -ge {count} ]; then
  echo "Last step (no. {last}) has already been executed, breakpoint exiting !"
  exit 0
fi
run="{tekton}/run/$n"
{body}
"""

_BODIES = {
    "debug-continue": 'touch "$run/out"\necho 0 > "$run/out.breakpointexit"\n'
                      'echo "Executing post breakpoint steps"',
    "debug-fail-continue": 'touch "$run/out.err"\necho 1 > "$run/out.breakpointexit"\n'
                           'echo "Executing post breakpoint steps"',
    "debug-beforestep-continue": 'echo 0 > "$run/out.beforestepexit"\n'
                                 'echo "Executing step $n..."',
    "debug-beforestep-fail-continue": 'echo 1 > "$run/out.beforestepexit.err"\n'
                                      'echo "Executing step $n..."',
}
_BODIES["debug-continue-failure"] = _BODIES["debug-fail-continue"]
_BODIES["debug-breakpointexit"] = _BODIES["debug-continue"]


def _write_fallback_scripts(scripts_dir: str, tekton: str, count: int) -> None:
    for name, body in _BODIES.items():
        path = os.path.join(scripts_dir, name)
        with open(path, "w") as f:
            f.write(_SCRIPT.format(count=count, last=count - 1, tekton=tekton, body=body))
        os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
