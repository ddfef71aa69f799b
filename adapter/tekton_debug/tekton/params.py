"""The value of every param of a run: the TaskRun's, then the user's overrides, then defaults.

Overrides come from the CLI (``-p name=value``, always strings: arrays as a JSON list or
comma-separated, objects as JSON or ``k=v,k2=v2``) or from a DAP launch configuration (real JSON
values). Every param ends up a string, a list of strings or a dict of strings, as in Tekton.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from tekton_debug.errors import UserError
from tekton_debug.tekton.model import ParamSpec, ParamValue, TaskRun, param_value, yaml_text


def resolve_params(run: TaskRun, overrides: Mapping[str, object] | None = None
                   ) -> dict[str, ParamValue]:
    """Every param's value, in the Task's declaration order (then propagated TaskRun params)."""
    specs = {p.name: p for p in run.task.params}
    file = run.source.file if run.source else None
    given: dict[str, Any] = {}
    for name, value in run.params.items():
        given[name] = (value, "the TaskRun")
    for name, value in (overrides or {}).items():
        if name not in specs and name not in run.params:
            declared = ", ".join(specs) or "none"
            first = next(iter(specs.values()), None)  # the line where the params are declared
            raise UserError(f'unknown param "{name}": the Task declares {declared}', file=file,
                            line=first.pos.line if first and first.pos else None, fix=f"use one of the declared params ({declared})"
                            if specs else "remove it: the Task takes no params")
        given[name] = (value, "the override")
    out: dict[str, ParamValue] = {}
    missing: list[ParamSpec] = []
    for name, spec in specs.items():
        if name in given:
            value, origin = given[name]
            out[name] = _typed(spec, value, origin, file)
        elif spec.default is not None:
            out[name] = _copy(spec.default)
        else:
            missing.append(spec)
        if spec.type == "object" and name in out:
            out[name] = _complete_object(spec, out[name], file)  # type: ignore[arg-type]
    if missing:
        names = ", ".join(f'"{p.name}"' for p in missing)
        example = missing[0]
        line = example.pos.line if example.pos else None
        raise UserError(
            f"param{'s' if len(missing) > 1 else ''} {names} "
            f"{'have' if len(missing) > 1 else 'has'} no value and no default",
            file=file, line=line,
            fix=f"give a value: `-p {example.name}={_example(example)}` on the command line, or "
                f'"params": {{"{example.name}": {json.dumps(_example_json(example))}}} in '
                "launch.json (or add a default to the Task)")
    for name, (value, origin) in given.items():  # propagated params (no declaration)
        if name not in specs:
            out[name] = param_value(value)
    return out


def _copy(value: ParamValue) -> ParamValue:
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def _example(spec: ParamSpec) -> str:
    return {"array": "a,b", "object": "key=value"}.get(spec.type, "VALUE")


def _example_json(spec: ParamSpec) -> Any:
    if spec.type == "array":
        return ["a", "b"]
    if spec.type == "object":
        return {k: "value" for k in spec.properties} or {"key": "value"}
    return "VALUE"


def _typed(spec: ParamSpec, value: Any, origin: str, file: str | None) -> ParamValue:
    """``value`` as a value of the param's type; UserError when it cannot be one."""
    def wrong(what: str) -> UserError:
        return UserError(f'param "{spec.name}" is of type {spec.type}, but {origin} gives {what}',
                         file=file, fix=f"give {_how(spec)}")

    if spec.type == "string":
        if isinstance(value, (list, dict)):
            raise wrong("a list" if isinstance(value, list) else "a mapping")
        return yaml_text(value)
    if spec.type == "array":
        if isinstance(value, str):
            value = _parse_array(value, spec, file)
        if not isinstance(value, list):
            raise wrong("a mapping" if isinstance(value, dict) else f"{yaml_text(value)!r}")
        if any(isinstance(v, (list, dict)) for v in value):
            raise wrong("a list holding lists or mappings")
        return [yaml_text(v) for v in value]
    if isinstance(value, str):
        value = _parse_object(value, spec, file)
    if not isinstance(value, dict):
        raise wrong("a list" if isinstance(value, list) else f"{yaml_text(value)!r}")
    if any(isinstance(v, (list, dict)) for v in value.values()):
        raise wrong("a mapping holding lists or mappings")
    return {str(k): yaml_text(v) for k, v in value.items()}


def _how(spec: ParamSpec) -> str:
    if spec.type == "array":
        return (f'a list: `-p {spec.name}=a,b` or `-p {spec.name}=\'["a","b"]\'`, '
                f'or "{spec.name}": ["a", "b"] in launch.json')
    if spec.type == "object":
        keys = list(spec.properties) or ["key"]
        kv = ",".join(f"{k}=..." for k in keys)
        return (f"a mapping: `-p {spec.name}={kv}` or JSON, "
                f'or "{spec.name}": {{"{keys[0]}": "..."}} in launch.json')
    return f'a string: `-p {spec.name}=VALUE` or "{spec.name}": "VALUE" in launch.json'


def _json(text: str, spec: ParamSpec, file: str | None, kind: type, syntax: str, shape: str):
    """A param value given as JSON, of the ``kind`` the param's type wants."""
    try:
        value = json.loads(text.strip())
    except json.JSONDecodeError as e:
        raise UserError(f'param "{spec.name}": {text!r} is not a valid {syntax} ({e.msg})',
                        file=file, fix=f"give {_how(spec)}") from None
    if not isinstance(value, kind):
        raise UserError(f'param "{spec.name}": {text!r} is not a {shape}', file=file,
                        fix=f"give {_how(spec)}")
    return value


def _parse_array(text: str, spec: ParamSpec, file: str | None) -> list:
    s = text.strip()
    if s.startswith("["):
        return _json(text, spec, file, list, "JSON list", "list")
    if s == "":
        return []
    return [item.strip() for item in text.split(",")]


def _parse_object(text: str, spec: ParamSpec, file: str | None) -> dict:
    s = text.strip()
    if s.startswith("{"):
        return _json(text, spec, file, dict, "JSON object", "mapping")
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        if "=" not in part:
            raise UserError(f'param "{spec.name}": {part.strip()!r} is not of the form key=value',
                            file=file, fix=f"give {_how(spec)}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _complete_object(spec: ParamSpec, value: dict, file: str | None) -> dict:
    """An object value with the default's keys filled in; every declared key must have a value."""
    merged = dict(spec.default) if isinstance(spec.default, dict) else {}
    merged.update(value)
    if spec.properties:
        missing = [k for k in spec.properties if k not in merged]
        if missing:
            raise UserError(f'object param "{spec.name}" lacks the key'
                            f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}",
                            file=file, fix=f"give {_how(spec)}")
    return merged
