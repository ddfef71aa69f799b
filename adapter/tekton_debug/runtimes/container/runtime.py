"""The container runtime: each step in its own image, on podman or docker, with Tekton's pod
semantics and the failed step's container kept alive for the shell.

The step lifecycle is the local runtime's (``entrypoint/lifecycle.py`` in this process, Tekton's
files under a run directory); only where a step runs changes. The run directory's ``tekton/`` is
every step container's ``/tekton``, its ``workspace/`` the shared ``/workspace`` (a workspace bound
with ``-w name=DIR`` is that directory), and each step gets its own ``/tekton/debug/info/<i>``
as on a cluster. Into ``/tekton/bin`` go a static shell (busybox), so that the debug scripts and
the shell work in images that have none, and the script that runs the step's command
(``step.py``). The debug scripts are Tekton's, naming ``/tekton`` paths; ``release`` runs them in
the step's container, exactly as a user in the shell does.

Containers are started one step ahead (step i+1's while step i runs), as Tekton starts all of a
pod's at once; step i+1 runs its command when the lifecycle says so. When a step pauses, a shell is
opened in its container at once; ``release`` runs the debug script there. Everything is named
``td-<run>-<container>`` and labelled with the run and its owning process; a watchdog removes it
all if this process is killed, and the next run removes what a killed run left.
"""

from __future__ import annotations

import os
import secrets
import threading
from pathlib import Path
from typing import Mapping, Sequence

from tekton_debug.entrypoint import scripts as debug_scripts
from tekton_debug.entrypoint.layout import RunLayout
from tekton_debug.errors import RuntimeUnavailable, UserError, WrongTime
from tekton_debug.events import (ExecResult, Notice, Progress, Release, StepEnvironment,
                                 StepLog)
from tekton_debug.options import LaunchOptions
from tekton_debug.python.container import ContainerPython
from tekton_debug.python.debugger import PythonDebugger
from tekton_debug.python.host import Launch, python_steps
from tekton_debug.runtimes import SharedStart
from tekton_debug.runtimes.container import resources
from tekton_debug.runtimes.container.engine import (
    OWNER_LABEL, RUN_LABEL, TASKRUN_LABEL, Engine, ImageInfo, Watchdog, find_engine,
    process_identity, pull_once, sweep_once,
)
from tekton_debug.runtimes.container.shell import StaticShell, find_static_shell
from tekton_debug.runtimes.container.step import (TOKEN, WRAPPER, ControlShell, StepContainer,
                                                  wrapper_args)
from tekton_debug.runtimes.local.environment import (LocalStep, declared_env, expand, refuse_nul,
                                                     write_step_script)
from tekton_debug.runtimes.local.process import StepProcess, run_captured
from tekton_debug.runtimes.local.runtime import (_SCRIPTS, RELEASE_ACK_TIMEOUT, LocalRuntime,
                                                 _StepState)
from tekton_debug.tekton.model import Step, TaskRun

TEKTON = "/tekton"
SCRIPTS_SHOWN = f"{TEKTON}/debug/scripts"
STATIC_SHELL = f"{TEKTON}/bin/sh"
PYTHON_DIR = f"{TEKTON}/python"  # debugpy (mounted) and the sockets back to the adapter
TOOLS = f"{TEKTON}/bin/tools"  # the static shell's applets, on PATH only for images with no shell
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READY_FOR_EXEC = 120.0  # seconds exec and shells wait for a step's container to be up
PROBE_TIMEOUT = 30.0  # seconds a retry's look for its Python in its container may take

# A shell in the step: the image's own /bin/sh, or the static one when the image has none.
PICK_SHELL = ('if [ -x /bin/sh ]; then exec /bin/sh "$@"; fi\n'
              'echo "tekton-debug: this image has no shell; this one is busybox, mounted at '
              f'{STATIC_SHELL} (a real Tekton pod has none)" >&2\n'
              f'export PATH="$PATH:{TOOLS}"\n'
              f'exec {STATIC_SHELL} "$@"')


class ImageUnavailable(UserError):
    """A step's image is not here and cannot be pulled."""


