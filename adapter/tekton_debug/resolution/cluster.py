"""The ``cluster`` resolver: a Task (or StepAction, Pipeline) stored in a cluster
(``docs/cluster-resolver.md``), read through your kubeconfig with the ``kubernetes`` client.

Params: ``name``, ``kind`` (default ``task``), ``namespace`` (default: the TaskRun's namespace,
else ``--namespace``, else the context's, else ``default``). The kubeconfig and context are the
run's (``--kubeconfig``, ``--context``; else ``$KUBECONFIG`` or ``~/.kube/config`` and its current
context), as kubectl reads them. Objects in a cluster have no version: each run reads it again;
the cache serves ``--offline``.
"""

from __future__ import annotations

import os

import yaml

from tekton_debug.resolution.reference import Reference, Resolved

#: kind param -> (API version, plural)
KINDS = {"task": ("v1", "tasks"), "pipeline": ("v1", "pipelines"),
         "stepaction": ("v1beta1", "stepactions")}


def resolve(ref: Reference, remote) -> Resolved:
    name = ref.param("name")
    kind = (ref.param("kind") or "task").lower()
    if not name:
        raise ref.error("the name param is missing", "add - name: name, value: the Task's name")
    if kind not in KINDS:
        raise ref.error(f"kind {kind!r} is not one the cluster resolver reads",
                        f"write one of: {', '.join(KINDS)}")
    api, where, context_namespace = _connect(ref, remote)
    namespace = ref.param("namespace") or ref.namespace or remote.namespace or \
        context_namespace or "default"
    request = {"resolver": "cluster", "server": where, "namespace": namespace, "kind": kind,
               "name": name}
    if remote.offline:
        api.close()
        return remote.cached(ref, request)
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    version, plural = KINDS[kind]
    try:
        obj = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "tekton.dev", version, namespace, plural, name, _request_timeout=remote.timeout)
    except ApiException as e:
        if e.status == 404:
            raise remote.failed(ref, f"not found: there is no {kind} {name!r} in namespace "
                                f"{namespace!r} of {where}",
                                f"check the name and namespace (kubectl get {plural} -n "
                                f"{namespace})", request) from None
        if e.status in (401, 403):
            raise remote.failed(ref, f"no permission: {where} does not let you get {plural} in "
                                f"namespace {namespace!r} (HTTP {e.status})",
                                f"ask for it (kubectl auth can-i get {plural}.tekton.dev -n "
                                f"{namespace})", request) from None
        raise remote.failed(ref, f"{where} answered HTTP {e.status} {e.reason}",
                            "try again later", request) from None
    except Exception as e:  # urllib3's connection errors and timeouts
        raise remote.failed(ref, f"host unreachable: {where}: {type(e).__name__}",
                            "check the cluster's address in the kubeconfig and your network",
                            request) from None
    finally:
        api.close()
    meta = obj.get("metadata") or {}
    clean = {"apiVersion": obj.get("apiVersion") or f"tekton.dev/{version}",
             "kind": obj.get("kind") or "Task",
             "metadata": {k: meta[k] for k in ("name", "namespace", "labels", "annotations")
                          if meta.get(k)},
             "spec": obj.get("spec") or {}}
    text = yaml.dump(clean, Dumper=_Dumper, sort_keys=False, default_flow_style=False)
    return remote.cache.put([request], text, source=f"cluster {where} {namespace}/{kind}/{name}",
                            name=f"{name}.yaml",
                            version=str(meta.get("resourceVersion") or ""))


class _Dumper(yaml.SafeDumper):
    """Scripts as ``|`` blocks, as people write them (the copy is what the debugger shows)."""


_Dumper.add_representer(str, lambda d, s: d.represent_scalar(
    "tag:yaml.org,2002:str", s, style="|" if "\n" in s else None))


def _connect(ref: Reference, remote):
    """An ApiClient for the run's kubeconfig and context; (client, server URL, its namespace)."""
    from kubernetes import client, config
    from kubernetes.config.config_exception import ConfigException

    path = os.path.expanduser(remote.kubeconfig) if remote.kubeconfig else \
        os.environ.get("KUBECONFIG") or os.path.expanduser("~/.kube/config")
    files = [p for p in path.split(os.pathsep) if p and os.path.exists(p)]
    if not files:
        raise ref.error(f"no kubeconfig: {path} does not exist",
                        "give --kubeconfig (\"kubeconfig\" in launch.json) or set $KUBECONFIG")
    try:
        contexts, current = config.list_kube_config_contexts(files[0])
        chosen = remote.context or (current or {}).get("name")
        context = next((c for c in contexts if c.get("name") == chosen), None)
        if context is None:
            raise ConfigException(f"no context {chosen!r}")
        configuration = client.Configuration()
        config.load_kube_config(config_file=files[0], context=chosen,
                                client_configuration=configuration, persist_config=False)
    except (ConfigException, OSError, ValueError, TypeError, AttributeError) as e:
        raise ref.error(f"cannot use the kubeconfig {files[0]}: {e}",
                        "check it with kubectl config view, or give --context") from None
    configuration.retries = 1
    namespace = (context.get("context") or {}).get("namespace")
    return client.ApiClient(configuration), configuration.host, namespace
