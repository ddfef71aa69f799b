"""A Kubernetes-compatible API server with Tekton installed, on loopback, for tests.

It plays the API server, Tekton's webhook and controller, and the kubelet: TaskRuns become pods
whose step containers are processes running Tekton's entrypoint protocol, with watch, logs and
exec served the way a cluster serves them, so that both the ``kubernetes`` client and ``kubectl``
work against it. Faults can be injected from Python (``ClusterServer``) or over HTTP under
``/_test/`` (``FaultClient``, for a server run with ``python -m tests.cluster``).
"""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import Any, Callable

from tests.cluster.runner import Listener, write_kubeconfig
from tests.cluster.server import Cluster
from tests.cluster.store import CONFIGMAPS

__all__ = ["ClusterServer", "write_kubeconfig"]


class ClusterServer:
    """A test cluster served from a background thread of this process.

    Use as a context manager or call ``start()`` / ``stop()``. Every method may be called from any
    thread; the faults take effect before they return (``go_away`` returns once it is away).
    """

    def __init__(self, *, port: int = 0, tekton_version: str = "v1.15.0",
                 api_fields: str = "alpha", namespace: str = "default", root: str | None = None,
                 bookmark_interval: float = 5.0) -> None:
        self._options = dict(tekton_version=tekton_version, api_fields=api_fields,
                             namespace=namespace, root=root, bookmark_interval=bookmark_interval)
        self.namespace = namespace
        self._port = port
        self.loop: asyncio.AbstractEventLoop | None = None
        self.cluster: Cluster | None = None
        self.listener: Listener | None = None
        self.kubeconfig: str | None = None
        self._thread: threading.Thread | None = None

    # ---- life --------------------------------------------------------------------------------
    def start(self) -> "ClusterServer":
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            asyncio.set_event_loop(loop)
            try:
                self.cluster = Cluster(**self._options)
                self.listener = Listener(self.cluster, self._port)
                loop.run_until_complete(self.listener.start())
            except BaseException as e:  # reported to the caller of start()
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=main, name="test-cluster", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self.loop is None or self._thread is None:
            return
        assert self.listener is not None
        try:
            asyncio.run_coroutine_threadsafe(self.listener.stop(), self.loop).result(30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> "ClusterServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self.listener is not None
        return self.listener.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_kubeconfig(self, path: str, token: str | None = None) -> str:
        self.kubeconfig = write_kubeconfig(path, self.url, namespace=self.namespace, token=token)
        return self.kubeconfig

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run ``fn(*args)`` on the server's loop (awaiting it if it is a coroutine)."""
        assert self.loop is not None

        async def run() -> Any:
            result = fn(*args)
            if asyncio.iscoroutine(result):
                result = await result
            return result
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(30)

    # ---- faults ------------------------------------------------------------------------------
    def drop_watches(self, abrupt: bool = False) -> int:
        """End every open watch (``abrupt``: cut the connection). Returns how many there were."""
        return self.call(lambda: self.cluster.drop_watches(abrupt))

    def expire_next_watch(self, count: int = 1) -> None:
        """The next ``count`` watch requests get an ERROR event carrying 410 Expired."""
        def f() -> None:
            self.cluster.expire_watches += count
        self.call(f)

    def refuse_exec(self, container: str | None = None) -> None:
        """Exec answers 403 Forbidden, into ``container`` or (None) any container."""
        self.call(lambda: self.cluster.exec_refused.add(container))

    def allow_exec(self) -> None:
        self.call(lambda: self.cluster.exec_refused.clear())

    def deny(self, verb: str, resource: str, subresource: str = "") -> None:
        """Deny an RBAC triple: SelfSubjectAccessReview says no and the request gets 403."""
        self.call(lambda: self.cluster.denied.add((verb, resource, subresource)))

    def allow(self, verb: str, resource: str, subresource: str = "") -> None:
        self.call(lambda: self.cluster.denied.discard((verb, resource, subresource)))

    def delete_pod(self, name: str, namespace: str | None = None) -> None:
        """Delete a pod as a user would: its processes die, its TaskRun fails."""
        self.call(lambda: self.cluster.remove_pod(namespace or self.namespace, name))

    def expire_timeout(self, taskrun: str, namespace: str | None = None) -> None:
        """The TaskRun's timeout expires now (reason TaskRunTimeout, the pod is deleted)."""
        self.call(lambda: self.cluster.expire_timeout(namespace or self.namespace, taskrun))

    def go_away(self, seconds: float) -> None:
        """Close the listener and every connection; listen again after ``seconds``."""
        assert self.listener is not None
        listener = self.listener

        async def f() -> None:
            await listener._close_everything()
            listener.away = True

            async def back() -> None:
                await asyncio.sleep(seconds)
                await listener._listen()
                listener.away = False
            self.cluster.spawn(back())
        self.call(f)

    def request_counts(self) -> dict[tuple[str, str], int]:
        """API requests so far by (Kubernetes verb, path): ``("watch", "/apis/...")``."""
        return self.call(lambda: dict(self.cluster.requests))

    def reset_request_counts(self) -> None:
        self.call(lambda: self.cluster.requests.clear())

    # ---- state -------------------------------------------------------------------------------
    def set_feature_flag(self, key: str, value: str) -> None:
        """Change ``feature-flags`` in ``tekton-pipelines`` (e.g. ``enable-api-fields``)."""
        def f() -> None:
            cm = copy.deepcopy(self.cluster.store.get(CONFIGMAPS, "tekton-pipelines",
                                                      "feature-flags"))
            cm["data"][key] = value
            self.cluster.store.update(CONFIGMAPS, cm)
        self.call(f)

    def create_secret(self, name: str, values: dict[str, str], namespace: str | None = None
                      ) -> dict:
        """Store a Secret (as ``kubectl create secret generic NAME --from-literal`` does)."""
        import base64
        body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": name},
                "data": {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}}
        return self.create("secrets", body, namespace)

    def create(self, resource: str, body: dict, namespace: str | None = None) -> dict:
        """Store an object as a client's create would (``pods``, ``secrets``...), no checks."""
        from tests.cluster.store import RESOURCES
        res = RESOURCES[resource]
        return self.call(lambda: copy.deepcopy(self.cluster.store.create(
            res, (namespace or self.namespace) if res.namespaced else None, copy.deepcopy(body))))

    def pod_dir(self, name: str, namespace: str | None = None) -> str | None:
        """The directory holding a pod's volumes (its ``/tekton`` and ``/workspace``)."""
        def f() -> str | None:
            run = self.cluster.pods.get((namespace or self.namespace, name))
            return run.runtime.root if run and run.runtime else None
        return self.call(f)

    def get(self, resource: str, name: str, namespace: str | None = None) -> dict | None:
        """A stored object (``pods``, ``taskruns.tekton.dev``...), as the API would return it."""
        from tests.cluster.store import RESOURCES
        res = RESOURCES[resource]
        return self.call(lambda: copy.deepcopy(self.cluster.store.find(
            res, (namespace or self.namespace) if res.namespaced else None, name)))
