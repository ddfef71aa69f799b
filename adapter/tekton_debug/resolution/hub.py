"""The ``hub`` resolver: a catalog resource from Artifact Hub or a Tekton Hub (``docs/hub-resolver.md``).

Params: ``name``, ``version`` (``0.6``, ``0.6.0``, or a constraint like ``>= 0.5, < 0.7``),
``kind`` (default ``task``), ``type`` (``artifact``, the default, or ``tekton``), ``catalog``
(default ``tekton-catalog-tasks`` / ``tekton-catalog-pipelines`` on Artifact Hub, ``Tekton`` on a
Tekton Hub), ``url`` (a hub API to use instead of the configured one). The API's address is read
as Tekton's resolver reads it: ``ARTIFACT_HUB_API`` (default ``https://artifacthub.io``) and
``TEKTON_HUB_API`` (no default) from the environment.

What is relied on from the hub APIs (``pkg/resolution/resolver/hub/resolver.go``):
- Artifact Hub: ``GET {api}/api/v1/packages/tekton-{kind}/{catalog}/{name}/{version}`` answers
  JSON whose ``data.manifestRaw`` is the YAML; ``GET .../{name}`` answers ``available_versions``,
  a list of ``{version, prerelease}`` (for constraints; prereleases skipped).
- Tekton Hub: ``GET {api}/v1/resource/{catalog}/{kind}/{name}/{version}/yaml`` answers JSON whose
  ``data.yaml`` is the YAML; ``GET {api}/v1/resource/{catalog}/{kind}/{name}`` answers
  ``data.versions``, a list of ``{version}``.
Versions are written as each hub wants them: ``0.6`` is ``0.6.0`` on Artifact Hub, ``0.6.1`` is
``0.6`` on a Tekton Hub. A catalog version never changes, so an exact version is served from the
cache without the network once fetched.
"""

from __future__ import annotations

import json
import os
import re
import urllib.parse

from tekton_debug.resolution.http import fetch
from tekton_debug.resolution.reference import Reference, Resolved

ARTIFACT, TEKTON = "artifact", "tekton"
DEFAULT_ARTIFACT_HUB = "https://artifacthub.io"
_CONSTRAINT = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?(\d+(?:\.\d+)*)\s*$")


def resolve(ref: Reference, remote) -> Resolved:
    name, version = ref.param("name"), ref.param("version")
    kind = (ref.param("kind") or "task").lower()
    hub_type = ref.param("type") or ARTIFACT
    missing = [p for p, v in (("name", name), ("version", version)) if not v]
    if missing:
        raise ref.error(f"missing params: {', '.join(missing)}",
                        "add them, e.g. - name: version, value: \"0.9\"")
    if hub_type not in (ARTIFACT, TEKTON):
        raise ref.error(f"type {hub_type!r} is neither {ARTIFACT} nor {TEKTON}",
                        f"write type: {ARTIFACT} (Artifact Hub) or {TEKTON} (a Tekton Hub)")
    catalog = ref.param("catalog") or _default_catalog(ref, hub_type, kind)
    api = ref.param("url") or (os.environ.get("ARTIFACT_HUB_API") or DEFAULT_ARTIFACT_HUB
                               if hub_type == ARTIFACT else os.environ.get("TEKTON_HUB_API"))
    if not api:
        raise ref.error("type tekton needs a Tekton Hub's API address",
                        "set TEKTON_HUB_API (as Tekton's resolver reads it) or the url param")
    api = api.rstrip("/")
    assert version is not None and name is not None
    request = {"resolver": "hub", "api": api, "type": hub_type, "catalog": catalog,
               "kind": kind, "name": name, "version": version}
    if remote.offline:
        return remote.cached(ref, request)
    constraint = _constraint(version)
    if constraint is None:
        version = _written(version, hub_type)
        exact = dict(request, version=version)
        hit = remote.cache.get(exact)
        if hit is not None:
            return hit
    else:
        version = _written(_choose(ref, remote, request, constraint), hub_type)
        exact = dict(request, version=version)
    quoted = [urllib.parse.quote(x, safe="") for x in (kind, catalog, name, version)]
    if hub_type == ARTIFACT:
        url = f"{api}/api/v1/packages/tekton-{quoted[0]}/{quoted[1]}/{quoted[2]}/{quoted[3]}"
        field = ("data", "manifestRaw")
    else:
        url = f"{api}/v1/resource/{quoted[1]}/{quoted[0]}/{quoted[2]}/{quoted[3]}/yaml"
        field = ("data", "yaml")
    answer = _json(ref, fetch(ref, remote, url, request, what=f"{kind} {name} {version}"), url)
    text = answer
    for key in field:
        text = text.get(key) if isinstance(text, dict) else None
    if not isinstance(text, str):
        raise ref.error(f"{url} answered JSON without {'.'.join(field)}",
                        "check the hub's address (url, ARTIFACT_HUB_API, TEKTON_HUB_API)")
    source = f"hub {hub_type} {catalog}/{kind}/{name} {version} ({api})"
    keys = [request, exact] if exact != request else [request]
    return remote.cache.put(keys, text, source=source, name=f"{name}.yaml", version=version)


