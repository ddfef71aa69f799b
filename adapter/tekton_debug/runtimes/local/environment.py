"""What a step is on this host: its command, environment and working directory.

- ``script:`` is written to ``<tekton>/scripts/script-<i>-<suffix>`` and run as the command (with
  ``args``), as Tekton does; a script without a shebang gets ``#!/bin/sh\\nset -e\\n`` first.
- The environment is the host's (PATH, LANG, TERM... pass through), then ``HOME=<tekton>/home``,
  then the step's ``env`` in order, with Kubernetes' ``$(VAR)`` expansion (a reference to a variable
  declared earlier in ``env``; ``$$`` for a literal ``$``), then the debug scripts' directory
  appended to PATH and ``TEKTON_DEBUG_INFO_DIR``. ``command`` and ``args`` get the same expansion
  against the whole declared ``env``.
- ``valueFrom.secretKeyRef {name: N, key: K}`` reads the host variable
  ``TEKTON_DEBUG_SECRET_<N>_<K>`` and ``configMapKeyRef`` ``TEKTON_DEBUG_CONFIGMAP_<N>_<K>``
  (upper case, every character other than A-Z and 0-9 turned into ``_``). Those host variables
  themselves are not passed through: a step gets only the values it references, under the names
  it gives them, as on a cluster. When that is not set,
  the variable is left unset and a notice says which host variable to export. ``fieldRef``
  ``metadata.name`` / ``metadata.namespace`` give the pod's name / the namespace; other
  ``valueFrom`` and ``envFrom`` sources are left out with a notice.
- ``workingDir``: relative paths and paths under ``/workspace`` map into the run's workspace root
  (a bound workspace to its host directory); default: the workspace root.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from tekton_debug.entrypoint.layout import DEBUG_INFO_ENV, RunLayout
from tekton_debug.errors import UserError
from tekton_debug.tekton.model import EnvVar, Step

SCRIPT_PREAMBLE = "#!/bin/sh\nset -e\n"
_HARDCODED = re.compile(r"(?<![\w$./-])/(workspace|tekton)(?=/|\b)")


@dataclass
class LocalStep:
    """Step i, ready to run here."""

    index: int
    step: Step  # substituted
    argv: list[str]
    env: dict[str, str]
    secret_env: frozenset[str]
    working_dir: str
    notices: list[str] = field(default_factory=list)


SECRET_PREFIX = "TEKTON_DEBUG_SECRET_"
CONFIGMAP_PREFIX = "TEKTON_DEBUG_CONFIGMAP_"


def passed_through(host_env: Mapping[str, str]) -> dict[str, str]:
    """The host variables every step inherits: all but the stand-ins for Secrets and ConfigMaps
    (a step gets those only through ``valueFrom``, as a pod does)."""
    return {k: v for k, v in host_env.items()
            if not k.startswith((SECRET_PREFIX, CONFIGMAP_PREFIX))}


def host_secret_values(host_env: Mapping[str, str]) -> frozenset[str]:
    """The values of every ``TEKTON_DEBUG_SECRET_*`` host variable: masked wherever they show,
    whether a step references them or not."""
    return frozenset(v for k, v in host_env.items() if k.startswith(SECRET_PREFIX) and v)


def env_name(kind: str, name: str, key: str) -> str:
    """``TEKTON_DEBUG_SECRET_<NAME>_<KEY>`` for kind "SECRET" (or "CONFIGMAP")."""
    def clean(s: str) -> str:
        return re.sub(r"[^A-Z0-9]", "_", s.upper())
    return f"TEKTON_DEBUG_{kind}_{clean(name)}_{clean(key)}"


def expand(text: str, mapping: Mapping[str, str]) -> str:
    """Kubernetes' expansion of ``$(VAR)`` in env values, command and args."""
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "$" and i + 1 < n:
            nxt = text[i + 1]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "(":
                j = text.find(")", i + 2)
                if j != -1:
                    name = text[i + 2:j]
                    out.append(mapping[name] if name in mapping else text[i:j + 1])
                    i = j + 1
                    continue
        out.append(c)
        i += 1
    return "".join(out)


def host_path(path: str, layout: RunLayout, workspaces: Mapping[str, str]) -> str:
    """Where a path a step names lives on this host (``/workspace/...`` has no mount here)."""
    if not path:
        return str(layout.workspace_root)
    if not os.path.isabs(path):
        return str(layout.workspace_root / path)
    parts = Path(path).parts
    if len(parts) >= 2 and parts[1] == "workspace":
        rest = parts[2:]
        if rest and rest[0] in workspaces:
            return str(Path(workspaces[rest[0]], *rest[1:]))
        return str(layout.workspace_root.joinpath(*rest))
    return path


def write_step_script(step: Step, layout: RunLayout, *, tekton_shown: str | None = None
                      ) -> list[str]:
    """The step's argv before ``$(VAR)`` expansion. A ``script:`` is written to the run's scripts
    directory first; ``tekton_shown`` is where the step sees ``<tekton>`` (``/tekton`` in a
    container; default: the host path). Raises UserError for a step with neither."""
    i = step.index
    if step.script:
        text = step.script
        if text.strip().startswith("#!"):
            text = text.lstrip()
        else:
            text = SCRIPT_PREAMBLE + text
        script = layout.scripts_dir / f"script-{i}-{secrets.token_hex(3)[:5]}"
        script.write_text(text)
        os.chmod(script, 0o755)
        shown = str(script) if tekton_shown is None else \
            f"{tekton_shown.rstrip('/')}/scripts/{script.name}"
        return [shown] + list(step.args)
    if step.command:
        return list(step.command) + list(step.args)
    raise UserError(
        f"step {step.debug_name!r} has neither command nor script: on a cluster it runs its "
        f"image's entrypoint, which tekton-debug cannot know",
        file=step.pos.file if step.pos else None, line=step.pos.line if step.pos else None,
        fix="add `command:` (or `script:`) to the step, or run it with the kubernetes runtime")


