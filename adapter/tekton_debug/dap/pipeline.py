"""The DAP handlers of a PipelineRun: one debug session, a thread per step of every TaskRun.

A launch of a Pipeline or PipelineRun file turns the connection's ``DebugAdapter`` into a
``PipelineDebugAdapter`` (same connection, same breakpoints so far). Threads are named
``task/step``, so the editor shows which TaskRun each belongs to; a paused step sends ``stopped``
with ``allThreadsStopped: false``, and continue / fail-continue / next / the shell / the REPL act on
that step's TaskRun only, while the others run on. The stack of a step shows the step at its line
in the Task file and, below it, its pipeline task at its line in the Pipeline file. Stop cancels the
PipelineRun as Tekton's graceful cancel does (finally tasks still run); a second Stop cancels
those too.

Breakpoints: a line of a pipeline task in the Pipeline file pauses before that task starts (before
its first step), a line inside a step (an inline ``taskSpec``'s, or a Task file's) pauses before
that step in every TaskRun of that Task; function breakpoints name ``task`` or ``task/step``.

Child sessions: where the client supports ``startDebugging`` (``supportsStartDebuggingRequest``),
each TaskRun becomes a debug session of its own, its steps as threads: the adapter listens on a
loopback port with a token (``serve.TcpServer``), asks the client to start an ``attach`` session
with ``pipelineTask``, ``port`` and ``token``, and serves that connection with a
``PipelineTaskAdapter``: the ordinary TaskRun handlers on that task's session. The pipeline's own
session then shows the tasks starting and ending and the final table.

A matrixed task's TaskRuns are known as ``task[i]`` (combination i): their threads are named
``task[i]/step``, each has its own child session (named with its params), and a breakpoint on
the task or one of its steps applies to every combination.

Ids: TaskRun k (1-based: the pipeline tasks, ``tasks`` then ``finally``, then the combinations
of matrixed tasks as they fan out) owns threads ``k*1000 + step + 1``; a frame is ``thread*10``
(the step) or ``thread*10 + 1`` (its pipeline task); a variables reference is
``k*1_000_000`` + the reference of that TaskRun's own ``Variables``.
"""

from __future__ import annotations

import os
import secrets
import shlex
import threading
from collections import deque
from typing import Any

from tekton_debug.dap import wire
from tekton_debug.dap.adapter import DebugAdapter, _arg, breakpoint_lines, failed_step_info
from tekton_debug.dap.launch_config import parse_launch
from tekton_debug.dap.variables import Variables
from tekton_debug.errors import UserError, WrongTime
from tekton_debug.events import (
    Notice, PauseKind, PipelineRunFinished, Release, RunFinished, StepFinished, StepLog,
    StepPaused, StepResumed, StepRetrying, StepStarted, TaskEnded, TaskEvent, TaskStarted,
)
from tekton_debug.pipeline.attach import AttachedPipelineRun, member_state
from tekton_debug.pipeline.run import PipelineSession
from tekton_debug.session.lines import PrefixedLines
from tekton_debug.session.session import Session
from tekton_debug.tekton.matrix import combination
from tekton_debug.tekton.model import shown
from tekton_debug.tekton.pipeline import PipelineTask

THREADS_PER_TASK = 1000
BACKLOG = 4096  # events of a TaskRun kept until its child session attaches
REFS_PER_TASK = 1_000_000


