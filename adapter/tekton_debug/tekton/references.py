"""Remote references (``taskRef.resolver``, a step's ``ref.resolver``) as ``resolution`` asks them.

Tekton substitutes the resolver params before it resolves: ``$(params.x)`` from the TaskRun's own
params (not the Task's defaults: the Task is not known yet), ``$(context.taskRun.name)`` and
friends (``pkg/reconciler/taskrun/resources/taskref.go``). The same is done here, so that
``pathInRepo: $(params.task-path)`` fetches what the cluster would fetch.

A step's ``ref`` with a resolver (a StepAction) is asked the same way:
``resolver.resolve(remote_reference(doc, path, ref, values, kind="StepAction",
where=f"steps[{i}].ref"))``.
"""

from __future__ import annotations

from typing import Mapping

from tekton_debug.resolution.reference import Reference
from tekton_debug.tekton.model import yaml_text
from tekton_debug.tekton.variables import references, sole_reference
from tekton_debug.tekton.yamlpos import Path, YamlDoc


def is_remote(ref: object) -> bool:
    """A ``taskRef``/``ref`` that names a resolver."""
    return isinstance(ref, dict) and bool(ref.get("resolver"))


def remote_reference(doc: YamlDoc, path: Path, ref: dict, values: Mapping[str, object], *,
                     kind: str = "Task", where: str = "taskRef",
                     context: Mapping[str, str] | None = None) -> Reference:
    """The Reference of ``ref`` (at ``path`` in ``doc``), its params substituted from ``values``
    (the run's params) and ``context`` (``context.taskRun.name`` -> value ...)."""
    raw: dict[str, object] = {}
    for p in ref.get("params") or []:
        if isinstance(p, dict) and isinstance(p.get("name"), str):
            v = p.get("value")
            raw[p["name"]] = v if isinstance(v, (list, dict)) else yaml_text(v)
    span = doc.nearest(path + ("resolver",), key=True) or doc.nearest(path)
    meta = doc.data.get("metadata") if isinstance(doc.data, dict) else None
    namespace = meta.get("namespace") if isinstance(meta, dict) else None
    return Reference(resolver=yaml_text(ref.get("resolver")),
                     params=substitute_params(raw, values, context), kind=kind, where=where,
                     file=doc.file, line=span.line if span else None,
                     column=span.column if span else None,
                     namespace=namespace if isinstance(namespace, str) else None)


def substitute_params(params: Mapping[str, object], values: Mapping[str, object],
                      context: Mapping[str, str] | None = None) -> dict[str, object]:
    """Resolver params with the run's ``$(params.x)`` (string, ``x[i]``, ``x.key``, a whole
    array as a whole value) and ``context`` variables replaced; unknown ones left as written."""
    strings: dict[str, str] = dict(context or {})
    arrays: dict[str, list[str]] = {}
    for name, value in values.items():
        if isinstance(value, list):
            arrays[f"params.{name}"] = [yaml_text(v) for v in value]
            for i, v in enumerate(value):
                strings[f"params.{name}[{i}]"] = yaml_text(v)
        elif isinstance(value, dict):
            for k, v in value.items():
                strings[f"params.{name}.{k}"] = yaml_text(v)
        else:
            strings[f"params.{name}"] = yaml_text(value)

    def one(text: str) -> object:
        sole = sole_reference(text)
        whole = sole.name.removesuffix("[*]") if sole is not None else None
        if whole in arrays:
            return list(arrays[whole])
        out, last = [], 0
        for r in references(text):
            if r.name in strings:
                out.append(text[last:r.start] + strings[r.name])
                last = r.end
        return "".join(out) + text[last:]

    result: dict[str, object] = {}
    for name, value in params.items():
        if isinstance(value, str):
            result[name] = one(value)
        elif isinstance(value, list):
            result[name] = [one(v) if isinstance(v, str) else v for v in value]
        elif isinstance(value, dict):
            result[name] = {k: one(v) if isinstance(v, str) else v for k, v in value.items()}
        else:
            result[name] = value
    return result
