"""Pytest fixtures for a test cluster: import them into a conftest.py to use them elsewhere
(``from tests.cluster.fixtures import cluster, cluster_process, kubectl_env``)."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from tests.cluster import ClusterServer
from tests.cluster.faults import ClusterProcess


@pytest.fixture
def cluster(tmp_path) -> Iterator[ClusterServer]:
    """A cluster served from this process; ``cluster.kubeconfig`` is its kubeconfig's path and
    the object's methods inject faults."""
    with ClusterServer(root=str(tmp_path / "pods")) as server:
        server.write_kubeconfig(str(tmp_path / "kubeconfig"))
        yield server


@pytest.fixture
def cluster_process(tmp_path) -> Iterator[ClusterProcess]:
    """A cluster run as ``python -m tests.cluster``; faults go over HTTP (``/_test/...``)."""
    proc = ClusterProcess(str(tmp_path / "kubeconfig"))
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def kubectl_env(cluster, tmp_path) -> dict[str, str]:
    """The environment for running ``kubectl`` against ``cluster`` (temporary cache dir)."""
    return {**os.environ, "KUBECONFIG": cluster.kubeconfig,
            "KUBECACHEDIR": str(tmp_path / "kube-cache"), "HOME": str(tmp_path)}
