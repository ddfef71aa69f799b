"""The resolver the front ends give the loader: Tekton's resolvers, run on this machine, cached.

``Remote(offline=..., kubeconfig=..., context=..., namespace=...)`` picks the module named after
the reference's resolver (``git``, ``http``, ``bundles``, ``hub``, ``cluster``); each fetches, then
keeps the text in the :class:`~tekton_debug.resolution.cache.Cache`. With ``offline`` nothing is
fetched: the cache answers, or the error says to resolve once without ``--offline``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from tekton_debug.errors import UserError
from tekton_debug.resolution.cache import Cache
from tekton_debug.resolution.reference import RESOLVERS, Reference, Resolved

#: Seconds any one network request may take.
TIMEOUT = 60.0
#: The largest text a resolver accepts (a Task is a few KB; this bounds a wrong URL's answer).
MAX_BYTES = 16 * 1024 * 1024


@dataclass
class Remote:
    """A :class:`~tekton_debug.resolution.reference.Resolver` over the network and the cache."""

    offline: bool = False
    cache: Cache = field(default_factory=Cache)
    kubeconfig: str | None = None
    context: str | None = None
    namespace: str | None = None
    timeout: float = TIMEOUT

    def resolve(self, ref: Reference) -> Resolved:
        if ref.resolver not in RESOLVERS:
            raise ref.error(f"the resolver {ref.resolver!r} cannot run on this machine (only "
                            f"{', '.join(RESOLVERS)} can)",
                            "run the TaskRun on the cluster (--runtime kubernetes), whose "
                            "resolvers fetch it, or use one of those resolvers")
        module = importlib.import_module(f"tekton_debug.resolution.{ref.resolver}")
        return module.resolve(ref, self)

    # ---- for the resolver modules ---------------------------------------------------------

    def cached(self, ref: Reference, key: dict) -> Resolved:
        """``--offline``: the copy ``key`` resolved to last time, or a clear error."""
        hit = self.cache.get(key)
        if hit is None:
            raise ref.error("--offline, and it is not in the cache "
                            f"({self.cache.root})",
                            "run once without --offline to fetch it into the cache")
        return hit

    def failed(self, ref: Reference, why: str, fix: str, key: dict | None = None) -> UserError:
        """A fetch that failed; says so when an older copy in the cache could serve offline."""
        when = self.cache.when(key) if key is not None else None
        if when:
            fix += f" (or use the copy fetched {when} with --offline)"
        return ref.error(why, fix)

