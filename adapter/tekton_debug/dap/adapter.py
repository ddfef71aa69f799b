"""The DAP request handlers: a TaskRun is a debug session, a failed step is a stopped thread.

One ``DebugAdapter`` serves one client connection. Handlers are named after the protocol's
commands (``configurationDone_request``); the wire (``dap.wire``) calls them one at a time and turns
a returned dict into a response and a raised UserError into an error response the user sees.
The mapping is the table in the design (architecture.md); this module only translates between DAP
and the session, and never touches processes or Kubernetes.
"""

from __future__ import annotations

import logging
import os
import shlex
import threading
from typing import Any

from tekton_debug.dap import wire
from tekton_debug.dap.launch_config import parse_launch
from tekton_debug.dap.terminals import Terminals
from tekton_debug.dap.variables import Variables, frame_id, frame_step
from tekton_debug.errors import UserError, WrongTime
from tekton_debug.events import (
    Notice, PauseKind, Progress, PythonResumed, PythonStopped, PythonUnavailable, Release,
    RunFinished, RuntimeEvent, StepFinished, StepLog, StepPaused, StepResumed, StepRetrying,
    StepStarted,
)
from tekton_debug import python as python_steps
from tekton_debug.session.session import Session

log = logging.getLogger(__name__)

#: Runtime events held until the launch is answered before the runtime has to wait.
HELD_EVENTS_LIMIT = 256

#: sourceReference of the StepAction a step uses, when it has no file here (+ the step's index)
_ACTION_SOURCE = 1000

EXCEPTION_FILTER = "onFailure"


def _arg(args: dict, name: str, kind: type, what: str, default: Any = None) -> Any:
    """``args[name]`` if it is a ``kind`` (a bool is no number), ``default`` if absent or null;
    anything else is the client's error, said as such."""
    value = args.get(name)
    if value is None:
        return default
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise UserError(f'"{name}" must be {what}, not {type(value).__name__} {value!r:.40}')
    return value


def breakpoint_lines(args: dict) -> tuple[str | None, list]:
    """The source path and the lines of a setBreakpoints request (``breakpoints``, else the
    deprecated ``lines``)."""
    path = _arg(_arg(args, "source", dict, "a Source object", {}), "path", str, "a path")
    lines = [b.get("line") for b in _arg(args, "breakpoints", list, "a list", [])
             if isinstance(b, dict)]
    if not lines:
        lines = list(_arg(args, "lines", list, "a list of line numbers", []))
    return path, lines