class ContainerRuntime(LocalRuntime):
    """Runs one TaskRun's steps in their images. Implements ``runtimes.base.Runtime``."""

    name = "container"

    def __init__(self, options: LaunchOptions | None = None, *, engine: Engine | None = None,
                 run_root: Path | str | None = None, keep_run_dir: bool = False,
                 host_env: Mapping[str, str] | None = None,
                 shared: SharedStart | None = None) -> None:
        """``shared``: the engine, the static shell and the images, found out once for the runs
        started together (and where their run directories go, unless ``run_root``)."""
        options = options or LaunchOptions()
        self._shared = shared or SharedStart()
        super().__init__(run_root or self._shared.run_root, workspaces=options.workspaces,
                         params=options.params, keep_run_dir=keep_run_dir, host_env=host_env)
        self._engine_name = getattr(options, "engine", None)
        self.network = getattr(options, "network", None)
        self.engine = engine
        self.run_id = secrets.token_hex(4)
        self.owner = process_identity(os.getpid()) or str(os.getpid())
        self.shell: StaticShell | None = None
        self.images: dict[str, ImageInfo] = {}
        self._run_args: list[list[str]] = []
        self._containers: dict[int, StepContainer] = {}
        self._container_lock = threading.Lock()
        self._watchdog: Watchdog | None = None
        self._swept: list[str] = []
        self._control: dict[int, ControlShell] = {}  # paused step -> a shell open in it
        self._sidecar_names: list[str] = []
        self._sidecar_logs: list = []
        self._env_by_name: dict[int, dict[str, str]] = {}  # values a line-based env file cannot hold
        self._bound: list[tuple[str, str]] = []  # (host directory, path in the containers)
        self._with_debugpy: set[int] = set()  # steps whose containers have debugpy mounted
        self._retries = 0

    @classmethod
    def from_options(cls, options: LaunchOptions) -> "ContainerRuntime":
        return cls(options)

    def container_name(self, index: int) -> str:
        assert self._run is not None
        return f"td-{self.run_id}-{self._run.task.steps[index].container}"[:250]

    # ---- start -------------------------------------------------------------------------------
    def check(self) -> None:
        """Find the engine and the static shell; raises RuntimeUnavailable."""
        if self.engine is None:
            self.engine = self._shared.once(("engine", self._engine_name),
                                            lambda: find_engine(self._engine_name))
        if self.shell is None:
            self.shell = self._shared.once("static shell", find_static_shell)

    def start(self, run: TaskRun, plan, listener) -> None:
        self.check()
        assert self.engine is not None
        self._listener = listener  # pulls report progress before the run's events flow
        self._swept = sweep_once(self.engine)
        # the images first: when one cannot be had (auto then runs the steps on this host),
        # no run directory has been made and removed for nothing
        self._check_images(run)
        super().start(run, plan, listener)

    def _prepare(self, run: TaskRun, steps) -> list[tuple[str, str]]:
        from tekton_debug.tekton.substitution import substitute_step, substitution_context

        assert self.run_dir is not None and self.engine is not None and self.shell is not None
        notices: list[tuple[str, str]] = []
        if self._swept:
            notices.append((f"removed {len(self._swept)} container(s) that an earlier run, ended "
                            f"before it could clean up, had left: {', '.join(self._swept)}",
                            "warning"))
        self._watchdog = Watchdog(self.engine)
        if not self._keep:
            self._watchdog.add_dir(str(self.run_dir))
        layout = self.layout = RunLayout(self.run_dir, len(steps))
        layout.create([s.container for s in steps])
        self.shell.install(layout.tekton / "bin", tools=layout.tekton / "bin" / "tools")
        debug_scripts.write_debug_scripts(layout.debug_scripts_dir, tekton_root=TEKTON,
                                          step_count=len(steps), shell=STATIC_SHELL)
        wrapper = layout.tekton / "bin" / "step"
        wrapper.write_text(WRAPPER)
        os.chmod(wrapper, 0o755)

        mounts: list[tuple[str, str, bool]] = [(str(layout.workspace_root), "/workspace", False)]
        for w in run.task.workspaces:
            if w.name in self._workspace_bindings:
                host = os.path.abspath(self._workspace_bindings[w.name])
            else:
                host = str(layout.workspace(w.name))
                os.makedirs(host, exist_ok=True)
            self.workspaces[w.name] = w.path
            if w.path != f"/workspace/{w.name}" or w.name in self._workspace_bindings:
                mounts.append((host, w.path, w.read_only))

        namespace = run.namespace or "default"
        ctx = substitution_context(run, self.params, results_dir=f"{TEKTON}/results",
                                   workspaces=self.workspaces, task_run_name=run.name,
                                   namespace=namespace, uid=self._uid,
                                   steps_dir=f"{TEKTON}/steps")
        python = python_steps(run, steps, self.run_dir, ctx, kind=ContainerPython)
        self._bound = [(host, inside) for host, inside, _ro in mounts]
        if isinstance(python, ContainerPython):
            python.place(layout.tekton / "python", PYTHON_DIR, self._bound)
            python.probed = self._probed
        self._python = python
        _open_up(layout.root)
        self._steps = []
        self._run_args = []
        self._with_debugpy = set()
        self._retries = 0
        for step in steps:
            step = substitute_step(step, ctx)
            local, args = self._step_spec(step, layout, run, mounts, namespace)
            notices += [(n, "warning") for n in local.notices]
            self._steps.append(_StepState(local))
            self._run_args.append(args)
        self._start_sidecars(run, layout, mounts, ctx)
        if self._sidecar_names:
            notices.append((f"sidecars started: {', '.join(self._sidecar_names)} (their logs "
                            f"are shown as [sidecar NAME] lines; the steps share their network)",
                            "info"))
        self._first_container()
        return notices

    @staticmethod
    def _sidecars(run: TaskRun) -> list[dict]:
        return [sc for sc in run.task.sidecars if isinstance(sc, dict)]

    def _start_sidecars(self, run: TaskRun, layout: RunLayout, mounts, ctx) -> None:
        """Each sidecar in its image, started before the steps, in the network the steps join
        (a pod's ``localhost``); its logs followed as lines of their own; removed at the end."""
        from tekton_debug.tekton.substitution import substitute

        assert self.engine is not None
        first: str | None = None
        for n, sc in enumerate(self._sidecars(run)):
            name = f"td-{self.run_id}-sidecar-{sc.get('name') or n}"
            args = ["run", "-d", "--rm", "--name", name, "--label", f"{RUN_LABEL}={self.run_id}",
                    "--label", f"{OWNER_LABEL}={self.owner}", "--pull", "never",
                    "-v", f"{layout.tekton}:{TEKTON}"]
            for host, inside, ro in mounts:
                args += ["-v", f"{host}:{inside}" + (":ro" if ro else "")]
            for e in sc.get("env") or []:
                if isinstance(e, dict) and e.get("name") and "value" in e:
                    args += ["-e", f"{e['name']}={substitute(str(e['value']), ctx)}"]
            if sc.get("workingDir"):
                args += ["-w", substitute(str(sc["workingDir"]), ctx)]
            if first is not None:
                args += ["--network", f"container:{first}"]
            elif self.network:
                args += ["--network", self.network]
            command = [substitute(str(a), ctx) for a in sc.get("command") or []]
            rest = [substitute(str(a), ctx) for a in sc.get("args") or []]
            if sc.get("script"):
                script = layout.scripts_dir / f"sidecar-{n}"
                text = substitute(str(sc["script"]), ctx) or ""
                script.write_text(text if text.lstrip().startswith("#!") else
                                  "#!/bin/sh\nset -e\n" + text)
                os.chmod(script, 0o755)
                command = [f"{TEKTON}/scripts/{script.name}"]
            if command:
                args += ["--entrypoint", command[0]]
            args += [self.images[str(sc.get("image"))].id or str(sc.get("image")),
                     *command[1:], *rest]
            if self._watchdog is not None:
                self._watchdog.add_container(name)
            res = self.engine.run(*args, timeout=120)
            if res.returncode != 0:
                raise UserError(f"sidecar {sc.get('name')!r} did not start: "
                                f"{res.stderr.decode(errors='replace').strip()}",
                                file=run.task.pos.file if run.task.pos else None,
                                fix="check its image and command")
            self._sidecar_names.append(name)
            first = first or name
            self._follow_sidecar(name, str(sc.get("name") or n))
        if first is not None:
            for args in self._run_args:
                if "--network" in args:
                    at = args.index("--network")
                    del args[at:at + 2]
                at = args.index("--pull")
                args[at:at] = ["--network", f"container:{first}"]

    def _follow_sidecar(self, container: str, name: str) -> None:
        import subprocess

        assert self.engine is not None
        proc = subprocess.Popen(self.engine.argv("logs", "-f", container),
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        self._sidecar_logs.append(proc)

        def relay() -> None:
            assert proc.stdout is not None
            for raw in proc.stdout:
                self._emit(Notice(f"[sidecar {name}] "
                                  f"{raw.decode(errors='replace').rstrip()}", "info"))

        threading.Thread(target=relay, name=f"{container}-logs", daemon=True).start()

    def _first_container(self) -> None:
        """Start step 0's container now: an engine that answers but cannot run containers (a
        runtime it lacks, limits it may not set) is an error before any step, not a failed step."""
        c = self._launch(0)
        if not c.wait_ready():
            assert self.engine is not None
            raise RuntimeUnavailable(
                f"{self.engine.name} cannot start the steps' containers: {c.failure()}",
                fix=f"check that `{self.engine.name} run --rm {self._steps[0].local.step.image} "
                    "true` works here (see the engine's own configuration, containers.conf for "
                    "podman); or run the steps on this host with --runtime local")

    def _check_images(self, run: TaskRun) -> None:
        """Every step's image is here, or pulled now; else an error naming the steps."""
        assert self.engine is not None
        wanted: dict[str, list[Step]] = {}
        for step in run.task.steps:
            if not step.image:
                raise UserError(f"step {step.debug_name!r} has no image",
                                file=step.pos.file if step.pos else None,
                                line=step.pos.line if step.pos else None,
                                fix="add `image:` to the step (or to the Task's stepTemplate)")
            wanted.setdefault(step.image, []).append(step)
        for sc in self._sidecars(run):
            if sc.get("image"):
                wanted.setdefault(str(sc["image"]), []).append(
                    Step(-1, f"sidecar {sc.get('name')}", pos=run.task.pos))
        for ref, users in wanted.items():
            policy = frozenset(str(s.raw.get("imagePullPolicy") or "") for s in users)
            found = self._shared.once(("image", self.engine.name, ref, policy),
                                      lambda: self._find_image(ref, policy))
            if isinstance(found, tuple):  # (why, fix): not here, and not pulled
                raise self._image_error(ref, users, *found)
            self.images[ref] = found

    def _find_image(self, ref: str, policy: frozenset[str]) -> ImageInfo | tuple[str, str]:
        """The image ``ref`` as here or pulled now under ``policy``, else (why, fix)."""
        assert self.engine is not None
        info = None if "Always" in policy else self.engine.image(ref)
        if info is None and "Never" in policy and "Always" not in policy:
            return ("it is not here and imagePullPolicy is Never",
                    f"{self.engine.name} pull {ref}, or build it")
        if info is None:
            error = self._pull(ref)
            info = self.engine.image(ref) if error is None else None
            if info is None:
                return (f"{self.engine.name} could not pull it: "
                        f"{error or 'the image is still missing after the pull'}",
                        f"check the name and your registry access ({self.engine.name} pull "
                        f"{ref}), or build or load it locally ({self.engine.name} load / build)")
        return info

    def _pull(self, ref: str) -> str | None:
        assert self.engine is not None
        listener = self._listener

        def tell(event) -> None:
            if listener is not None:
                try:
                    listener(event)
                except Exception:  # pragma: no cover - a front end's bug
                    pass

        tell(Progress(f"pulling image {ref}"))
        error = pull_once(self.engine, ref,
                          lambda line: tell(Progress(f"pulling {ref}: {line}")))
        tell(Progress(f"pulled {ref}" if error is None else f"pulling {ref} failed", done=True))
        return error

    @staticmethod
    def _image_error(ref: str, users: list[Step], why: str, fix: str) -> ImageUnavailable:
        first = users[0]
        names = ", ".join(repr(s.debug_name) for s in users)
        return ImageUnavailable(f"image {ref} of step {names}: {why}",
                                file=first.pos.file if first.pos else None,
                                line=first.pos.line if first.pos else None, fix=fix)

    def _step_spec(self, step: Step, layout: RunLayout, run: TaskRun,
                   mounts: list[tuple[str, str, bool]], namespace: str
                   ) -> tuple[LocalStep, list[str]]:
        i = step.index
        notices: list[str] = []
        argv_raw = write_step_script(step, layout, tekton_shown=TEKTON)
        declared, secret_env, _unset = declared_env(step, host_env=self._host_env,
                                                    notices=notices, pod_name=f"{run.name}-pod",
                                                    namespace=namespace)
        argv = [expand(a, declared) for a in argv_raw]
        info = self.images[step.image or ""]
        image_env = dict(e.split("=", 1) for e in info.env if "=" in e)
        env = {**image_env, **declared}
        env["PATH"] = (env.get("PATH") or DEFAULT_PATH) + ":" + SCRIPTS_SHOWN
        wd = step.working_dir or ""
        if not wd:
            wd = "/workspace"
        elif not wd.startswith("/"):
            wd = f"/workspace/{wd}"
        local = LocalStep(i, step, argv, env, secret_env, wd, notices)

        env_file = layout.root / "env" / f"{i}.env"
        env_file.parent.mkdir(mode=0o700, exist_ok=True)
        by_name = {k: v for k, v in env.items() if "\n" in v or "\r" in v or "\0" in v}
        lines = [f"{k}={v}" for k, v in env.items() if k not in by_name]
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        self._env_by_name[i] = {k: v.replace("\0", "") for k, v in by_name.items()}

        assert self._run is not None
        args = ["--label", f"{RUN_LABEL}={self.run_id}", "--label", f"{OWNER_LABEL}={self.owner}",
                "--label", f"{TASKRUN_LABEL}={run.name}", "--pull", "never",
                "--entrypoint", STATIC_SHELL, "--env-file", str(env_file),
                "-v", f"{layout.tekton}:{TEKTON}",
                "-v", f"{layout.step_info_dir(i)}:{TEKTON}/debug/info"]
        for host, inside, ro in mounts:
            args += ["-v", f"{host}:{inside}" + (":ro" if ro else "")]
        python = (self._python.container_spec(step, env, secret_env)
                  if isinstance(self._python, ContainerPython) else None)
        for host, inside in self._python.mounts() if python else []:
            args += ["-v", f"{host}:{inside}:ro"]
        if python:
            self._with_debugpy.add(i)
        for name in self._env_by_name[i]:
            args += ["-e", name]
        args += ["-w", wd]
        user = resources.user(step.raw.get("securityContext"))
        if user:
            args += ["--user", user]
        args += resources.limits(step.raw.get("computeResources") or step.raw.get("resources"))
        if self.network:
            args += ["--network", self.network]
        args += [info.id or step.image or "", f"{TEKTON}/bin/step",
                 *wrapper_args(TOKEN, argv, *(python or ()))]
        return local, args

    # ---- containers --------------------------------------------------------------------------
    def _launch(self, i: int, on_output=None) -> StepContainer:
        assert self.engine is not None
        with self._container_lock:
            c = self._containers.get(i)
            if c is not None:
                return c
            name = self.container_name(i)
            if on_output is None:
                def on_output(stream: str, data: bytes, i: int = i) -> None:
                    self._emit(StepLog(i, stream, data))
            c = StepContainer(self.engine, name, self._run_args[i], on_output=on_output)
            self._containers[i] = c
        if self._watchdog is not None:
            self._watchdog.add_container(name)
        c.launch(env=self._client_env(i))
        return c

    def _client_env(self, i: int) -> dict[str, str] | None:
        by_name = self._env_by_name.get(i)
        if not by_name:
            return None
        return {**os.environ, **by_name}

    def _step_runner(self, i: int, st: _StepState, on_output,
                     launch: Launch | None = None) -> StepContainer:
        c = self._launch(i, on_output)
        c.on_output = on_output
        c.debugged = launch is not None and launch.debugger is not None

        if i + 1 < len(self._steps) and not self._plan.halt and self._cancel_reason is None:
            self._launch(i + 1)  # one step ahead: it starts while this one runs
        return c

    def _probed(self, i: int) -> str | None:
        """What the probe printed in step i's container (its Python); None if it did not start."""
        c = self._launch(i)
        return c.probe_output if c.wait_ready() else None

    def _debug_scripts_shown(self) -> str:
        return SCRIPTS_SHOWN

    def _step_dirs(self, i: int, st: _StepState) -> None:
        pass  # the whole layout is made before the first container (each mounts its parts)

    def _debug_view(self, index: int) -> None:
        pass

    def _container(self, index: int) -> StepContainer:
        st = self._state(index)
        if self._closed:
            raise WrongTime("the run is closed")
        c = self._containers.get(index)
        if c is None or not c.wait_ready(READY_FOR_EXEC) or c.gone:
            raise WrongTime(f"step {st.local.step.debug_name!r} has no running container "
                            f"({st.status})", fix="use the paused step, or one that is running")
        return c

    # ---- requests ----------------------------------------------------------------------------
    def step_environment(self, index: int) -> StepEnvironment:
        env = super().step_environment(index)
        st = self._steps[index]
        info = self.images.get(st.local.step.image or "")
        details = {"engine": self.engine.name if self.engine else ""}
        if info is not None:
            details["imageDigest"] = info.digest or info.id
            details["imageId"] = info.id
        c = self._containers.get(index)
        if c is not None:
            details["engineContainer"] = c.name
            if c.has_shell is False:
                details["shell"] = f"{STATIC_SHELL} (the image has none)"
        return StepEnvironment(env=env.env, secret_env=env.secret_env,
                               working_dir=env.working_dir, command=env.command,
                               container=env.container, results_dir=f"{TEKTON}/results",
                               workspaces=env.workspaces, details=details)

    def _exec_argv(self, c: StepContainer, local: LocalStep, argv: Sequence[str], *,
                   interactive: bool, tty: bool, env: Mapping[str, str] | None = None
                   ) -> list[str]:
        assert self.engine is not None
        args = ["exec"]
        if interactive:
            args.append("-it" if tty else "-i")
        args += ["-w", local.working_dir]
        for k, v in (env or {}).items():
            args += ["-e", f"{k}={v}"]
        argv = list(argv)
        if c.has_shell is False:
            path = local.env.get("PATH", DEFAULT_PATH)
            args += ["-e", f"PATH={path}:{TOOLS}"]
            if argv and argv[0] == "sh":
                argv[0] = STATIC_SHELL
        return self.engine.argv(*args, c.name, *argv)

    def exec(self, index: int, argv: Sequence[str], *, stdin: bytes | None = None,
             timeout: float | None = 30.0) -> ExecResult:
        c = self._container(index)
        local = self._state(index).local
        full = self._exec_argv(c, local, argv, interactive=stdin is not None,
                               tty=False)
        try:  # output bounded as on the host: over MAX_EXEC_OUTPUT the exec is stopped
            code, out, err, timed_out, cut = run_captured(
                full, env=os.environ, cwd=os.getcwd(), stdin=stdin, timeout=timeout,
                reaper=self._reaper)
        except OSError as e:
            return ExecResult(127, b"", f"{self.engine.name}: {e.strerror or e}\n".encode())
        if timed_out:
            raise UserError(f"the command did not finish within {timeout:g}s and was stopped",
                            fix="run long commands in a shell (open a shell in the step)")
        return ExecResult(code, out, err, truncated=cut)

    def shell_command(self, index: int) -> list[str]:
        c = self._container(index)
        local = self._state(index).local
        return self._exec_argv(c, local,
                               [STATIC_SHELL, "-c", PICK_SHELL, "sh", "-i"], interactive=True,
                               tty=True, env={"PS1": f"[{local.step.container}] $ "})

    def _paused(self, i: int, kind, code: int | None) -> None:
        super()._paused(i, kind, code)
        c = self._containers.get(i)
        if c is not None and c.wait_ready(0) and not c.gone:
            shell = ControlShell(self._exec_argv(c, self._steps[i].local, [STATIC_SHELL],
                                                 interactive=True, tty=False))
            old = self._control.pop(i, None)
            self._control[i] = shell
            if old is not None:
                old.close()

    def _resumed(self, i: int, kind, how: str) -> None:
        shell = self._control.pop(i, None)
        if shell is not None:
            shell.close()
        super()._resumed(i, kind, how)

    def release(self, index: int, release: Release) -> None:
        """As on a host, but the script runs in a shell opened in the container when the step
        paused (no new ``exec`` to wait for), and a script that has done its work may not see
        its own end: the step goes on as soon as the file is written, and its container ends
        under the ``exec``."""
        st = self._state(index)
        kind = st.paused
        shell = self._control.get(index)
        if kind is not None and shell is not None and not self._released_already(index, kind):
            script = _SCRIPTS[(kind, Release(release))]
            if shell.run(f"{SCRIPTS_SHOWN}/{script}") == 0:
                if not st.resumed.wait(RELEASE_ACK_TIMEOUT):
                    raise UserError(f"step {st.local.step.debug_name!r} did not resume after "
                                    f"{script}", fix="open a shell in the step and run it by hand")
                return
        try:
            super().release(index, release)
        except WrongTime:
            raise
        except UserError:
            if kind is None or not self._released_already(index, kind):
                raise
            self._steps[index].resumed.wait(RELEASE_ACK_TIMEOUT)

    def _retry_process(self, index: int, run: TaskRun, params) -> tuple[StepProcess, LocalStep]:
        """``<engine> exec`` of the edited step in the paused step's own container: its image,
        mounts, working directory and environment; the script travels in the command."""
        from tekton_debug.runtimes.rerun import exec_argv, literal_env
        from tekton_debug.tekton.substitution import substitute_step, substitution_context

        assert self._run is not None
        c = self._container(index)
        paused = self._state(index).local
        ctx = substitution_context(run, params, results_dir=f"{TEKTON}/results",
                                   workspaces=self.workspaces, task_run_name=self._run.name,
                                   namespace=self._run.namespace or "default", uid=self._uid,
                                   steps_dir=f"{TEKTON}/steps")
        step = substitute_step(run.task.steps[index], ctx)
        wd = step.working_dir or paused.working_dir
        if not wd.startswith("/"):
            wd = f"/workspace/{wd}"
        # said before the exec: the engine's argv could not carry it (a ValueError from Popen)
        refuse_nul(step, [*step.command, *step.args], literal_env(step), wd, step.script or "")
        debugged = self._python_retry(c, paused, run, ctx, step, wd)
        argv, debugger = debugged or (
            self._exec_argv(c, paused, exec_argv(step, wd), interactive=False, tty=False), None)
        try:
            local = LocalStep(index, step, argv, dict(os.environ), frozenset(),
                              str(self.run_dir), [])
            process = StepProcess(
                argv, env=local.env, cwd=local.working_dir, reaper=self._reaper,
                on_output=lambda stream, data: self._emit(StepLog(index, stream, data)))
        except BaseException:
            if debugger is not None:
                debugger.close()
            raise
        with self._lock:  # the retry's end clears it under the lock
            self._steps[index].retry_python = debugger
        return process, local

    def _python_retry(self, c: StepContainer, paused: LocalStep, run: TaskRun, ctx, step: Step,
                      wd: str) -> tuple[list[str], PythonDebugger] | None:
        """The ``exec`` argv of a retry of a Python step under its debugger, as its first run
        starts (the launcher, debugpy mounted, the way back through the shared directory), with
        the edited script's lines mapped, and that debugger (the caller closes it if the retry
        does not start); None when it runs plainly (not Python, or no breakpoint or filter needs
        debugpy, or why not is told as for a first run). Its script and files are written only
        once it is sure to run under debugpy."""
        from tekton_debug.runtimes.rerun import literal_env

        assert self.layout is not None
        index = step.index
        python = python_steps(run, [run.task.steps[index]], self.run_dir, ctx,
                              kind=ContainerPython)
        if not isinstance(python, ContainerPython):
            return None
        with self._lock:
            number = self._retries + 1
        python.place(self.layout.tekton / "python", PYTHON_DIR, self._bound,
                     name=f"retry{number}-")
        first = self._python.interpreter(index) if self._python is not None else None
        program = python.interpreter(index)
        declared = literal_env(step)
        python.probed = (self._probed if program == first else
                         lambda i: self._probe_now(c, paused, program[0] if program else "",
                                                   declared))
        env = {**paused.env, **declared}
        secret_env = paused.secret_env - set(declared)
        spec = python.container_spec(step, env, secret_env)
        if spec is None:
            return None
        if index not in self._with_debugpy:
            python.refuse(index, "its container was made while its script was not Python, "
                                 "without debugpy; restart the run to debug it")
        if not python.debugs(step, env, self._plan, self._emit):
            return None
        with self._lock:
            self._retries = number
        argv = [expand(a, declared) for a in write_step_script(step, self.layout,
                                                               tekton_shown=TEKTON)]
        retry = LocalStep(index, step, argv, env, secret_env, wd, [])
        debugger = python.debugged(step, retry.argv, retry.env, self._plan, self._emit).debugger
        assert debugger is not None
        try:
            return (self._exec_argv(c, retry, spec[1], interactive=False, tty=False,
                                    env=declared), debugger)
        except BaseException:
            debugger.close()
            raise

    def _probe_now(self, c: StepContainer, local: LocalStep, program: str,
                   env: Mapping[str, str]) -> str:
        """What ``probe()`` prints for ``program`` in the running container ``c`` (``env`` set
        on top of its own). Raises ProbeFailed when the ``exec`` itself fails."""
        from tekton_debug.python.container import ProbeFailed, probe

        assert self.engine is not None
        engine = self.engine.name
        try:
            code, out, err, timed_out, _cut = run_captured(
                self._exec_argv(c, local, [STATIC_SHELL, "-c", probe(program)],
                                interactive=False, tty=False, env=env),
                env=os.environ, cwd=os.getcwd(), stdin=None, timeout=PROBE_TIMEOUT,
                reaper=self._reaper)
        except OSError as exc:
            raise ProbeFailed(f"{engine} exec could not be run ({exc.strerror or exc})") from None
        except ValueError as exc:  # an argument the system cannot pass (a NUL in a value)
            raise ProbeFailed(f"{engine} exec could not be run ({exc})") from None
        if timed_out:
            raise ProbeFailed(f"{engine} exec did not finish within {PROBE_TIMEOUT:g} s")
        if code == 0:
            return out.decode(errors="replace")
        said = [line for line in err.decode(errors="replace").splitlines() if line.strip()]
        if said:  # the probe prints nothing to stderr: the engine failed
            raise ProbeFailed(f"{engine} exec failed (exit code {code}): {said[-1].strip()}")
        return ""  # not on the step's PATH

    # ---- ending ------------------------------------------------------------------------------
    def _finish(self, run: TaskRun, ends) -> None:
        """The steps are over: the sidecars are stopped (as Tekton does), then the run ends."""
        if self._sidecar_names and self.engine is not None:
            self._remove_step_containers()  # they use the sidecar's network: they go first
            self.engine.remove(self._sidecar_names)
        super()._finish(run, ends)

    def _remove_step_containers(self) -> None:
        with self._container_lock:
            containers = list(self._containers.values())
        alive = [c.name for c in containers if c.proc is not None and c.proc.poll() is None]
        for c in containers:
            with c._cond:
                c._cancelled = True
                c._cond.notify_all()
        if alive and self.engine is not None:
            self.engine.remove(alive)

    def cancel(self, reason: str = "TaskRunCancelled") -> None:
        with self._container_lock:
            waiting = [c for i, c in self._containers.items()
                       if self._steps[i].process is not c]
        for c in waiting:
            c.cancel()
        super().cancel(reason)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
        with self._container_lock:
            containers = list(self._containers.values())
        self._remove_step_containers()
        if self._sidecar_names and self.engine is not None:
            self.engine.remove(self._sidecar_names)
        for shell in list(self._control.values()):
            shell.close()
        super().close()
        for c in containers:
            c.end(wait=True)
        if self.engine is not None and containers:
            # what the engine still lists once every client has ended (a container whose `--rm`
            # the engine had not carried out yet, one created as its client was stopped) goes now:
            # nothing of the run outlives close()
            self.engine.remove(self.engine.containers_of(self.run_id))
        for proc in self._sidecar_logs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        if self._watchdog is not None:
            self._watchdog.close()


def _open_up(root: Path) -> None:
    """Directories a step running as any user can write, as Kubernetes' emptyDir volumes are.
    (``root`` itself stays private to this user: nobody else on the host reaches inside.)"""
    for dirpath, dirnames, _files in os.walk(root):
        for d in dirnames:
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, 0o777)
    os.chmod(root, 0o700)
