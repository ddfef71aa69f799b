"""The ``runtime`` fixture (a LocalRuntime factory that closes what it made) for every test here."""

from tests.runtimes.local.test_local_runtime import runtime  # noqa: F401
