from __future__ import annotations

from tests.cluster.fixtures import cluster  # noqa: F401


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than about ten seconds")
