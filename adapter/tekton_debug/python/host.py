"""Python steps on this host (the local runtime): which steps are Python, and how one starts under
debugpy when a breakpoint lies in its script or Python exceptions stop.

A step with neither runs exactly as without a debugger. Otherwise its command becomes
``<its python> -m debugpy --connect ... --wait-for-client <its script> <args>``, with only debugpy
added to its ``PYTHONPATH``. When its Python cannot be found or is too old for debugpy, the step
runs plainly and a ``PythonUnavailable`` event says why (its breakpoints show unverified).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from tekton_debug.events import DebugPlan, PythonUnavailable, RuntimeEvent
from tekton_debug.python import debugpy_cli
from tekton_debug.python.debugger import PythonDebugger
from tekton_debug.python.script import ScriptMap, interpreter, map_script
from tekton_debug.tekton.model import Step, TaskRun

PROBE_TIMEOUT = 10.0
# interpreter (real path, modification time) -> why it cannot run debugpy (None: it can); for the
# adapter's life: asking a Python its version costs a process start (tens of ms)
_VERSIONS: dict[tuple[str, int], str | None] = {}


@dataclass
class Launch:
    """How a step starts: its argv and environment, and its Python debugger if it has one."""

    argv: list[str]
    env: dict[str, str]
    debugger: PythonDebugger | None = None


class HostPython:
    """The Python steps of one run on this host. ``run_dir`` holds debugpy's path directory."""

    def __init__(self, run_dir: Path, source: dict | None) -> None:
        self._run_dir = run_dir
        self._source = source  # the Task YAML as a DAP Source (where script frames stand)
        self._maps: dict[int, ScriptMap | str] = {}
        self._interpreters: dict[int, tuple[str, list[str]]] = {}

    def prepare(self, step: Step, source_text: str | None,
                substitute: Callable[[str], str]) -> bool:
        """Note step ``step`` (as written in the Task) if it is a Python script. True if it is."""
        found = interpreter(step.script)
        if found is None:
            return False
        self._interpreters[step.index] = found
        self._maps[step.index] = map_script(step, source_text, substitute)
        return True

    def interpreter(self, i: int) -> tuple[str, list[str]] | None:
        """(the Python, its options) that step ``i``'s shebang names; None if it is not Python."""
        return self._interpreters.get(i)

    def launch(self, step: Step, argv: Sequence[str], env: Mapping[str, str], plan: DebugPlan,
               emit: Callable[[RuntimeEvent], None]) -> Launch:
        """How step ``step`` starts now, given the breakpoints in ``plan``."""
        if not self.debugs(step, env, plan, emit):
            return Launch(list(argv), dict(env))
        return self.debugged(step, argv, env, plan, emit)

    def debugs(self, step: Step, env: Mapping[str, str], plan: DebugPlan,
               emit: Callable[[RuntimeEvent], None]) -> bool:
        """Whether step ``step`` starts under debugpy now, given the breakpoints in ``plan``
        (``env``: its environment). One that should but cannot is told why (``emit``)."""
        i, name = step.index, step.debug_name
        smap = self._maps.get(i)
        if smap is None:
            return False
        lines = plan.python_lines.get(name) or set()
        inside = isinstance(smap, ScriptMap) and any(smap.contains(n) for n in lines)
        if not inside and not plan.python_exceptions:
            return False
        why = smap if isinstance(smap, str) else self._unusable(i, env)
        if why is not None:
            emit(PythonUnavailable(i, f"step {name!r} runs without the Python debugger: {why}"))
            return False
        return True

    def debugged(self, step: Step, argv: Sequence[str], env: Mapping[str, str],
                 plan: DebugPlan, emit: Callable[[RuntimeEvent], None]) -> Launch:
        """Step ``step`` started under debugpy (once ``debugs`` said so), with its debugger."""
        smap = self._maps[step.index]
        assert isinstance(smap, ScriptMap)
        return self._debugged(step, smap, argv, env, plan, emit)

    def _debugger(self, step: Step, smap: ScriptMap, script: str, plan: DebugPlan,
                  emit: Callable[[RuntimeEvent], None], **where) -> PythonDebugger:
        """The debugger of step ``step`` (``where``: how its debugpy reaches it)."""
        name = step.debug_name
        return PythonDebugger(step.index, name, smap, script, source=self._source,
                              lines=lambda: plan.python_lines.get(name) or set(),
                              exceptions=plan.python_exceptions, emit=emit,
                              refs=plan.python_refs, **where)

    def _debugged(self, step: Step, smap: ScriptMap, argv: Sequence[str], env: Mapping[str, str],
                  plan: DebugPlan, emit: Callable[[RuntimeEvent], None]) -> Launch:
        """Step ``step`` started under debugpy, here on this host."""
        python, options = self._resolved(step.index, env)
        env = debugpy_cli.environment(env, debugpy_cli.python_path(self._run_dir))
        debugger = self._debugger(step, smap, argv[0], plan, emit)  # last: nothing fails after
        return Launch(debugpy_cli.command(python, options, debugger.port, argv[0], argv[1:]),
                      env, debugger)

    def _resolved(self, i: int, env: Mapping[str, str]) -> tuple[str, list[str]]:
        program, options = self._interpreters[i]
        if os.sep not in program:
            program = shutil.which(program, path=env.get("PATH") or os.defpath) or program
        return program, options

    def _unusable(self, i: int, env: Mapping[str, str]) -> str | None:
        """Why step ``i``'s Python cannot run debugpy; None when it can."""
        program, options = self._resolved(i, env)
        why = debugpy_cli.unusable_options(options)
        if why:
            return why
        if not os.path.isabs(program):
            return f"{program} is not on the step's PATH"
        try:
            key = (os.path.realpath(program), os.stat(program).st_mtime_ns)
        except OSError as e:
            return f"{program} cannot be run ({e.strerror or e})"
        if key not in _VERSIONS:
            own = os.path.realpath(sys.executable) == key[0]  # the adapter's: new enough
            _VERSIONS[key] = None if own else self._probe(program, env)
        return _VERSIONS[key]

    @staticmethod
    def _probe(program: str, env: Mapping[str, str]) -> str | None:
        try:
            done = subprocess.run([program, "-c", debugpy_cli.VERSION_PROBE], env=dict(env),
                                  stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=PROBE_TIMEOUT)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{program} could not be run ({getattr(e, 'strerror', None) or e})"
        if done.returncode != 0:
            return f"{program} could not tell its version (exit code {done.returncode})"
        return debugpy_cli.too_old(done.stdout.decode("ascii", "replace"))


def python_steps(run: TaskRun, steps: Sequence[Step], run_dir: Path, ctx,
                 kind: type[HostPython] = HostPython) -> HostPython | None:
    """The Python steps of ``run`` (None when it has none), their scripts' lines mapped through
    the substitutions of ``ctx`` (a ``tekton.substitution.Context``); ``kind`` says where they
    run (this host, or a subclass for containers)."""
    from tekton_debug.tekton.substitution import substitute

    source = run.source
    yaml = None
    if source is not None and source.file:
        yaml = {"name": os.path.basename(source.file), "path": os.path.abspath(source.file)}
    host = kind(run_dir, yaml)
    found = [host.prepare(step, source.text if source else None,
                          lambda text: substitute(text, ctx) or "") for step in steps]
    return host if any(found) else None
