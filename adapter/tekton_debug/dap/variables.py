"""Scopes, variables and evaluation for a step, as DAP shows them.

Scopes of a frame (= a step): Step, Params, Environment (secrets masked), Results, Workspaces (a lazy
file tree, marked expensive) and TaskRun. References are valid while the run stays paused; they are
dropped when it resumes, as the protocol allows.
"""

from __future__ import annotations

import json
import re
import shlex
import threading
import time
from typing import Any, Callable

from tekton_debug.errors import UserError
from tekton_debug.session.masking import Masker
from tekton_debug.session.session import Session

FRAME_STRIDE = 10_000
FILE_PREVIEW = 4096

# lists one directory: "d NAME" or "f SIZE NAME" per entry; the path comes as $1, never spliced
_LIST_DIR = r'''cd -- "$1" || exit 3
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  if [ -d "$f" ]; then printf 'd %s\n' "$f"
  else printf 'f %s %s\n' "$(wc -c < "$f" 2>/dev/null | tr -d ' ' || echo 0)" "$f"; fi
done'''


# $(params.NAME...), $(params["NAME"]...), $(params['NAME']...)
_PARAM_REF = re.compile(r"""\$\(\s*params(?:\.([A-Za-z0-9_-]+)|\[\s*["']([^"']+)["']\s*\])""")


def _param_name(expression: str) -> str | None:
    m = _PARAM_REF.match(expression)
    return (m.group(1) or m.group(2)) if m else None


#: Added to a step's frame id for the frame of the StepAction it uses (under the step's own).
ACTION_FRAME = 5_000


def frame_id(thread_id: int, step_index: int, *, action: bool = False) -> int:
    """Frame ids are unique across threads: the thread's stack shows the step's frame (and, for
    a step that uses a StepAction, the action's frame under it)."""
    return thread_id * FRAME_STRIDE + (ACTION_FRAME if action else 0) + step_index


def frame_step(frame: Any) -> int:
    """The step a frame shows (the step itself, or the StepAction it uses)."""
    if not isinstance(frame, int) or frame < FRAME_STRIDE:
        raise UserError(f"unknown frame {frame!r}")
    return frame % FRAME_STRIDE % ACTION_FRAME


