"""StepActions: the ``kind: StepAction`` document, and a step that uses one through ``ref``.

As Tekton v1.15 has them (``pkg/reconciler/taskrun/resources/taskspec.go``, ``apply.go``):

- the step names the action (``ref: {name: x}`` or a resolver) and passes ``params``; a param the
  action does not declare, or a required one not passed, is refused;
- the action's ``$(params.p)`` become the values passed, else the action's defaults (a default may
  refer to another of the action's params); a value that refers to the Task's params, or to an
  earlier step's results (``$(steps.s.results.r)``), is left for the run to replace, as in Tekton;
- the action gives the step its image, command, args, script, env, workingDir, securityContext,
  volumeMounts and results; the step keeps its name, onError, timeout, workspaces and the rest;
- the Task's ``stepTemplate`` applies to the resulting step like to any other.
"""

from __future__ import annotations

from typing import Any, Iterable

from tekton_debug.errors import Problem
from tekton_debug.tekton.variables import param_ref, references, sole_reference
from tekton_debug.tekton.yamlpos import Path, YamlDoc

#: What a StepAction's spec holds (Tekton's StepActionSpec).
SPEC_FIELDS = {"description", "image", "command", "args", "env", "script", "workingDir",
               "params", "results", "securityContext", "volumeMounts"}
#: What the action gives the step (the rest of the step stays as written).
GIVEN = ("image", "securityContext", "command", "args", "script", "workingDir", "env",
         "volumeMounts", "results")


def validate_stepaction(doc: YamlDoc) -> list[Problem]:
    """Problems of one StepAction document, as Tekton's webhook finds them."""
    from tekton_debug.tekton import validation as v

    problems: list[Problem] = list(doc.duplicate_keys)
    c = v._Checker(doc, problems)
    data = doc.data
    if not isinstance(data, dict):
        c.add((), "the document is not a mapping", "write a StepAction: apiVersion, kind, "
              "metadata and spec")
        return problems
    if not v._header(c, data, ("StepAction",)):
        return problems
    spec = data["spec"]
    c.known_fields(("spec",), spec, SPEC_FIELDS, "a StepAction spec")
    if not spec.get("image"):
        c.add(("spec",), "the StepAction has no image", "add `image: alpine` under spec")
    v._container_fields(c, ("spec",), spec, "the StepAction")
    if spec.get("script") is not None:
        c.expect(("spec", "script"), spec["script"], str, "a string")
        if spec.get("command"):
            c.add(("spec", "script"), "the StepAction sets both script and command; Tekton "
                  "allows only one", "remove command (put the program in the script)", key=True)
        if isinstance(spec.get("script"), str):
            for ref in references(spec["script"]):
                if ref.name.startswith("params."):
                    c.add(("spec", "script"), f"{ref.text}: Tekton does not replace params in "
                          "a StepAction's script", "pass it through env: `env: [{name: X, value: "
                          f"\"{ref.text}\"}}]` and use $X in the script",
                          span=v._reference_span(doc, ("spec", "script"), spec["script"], ref))
                    break
    params = v._param_specs(c, ("spec", "params"), spec.get("params"))
    results = v._named_list(c, ("spec", "results"), spec.get("results"), "result",
                            v._RESULT_FIELDS)
    declared = {str(p.get("name")): v.declared_type(p) for _, p in params
                if p.get("name") is not None}
    properties = {str(p.get("name")): p.get("properties") for _, p in params
                  if isinstance(p.get("properties"), dict)}
    v._step_references(c, ("spec",), {k: val for k, val in spec.items() if k != "script"},
                       declared, properties, {r.get("name") for _, r in results}, set())
    return problems


def check_use(c: Any, spath: Path, step: dict, action: YamlDoc) -> None:
    """A step's params against the StepAction it uses (``c``: a validation checker)."""
    spec = action.data.get("spec") if isinstance(action.data, dict) else None
    if not isinstance(spec, dict):
        return
    name = (action.data.get("metadata") or {}).get("name")
    specs = [p for p in spec.get("params") or [] if isinstance(p, dict)] \
        if isinstance(spec.get("params"), list) else []
    declared = {p.get("name"): p for p in specs}
    given = [p for p in step.get("params") or [] if isinstance(p, dict)] \
        if isinstance(step.get("params"), list) else []
    names = ", ".join(str(n) for n in declared) or "none"
    for i, p in enumerate(step.get("params") or [] if isinstance(step.get("params"), list) else []):
        if isinstance(p, dict) and p.get("name") not in declared:
            c.add(spath + ("params", i, "name"), f'param "{p.get("name")}" is not declared by '
                  f'StepAction "{name}"; Tekton refuses extra params passed to a StepAction',
                  f"remove it (the StepAction declares: {names})")
    passed = {p.get("name") for p in given}
    missing = [str(n) for n, p in declared.items() if n not in passed and p.get("default") is None]
    if missing:
        c.add(spath + ("ref",), f'StepAction "{name}" needs the param'
              f"{'s' if len(missing) > 1 else ''} {', '.join(missing)}, which the step does not "
              "pass", f"add them under the step's params: `- name: {missing[0]}` with a value",
              key=True)


