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
from tekton_debug.events import MAX_EXEC_OUTPUT
from tekton_debug.session.masking import Masker
from tekton_debug.session.session import Session

FRAME_STRIDE = 10_000
FILE_PREVIEW = 4096
#: Bytes of a result file shown in the Results scope (Tekton's own limit is 4096 per step).
RESULT_PREVIEW = 64 * 1024
#: Entries listed per workspace directory.
MAX_ENTRIES = 1000

# Lists one directory, the path in $1 (never spliced), entry by entry as "KIND LEN NAME\n",
# LEN the name's length in bytes (so a newline in a name cannot start a fake entry): KIND is
# d (a directory), f SIZE (a regular file), l (a symbolic link, followed nowhere; its target
# comes as a second "t LEN TARGET\n"), or p / s / c / b (FIFO, socket, devices: never opened).
# Sizes come from stat, not by reading the file.
_LIST_DIR = r'''cd -- "$1" || exit 3
export LC_ALL=C
n=0
for f in * .[!.]* ..?*; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  n=$((n + 1)); [ "$n" -gt "$2" ] && { echo more; break; }
  if [ -L "$f" ]; then t=$(readlink -- "$f" 2>/dev/null; echo x); t=${t%?}; t=${t%?}
    printf 'l %d %s\nt %d %s\n' "${#f}" "$f" "${#t}" "$t"
  elif [ -d "$f" ]; then printf 'd %d %s\n' "${#f}" "$f"
  elif [ -f "$f" ]; then
    s=$(stat -c %s -- "$f" 2>/dev/null || wc -c < "$f" 2>/dev/null || echo '?')
    printf 'f %s %d %s\n' "$(echo $s)" "${#f}" "$f"
  elif [ -p "$f" ]; then printf 'p %d %s\n' "${#f}" "$f"
  elif [ -S "$f" ]; then printf 's %d %s\n' "${#f}" "$f"
  elif [ -c "$f" ]; then printf 'c %d %s\n' "${#f}" "$f"
  elif [ -b "$f" ]; then printf 'b %d %s\n' "${#f}" "$f"
  fi
done'''

# The first $2 bytes of $1 if it is a regular file (not a link: it could lead out of the
# workspace or to a device); exit 4 otherwise.
_HEAD_FILE = r'''[ -f "$1" ] && [ ! -L "$1" ] || { echo "not a regular file" >&2; exit 4; }
head -c "$2" -- "$1"'''