def _default_catalog(ref: Reference, hub_type: str, kind: str) -> str:
    if hub_type == TEKTON:
        return "Tekton"
    if kind in ("task", "pipeline"):
        return f"tekton-catalog-{kind}s"
    raise ref.error(f"kind {kind} has no default catalog on Artifact Hub",
                    "add - name: catalog, value: the catalog's name")


def _json(ref: Reference, data: bytes, url: str):
    try:
        return json.loads(data)
    except ValueError:
        raise ref.error(f"{url} did not answer JSON",
                        "check the hub's address (url, ARTIFACT_HUB_API, TEKTON_HUB_API)") from None


def _written(version: str, hub_type: str) -> str:
    parts = version.lstrip("v").split(".")
    if hub_type == ARTIFACT and len(parts) == 2:
        return version + ".0"
    if hub_type == TEKTON and len(parts) > 2:
        return ".".join(parts[:2])
    return version


def _numbers(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split("."))


def _constraint(version: str) -> list[tuple[str, tuple[int, ...]]] | None:
    """``>= 0.5, < 0.7`` as [(op, numbers)], or None for a plain version."""
    if not re.search(r"[<>=~!,]", version):
        return None
    out = []
    for part in version.split(","):
        m = _CONSTRAINT.match(part)
        if not m:
            return [("?", ())]
        out.append((m.group(1) or "=", _numbers(m.group(2))))
    return out


def _satisfies(v: tuple[int, ...], constraint: list[tuple[str, tuple[int, ...]]]) -> bool:
    for op, want in constraint:
        n = max(len(v), len(want))
        a, b = v + (0,) * (n - len(v)), want + (0,) * (n - len(want))
        if op == "~>":  # pessimistic: ~> 1.2 is >= 1.2, < 2; ~> 1.2.3 is >= 1.2.3, < 1.3
            top = want[:-1] if len(want) > 1 else want
            upper = top[:-1] + (top[-1] + 1,)
            ok = a >= b and v[:len(upper)] < upper
        else:
            ok = {"=": a == b, "!=": a != b, ">": a > b, "<": a < b, ">=": a >= b,
                  "<=": a <= b}.get(op, False)
        if not ok:
            return False
    return True


def _choose(ref: Reference, remote, request: dict, constraint) -> str:
    """The highest version on the hub that meets ``constraint``."""
    if any(op == "?" for op, _ in constraint):
        raise ref.error(f"version {request['version']!r} is neither a version nor a constraint",
                        'write e.g. "0.9" or ">= 0.5, < 0.7"')
    api, kind, catalog, name = (request[k] for k in ("api", "kind", "catalog", "name"))
    q = [urllib.parse.quote(x, safe="") for x in (kind, catalog, name)]
    if request["type"] == ARTIFACT:
        url = f"{api}/api/v1/packages/tekton-{q[0]}/{q[1]}/{q[2]}"
        answer = _json(ref, fetch(ref, remote, url, request, what=f"{kind} {name}"), url)
        listed = [v.get("version") for v in (answer.get("available_versions") or [])
                  if isinstance(v, dict) and not v.get("prerelease")] \
            if isinstance(answer, dict) else []
    else:
        url = f"{api}/v1/resource/{q[1]}/{q[0]}/{q[2]}"
        answer = _json(ref, fetch(ref, remote, url, request, what=f"{kind} {name}"), url)
        data = answer.get("data") if isinstance(answer, dict) else None
        listed = [v.get("version") for v in (data or {}).get("versions") or []
                  if isinstance(v, dict)] if isinstance(data, dict) else []
    candidates = [v for v in listed if isinstance(v, str) and re.fullmatch(r"v?\d+(\.\d+)*", v)]
    meeting = [v for v in candidates if _satisfies(_numbers(v.lstrip("v")), constraint)]
    if not meeting:
        raise remote.failed(ref, f"not found: no version of {kind} {name} meets "
                            f"{request['version']!r} (the hub has {', '.join(candidates) or 'none'})",
                            "change the version constraint", request)
    return max(meeting, key=lambda v: _numbers(v.lstrip("v")))