def _single(value: Any) -> str | None:
    """The variable a value passes whole (``$(params.a[*])`` -> ``params.a``), if it is one."""
    ref = sole_reference(value)
    if ref is None:
        return None
    name = ref.text[2:-1].strip()
    return name[:-3] if name.endswith("[*]") else name


def _values(spec: dict, step: dict) -> dict[str, Any]:
    """The action's params: passed by the step, else the defaults (resolving the defaults that
    refer to other params, as Tekton does)."""
    passed = {p["name"]: p.get("value") for p in step.get("params") or []
              if isinstance(p, dict) and isinstance(p.get("name"), str)}
    out: dict[str, Any] = {}
    pending: dict[str, str] = {}
    for p in spec.get("params") or []:
        if not isinstance(p, dict) or not isinstance(p.get("name"), str):
            continue
        if p["name"] in passed:
            out[p["name"]] = passed[p["name"]]
        elif isinstance(p.get("default"), str) and "$(params." in p["default"]:
            pending[p["name"]] = p["default"]
        elif p.get("default") is not None:
            out[p["name"]] = p["default"]
    for _ in range(len(pending)):  # bounded: each round settles one default at least
        for name, text in list(pending.items()):
            refs = [r for r in references(text) if r.name.startswith("params.")]
            if all(r.name[len("params."):] in out for r in refs):
                for r in refs:
                    v = out[r.name[len("params."):]]
                    text = text.replace(r.text, v if isinstance(v, str) else r.text)
                out[name] = text
                del pending[name]
    return out


def _replace(text: str, values: dict[str, Any], types: dict[str, str],
             defaults: dict[str, Any] | None = None, outer: dict[str, set] | None = None) -> str:
    """``text`` with the action's params replaced. ``outer``: the keys of the Task's params (an
    object passed whole merges key by key over the action's default, as in Tekton)."""
    if "$(" not in text:
        return text
    out, last = [], 0
    for ref in references(text):
        p = param_ref(ref.name, types)
        if p is None or p.name not in values:
            continue
        value = values[p.name]
        whole = _single(value)
        new: str | None = None
        if p.key is not None:
            default = (defaults or {}).get(p.name)
            if isinstance(value, dict):
                if p.key in value:
                    new = str(value[p.key])
                elif isinstance(default, dict) and p.key in default:
                    new = str(default[p.key])  # merged key by key over the default
            elif whole is not None:
                keys = (outer or {}).get(whole[len("params."):]) \
                    if whole.startswith("params.") else None
                if keys is not None and p.key not in keys and isinstance(default, dict) \
                        and p.key in default:
                    new = str(default[p.key])  # the Task's object lacks it: the default's
                else:
                    new = f"$({whole}.{p.key})"
        elif p.index is not None:
            if isinstance(value, list) and p.index < len(value):
                new = str(value[p.index])
            elif whole is not None:
                new = f"$({whole}[{p.index}])"
        elif p.star and whole is not None:
            new = f"$({whole}[*])"
        elif isinstance(value, str):
            new = value
        if new is not None:
            out += [text[last:ref.start], new]
            last = ref.end
    return "".join(out) + text[last:]


def _replace_list(items: Iterable[Any], values: dict[str, Any], types: dict[str, str],
                  *more: Any) -> list:
    out: list = []
    for item in items:
        if isinstance(item, str):
            sole = sole_reference(item)
            if sole is not None:
                p = param_ref(sole.name, types)
                if p and p.key is None and p.index is None and isinstance(values.get(p.name), list):
                    out.extend(str(v) for v in values[p.name])
                    continue
            out.append(_replace(item, values, types, *more))
        else:
            out.append(item)
    return out


def apply(step: dict, action: YamlDoc, outer: dict[str, set] | None = None) -> dict:
    """The step as Tekton runs it once its StepAction is fetched (before the stepTemplate).

    ``outer``: for each param of the Task (and of the run), the keys it has (empty for a string
    or an array), so that an object passed whole is merged with the action's default."""
    from tekton_debug.tekton.validation import declared_type

    spec = action.data["spec"]
    types = {p["name"]: declared_type(p) for p in spec.get("params") or []
             if isinstance(p, dict) and isinstance(p.get("name"), str)}
    values = _values(spec, step)
    defaults = {p["name"]: p.get("default") for p in spec.get("params") or []
                if isinstance(p, dict) and isinstance(p.get("name"), str)}
    more = (defaults, outer)
    resolved = {k: v for k, v in step.items() if k not in ("ref", "params")}
    for f in GIVEN:
        if spec.get(f) in (None, [], ""):
            if f in ("image", "workingDir", "securityContext"):
                resolved.pop(f, None)  # Tekton sets these from the action, empty or not
            continue
        value = spec[f]
        if f in ("command", "args"):
            value = _replace_list(value, values, types, *more)
        elif f == "env":
            value = [dict(e, value=_replace(e["value"], values, types, *more))
                     if isinstance(e, dict) and isinstance(e.get("value"), str) else e
                     for e in value]
        elif f == "volumeMounts":
            value = [{k: _replace(x, values, types, *more) if isinstance(x, str) else x
                      for k, x in m.items()} if isinstance(m, dict) else m for m in value]
        elif isinstance(value, str):
            value = _replace(value, values, types, *more)
        resolved[f] = value
    return resolved
