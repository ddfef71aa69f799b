"""A step's ``securityContext`` and ``computeResources`` as engine flags."""

from __future__ import annotations

import re
from typing import Any

_BINARY = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50,
           "Ei": 1 << 60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
            "m": 10**-3}
_QUANTITY = re.compile(r"^([0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")


def quantity(text: Any) -> float | None:
    """A Kubernetes quantity ("512Mi", "1.5G", "500m", 2) as a number; None if unreadable."""
    m = _QUANTITY.match(str(text).strip())
    if not m:
        return None
    number, suffix = m.groups()
    scale = _BINARY.get(suffix) or _DECIMAL.get(suffix)
    if scale is None:
        return None
    try:
        return float(number) * scale
    except ValueError:
        return None


def limits(resources: Any) -> list[str]:
    """``--memory`` and ``--cpus`` from ``limits`` (``requests`` are for scheduling only)."""
    if not isinstance(resources, dict) or not isinstance(resources.get("limits"), dict):
        return []
    out: list[str] = []
    mem = quantity(resources["limits"].get("memory", ""))
    if mem:
        out += ["--memory", str(int(mem))]
    cpu = quantity(resources["limits"].get("cpu", ""))
    if cpu:
        out += ["--cpus", f"{cpu:g}"]
    return out


def user(security_context: Any) -> str | None:
    """``--user UID[:GID]`` from ``runAsUser`` / ``runAsGroup``."""
    if not isinstance(security_context, dict):
        return None
    uid, gid = security_context.get("runAsUser"), security_context.get("runAsGroup")
    if uid is None and gid is None:
        return None
    if uid is None:
        uid = 0  # Kubernetes keeps the image's user; the engines need one to set a group
    return f"{int(uid)}:{int(gid)}" if gid is not None else str(int(uid))
