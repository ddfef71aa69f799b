from tests.cluster.fixtures import cluster, cluster_process, kubectl_env  # noqa: F401


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes more than about ten seconds")