def declared_env(step: Step, *, host_env: Mapping[str, str], notices: list[str], pod_name: str,
                 namespace: str) -> tuple[dict[str, str], frozenset[str], list[str]]:
    """The step's own ``env``, in order, with ``$(VAR)`` expansion and ``valueFrom`` read as the
    module says: (name -> value of the variables that have one, names from secrets, names left
    unset). Notices about what has no value here are appended to ``notices``."""
    declared: dict[str, str] = {}
    secret_env: set[str] = set()
    unset: list[str] = []
    for e in step.env:
        value = _env_value(e, declared, host_env, notices, step, pod_name, namespace)
        if e.secret:
            secret_env.add(e.name)
        if value is None:
            declared.pop(e.name, None)
            unset.append(e.name)
            continue
        declared[e.name] = value
    for source in step.env_from:
        kind = next(iter(source), "?")
        notices.append(f"step {step.debug_name!r}: envFrom {kind} is not read locally; set the "
                       f"variables it holds with env: instead")
    return declared, frozenset(secret_env), unset


def prepare_step(step: Step, layout: RunLayout, *, host_env: Mapping[str, str],
                 workspaces: Mapping[str, str], pod_name: str, namespace: str) -> LocalStep:
    """Write step ``step``'s script (if any) and work out how it runs here. Raises UserError."""
    i = step.index
    notices: list[str] = []
    file = step.pos.file if step.pos else None
    line = step.pos.line if step.pos else None
    argv_raw = write_step_script(step, layout)
    declared, secret_env, unset = declared_env(step, host_env=host_env, notices=notices,
                                               pod_name=pod_name, namespace=namespace)
    env: dict[str, str] = passed_through(host_env)
    env["HOME"] = str(layout.home)
    for name in unset:
        env.pop(name, None)
    env.update(declared)
    path = env.get("PATH") or os.defpath
    env["PATH"] = path + os.pathsep + str(layout.debug_scripts_dir)
    env[DEBUG_INFO_ENV] = str(layout.step_info_dir(i))

    argv = [expand(a, declared) for a in argv_raw]
    working_dir = host_path(step.working_dir or "", layout, workspaces)
    refuse_nul(step, argv, env, working_dir)
    try:
        os.makedirs(working_dir, exist_ok=True)
    except OSError as e:
        raise UserError(f"step {step.debug_name!r}: cannot create its workingDir {working_dir}: "
                        f"{e.strerror or e}", file=file, line=line,
                        fix="use a directory under $(workspaces.<name>.path) or a relative path"
                        ) from None
    for text in [step.script or "", *step.command, *step.args]:
        m = _HARDCODED.search(text)
        if m:
            notices.append(
                f"step {step.debug_name!r} names /{m.group(1)} directly; locally there is no such "
                f"mount: it lives under {layout.root}. Use $(workspaces.<name>.path) or "
                f"$(results.<name>.path) to run the same everywhere")
            break
    return LocalStep(i, step, argv, env, secret_env, working_dir, notices)


def refuse_nul(step: Step, argv: list[str], env: Mapping[str, str], working_dir: str,
               script: str = "") -> None:
    """A NUL byte cannot stand in a process's arguments, environment or directory (C strings end
    there): say where it is instead of failing to start the step. Values are not shown (they may
    be secret). ``script`` is the step's script when it travels in an argument (a container
    retry's ``exec``)."""
    file = step.pos.file if step.pos else None
    where = None
    line = step.pos.line if step.pos else None
    for e in step.env:
        if "\0" in (env.get(e.name) or "") or "\0" in e.name:
            where = f"env {e.name!r}"
            line = e.pos.line if e.pos else line
            break
    else:
        if any("\0" in a for a in argv):
            where = "its command or args"
        elif "\0" in script:
            where = "its script"
        elif "\0" in working_dir:
            where = "its workingDir"
        elif any("\0" in k or "\0" in v for k, v in env.items()):
            where = "the environment it inherits from this host"
    if where:
        raise UserError(f"step {step.debug_name!r}: {where} contains a NUL byte (\\0), which "
                        f"no process can be given", file=file, line=line,
                        fix="remove the NUL byte; if a param's value brings it, pass that value "
                            "without \\0")


def _env_value(e: EnvVar, declared: Mapping[str, str], host_env: Mapping[str, str],
               notices: list[str], step: Step, pod_name: str, namespace: str) -> str | None:
    if e.value_from is None:
        return expand(e.value or "", declared)
    vf = e.value_from
    where = f"step {step.debug_name!r}: env {e.name}"
    for kind, ref_key in (("SECRET", "secretKeyRef"), ("CONFIGMAP", "configMapKeyRef")):
        ref = vf.get(ref_key)
        if isinstance(ref, dict):
            var = env_name(kind, str(ref.get("name", "")), str(ref.get("key", "")))
            if var in host_env:
                return host_env[var]
            if not ref.get("optional"):
                notices.append(f"{where} comes from {ref_key} {ref.get('name')}/{ref.get('key')}"
                               f", which the local runtime reads from the variable {var}: it is "
                               f"not set, so {e.name} is unset (export {var}=... to set it)")
            return None
    field_ref = vf.get("fieldRef")
    if isinstance(field_ref, dict):
        path = field_ref.get("fieldPath")
        if path == "metadata.name":
            return pod_name
        if path == "metadata.namespace":
            return namespace
    notices.append(f"{where}: valueFrom {', '.join(vf)} has no value locally; it is unset")
    return None
