"""Finding what a remote reference names: Tekton's resolvers, run on this machine, with a cache.

- ``reference``: ``Reference`` (a ``taskRef``/``ref`` with a resolver, params substituted),
  ``Resolved`` (the text and where it came from), the ``Resolver`` interface the loader takes, and
  ``Fixed`` (answers from a dictionary);
- ``remote``: ``Remote``, the resolver of the front ends: network and cache, or cache only;
- ``git``, ``http``, ``bundles``, ``hub``, ``cluster``: one module per Tekton resolver;
- ``cache``: what was fetched, by digest or commit, in ``$XDG_CACHE_HOME/tekton-debug``.

The loader (``tekton.loader``) knows only the interface; network and subprocesses live here.
"""

from __future__ import annotations


def remote_resolver(options):
    """The resolver for a run with these LaunchOptions (offline, kubeconfig, context...)."""
    from tekton_debug.resolution.remote import Remote

    return Remote(offline=options.offline, kubeconfig=options.kubeconfig,
                  context=options.context, namespace=options.namespace)
