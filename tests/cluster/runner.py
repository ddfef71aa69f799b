"""Serving a ``Cluster`` over HTTP on 127.0.0.1, and going away for a while on request."""

from __future__ import annotations

import asyncio
import os

import yaml
from aiohttp import web

from tests.cluster.server import LISTENER, Api, Cluster


def write_kubeconfig(path: str, url: str, *, namespace: str = "default",
                     token: str | None = None) -> str:
    """Write a kubeconfig whose current context ``test-cluster`` points at ``url``."""
    user: dict = {"token": token} if token else {}
    config = {"apiVersion": "v1", "kind": "Config", "preferences": {},
              "clusters": [{"name": "test-cluster", "cluster": {"server": url}}],
              "users": [{"name": "test-user", "user": user}],
              "contexts": [{"name": "test-cluster", "context": {
                  "cluster": "test-cluster", "user": "test-user", "namespace": namespace}}],
              "current-context": "test-cluster"}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        yaml.safe_dump(config, f)
    return path


class Listener:
    """The HTTP listener of one cluster: start, stop, and go away for N seconds."""

    def __init__(self, cluster: Cluster, port: int = 0) -> None:
        self.cluster = cluster
        self.api = Api(cluster)
        self.api.app[LISTENER] = self
        self.port = port
        self.runner: web.AppRunner | None = None
        self.site: web.TCPSite | None = None
        self.away = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self.runner = web.AppRunner(self.api.app, handle_signals=False, access_log=None,
                                    shutdown_timeout=0.5)
        await self.runner.setup()
        await self._listen()

    async def _listen(self) -> None:
        assert self.runner is not None
        self.site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await self.site.start()
        sock = self.site._server.sockets[0]  # type: ignore[union-attr]
        self.port = sock.getsockname()[1]

    async def _close_everything(self) -> None:
        assert self.runner is not None and self.site is not None
        await self.site.stop()
        self.cluster.drop_watches(abrupt=True)
        server = self.runner.server
        for handler in list(getattr(server, "connections", []) if server else []):
            transport = getattr(handler, "transport", None)
            if transport is not None:
                transport.close()

    async def go_away(self, seconds: float) -> None:
        """Close the listener and every connection, then listen again on the same port."""
        if self.away:
            return
        self.away = True
        try:
            await self._close_everything()
            await asyncio.sleep(seconds)
            await self._listen()
        finally:
            self.away = False

    async def stop(self) -> None:
        await self.cluster.shutdown()
        if self.runner is not None:
            if self.site is not None and not self.away:
                await self._close_everything()
            await self.runner.cleanup()
