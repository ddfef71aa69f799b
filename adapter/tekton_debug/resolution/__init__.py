"""Finding what a remote reference names: Tekton's resolvers, run on this machine, with a cache.

- ``reference``: ``Reference`` (a ``taskRef``/``ref`` with a resolver, params substituted),
  ``Resolved`` (the text and where it came from), the ``Resolver`` interface the loader takes, and
  ``Fixed`` (answers from a dictionary);
- ``remote``: ``Remote``, the resolver of the front ends: network and cache, or cache only;
- ``git``, ``http``, ``bundles``, ``hub``, ``cluster``: one module per Tekton resolver;
- ``cache``: what was fetched, by digest or commit, in ``$XDG_CACHE_HOME/tekton-debug``.

The loader (``tekton.loader``) knows only the interface; network and subprocesses live here.
Every front end gets its resolver from :func:`remote_resolver`: ``run`` and ``check`` with their
``--offline`` (and cluster flags), the language server with ``offline=True`` (cache-only answers,
never the network while typing).
"""

from __future__ import annotations


def remote_resolver(*, offline: bool = False, kubeconfig: str | None = None,
                    context: str | None = None, namespace: str | None = None):
    """The resolver to hand the loader (``load_file(path, resolver=...)``)."""
    from tekton_debug.resolution.remote import Remote

    return Remote(offline=offline, kubeconfig=kubeconfig, context=context, namespace=namespace)