class PipelineDebugAdapter(DebugAdapter):
    """A DebugAdapter whose debuggee is a PipelineRun (see the module docstring)."""

    pipeline: PipelineSession
    _variables: dict[str, tuple[Session, Variables]]
    _lines: PrefixedLines  # of each step's output streams: whole lines, "[task/step] " before
    _keys: list[str]  # TaskRun k's key (TaskState.key) is _keys[k - 1]
    _numbers: dict[str, int]  # and k is _numbers[key]
    _children: dict[str, "PipelineTaskAdapter"]  # task -> the child session of its TaskRun
    _backlog: dict[str, deque]  # task -> its TaskRun's (event, log text) until its child session attaches
    _server: Any  # serve.TcpServer, in child-session mode
    _token: str

    @classmethod
    def take_over(cls, adapter: DebugAdapter, request: wire.Request, *,
                  attach: bool = False) -> Any:
        """Launch the Pipeline of ``request`` on ``adapter``'s connection, which becomes this
        class (the wire keeps one handler object per connection). A launch that fails (a bad
        file) leaves ``adapter`` as it was, ready for another launch. ``attach``: the TaskRuns of
        a PipelineRun running on a cluster (``pipelineRun``), attached to."""
        options, flags = parse_launch(request.arguments or {}, attach=attach)
        if attach:
            pipeline: Any = AttachedPipelineRun(options, lambda ev: adapter._on_pipeline_event(ev))
        else:
            pipeline = PipelineSession(options, lambda ev: adapter._on_pipeline_event(ev))
        previous_mask, adapter.conn.mask = adapter.conn.mask, pipeline.masker.mask_data
        try:
            pipeline.load()  # bad files and params are reported now, before anything runs
        except BaseException:
            adapter.conn.mask = previous_mask
            raise
        adapter.__class__ = cls
        assert isinstance(adapter, PipelineDebugAdapter)
        adapter._flags, adapter.pipeline = flags, pipeline
        if flags.get("onFailure") is False or flags.get("noDebug"):
            adapter._on_failure = False
        adapter._variables = {}
        adapter._keys = [t.name for t in pipeline.run.pipeline.all_tasks] if pipeline.run else []
        adapter._numbers = {key: k for k, key in enumerate(adapter._keys, 1)}
        adapter._lines = PrefixedLines(limit=65536)
        adapter._children = {}
        adapter._backlog = {}
        adapter._server = None
        adapter._token = ""
        adapter._apply_breakpoints()
        return adapter._begin_when_configured(request)

    def launch_request(self, request: wire.Request) -> Any:
        raise WrongTime("launch: this debug session has a PipelineRun already",
                        fix="start a new debug session")

    @property
    def _tasks(self) -> list[PipelineTask]:
        run = self.pipeline.run
        return run.pipeline.all_tasks if run else []

    def _begin(self) -> dict:
        with self._lock:
            if self._started:
                return {}
            if self._ended:
                raise WrongTime("the debug session was disconnected before the PipelineRun "
                                "started", fix="start a new debug session")
            self._started = True
        self.pipeline.plan.on_failure = self._on_failure
        if self._flags.get("stopOnEntry"):
            self.pipeline.plan.before_tasks |= {t.name for t in self.pipeline.run.pipeline.tasks
                                                if not t.dependencies}
        run = self.pipeline.run
        if self.pipeline.attached:
            return self._begin_attached()
        self.conn.send_event("output", {"category": "console", "output": (
            f"PipelineRun {run.name}: {len(run.pipeline.tasks)} tasks"
            + (f" + {len(run.pipeline.finally_tasks)} finally" if run.pipeline.finally_tasks
               else "") + f" ({self.pipeline.options.runtime})\n")})
        if self.pipeline.options.runtime == "kubernetes":  # (locally, no cluster to look in)
            self.conn.send_event("output", {"category": "important", "output": (
                "No PipelineRun object is created: tekton-debug runs the pipeline itself and "
                "creates each TaskRun, following the Pipeline's graph.\n")})
        if self.client.get("supportsStartDebuggingRequest"):
            self._serve_children()
        self.pipeline.start()
        return {}

    def _begin_attached(self) -> dict:
        """Attached to a PipelineRun on a cluster: its TaskRuns and their states, then the
        running ones attached to."""
        g = self.pipeline.group
        lines = [f"PipelineRun {g.pipeline_run} (Pipeline {g.pipeline}) in namespace "
                 f"{g.namespace}, id {g.uid}: {len(g.members)} TaskRuns"]
        lines += [f"  {m.key:<24} {m.task_run:<40} {member_state(m)}" for m in g.members]
        lines.append(self.pipeline.following_note)
        self.conn.send_event("output", {"category": "console", "output": "\n".join(lines) + "\n"})
        if self.client.get("supportsStartDebuggingRequest"):
            self._serve_children()
        threading.Thread(target=self.pipeline.start, daemon=True, name="pipeline-attach").start()
        return {}

    # ---- child sessions (startDebugging) ---------------------------------------------------------

    def _serve_children(self) -> None:
        from tekton_debug.dap.serve import TcpServer

        self._token = secrets.token_urlsafe(24)
        self._server = TcpServer(lambda conn: PipelineTaskAdapter(conn, self), port=0,
                                 token=self._token)
        threading.Thread(target=self._server.serve_forever, daemon=True,
                         name="pipeline-children").start()

    def _start_child(self, task: str, task_run: str, attempt: int,
                     params: dict[str, str]) -> None:
        """Ask the client for a child session attached to ``task``'s TaskRun."""
        config = {"type": "tekton", "request": "attach",
                  "name": f"{task}: TaskRun {task_run}" + combination(params)
                          + (f" (retry {attempt})" if attempt else ""),
                  "pipelineTask": task, "port": self._server.port, "token": self._token}

        def done(success: bool, body: Any) -> None:
            if not success:
                self.conn.send_event("output", {"category": "important", "output": (
                    f"The editor could not open a session for task {task} ({body}).\n")})

        self.conn.send_request("startDebugging", {"request": "attach", "configuration": config},
                               done)

    def attach_child(self, task: str, child: "PipelineTaskAdapter") -> None:
        """``child`` shows ``task``'s TaskRun from now on: first what happened before it came."""
        with self._lock:
            self._children[task] = child
            backlog = self._backlog.pop(task, deque())
            for ev, log_text in backlog:
                child._on_event(ev, log_text)

    def detach_child(self, task: str, child: "PipelineTaskAdapter") -> None:
        with self._lock:
            if self._children.get(task) is child:
                del self._children[task]

    # ---- ids ---------------------------------------------------------------------------------

    def _number(self, key: str) -> int:
        with self._lock:
            number = self._numbers.get(key)
            if number is None:  # a matrix combination, as it fans out
                self._keys.append(key)
                number = self._numbers[key] = len(self._keys)
            return number

    def _thread(self, task: str, index: int) -> int:
        return self._number(task) * THREADS_PER_TASK + index + 1

    def _from_thread(self, thread_id: Any) -> tuple[str, Session, int]:
        if isinstance(thread_id, int) and not isinstance(thread_id, bool):
            k, rest = divmod(thread_id, THREADS_PER_TASK)
            if 1 <= k <= len(self._keys) and rest >= 1:
                task = self._keys[k - 1]
                session = self.pipeline.sessions.get(task)
                if session is not None and rest - 1 < len(session.steps):
                    return task, session, rest - 1
        raise UserError(f"unknown thread {thread_id!r}: threads are the steps of the TaskRuns "
                        "that have started")

    def _from_frame(self, frame: Any) -> tuple[str, Session, int, bool]:
        if not isinstance(frame, int) or isinstance(frame, bool):
            raise UserError(f"unknown frame {frame!r}")
        thread, kind = divmod(frame, 10)
        task, session, index = self._from_thread(thread)
        return task, session, index, kind == 1

    def _vars(self, task: str) -> Variables:
        session = self.pipeline.session_of(task)
        known = self._variables.get(task)
        if known is None or known[0] is not session:
            known = self._variables[task] = (session, Variables(session))
        return known[1]

    def _shift(self, task: str, items: list[dict]) -> list[dict]:
        """References of one TaskRun's Variables, made unique across the pipeline's."""
        offset = self._number(task) * REFS_PER_TASK
        out = []
        for item in items:
            item = dict(item)
            if item.get("variablesReference"):
                item["variablesReference"] += offset
            out.append(item)
        return out

    # ---- breakpoints ---------------------------------------------------------------------------

    def setBreakpoints_request(self, request: wire.Request) -> dict:
        path, lines = breakpoint_lines(request.arguments or {})
        result = []
        for line in lines:
            bp: dict[str, Any] = {"id": self._new_breakpoint_id(), "verified": False}
            if not isinstance(line, int) or isinstance(line, bool):
                bp["message"] = "a breakpoint needs a line number"
            else:
                bp["line"] = line
                self._place(bp, path, line)
            if path:
                bp["source"] = {"path": path, "name": os.path.basename(path)}
            result.append(bp)
        self._line_breakpoints[self._key(path)] = result
        self._apply_breakpoints()
        return {"breakpoints": [self._public(bp) for bp in result]}

    def _place(self, bp: dict, path: str | None, line: int) -> None:
        """A line of a step: before that step in every TaskRun of its Task; a line of a pipeline
        task (not in a step): before that task."""
        key = self._key(path)
        targets: list[str] = []
        first_line = None
        for t in self._tasks:
            if t.source and t.source.file and self._key(t.source.file) == key:
                step = t.task.step_at_line(line)
                if step is not None:
                    targets.append(f"{t.name}/{step.debug_name}")
                    first_line = step.pos.line if step.pos else line
        run = self.pipeline.run
        pipeline_file = run.pipeline.source.file if run and run.pipeline.source else None
        if not targets and pipeline_file and self._key(pipeline_file) == key:
            task = run.pipeline.task_at_line(line)
            if task is not None:
                targets.append(task.name)
                first_line = task.pos.line if task.pos else line
        if not targets:
            bp["message"] = (f"line {line} is not inside a pipeline task or a step: a breakpoint "
                             "pauses before the task or step it is in")
            return
        bp.update(verified=True, line=first_line, _targets=targets,
                  message="pauses before " + ", ".join(targets))

    def setFunctionBreakpoints_request(self, request: wire.Request) -> dict:
        result = []
        by_name = {t.name: t for t in self._tasks}
        for item in _arg(request.arguments or {}, "breakpoints", list, "a list", []):
            name = item.get("name") if isinstance(item, dict) else None
            bp: dict[str, Any] = {"id": self._new_breakpoint_id(), "verified": False}
            task_name, _, step_name = (name or "").partition("/")
            task = by_name.get(task_name)
            if not isinstance(name, str) or not name:
                bp["message"] = "a function breakpoint names a task or task/step"
            elif task is None:
                bp["message"] = (f"the Pipeline has no task {task_name!r}; the tasks are: "
                                 + ", ".join(by_name))
            elif step_name and task.task.step_named(step_name) is None:
                bp["message"] = (f"task {task_name!r} has no step {step_name!r}; its steps are: "
                                 + ", ".join(s.debug_name for s in task.task.steps))
            else:
                bp.update(verified=True, _targets=[name])
                step = task.task.step_named(step_name) if step_name else None
                pos = step.pos if step else task.pos
                if pos and pos.file:
                    bp.update(line=pos.line, source={"path": os.path.abspath(pos.file),
                                                     "name": os.path.basename(pos.file)})
            result.append(bp)
        self._function_breakpoints = result
        self._apply_breakpoints()
        return {"breakpoints": [self._public(bp) for bp in result]}

    def setExceptionBreakpoints_request(self, request: wire.Request) -> dict:
        body = super().setExceptionBreakpoints_request(request)
        self.pipeline.plan.on_failure = self._on_failure
        self.pipeline.update_breakpoints()
        return body

    def breakpointLocations_request(self, request: wire.Request) -> dict:
        args = request.arguments or {}
        path = _arg(_arg(args, "source", dict, "a Source object", {}), "path", str, "a path")
        first = _arg(args, "line", int, "a line number", 1)
        last = _arg(args, "endLine", int, "a line number", first)
        lines: set[int] = set()
        key = self._key(path)
        for t in self._tasks:
            if t.pos and t.pos.file and self._key(t.pos.file) == key:
                lines.add(t.pos.line)
            if t.source and t.source.file and self._key(t.source.file) == key:
                lines |= {s.pos.line for s in t.task.steps if s.pos}
        return {"breakpoints": [{"line": n} for n in sorted(lines) if first <= n <= last]}

    def _apply_breakpoints(self) -> None:
        pipeline = getattr(self, "pipeline", None)
        if pipeline is None:
            return
        targets = [t for bps in self._line_breakpoints.values() for bp in bps
                   for t in bp.get("_targets", ())]
        targets += [t for bp in self._function_breakpoints for t in bp.get("_targets", ())]
        pipeline.plan.before_tasks = {t for t in targets if "/" not in t}
        pipeline.plan.before_steps = {t for t in targets if "/" in t}
        pipeline.update_breakpoints()

    def _hits(self, key: str, step: str, first: bool) -> list[int]:
        task = self.pipeline.units[key].name  # a combination's breakpoints are its task's
        wanted = {f"{task}/{step}"} | ({task} if first else set())
        bps = [bp for bps in self._line_breakpoints.values() for bp in bps]
        return [bp["id"] for bp in bps + self._function_breakpoints
                if wanted & set(bp.get("_targets", ()))]

    # ---- threads, frames, variables ------------------------------------------------------------

    def threads_request(self, request: wire.Request) -> dict:
        if self._server is not None:
            return {"threads": []}  # each TaskRun's steps are threads of its own session
        threads = []
        for t in self.pipeline.rows():
            session = self.pipeline.sessions.get(t.key)
            if session is None:
                continue
            for st in session.steps:
                threads.append({"id": self._thread(t.key, st.index),
                                "name": f"{t.key}/{st.name} ({st.label})"})
        return {"threads": threads}

    def stackTrace_request(self, request: wire.Request) -> dict:
        args = request.arguments or {}
        thread = args.get("threadId")
        task, session, index = self._from_thread(thread)
        st = session.step(index)
        step = session.run.task.steps[index]
        frames = [self._located({"id": thread * 10, "name": f"step {st.name}: {st.label}",
                                 "canRestart": st.status == "paused"
                                 and st.pause is PauseKind.ON_FAILURE}, step.pos)]
        if step.action is not None:  # the StepAction it uses, in its own file (the same step)
            frames.append(self._located({"id": thread * 10 + 2,
                                         "name": f"StepAction {step.action.name}",
                                         "canRestart": False},
                                        step.action.script_pos or step.action.pos))
        state = self.pipeline.units[task]
        pt = state.task
        frames.append(self._located({"id": thread * 10 + 1,
                                     "name": f"task {task}: {state.status}"
                                             + combination(state.params)
                                             + (f" (retry {state.attempt})" if state.attempt
                                                else ""),
                                     "presentationHint": "subtle", "canRestart": False},
                                    pt.pos if pt else None))
        start = max(0, _arg(args, "startFrame", int, "a number", 0))
        levels = _arg(args, "levels", int, "a number", 0) or len(frames)
        return {"stackFrames": frames[start:start + levels], "totalFrames": len(frames)}

    @staticmethod
    def _located(frame: dict, pos) -> dict:
        frame.update(line=pos.line if pos else 0, column=pos.column if pos else 0)
        if pos and pos.end_line:
            frame["endLine"] = pos.end_line
        if pos and pos.file and os.path.exists(pos.file):
            frame["source"] = {"name": os.path.basename(pos.file),
                               "path": os.path.abspath(pos.file)}
        return frame

    def scopes_request(self, request: wire.Request) -> dict:
        task, session, index, is_task = self._from_frame((request.arguments or {}).get("frameId"))
        return {"scopes": self._shift(task, self._vars(task).scopes(index))}

    def variables_request(self, request: wire.Request) -> dict:
        args = request.arguments or {}
        ref = args.get("variablesReference")
        if not isinstance(ref, int) or isinstance(ref, bool) or ref < REFS_PER_TASK:
            raise UserError(f"unknown variables reference {ref!r}")
        k, inner = divmod(ref, REFS_PER_TASK)
        if not 1 <= k <= len(self._keys):
            raise UserError(f"unknown variables reference {ref!r}")
        task = self._keys[k - 1]
        items = self._vars(task).children(inner, args.get("start"), args.get("count"))
        return {"variables": self._shift(task, items)}

    def source_request(self, request: wire.Request) -> dict:
        raise UserError("every file of this Pipeline is on disk: open it by its path")

    def exceptionInfo_request(self, request: wire.Request) -> dict:
        task, session, index = self._from_thread((request.arguments or {}).get("threadId"))
        return failed_step_info(session, index, f"{task}/{session.step(index).name}")

    # ---- evaluate ------------------------------------------------------------------------------

    def evaluate_request(self, request: wire.Request) -> Any:
        args = request.arguments or {}
        expression = args.get("expression")
        if not isinstance(expression, str):
            raise UserError("evaluate needs an expression")
        frame = args.get("frameId")
        if frame is not None:
            task, _, index, _ = self._from_frame(frame)
        else:
            paused = self.pipeline.paused()
            if not paused:
                raise WrongTime("no step is paused to evaluate in",
                                fix="evaluate while a step is paused (a failure or a breakpoint)")
            task, _, index = paused[0]
        variables = self._vars(task)
        if (args.get("context") or "repl") in ("hover", "watch", "clipboard", "variables"):
            return variables.lookup(index, expression)

        def repl() -> None:
            try:
                body = variables.run_command(index, expression)
            except Exception as exc:  # fail() logs what is not the user's error
                self.conn.fail(request, exc)
                return
            self.conn.respond(request, body)

        threading.Thread(target=repl, daemon=True).start()
        return wire.DEFERRED

    # ---- execution control ---------------------------------------------------------------------

    def _paused_step(self, request: wire.Request) -> tuple[str, Session, int]:
        thread = (request.arguments or {}).get("threadId")
        if thread is None:
            paused = self.pipeline.paused()
            if not paused:
                raise WrongTime("no step is paused",
                                fix="wait for a step to fail or hit a breakpoint")
            return paused[0]
        return self._from_thread(thread)

    def continue_request(self, request: wire.Request) -> dict:
        task, session, index = self._paused_step(request)
        session.release(Release.CONTINUE, index)
        return {"allThreadsContinued": False}

    def next_request(self, request: wire.Request) -> dict:
        task, session, index = self._paused_step(request)
        session.step_over(index)
        return {}

    def restartFrame_request(self, request: wire.Request) -> dict:
        """Retry the failed step of this frame as the Pipeline and Task files are now."""
        frame = (request.arguments or {}).get("frameId")
        if not isinstance(frame, int) or frame % 10:
            raise UserError("Restart Frame retries a failed step: use the step's own frame",
                            fix="restart the top frame of a paused step's thread")
        task, session, index = self._from_thread(frame // 10)
        self._start_retry(session, index)
        return {}

    def pause_request(self, request: wire.Request) -> dict:
        for session in list(self.pipeline.sessions.values()):
            if session.finished is None and session.paused is None:
                session.pause_before_next()
        self.conn.send_event("output", {
            "category": "console",
            "output": "A running step cannot be interrupted: each running TaskRun will pause "
                      "before its next step.\n"})
        return {}

    def tekton_failContinue_request(self, request: wire.Request) -> dict:
        task, session, index = self._paused_step(request)
        session.release(Release.FAIL_CONTINUE, index)
        return {"allThreadsContinued": False}

    def tekton_openShell_request(self, request: wire.Request) -> Any:
        task, session, index = self._paused_step(request)
        st = session.step(index)
        argv = session.shell_command(index)
        command = shlex.join(argv)
        if not self.client.get("supportsRunInTerminalRequest"):
            self.conn.send_event("output", {
                "category": "important",
                "output": f"To open a shell in step {task}/{st.name}, run in a terminal:\n"
                          f"  {command}\n"})
            return {"command": command, "args": argv, "terminal": False}

        def done(success: bool, body: Any) -> None:
            if success:
                self.conn.respond(request, {"command": command, "args": argv, "terminal": True})
            else:
                self.conn.fail(request, UserError(
                    f"the editor could not open a terminal ({body}); run this by hand: {command}"))

        self.conn.send_request("runInTerminal", {
            "kind": "integrated", "title": f"tekton: {task}/{st.name}", "cwd": os.getcwd(),
            "args": argv}, done)
        return wire.DEFERRED

    def terminate_request(self, request: wire.Request) -> dict:
        if self.pipeline.attached:
            self.conn.send_event("output", {"category": "console", "output": (
                "Leaving the PipelineRun: its TaskRuns go on as they are\n")})
            threading.Thread(target=self.pipeline.terminate, daemon=True,
                             name="pipeline-leave").start()
            return {}
        graceful = self.pipeline.finished is None and not self.pipeline.cancelling
        self.pipeline.terminate()
        self.conn.send_event("output", {"category": "console", "output": (
            "Stopping the PipelineRun: running tasks are cancelled, finally tasks still run "
            "(Stop again to cancel them too)\n" if graceful else
            "Stopping the PipelineRun and its finally tasks\n")})
        return {}

    def restart_request(self, request: wire.Request) -> dict:
        raise UserError("restart is not available for a PipelineRun yet",
                        fix="stop this debug session and start a new one")

    def attach_request(self, request: wire.Request) -> Any:
        raise WrongTime("attach: this debug session has a PipelineRun already",
                        fix="start a new debug session")

    def disconnect_request(self, request: wire.Request) -> dict:
        self._ended = True
        self._closer = threading.Thread(target=self._close, daemon=True, name="pipeline-close")
        self._closer.start()
        return {}

    def on_disconnect(self) -> None:
        """The connection ended: the run is closed before the adapter may exit (a close begun by
        disconnect is waited for: its directories would be left half removed)."""
        closer = getattr(self, "_closer", None)
        if not self._ended:
            self._ended = True
            self._close()
        elif closer is not None:
            closer.join(60)

    def _close(self) -> None:
        self.pipeline.close()
        if self._server is not None:
            self._server.shutdown()

    # ---- pipeline events -> DAP events ---------------------------------------------------------

    def _on_pipeline_event(self, ev) -> None:
        send = self.conn.send_event
        if isinstance(ev, TaskEvent):
            self._task_event(ev.task, ev.event)
        elif isinstance(ev, TaskStarted):
            session = self.pipeline.sessions.get(ev.task)
            again = f" (retry {ev.attempt})" if ev.attempt else ""
            send("output", {"category": "console", "output": f"task {ev.task}{again}: TaskRun "
                            f"{ev.task_run}{combination(ev.params)}\n"})
            if self._server is not None:
                with self._lock:
                    self._backlog[ev.task] = deque(maxlen=BACKLOG)  # a retry starts afresh
                self._start_child(ev.task, ev.task_run, ev.attempt, dict(ev.params))
            elif session is not None:
                for st in session.steps:
                    send("thread", {"reason": "started", "threadId": self._thread(ev.task,
                                                                                  st.index)})
        elif isinstance(ev, TaskEnded):
            text = f"task {ev.task} {ev.status}"
            text += f": {ev.reason}" if ev.status == "skipped" else \
                f" ({ev.message})" if ev.status != "succeeded" and ev.message else ""
            send("output", {"category": "console", "output": text + "\n"})
        elif isinstance(ev, Notice):
            send("output", {"category": "important" if ev.level == "important" else "console",
                            "output": ("warning: " if ev.level == "warning" else "")
                            + ev.message + "\n"})
        elif isinstance(ev, PipelineRunFinished):
            lines = [f"PipelineRun {self.pipeline.run.name} {ev.reason}: {ev.message}"]
            for s in self.pipeline.rows():
                took = f"{s.duration:.2f}s" if s.duration is not None else "-"
                lines.append(f"  {s.key:<24} {s.status:<10} {took:>8}  {s.reason}"
                             + combination(s.params))
            lines += [f"  result {k}: {shown(v)}" for k, v in ev.results.items()]
            send("output", {"category": "console", "output": "\n".join(lines) + "\n"})
            send("exited", {"exitCode": 0 if ev.succeeded else 1})
            send("terminated")

    def _task_event(self, task: str, ev) -> None:
        session = self.pipeline.sessions.get(task)
        if session is None:
            return
        if self._server is not None:  # child sessions: the TaskRun's own session shows it
            # a log's text as of this event (the session keeps only the latest chunk's)
            log_text = session.steps[ev.index].last_text if isinstance(ev, StepLog) else None
            with self._lock:
                child = self._children.get(task)
                if child is None or child.session is not session:
                    self._backlog.setdefault(task, deque(maxlen=BACKLOG)).append((ev, log_text))
                    return
            child._on_event(ev, log_text)
            return
        send = self.conn.send_event
        if isinstance(ev, StepLog):
            prefix = session.masker.mask(f"[{task}/{session.steps[ev.index].name}] ")
            # the step's output is masked already (session/lines.py): not scanned again
            lines = self._lines.feed((task, ev.index, ev.stream), prefix,
                                     session.steps[ev.index].last_text)
            if lines:
                send("output", {"category": ev.stream, "output": lines}, masked=True)
        elif isinstance(ev, (StepPaused, StepFinished)):
            name = f"{task}/{session.steps[ev.index].name}"
            for stream in ("stdout", "stderr"):
                rest = self._lines.flush((task, ev.index, stream), f"[{name}] ")
                if rest:
                    send("output", {"category": stream, "output": rest})
            if isinstance(ev, StepPaused):
                self._stopped_step(task, session, ev)
            elif ev.outcome.value != "succeeded":
                st = session.steps[ev.index]
                send("output", {"category": "console", "output": f"step {name} {st.label}"
                                + (f": {ev.message}" if ev.outcome.value == "skipped"
                                   and ev.message else "") + "\n"})
        elif isinstance(ev, StepStarted):
            step = session.run.task.steps[ev.index]
            body: dict[str, Any] = {"category": "console", "output":
                                    f"step {task}/{session.steps[ev.index].name}\n"}
            if step.pos and step.pos.file:
                body.update(source={"path": os.path.abspath(step.pos.file),
                                    "name": os.path.basename(step.pos.file)},
                            line=step.pos.line)
            send("output", body)
        elif isinstance(ev, StepRetrying):
            known = self._variables.get(task)
            if known:
                known[1].invalidate()
            send("output", {"category": "console", "output": f"step {task}/"
                            f"{session.steps[ev.index].name}, retry {session.steps[ev.index].retries}"
                            ": running it again as its files define it now\n"})
            send("continued", {"threadId": self._thread(task, ev.index),
                               "allThreadsContinued": False})
        elif isinstance(ev, StepResumed):
            known = self._variables.get(task)
            if known:
                known[1].invalidate()
            send("continued", {"threadId": self._thread(task, ev.index),
                               "allThreadsContinued": False})
        elif isinstance(ev, Notice) and ev.level != "info" and \
                not ev.message.startswith("images are not run locally"):
            send("output", {"category": "console", "output": f"{task}: {ev.message}\n"})
        elif isinstance(ev, RunFinished):
            for st in session.steps:
                send("thread", {"reason": "exited", "threadId": self._thread(task, st.index)})

    def _stopped_step(self, task: str, session: Session, ev: StepPaused) -> None:
        st = session.steps[ev.index]
        known = self._variables.get(task)
        if known:
            known[1].invalidate()
        body: dict[str, Any] = {"threadId": self._thread(task, ev.index),
                                "allThreadsStopped": False}
        if ev.kind is PauseKind.ON_FAILURE:
            body.update(reason="exception",
                        text=f"exit code {ev.exit_code}" if ev.exit_code is not None else "failed",
                        description=f"Step {task}/{st.name} {st.failure}; the other tasks go on")
        else:
            hits = self._hits(task, st.name, ev.index == 0)
            body.update(reason="breakpoint" if hits else "step",
                        description=f"Paused before step {task}/{st.name}")
            if hits:
                body["hitBreakpointIds"] = hits
        self.conn.send_event("stopped", body)


def is_pipeline_launch(arguments: dict) -> bool:
    """The launch configuration names a Pipeline or PipelineRun file."""
    from tekton_debug.tekton.pipeline_loader import is_pipeline_file

    task = arguments.get("task") if isinstance(arguments, dict) else None
    if not isinstance(task, str):
        return False
    cwd = arguments.get("cwd")
    if isinstance(cwd, str) and not os.path.isabs(task):
        task = os.path.join(cwd, task)
    return os.path.isfile(task) and is_pipeline_file(task)



class PipelineTaskAdapter(DebugAdapter):
    """A child debug session (``startDebugging``): one TaskRun of the PipelineRun, served with the
    TaskRun handlers on the session the pipeline runs it in."""

    def __init__(self, connection: wire.Connection, parent: PipelineDebugAdapter) -> None:
        super().__init__(connection)
        self._parent = parent
        self._task: str | None = None

    def attach_request(self, request: wire.Request) -> Any:
        self._require_no_session("attach")
        task = (request.arguments or {}).get("pipelineTask")
        if not isinstance(task, str):
            raise UserError('attach: "pipelineTask" names the pipeline task to show',
                            fix="start this session from the PipelineRun's session")
        self._task = task
        self._adopt(self._parent.pipeline.session_of(task))
        self._apply_breakpoints()
        return self._begin_when_configured(request)

    def launch_request(self, request: wire.Request) -> Any:
        raise WrongTime("launch: this session shows a TaskRun of a PipelineRun",
                        fix="launch the Pipeline from a new debug session")

    def _begin(self) -> dict:
        with self._lock:
            if self._started:
                return {}
            self._started = True
        assert self._task is not None
        self._parent.attach_child(self._task, self)
        return {}

    def _apply_breakpoints(self) -> None:
        super()._apply_breakpoints()
        session, task = self.session, self._task
        if session is not None and task is not None:  # and the pipeline's (before this task)
            st = self._parent.pipeline.units.get(task)
            if st is not None:
                session.plan.before_steps |= self._parent.pipeline.plan.steps_for(st.task)

    def restart_request(self, request: wire.Request) -> dict:
        raise UserError("restart is not available for one TaskRun of a PipelineRun",
                        fix="stop the PipelineRun's session and start it again")

    def disconnect_request(self, request: wire.Request) -> dict:
        """Leaving the child session leaves the TaskRun to the PipelineRun (its own Stop ends
        it)."""
        self._ended = True
        if self._task is not None:
            self._parent.detach_child(self._task, self)
        return {}

    def on_disconnect(self) -> None:
        self._ended = True
        if self._task is not None:
            self._parent.detach_child(self._task, self)
