"""What Tekton accepts but what fails (or is likely to) when the TaskRun runs: warnings.

- ``$(params.x)`` inside an env's ``valueFrom`` (``secretKeyRef``/``configMapKeyRef`` name or
  key) with no param ``x``: Tekton leaves the text, and the pod waits for a Secret named
  ``$(params.x)`` that does not exist;
- a ``script`` without ``#!`` in an image that has no shell (distroless, static, scratch): Tekton
  runs such a script with ``/bin/sh``;
- an image with neither tag nor digest: whatever ``latest`` is that day.

Works on the YAML as loaded (``yamlpos.YamlDoc``), for Tasks, TaskRuns with an embedded
``taskSpec`` and StepActions.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from tekton_debug.errors import Problem
from tekton_debug.tekton.variables import references
from tekton_debug.tekton.yamlpos import Path, YamlDoc

#: Images known to have no shell (their ``:debug`` variants have busybox).
_NO_SHELL = re.compile(r"(^|/)(distroless/|scratch$|chainguard/static|wolfi-base-static|"
                       r"static-debian)")
_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def _specs(doc: YamlDoc) -> Iterable[tuple[Path, dict, set[str]]]:
    """(path of a spec holding steps, the spec, param names it may use)."""
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("spec"), dict):
        return
    spec, kind = data["spec"], data.get("kind")
    if kind == "StepAction":
        yield ("spec",), {"steps": [spec]}, _param_names(spec)
    elif kind == "Task":
        yield ("spec",), spec, _param_names(spec)
    elif kind == "TaskRun" and isinstance(spec.get("taskSpec"), dict):
        given = {p.get("name") for p in spec.get("params") or [] if isinstance(p, dict)} \
            if isinstance(spec.get("params"), list) else set()
        yield ("spec", "taskSpec"), spec["taskSpec"], _param_names(spec["taskSpec"]) | given


def _param_names(spec: dict) -> set[str]:
    params = spec.get("params")
    return {p.get("name") for p in params if isinstance(p, dict)} \
        if isinstance(params, list) else set()


def lint_document(doc: YamlDoc) -> list[Problem]:
    problems: list[Problem] = []

    def warn(path: Path, message: str, fix: str) -> None:
        span = doc.nearest(path)
        problems.append(Problem(message, doc.file, span.line if span else None,
                                span.column if span else None, fix,
                                span.end_line if span else None,
                                span.end_column if span and span.end_line == span.line
                                else None, "warning"))

    for base, spec, params in _specs(doc):
        steps = spec.get("steps")
        template = spec.get("stepTemplate") if isinstance(spec.get("stepTemplate"), dict) else {}
        step_action = base == ("spec",) and doc.data.get("kind") == "StepAction"
        for i, step in enumerate(steps if isinstance(steps, list) else []):
            if not isinstance(step, dict) or step.get("ref") is not None:
                continue
            spath = base if step_action else base + ("steps", i)
            image = step.get("image") or template.get("image")
            where = spath + ("image",) if step.get("image") else base + ("stepTemplate", "image")
            if isinstance(image, str):
                _image(warn, where, image, step, spath)
            env = step.get("env")
            for j, e in enumerate(env if isinstance(env, list) else []):
                vf = e.get("valueFrom") if isinstance(e, dict) else None
                for source in ("secretKeyRef", "configMapKeyRef"):
                    ref = vf.get(source) if isinstance(vf, dict) else None
                    for field in ("name", "key"):
                        text = ref.get(field) if isinstance(ref, dict) else None
                        for r in references(text) if isinstance(text, str) else ():
                            name = r.name[len("params."):].split(".")[0].split("[")[0] \
                                if r.name.startswith("params.") else None
                            if name is not None and name not in params:
                                warn(spath + ("env", j, "valueFrom", source, field),
                                     f"{r.text} in {source}.{field} names no param: Tekton "
                                     f"leaves the text, and the step waits for a "
                                     f"{'Secret' if source == 'secretKeyRef' else 'ConfigMap'}"
                                     f" of that name", f'declare param "{name}", or fix the name')
    return problems


def _image(warn: Any, where: Path, image: str, step: dict, spath: Path) -> None:
    if "$(" in image:
        return
    last = image.rsplit("/", 1)[-1]
    if not _DIGEST.search(image) and ":" not in last:
        warn(where, f"image {image!r} has neither tag nor digest: it runs whatever `latest` is "
             "that day", f"pin it: {image}:<tag> or {image}@sha256:<digest>")
    script = step.get("script")
    if isinstance(script, str) and script.strip() and not script.lstrip().startswith("#!") \
            and _NO_SHELL.search(image.split("@")[0].split(":")[0] if ":" in last or "@" in image
                                 else image) and ":debug" not in image:
        warn(spath + ("script",), f"the script has no #! line, so Tekton runs it with /bin/sh, "
             f"which image {image!r} does not have",
             "start the script with the interpreter the image has (e.g. #!/usr/bin/python3), or "
             "use an image with a shell")