class Variables:
    def __init__(self, session: Session) -> None:
        self.session = session
        self._refs: dict[int, Callable[[], list[dict]]] = {}
        self._next = 1
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._refs.clear()

    def _ref(self, produce: Callable[[], list[dict]]) -> int:
        with self._lock:
            ref = self._next
            self._next += 1
            self._refs[ref] = produce
            return ref

    # ---- scopes ----------------------------------------------------------------------------------

    def scopes(self, index: int) -> list[dict]:
        s = self.session
        s.step(index)  # checks the index
        run = s.run
        scopes = [
            {"name": "Step", "variablesReference": self._ref(lambda: self._step(index)),
             "presentationHint": "locals", "expensive": False},
            {"name": "Params", "variablesReference": self._ref(lambda: self._params()),
             "presentationHint": "arguments", "expensive": False,
             "namedVariables": len(run.task.params) if run else 0},
            {"name": "Environment", "variablesReference": self._ref(lambda: self._env(index)),
             "expensive": False},
            {"name": "Results", "variablesReference": self._ref(lambda: self._results(index)),
             "expensive": False},
            {"name": "Workspaces", "variablesReference": self._ref(lambda: self._workspaces(index)),
             "expensive": True},
            {"name": "TaskRun", "variablesReference": self._ref(lambda: self._taskrun()),
             "presentationHint": "globals", "expensive": False},
        ]
        return scopes

    def children(self, ref: Any, start: Any = None, count: Any = None) -> list[dict]:
        produce = self._refs.get(ref) if isinstance(ref, int) else None
        if produce is None:
            raise UserError(f"unknown variables reference {ref!r} (references end when the run "
                            "resumes)")
        items = produce()
        if isinstance(start, int) and start > 0:
            items = items[start:]
        if isinstance(count, int) and count > 0:
            items = items[:count]
        return items

    # ---- the scopes' contents ----------------------------------------------------------------------

    @staticmethod
    def _var(name: str, value: Any, *, ref: int = 0, type_: str | None = None,
             evaluate: str | None = None, hint: dict | None = None) -> dict:
        v: dict[str, Any] = {"name": name, "value": value if isinstance(value, str) else str(value),
                             "variablesReference": ref}
        if type_:
            v["type"] = type_
        if evaluate:
            v["evaluateName"] = evaluate
        if hint:
            v["presentationHint"] = hint
        return v

    def _step(self, index: int) -> list[dict]:
        s = self.session
        st = s.step(index)
        step = s.run.task.steps[index]
        out = [self._var("name", st.name), self._var("state", st.label),
               self._var("container", step.container), self._var("image", step.image or "(none)")]
        if st.exit_code is not None:
            out.append(self._var("exitCode", str(st.exit_code), type_="int"))
        if st.started_at is not None:
            out.append(self._var("startedAt", time.strftime("%Y-%m-%dT%H:%M:%S%z",
                                                            time.localtime(st.started_at))))
            out.append(self._var("duration", f"{st.duration:.3f} s"))
        if st.message:
            out.append(self._var("message", st.message))
        try:
            env = s.environment(index)
            # masked before quoting: quotes put into a secret would hide it from the masker
            out.append(self._var("workingDir", s.masker.mask(env.working_dir)))
            out.append(self._var("command", shlex.join(s.masker.mask(a) for a in env.command)))
            out += [self._var(k, s.masker.mask(v)) for k, v in env.details.items()]
        except UserError:
            pass
        if step.script:
            out.append(self._var("script", s.masker.mask(step.script)))
        if step.on_error:
            out.append(self._var("onError", step.on_error))
        if st.tail:
            lines = [s.masker.mask(line) for line in st.last_lines(20)]
            out.append(self._var("output", f"{len(lines)} last lines",
                                 ref=self._ref(lambda: [self._var(f"[{i}]", line)
                                                        for i, line in enumerate(lines)])))
        return out

    def _value(self, name: str, value: Any, evaluate: str, *, secret: bool = False) -> dict:
        """A param: a string, or an array / object with its elements as children. Its strings
        are masked before JSON quotes them (an escaped secret would not be recognised); a param
        marked secret shows only the mask, as its elements do."""
        mask = (lambda _: Masker.MASK) if secret else self.session.masker.mask
        if isinstance(value, list):
            items = [mask(str(v)) for v in value]
            return self._var(name, json.dumps(items), type_="array", evaluate=evaluate,
                             ref=self._ref(lambda: [self._var(f"[{i}]", str(v),
                                                              evaluate=f"$({evaluate[2:-1]}[{i}])")
                                                    for i, v in enumerate(items)]))
        if isinstance(value, dict):
            obj = {k: mask(str(v)) for k, v in value.items()}
            base = evaluate[2:-1]
            return self._var(name, json.dumps(obj), type_="object", evaluate=evaluate,
                             ref=self._ref(lambda: [self._var(k, str(v), evaluate=f"$({base}.{k})")
                                                    for k, v in obj.items()]))
        return self._var(name, mask(str(value)), type_="string", evaluate=evaluate)

    def _params(self) -> list[dict]:
        s = self.session
        return [self._value(name, value, f"$(params.{name})", secret=name in s.options.secrets)
                for name, value in s.params.items()]

    def _env(self, index: int) -> list[dict]:
        env = self.session.environment(index)
        secrets = self.session.secret_names(env)
        out = []
        for name in sorted(env.env):
            secret = name in secrets
            value = Masker.MASK if secret else self.session.masker.mask(env.env[name])
            out.append(self._var(name, value, evaluate=f"${name}",
                                 hint={"attributes": ["readOnly"], "visibility": "private"}
                                 if secret else None))
        return out

    def _results(self, index: int) -> list[dict]:
        s = self.session
        env = s.environment(index)
        out = []
        for result in s.run.task.results:
            path = f"{env.results_dir.rstrip('/')}/{result.name}"
            res = s.exec(index, ["sh", "-c", 'cat -- "$1" 2>/dev/null', "sh", path])
            if res.exit_code == 0:
                value = s.masker.mask(res.stdout.decode("utf-8", "replace"))
            else:
                value = "(not written yet)"
            out.append(self._var(result.name, value, evaluate=f"$(results.{result.name}.path)"))
        return out

    def _workspaces(self, index: int) -> list[dict]:
        env = self.session.environment(index)
        return [self._var(name, path, ref=self._ref(lambda p=path: self._dir(index, p)))
                for name, path in sorted(env.workspaces.items())]

    def _dir(self, index: int, path: str) -> list[dict]:
        s = self.session
        res = s.exec(index, ["sh", "-c", _LIST_DIR, "sh", path])
        if res.exit_code != 0:
            return [self._var("(error)", res.stderr.decode("utf-8", "replace").strip()
                              or f"cannot list {path}")]
        out = []
        for line in res.stdout.decode("utf-8", "replace").splitlines():
            kind, _, rest = line.partition(" ")
            # names are masked before they are quoted into an evaluate name
            if kind == "d":
                child = f"{path.rstrip('/')}/{rest}"
                out.append(self._var(s.masker.mask(rest) + "/", "directory",
                                     ref=self._ref(lambda p=child: self._dir(index, p))))
            elif kind == "f":
                size, _, name = rest.partition(" ")
                child = f"{path.rstrip('/')}/{name}"
                shown = s.masker.mask(child)
                out.append(self._var(s.masker.mask(name), f"{size} bytes",
                                     evaluate=f"cat {shlex.quote(shown)}",
                                     ref=self._ref(lambda p=child: self._file(index, p))))
        return out

    def _file(self, index: int, path: str) -> list[dict]:
        s = self.session
        # a secret that begins within the preview is read whole, masked, and only then cut
        res = s.exec(index, ["head", "-c", str(FILE_PREVIEW + s.masker.longest), path])
        text = s.masker.mask_then_cut(res.stdout.decode("utf-8", "replace"), FILE_PREVIEW)
        return [self._var("content", text if res.exit_code == 0 else
                          res.stderr.decode("utf-8", "replace").strip())]

    def _taskrun(self) -> list[dict]:
        s = self.session
        run = s.run
        out = [self._var("name", run.name)]
        if run.task_name:
            out.append(self._var("task", run.task_name))
        if run.namespace:
            out.append(self._var("namespace", run.namespace))
        out.append(self._var("runtime", s.options.runtime))
        paused = s.paused
        if s.finished is not None:
            status = f"{s.finished.reason}" + (f": {s.finished.message}" if s.finished.message else "")
        elif paused is not None:
            status = f"Running (step {paused.name} {paused.label})"
        else:
            status = "Running"
        out.append(self._var("status", status))
        left = s.time_left()
        timeout = run.timeout
        out.append(self._var("timeout", "none" if timeout == 0 else
                             f"{int(timeout if timeout is not None else 3600)} s"))
        if left is not None:
            out.append(self._var("timeLeft", f"{int(left)} s"))
        out.append(self._var("onFailure", "enabled" if s.plan.on_failure else "disabled"))
        if s.plan.before_steps:
            out.append(self._var("beforeSteps", ", ".join(sorted(s.plan.before_steps))))
        return out

    # ---- evaluate -------------------------------------------------------------------------------

    def lookup(self, index: int, expression: str) -> dict:
        """hover / watch: a Tekton variable ``$(params.x)`` or an env var ``$HOME``."""
        s = self.session
        text = expression.strip()
        value = s.tekton_variable(index, text) if not text.startswith("$") or \
            text.startswith("$(") else None
        if value is not None:
            # a param marked secret, whole (JSON would quote its elements) or one element of it,
            # however short
            if _PARAM_REF.match(text) and _param_name(text) in s.options.secrets or \
                    value in s.secret_param_values():
                value = Masker.MASK
            return {"result": s.masker.mask(value), "variablesReference": 0}
        name = text[1:] if text.startswith("$") else text
        name = name.strip("{}")
        env = s.environment(index)
        if name in env.env:
            value = Masker.MASK if name in s.secret_names(env) else s.masker.mask(env.env[name])
            return {"result": value, "variablesReference": 0}
        raise UserError(f"{expression!r} is not a Tekton variable or an environment variable of "
                        f"step {s.step(index).name!r}",
                        fix="use $(params.NAME), $(results.NAME.path), $(workspaces.NAME.path), "
                            "$(context.taskRun.name) or $VAR")

    def run_command(self, index: int, text: str) -> dict:
        """The REPL: run the text with sh -c in the step's environment, after Tekton's
        substitutions, as the step's own script would see it."""
        s = self.session
        command = s.substitute(index, text)
        res = s.evaluate(index, command)
        output = (res.stdout + res.stderr).decode("utf-8", "replace")
        output = s.masker.mask(output.rstrip("\n"))
        if res.exit_code != 0:
            output += ("\n" if output else "") + f"[exit code {res.exit_code}]"
        return {"result": output, "variablesReference": 0}