class DebugAdapter:
    def __init__(self, connection: wire.Connection) -> None:
        self.conn = connection
        self.client: dict[str, Any] = {}
        self.session: Session | None = None
        self.variables: Variables | None = None
        self._flags: dict[str, Any] = {}
        self._launch_request: wire.Request | None = None
        self._configured = False
        self._started = False
        self._lock = threading.RLock()
        # breakpoints: source path -> {line: breakpoint}; function breakpoints by step name
        self._line_breakpoints: dict[str, list[dict]] = {}
        self._function_breakpoints: list[dict] = []
        self._next_breakpoint_id = 1
        self._on_failure = True
        self._python_exceptions = False
        self._pending_reason: str | None = None  # reason of the next before-step pause
        self._progress_id: str | None = None
        self._progress_count = 0
        self._ended = False
        self.terminals = Terminals()  # shells opened with tekton/openShell: they end with us
        # the run's events until its launch is answered (see _finish_launch); None after
        self._held: list[tuple[RuntimeEvent, str | None]] | None = []
        self._held_lock = threading.Condition()
        self._launching: threading.Thread | None = None

    # ---- setup ---------------------------------------------------------------------------------

    def initialize_request(self, request: wire.Request) -> dict:
        self.client = dict(request.arguments or {})
        self.conn.send_event("initialized")
        return {
            "supportsConfigurationDoneRequest": True,
            "supportsFunctionBreakpoints": True,
            "supportsEvaluateForHovers": True,
            "supportsExceptionInfoRequest": True,
            "supportsTerminateRequest": True,
            "supportsRestartRequest": True,
            "supportsRestartFrame": True,
            "supportTerminateDebuggee": True,
            "supportsBreakpointLocationsRequest": True,
            "supportsClipboardContext": True,
            "supportsSetVariable": False,
            "supportsStepBack": False,
            "exceptionBreakpointFilters": [{
                "filter": EXCEPTION_FILTER,
                "label": "Failed steps",
                "description": "Pause a step when it fails, with its environment alive "
                               "(Tekton's onFailure breakpoint)",
                "default": True,
            }, {
                "filter": python_steps.EXCEPTION_FILTER,
                "label": "Python exceptions",
                "description": "Stop a Python step's script where an uncaught exception is "
                               "raised (then, if the script fails, the step pauses as usual)",
                "default": False,
            }],
        }

    def launch_request(self, request: wire.Request) -> Any:
        self._require_no_session("launch")
        from tekton_debug.dap.pipeline import PipelineDebugAdapter, is_pipeline_launch
        if is_pipeline_launch(request.arguments or {}):
            # a Pipeline: this connection's handlers become the pipeline's (dap/pipeline.py)
            return PipelineDebugAdapter.take_over(self, request)
        options, self._flags = parse_launch(request.arguments or {})
        session = Session(options, self._on_event)
        self.conn.mask = session.masker.mask_data  # from here on, no message shows a secret
        session.load()  # bad files and params are reported now, before anything runs
        if self._flags.get("onFailure") is False or self._flags.get("noDebug"):
            self._on_failure = False
        self._adopt(session)
        self._apply_breakpoints()
        return self._begin_when_configured(request)

    def attach_request(self, request: wire.Request) -> Any:
        self._require_no_session("attach")
        options, self._flags = parse_launch(request.arguments or {}, attach=True)
        if options.runtime != "kubernetes":
            raise UserError("attach needs a cluster: local and container runs live inside the "
                            "adapter that launched them",
                            fix='use "request": "launch" for a local run, or set "runtime": '
                                '"kubernetes" to attach to a TaskRun on a cluster')
        if options.pipeline_run:
            from tekton_debug.dap.pipeline import PipelineDebugAdapter
            return PipelineDebugAdapter.take_over(self, request, attach=True)
        session = Session(options, self._on_event)
        self.conn.mask = session.masker.mask_data
        self._adopt(session)
        return self._begin_when_configured(request)

    def _require_no_session(self, command: str) -> None:
        """One TaskRun per debug session: a second launch or attach would leave the first one
        running unseen, its launch request unanswered and its events read against the other."""
        if self.session is not None:
            raise WrongTime(f"{command}: this debug session has a TaskRun already",
                            fix="use Restart to run it again, or start a new debug session")

    def _adopt(self, session: Session) -> None:
        self.session = session
        self.variables = Variables(session)
        # every message of this connection is masked with the session's secrets (a child
        # session of a pipeline shares the pipeline's)
        self.conn.mask = session.masker.mask_data

    def _begin_when_configured(self, request: wire.Request) -> Any:
        """launch/attach are answered once configurationDone has come (the spec's order)."""
        with self._lock:
            self._launch_request = request
            ready = self._configured
        if ready:
            self._finish_launch(request)
        return wire.DEFERRED

    def configurationDone_request(self, request: wire.Request) -> dict:
        with self._lock:
            self._configured = True
            launch = self._launch_request
        if launch is not None and not self._started:
            # answer configurationDone first, then start and answer the launch (the spec's order)
            threading.Thread(target=self._finish_launch, args=(launch,), daemon=True).start()
        return {}

    def _finish_launch(self, launch: wire.Request) -> None:
        """Start the run, answer the launch, then say the "process" started, and only then let
        the run's events out: a client (VS Code's Debug Console) shows output from a session
        whose launch it has seen answered; events from before that could be lost (the first
        line of the first step was)."""
        self._launching = threading.current_thread()
        try:
            body = self._begin()
        except Exception as exc:  # UserError or a bug: either way the client hears of it
            self.conn.fail(launch, exc)
            self._release_held_events()
            return
        self.conn.respond(launch, body)
        session = self.session
        if session is not None:
            name = session.run.name if session.run else (session.options.task_run or "TaskRun")
            self.conn.send_event("process", {
                "name": name, "isLocalProcess": session.options.runtime == "local",
                "startMethod": "attach" if session.attached else "launch"})
        self._release_held_events()

    def _release_held_events(self) -> None:
        """Send the events the run produced while its launch was being answered, in order; from
        then on, events go out as they come."""
        while True:
            with self._held_lock:
                held = self._held
                if not held:
                    self._held = None
                    self._held_lock.notify_all()
                    return
                self._held = []
                self._held_lock.notify_all()
            for ev, text in held:
                self._send_run_event(ev, text)

    def _begin(self) -> dict:
        """Start (launch) or connect to (attach) the TaskRun, once configuration is done."""
        session = self._require_session()
        with self._lock:
            if self._started:
                return {}
            if self._ended:  # a configurationDone after disconnect must not start a run
                raise WrongTime("the debug session was disconnected before the TaskRun started",
                                fix="start a new debug session")
            self._started = True
        session.plan.on_failure = self._on_failure
        session.plan.python_exceptions = self._python_exceptions
        if self._flags.get("noDebug"):
            session.plan.before_steps.clear()
        if self._flags.get("stopOnEntry"):
            session.plan.pause_before_next = True
            self._pending_reason = "entry"
        if session.attached:
            session.attach()
            self._apply_breakpoints()
        else:
            session.start()
        return {}

    # ---- breakpoints ---------------------------------------------------------------------------

    def setBreakpoints_request(self, request: wire.Request) -> dict:
        path, lines = breakpoint_lines(request.arguments or {})
        result = []
        task = self._task_for_source(path)
        for line in lines:
            bp: dict[str, Any] = {"id": self._new_breakpoint_id(), "verified": False}
            if not isinstance(line, int) or isinstance(line, bool):
                bp["message"] = "a breakpoint needs a line number"
            elif task is None:
                bp["line"] = line
                bp["message"] = self._why_no_task(path)
            else:
                step = task.step_at_line(line)
                python = self._python_breakpoint(task, step, line) if step else None
                if step is None:
                    bp["line"] = line
                    bp["message"] = (f"line {line} is not inside a step: a breakpoint pauses "
                                     "before the step it is in; put it on a step's lines")
                elif python is not None:
                    bp.update(python)
                else:
                    bp.update(verified=True, line=step.pos.line if step.pos else line,
                              message=f"pauses before step {step.debug_name!r}")
                    bp["_step"] = step.debug_name
            if path:
                bp["source"] = {"path": path, "name": os.path.basename(path)}
            result.append(bp)
        self._line_breakpoints[self._key(path)] = result
        self._apply_breakpoints()
        return {"breakpoints": [self._public(bp) for bp in result]}

    def setFunctionBreakpoints_request(self, request: wire.Request) -> dict:
        result = []
        task = self.session.run.task if self.session and self.session.run else None
        for item in _arg(request.arguments or {}, "breakpoints", list, "a list", []):
            name = item.get("name") if isinstance(item, dict) else None
            bp: dict[str, Any] = {"id": self._new_breakpoint_id(), "verified": False}
            if not isinstance(name, str) or not name:
                bp["message"] = "a function breakpoint names a step"
            elif task is not None and task.step_named(name) is None:
                names = ", ".join(s.debug_name for s in task.steps)
                bp["message"] = f"no step is named {name!r}; the steps are: {names}"
            else:
                bp.update(verified=True, _step=name)
                if task is not None:
                    step = task.step_named(name)
                    if step and step.pos and self.session and self.session.run.source:
                        bp["line"] = step.pos.line
                        bp["source"] = self._source()
            result.append(bp)
        self._function_breakpoints = result
        self._apply_breakpoints()
        return {"breakpoints": [self._public(bp) for bp in result]}

    def setExceptionBreakpoints_request(self, request: wire.Request) -> dict:
        args = request.arguments or {}
        filters = list(_arg(args, "filters", list, "a list of filter ids", []))
        filters += [o.get("filterId") for o in _arg(args, "filterOptions", list, "a list", [])
                    if isinstance(o, dict)]
        self._on_failure = EXCEPTION_FILTER in filters and not self._flags.get("noDebug")
        self._python_exceptions = (python_steps.EXCEPTION_FILTER in filters
                                   and not self._flags.get("noDebug"))
        if self.session is not None:
            self.session.plan.on_failure = self._on_failure
            self.session.plan.python_exceptions = self._python_exceptions
        return {"breakpoints": [{"verified": True} for f in (EXCEPTION_FILTER,
                                                              python_steps.EXCEPTION_FILTER)
                                if f in filters]}

    def breakpointLocations_request(self, request: wire.Request) -> dict:
        args = request.arguments or {}
        path = _arg(_arg(args, "source", dict, "a Source object", {}), "path", str, "a path")
        first = _arg(args, "line", int, "a line number", 1)
        last = _arg(args, "endLine", int, "a line number", first)
        task = self._task_for_source(path)
        if task is None:
            return {"breakpoints": []}
        return {"breakpoints": [{"line": s.pos.line} for s in task.steps
                                if s.pos and first <= s.pos.line <= last]}

    def _new_breakpoint_id(self) -> int:
        self._next_breakpoint_id += 1
        return self._next_breakpoint_id - 1

    @staticmethod
    def _public(bp: dict) -> dict:
        return {k: v for k, v in bp.items() if not k.startswith("_")}

    @staticmethod
    def _key(path: str | None) -> str:
        return os.path.realpath(path) if path else ""

    def _task_for_source(self, path: str | None):
        """The TaskSpec a breakpoint's file describes: the launched one, or the file itself."""
        if not path:
            return None
        session = self.session
        if session and session.run and session.run.source and session.run.source.file:
            if self._key(session.run.source.file) == self._key(path):
                return session.run.task
            return None
        if session is not None and session.run is not None:
            return None
        try:  # not launched yet: read the file to place the breakpoints
            from tekton_debug.tekton.loader import load_file
            return load_file(path).task
        except (UserError, OSError):
            return None

    def _why_no_task(self, path: str | None) -> str:
        session = self.session
        if session and session.run and session.run.source and session.run.source.file:
            return (f"this file is not the Task being debugged "
                    f"({os.path.basename(session.run.source.file)})")
        return "this file is not a valid Tekton Task or TaskRun"

    def _apply_breakpoints(self) -> None:
        session = self.session
        if session is None:
            return
        names = {bp["_step"] for bps in self._line_breakpoints.values() for bp in bps
                 if bp.get("_step")}
        names |= {bp["_step"] for bp in self._function_breakpoints if bp.get("_step")}
        if session.run is not None and session.run.debug is not None:
            names |= set(session.run.debug.before_steps)
        session.plan.before_steps.clear()
        session.plan.before_steps.update(names)
        python: dict[str, set[int]] = {}
        for bps in self._line_breakpoints.values():
            for bp in bps:
                if bp.get("_python") and bp.get("verified"):
                    python.setdefault(bp["_python"], set()).add(bp["line"])
        session.plan.python_lines.clear()
        session.plan.python_lines.update(python)
        for st in session.steps:  # a step running under debugpy gets them at once
            if st.python is not None:
                try:
                    st.python.update_breakpoints()
                except UserError as exc:
                    log.info("step %s: breakpoints not updated: %s", st.name, exc)

    def _python_breakpoint(self, task, step, line: int) -> dict | None:
        """The breakpoint for ``line`` when it lies in a Python step's script; else None."""
        from tekton_debug.python.script import is_python_script, yaml_lines

        if not is_python_script(step.script):
            return None
        session = self.session
        run = session.run if session else None
        text = run.source.text if run and run.source else None
        if text is None and step.pos and step.pos.file:
            try:
                with open(step.pos.file, encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                text = None
        where = yaml_lines(step, text)
        if isinstance(where, str) or not where[0] <= line <= where[1]:
            return None  # the step's other lines: pause before the step, as ever
        bp: dict[str, Any] = {"line": line, "_python": step.debug_name}
        why = python_steps.unsupported(session.options.runtime if session else "local")
        if why:
            bp.update(verified=False, message=f"Python breakpoint in step {step.debug_name!r} "
                                              f"not available: {why}")
        else:
            bp.update(verified=True, message=f"Python breakpoint in step {step.debug_name!r}")
        return bp

    def _hit_breakpoints(self, step_name: str) -> list[int]:
        hits = [bp["id"] for bps in self._line_breakpoints.values() for bp in bps
                if bp.get("_step") == step_name]
        return hits + [bp["id"] for bp in self._function_breakpoints if bp.get("_step") == step_name]

    # ---- threads, frames, variables ------------------------------------------------------------

    def threads_request(self, request: wire.Request) -> dict:
        session = self.session
        if session is None or session.run is None:
            return {"threads": []}
        threads = []
        for st in session.steps:
            threads.append({"id": st.index + 1, "name": f"{st.name} ({st.label})"})
            if st.pause is PauseKind.PYTHON and st.python is not None:  # its other threads
                threads += [{"id": python_steps.thread_id(st.index, t["id"]),
                             "name": f"{st.name} / {t.get('name', t['id'])}"}
                            for t in st.python.threads()
                            if isinstance(t.get("id"), int) and t["id"] != st.python.stopped_thread]
        return {"threads": threads}

    def stackTrace_request(self, request: wire.Request) -> dict:
        session = self._require_session()
        args = request.arguments or {}
        index = self._thread_index(args.get("threadId"))
        top = session.step(index)
        frames = []
        if top.pause is PauseKind.PYTHON and top.python is not None:
            # the script's frames above the step's own (of the thread that stopped, by default)
            python_thread = python_steps.split_thread(args.get("threadId"))
            frames = [{**f, "canRestart": False}  # Restart Frame retries failed steps only
                      for f in top.python.stack_frames(python_thread[1] if python_thread else None)]
        frames.append(self._frame(index + 1, top, top=not frames))
        frames += self._action_frame(index + 1, top, top=True)
        finished = [st for st in session.steps
                    if st.index != index and st.status not in ("waiting",) and st.index < index]
        for st in reversed(finished):
            frames.append(self._frame(index + 1, st, top=False))
            frames += self._action_frame(index + 1, st, top=False)
        start = max(0, _arg(args, "startFrame", int, "a number", 0))
        levels = _arg(args, "levels", int, "a number", 0)
        levels = levels if levels > 0 else len(frames)
        return {"stackFrames": frames[start:start + levels], "totalFrames": len(frames)}

    def _frame(self, thread_id: int, st, *, top: bool) -> dict:
        session = self._require_session()
        step = session.run.task.steps[st.index]
        frame: dict[str, Any] = {
            "id": frame_id(thread_id, st.index),
            "name": f"step {st.name}: {st.label}",
            "line": step.pos.line if step.pos else 0,
            "column": step.pos.column if step.pos else 0,
        }
        if step.pos and step.pos.end_line:
            frame["endLine"] = step.pos.end_line
        source = self._source()
        if source:
            frame["source"] = source
        if not top:
            frame["presentationHint"] = "subtle"
        # Restart Frame = retry the failed step as its file is now (VS Code asks only when True)
        frame["canRestart"] = bool(top and st.status == "paused" and
                                   st.pause is PauseKind.ON_FAILURE and not session.attached)
        return frame

    def _action_frame(self, thread_id: int, st, *, top: bool) -> list[dict]:
        """The StepAction a step uses, at its script (else its first line) in its own file."""
        session = self._require_session()
        step = session.run.task.steps[st.index]
        action = step.action
        if action is None:
            return []
        pos = action.script_pos or action.pos
        frame: dict[str, Any] = {
            "id": frame_id(thread_id, st.index, action=True),
            "name": f"StepAction {action.name}" + (f" ({action.remote})" if action.remote
                                                   else ""),
            "line": pos.line if pos else 0, "column": pos.column if pos else 0,
            "presentationHint": "normal" if top else "subtle",
        }
        if pos and pos.file and os.path.exists(pos.file):
            frame["source"] = {"name": os.path.basename(pos.file),
                               "path": os.path.abspath(pos.file)}
        elif action.source is not None:
            frame["source"] = {"name": f"{action.name}.yaml",
                               "sourceReference": _ACTION_SOURCE + st.index,
                               "origin": action.remote or f"StepAction {action.name}"}
        return [frame]

    def _source(self) -> dict | None:
        session = self.session
        if session is None or session.run is None:
            return None
        src = session.run.source
        if src and src.file and os.path.exists(src.file):
            return {"name": os.path.basename(src.file), "path": os.path.abspath(src.file)}
        if src:
            return {"name": f"{session.run.name}.yaml", "sourceReference": 1,
                    "origin": f"TaskRun {session.run.name}"}
        return None

    def source_request(self, request: wire.Request) -> dict:
        session = self._require_session()
        ref = (request.arguments or {}).get("sourceReference")
        if python_steps.is_python_ref(ref):  # a file only a Python step's container has
            return {"content": session.plan.python_refs.source_text(ref),
                    "mimeType": "text/x-python"}
        if isinstance(ref, int) and ref >= _ACTION_SOURCE and session.run is not None and \
                ref - _ACTION_SOURCE < len(session.run.task.steps):
            action = session.run.task.steps[ref - _ACTION_SOURCE].action
            if action is not None and action.source is not None:
                return {"content": action.source.text, "mimeType": "text/x-yaml"}
        src = session.run.source if session.run else None
        if src is None:
            raise UserError("this TaskRun has no source to show")
        return {"content": src.text, "mimeType": "text/x-yaml"}

    def scopes_request(self, request: wire.Request) -> dict:
        frame = (request.arguments or {}).get("frameId")
        if python_steps.is_python_ref(frame):
            return {"scopes": self._python().scopes(frame)}
        index = frame_step(frame)
        return {"scopes": self._require_variables().scopes(index)}

    def variables_request(self, request: wire.Request) -> dict:
        args = request.arguments or {}
        if python_steps.is_python_ref(args.get("variablesReference")):
            return {"variables": self._python().variables(
                args["variablesReference"], args.get("start"), args.get("count"))}
        return {"variables": self._require_variables().children(
            args.get("variablesReference"), args.get("start"), args.get("count"))}

    def exceptionInfo_request(self, request: wire.Request) -> dict:
        session = self._require_session()
        index = self._thread_index((request.arguments or {}).get("threadId"))
        st = session.step(index)
        if st.pause is PauseKind.PYTHON and st.python is not None:
            return st.python.exception_info()
        return failed_step_info(session, index, repr(st.name))

    # ---- evaluate --------------------------------------------------------------------------------

    def evaluate_request(self, request: wire.Request) -> Any:
        args = request.arguments or {}
        expression = args.get("expression")
        if not isinstance(expression, str):
            raise UserError("evaluate needs an expression")
        context = args.get("context") or "repl"
        frame = args.get("frameId")
        paused = self.session.paused if self.session else None
        tekton_text = expression.strip().startswith("$")  # $(params.x), $HOME: Tekton's
        if not tekton_text and (python_steps.is_python_ref(frame) or (
                frame is None and paused is not None and paused.pause is PauseKind.PYTHON)):
            # Python, in the frame (the stopped one by default); the REPL off the reading thread
            python = self._python()
            frame = frame if python_steps.is_python_ref(frame) else None
            if context != "repl":
                return python.evaluate(expression, frame, context)
            threading.Thread(target=self._answer, daemon=True, args=(
                request, lambda: python.evaluate(expression, frame, context))).start()
            return wire.DEFERRED
        variables = self._require_variables()
        index = (self._python_step_index() if python_steps.is_python_ref(frame)
                 else self._evaluation_step(frame))
        if context in ("hover", "watch", "clipboard", "variables"):
            return variables.lookup(index, expression)
        if expression.strip() == "debug-retry":  # as in the terminal's shell: Restart Frame
            self._start_retry(self._require_session(), index)
            return {"result": "retrying the step as its file defines it now",
                    "variablesReference": 0}
        # the REPL: a shell command, run in a thread so that a slow one does not block the client
        threading.Thread(target=self._repl, args=(request, index, expression), daemon=True).start()
        return wire.DEFERRED

    def _answer(self, request: wire.Request, produce) -> None:
        try:
            body = produce()
        except Exception as exc:  # fail() logs what is not the user's error
            self.conn.fail(request, exc)
            return
        self.conn.respond(request, body)

    def _python_step_index(self) -> int:
        session = self._require_session()
        st = session.paused
        if st is None:
            raise WrongTime("no step is paused")
        return st.index

    def _python(self):
        """The Python debugger of the step stopped in its Python."""
        session = self._require_session()
        st = session.paused
        if st is None or st.pause is not PauseKind.PYTHON or st.python is None:
            raise WrongTime("no step is stopped in its Python",
                            fix="Python frames and variables exist while a Python step is stopped "
                                "at a breakpoint in its script")
        return st.python

    def _repl(self, request: wire.Request, index: int, expression: str) -> None:
        try:
            body = self._require_variables().run_command(index, expression)
        except Exception as exc:  # fail() logs what is not the user's error
            self.conn.fail(request, exc)
            return
        self.conn.respond(request, body)

    def _evaluation_step(self, frame: Any) -> int:
        session = self._require_session()
        if isinstance(frame, int):
            return frame_step(frame)
        paused = session.paused
        if paused is not None:
            return paused.index
        running = next((s for s in session.steps if s.status == "running"), None)
        if running is not None:
            return running.index
        raise WrongTime("no step is paused or running to evaluate in",
                        fix="evaluate while a step is paused (a failure or a breakpoint)")

    # ---- execution control -------------------------------------------------------------------

    def continue_request(self, request: wire.Request) -> dict:
        session = self._require_session()
        index = self._paused_thread(request)
        session.release(Release.CONTINUE, index)
        return {"allThreadsContinued": True}

    def next_request(self, request: wire.Request) -> dict:
        session = self._require_session()
        index = self._paused_thread(request)
        paused = session.paused
        if paused is None or paused.pause is not PauseKind.PYTHON:
            self._pending_reason = "step"
        session.step_over(index)
        return {}

    def stepIn_request(self, request: wire.Request) -> dict:
        self._require_session().python_step("stepIn", self._paused_thread(request))
        return {}

    def stepOut_request(self, request: wire.Request) -> dict:
        self._require_session().python_step("stepOut", self._paused_thread(request))
        return {}

    def pause_request(self, request: wire.Request) -> dict:
        session = self._require_session()
        if session.paused is not None:
            return {}
        running = next((st for st in session.steps if st.status == "running"), None)
        if running is not None and running.python is not None:
            running.python.pause()  # a Python step stops where its script is
            return {}
        self._pending_reason = "pause"
        session.pause_before_next()
        self.conn.send_event("output", {
            "category": "console",
            "output": "A running step cannot be interrupted: the run will pause before the next "
                      "step starts.\n"})
        return {}

    def restartFrame_request(self, request: wire.Request) -> dict:
        """Retry the failed step of this frame as its file defines it now, in its own environment.
        Refusals (the file does not load, the step was renamed...) are this request's error; the
        retry itself runs on a thread of its own: ``continued``, its output, then ``stopped``
        again with the new exit code, or the run goes on."""
        session = self._require_session()
        frame = (request.arguments or {}).get("frameId")
        if not isinstance(frame, int):
            raise UserError("restartFrame needs a frameId", fix="restart the top frame of a "
                            "paused step")
        self._start_retry(session, frame_step(frame))
        return {}

    def _start_retry(self, session: Session, index: int) -> None:
        st, edited = session.check_retry(index)

        def retry() -> None:
            try:
                session.run_retry(st, edited)
            except UserError as exc:  # WrongTime included: the run ended meanwhile
                self.conn.send_event("output", {"category": "important",
                                                "output": f"Retrying step {st.name} failed: "
                                                          f"{session.masker.mask(str(exc))}\n"})

        threading.Thread(target=retry, name="retry", daemon=True).start()

    def tekton_failContinue_request(self, request: wire.Request) -> dict:
        session = self._require_session()
        session.release(Release.FAIL_CONTINUE, self._paused_thread(request))
        return {"allThreadsContinued": True}

    def tekton_openShell_request(self, request: wire.Request) -> Any:
        session = self._require_session()
        args = request.arguments or {}
        thread = args.get("threadId")
        index = self._thread_index(thread) if thread is not None else self._evaluation_step(None)
        st = session.step(index)
        argv = session.shell_command(index)
        command = shlex.join(argv)
        if not self.client.get("supportsRunInTerminalRequest"):
            self.conn.send_event("output", {
                "category": "important",
                "output": f"To open a shell in step {st.name!r}, run in a terminal:\n  {command}\n"})
            return {"command": command, "args": argv, "terminal": False}
        cwd = os.getcwd()

        def done(success: bool, body: Any) -> None:
            if success:
                self.terminals.opened(body.get("processId") if isinstance(body, dict) else None)
                self.conn.respond(request, {"command": command, "args": argv, "terminal": True,
                                            **({"processId": body.get("processId")}
                                               if isinstance(body, dict) and body.get("processId")
                                               else {})})
            else:
                self.conn.fail(request, UserError(
                    f"the editor could not open a terminal ({body}); run this by hand: {command}"))

        self.conn.send_request("runInTerminal", {
            "kind": "integrated", "title": f"tekton: {st.name}", "cwd": cwd, "args": argv,
        }, done)
        return wire.DEFERRED

    def terminate_request(self, request: wire.Request) -> dict:
        session = self._require_session()
        threading.Thread(target=self._terminate, args=(session,), daemon=True).start()
        return {}

    def _terminate(self, session: Session) -> None:
        """Stop on a thread of its own (a cluster may be slow); a failure is the user's to see."""
        try:
            session.terminate()
        except UserError as exc:
            self.conn.send_event("output", {"category": "important",
                                            "output": f"Stopping the TaskRun failed: {exc}\n"})

    def restart_request(self, request: wire.Request) -> dict:
        session = self._require_session()
        if self._ended or not self._started:
            raise WrongTime("restart: the TaskRun " + ("was disconnected" if self._ended else
                                                       "has not started yet"),
                            fix="start a new debug session" if self._ended else
                            "restart once configurationDone has started the run")
        if session.attached:
            raise UserError("restart is for launched runs; this session is attached to "
                            f"{session.options.task_run}", fix="launch the Task to re-run it")
        self.conn.send_event("output", {"category": "console", "output": "Restarting the TaskRun\n"})
        session.restart()
        return {}

    def disconnect_request(self, request: wire.Request) -> dict:
        session = self.session
        args = request.arguments or {}
        if session is not None:
            terminate = args.get("terminateDebuggee")
            if terminate is None:
                terminate = not session.attached
            if terminate:
                session.close(terminate=True)
            elif session.attached:
                session.close(terminate=False)  # the TaskRun stays as it is, paused or not
            # a launched run with terminateDebuggee false is left paused while this adapter lives
            self._ended = True
        self.terminals.end_all()
        return {}

    def on_disconnect(self) -> None:
        """The connection ended (the client went away, EOF, a signal): never leave a launched run
        behind. After a disconnect that kept a launched run, its runtime is closed now: nothing a
        run starts on this host outlives the session that started it."""
        self.terminals.end_all()
        session = self.session
        if session is not None:
            session.close(terminate=not session.attached and not self._ended)

    # ---- helpers -----------------------------------------------------------------------------------

    def _require_session(self) -> Session:
        if self.session is None:
            raise WrongTime("nothing is being debugged yet", fix="send launch or attach first")
        return self.session

    def _require_variables(self) -> Variables:
        self._require_session()
        assert self.variables is not None
        return self.variables

    def _thread_index(self, thread_id: Any) -> int:
        session = self._require_session()
        python_thread = python_steps.split_thread(thread_id)
        if python_thread is not None and 0 <= python_thread[0] < len(session.steps):
            return python_thread[0]  # a Python thread under its step
        if not isinstance(thread_id, int) or not 1 <= thread_id <= len(session.steps):
            raise UserError(f"unknown thread {thread_id!r}: threads are the steps, 1 to "
                            f"{len(session.steps)}")
        return thread_id - 1

    def _paused_thread(self, request: wire.Request) -> int | None:
        thread = (request.arguments or {}).get("threadId")
        session = self._require_session()
        if thread is None:
            return None
        index = self._thread_index(thread)
        if session.steps[index].status != "paused" and session.paused is not None:
            return session.paused.index  # "continue" on any thread continues the paused step
        if session.paused is None:
            raise WrongTime("no step is paused", fix="wait for a step to fail or hit a breakpoint")
        return index

    # ---- runtime events -> DAP events --------------------------------------------------------------

    def _on_event(self, ev: RuntimeEvent, log_text: str | None = None) -> None:
        """``log_text``: a StepLog's text, when the event is passed on later than it came (the
        session's text is the latest chunk's: the next one replaces it)."""
        with self._held_lock:
            # bounded: a runtime that outruns the launch's answer waits, as for a slow client
            # (not the thread answering the launch: it would wait for itself)
            while self._held is not None and len(self._held) >= HELD_EVENTS_LIMIT and \
                    threading.current_thread() is not self._launching:
                self._held_lock.wait()
            if self._held is not None:  # the launch is not answered yet
                session = self.session
                if log_text is None and isinstance(ev, StepLog) and session is not None:
                    log_text = session.steps[ev.index].last_text
                self._held.append((ev, log_text))
                return
        self._send_run_event(ev, log_text)

    def _send_run_event(self, ev: RuntimeEvent, log_text: str | None = None) -> None:
        session = self.session
        if session is None:
            return
        send = self.conn.send_event
        if isinstance(ev, StepLog):
            # the session decoded the chunk as it applied the event (split characters kept whole)
            # (and masked it: the wire need not scan it again)
            send("output", {"category": ev.stream, "output": session.steps[ev.index].last_text
                            if log_text is None else log_text}, masked=True)
        elif isinstance(ev, StepStarted):
            self._step_header(ev.index, f"step {session.steps[ev.index].name}")
        elif isinstance(ev, StepRetrying):
            st = session.steps[ev.index]
            self._step_header(ev.index, f"step {st.name}, retry {st.retries}: running it again "
                                        "as its file defines it now")
        elif isinstance(ev, StepFinished):
            st = session.steps[ev.index]
            text = f"step {st.name} {st.label}"
            if ev.message and ev.outcome.value == "skipped":
                text += f": {ev.message}"
            send("output", {"category": "console", "output": text + "\n"})
        elif isinstance(ev, StepPaused):
            self._stopped(ev)
        elif isinstance(ev, PythonStopped):
            self._python_stopped(ev)
        elif isinstance(ev, PythonUnavailable):
            self._python_unavailable(ev)
        elif isinstance(ev, (StepResumed, StepRetrying, PythonResumed)):
            if not isinstance(ev, PythonResumed) and self.variables:
                self.variables.invalidate()
            send("continued", {"threadId": ev.index + 1, "allThreadsContinued": True})
        elif isinstance(ev, Progress):
            self._progress(ev)
        elif isinstance(ev, Notice):
            category = "important" if ev.level == "important" else "console"
            prefix = "warning: " if ev.level == "warning" else ""
            send("output", {"category": category, "output": f"{prefix}{ev.message}\n"})
        elif isinstance(ev, RunFinished):
            if self._progress_id:
                self._progress(Progress("", done=True))
            text = f"TaskRun {session.run.name if session.run else ''} {ev.reason}"
            if ev.message:
                text += f": {ev.message}"
            send("output", {"category": "console", "output": text + "\n"})
            send("exited", {"exitCode": 0 if ev.succeeded else 1})
            send("terminated")

    def _step_header(self, index: int, title: str) -> None:
        """The line before a step's output in the Debug Console, linked to the step's line.

        Not an output group: VS Code (1.100) draws a group's children only as they are when the
        group is first drawn, so the lines of a step that prints over time would stay hidden
        while the Debug Console is on screen (its tree is diffed one level deep)."""
        session = self._require_session()
        body: dict[str, Any] = {"category": "console", "output": title + "\n"}
        step = session.run.task.steps[index]
        source = self._source()
        if source and step.pos:
            body.update(source=source, line=step.pos.line)
        self.conn.send_event("output", body)

    def _stopped(self, ev: StepPaused) -> None:
        session = self._require_session()
        st = session.steps[ev.index]
        if self.variables:
            self.variables.invalidate()
        body: dict[str, Any] = {"threadId": ev.index + 1, "allThreadsStopped": True}
        left = session.time_left()
        left_text = f"; the TaskRun times out in {_minutes(left)}" if left is not None else ""
        if ev.kind is PauseKind.ON_FAILURE:
            body.update(reason="exception",
                        text=f"exit code {ev.exit_code}" if ev.exit_code is not None else "failed",
                        description=f"Step {st.name!r} {st.failure}"
                                    f"{left_text}")
        else:
            reason = "breakpoint"
            hits = self._hit_breakpoints(st.name)
            if hits:
                body["hitBreakpointIds"] = hits
            elif self._pending_reason:
                reason = self._pending_reason
            body.update(reason=reason, description=f"Paused before step {st.name!r}{left_text}")
        self._pending_reason = None
        self.conn.send_event("stopped", body)

    def _python_stopped(self, ev: PythonStopped) -> None:
        session = self._require_session()
        st = session.steps[ev.index]
        body: dict[str, Any] = {"threadId": ev.index + 1, "allThreadsStopped": True,
                                "reason": ev.reason}
        body["description"] = f"Python {ev.reason} in step {st.name!r}" + (
            f": {ev.text}" if ev.text else "")
        if ev.text:
            body["text"] = ev.text
        hits = [bp["id"] for bps in self._line_breakpoints.values() for bp in bps
                if bp.get("_python") == st.name and bp.get("line") in ev.lines]
        if hits:
            body["hitBreakpointIds"] = hits
        self.conn.send_event("stopped", body)

    def _python_unavailable(self, ev: PythonUnavailable) -> None:
        """The step runs plainly: its Python breakpoints show unverified, with the reason."""
        session = self._require_session()
        name = session.steps[ev.index].name
        for bps in self._line_breakpoints.values():
            for bp in bps:
                if bp.get("_python") == name:
                    bp.update(verified=False, message=ev.reason)
                    self.conn.send_event("breakpoint", {"reason": "changed",
                                                        "breakpoint": self._public(bp)})
        self.conn.send_event("output", {"category": "console", "output": f"{ev.reason}\n"})

    def _progress(self, ev: Progress) -> None:
        if not self.client.get("supportsProgressReporting"):
            if not ev.done and ev.message:
                self.conn.send_event("output", {"category": "console", "output": ev.message + "\n"})
            return
        if ev.done:
            if self._progress_id:
                self.conn.send_event("progressEnd", {"progressId": self._progress_id,
                                                     **({"message": ev.message} if ev.message else {})})
                self._progress_id = None
        elif self._progress_id is None:
            self._progress_count += 1
            self._progress_id = f"tekton-{self._progress_count}"
            self.conn.send_event("progressStart", {"progressId": self._progress_id,
                                                   "title": "TaskRun", "message": ev.message})
        else:
            self.conn.send_event("progressUpdate", {"progressId": self._progress_id,
                                                    "message": ev.message})


def _minutes(seconds: float) -> str:
    if seconds < 90:
        return f"{int(seconds)} s"
    if seconds < 5400:
        return f"{int(seconds // 60)} min"
    return f"{seconds / 3600:.1f} h"


def failed_step_info(session, index: int, name: str) -> dict:
    """The ``exceptionInfo`` answer for step ``index`` of ``session`` (``name``: how the messages
    name it), which failed; WrongTime if it has not."""
    st = session.step(index)
    if st.pause is not PauseKind.ON_FAILURE and st.status != "failed":
        raise WrongTime(f"step {name} has not failed ({st.label})")
    step = session.run.task.steps[index]
    command = step.script.strip() if step.script else shlex.join(step.command + step.args)
    tail = "\n".join(session.masker.mask(line) for line in st.last_lines(15))
    return {
        "exceptionId": f"exit code {st.exit_code}" if st.exit_code is not None else "failed",
        "description": f"step {name} {st.failure}",
        "breakMode": "unhandled",
        "details": {
            "message": f"step {name} {st.failure}",
            "typeName": "StepFailed",
            "stackTrace": (f"$ {command}\n" if command else "") + tail,
        },
    }