_SPECIAL = {"p": "FIFO (not opened)", "s": "socket", "c": "character device (not opened)",
            "b": "block device (not opened)"}


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
            res = s.exec(index, ["sh", "-c", 'if [ -e "$1" ] || [ -L "$1" ]; then ' + _HEAD_FILE
                                 + '; else exit 3; fi', "sh", path,
                                 str(RESULT_PREVIEW + s.masker.longest + 1)])
            if res.exit_code == 0:
                value = self._preview(res.stdout, RESULT_PREVIEW)
            elif res.exit_code == 4:
                value = "(not a regular file: not read)"
            else:
                value = "(not written yet)"
            out.append(self._var(result.name, value, evaluate=f"$(results.{result.name}.path)"))
        return out

    def _preview(self, data: bytes, limit: int) -> str:
        """The first ``limit`` bytes of ``data`` (read with ``masker.longest`` bytes more, so
        that a secret begun before the cut is masked whole), with a visible mark when there
        was more."""
        masker = self.session.masker
        if len(data) <= limit + masker.longest:
            return masker.mask(data.decode("utf-8", "replace"))
        text = masker.mask_then_cut(data.decode("utf-8", "replace"), limit)
        return text + f"\n[truncated: only the first {limit:,} bytes are shown]"

    def _workspaces(self, index: int) -> list[dict]:
        env = self.session.environment(index)
        return [self._var(name, path, ref=self._ref(lambda p=path: self._dir(index, p)))
                for name, path in sorted(env.workspaces.items())]

    def _dir(self, index: int, path: str) -> list[dict]:
        s = self.session
        res = s.exec(index, ["sh", "-c", _LIST_DIR, "sh", path, str(MAX_ENTRIES)])
        if res.exit_code != 0:
            return [self._var("(error)", s.masker.mask(
                res.stderr.decode("utf-8", "replace").strip() or f"cannot list {path}"))]
        out = []
        for kind, name, extra in _entries(res.stdout):
            # names are masked before they are shown or quoted into an evaluate name
            shown = s.masker.mask(_escaped(name))
            child = f"{path.rstrip('/')}/{name}"
            if kind == "d":
                out.append(self._var(shown + "/", "directory",
                                     ref=self._ref(lambda p=child: self._dir(index, p))))
            elif kind == "f":
                out.append(self._var(shown, f"{extra} bytes",
                                     evaluate=f"cat {shlex.quote(s.masker.mask(child))}",
                                     ref=self._ref(lambda p=child: self._file(index, p))))
            elif kind == "l":
                out.append(self._var(shown, "symbolic link to "
                                     + s.masker.mask(_escaped(extra)) + " (not followed)"))
            elif kind in _SPECIAL:
                out.append(self._var(shown, _SPECIAL[kind]))
            elif kind == "more":
                out.append(self._var("...", f"more than {MAX_ENTRIES} entries: only the first "
                                     f"{MAX_ENTRIES} are listed"))
        return out

    def _file(self, index: int, path: str) -> list[dict]:
        s = self.session
        res = s.exec(index, ["sh", "-c", _HEAD_FILE, "sh", path,
                             str(FILE_PREVIEW + s.masker.longest + 1)])
        if res.exit_code != 0:
            return [self._var("content", s.masker.mask(
                res.stderr.decode("utf-8", "replace").strip()))]
        return [self._var("content", self._preview(res.stdout, FILE_PREVIEW))]

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
        output = (res.stdout + res.stderr).decode("utf-8", "replace" if not res.truncated
                                                   else "ignore")
        if res.truncated:  # a secret cut at the end is dropped, not shown in part
            output = s.masker.mask_then_cut(output, len(output) - s.masker.longest)
            output += ("\n" if output else "") + (
                f"[truncated: the command was stopped after {MAX_EXEC_OUTPUT:,} bytes of "
                "output; run it in a shell, or send its output to a file]")
            return {"result": output, "variablesReference": 0}
        output = s.masker.mask(output.rstrip("\n"))
        if res.exit_code != 0:
            output += ("\n" if output else "") + f"[exit code {res.exit_code}]"
        return {"result": output, "variablesReference": 0}


def _entries(listing: bytes) -> list[tuple[str, bytes | str, str]]:
    """(kind, name, extra) for each entry of a _LIST_DIR listing: extra is a file's size or a
    link's target; ("more", "", "") when the listing stopped at MAX_ENTRIES."""
    out: list[tuple[str, Any, str]] = []
    pos = 0
    while pos < len(listing):
        end = listing.find(b"\n", pos)
        head = listing[pos:end if end >= 0 else len(listing)].split(b" ", 3)
        kind = head[0].decode("ascii", "replace")
        if kind == "more":
            out.append(("more", "", ""))
            break
        fields = 3 if kind == "f" else 2  # kind [size] length name
        try:
            length = int(head[fields - 1])
        except (ValueError, IndexError):
            break  # not our listing any more
        start = pos + sum(len(h) + 1 for h in head[:fields])
        name = listing[start:start + length].decode("utf-8", "replace")
        pos = start + length + 1
        extra = head[1].decode("ascii", "replace") if kind == "f" else ""
        if kind == "l" and listing[pos:pos + 2] == b"t ":
            t_head = listing[pos:].split(b" ", 2)
            t_len = int(t_head[1]) if t_head[1].isdigit() else 0
            t_start = pos + len(t_head[0]) + len(t_head[1]) + 2
            extra = listing[t_start:t_start + t_len].decode("utf-8", "replace")
            pos = t_start + t_len + 1
        out.append((kind, name, extra))
    return out


def _escaped(name: str) -> str:
    """A file name as one line: control characters (a newline...) written as escapes."""
    if name.isprintable():
        return name
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
