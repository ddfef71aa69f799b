"""Every test run, however started: no container pull leaves this machine (tests/containers.py),
and no property test is failed by its duration (hypothesis's deadline is a timing threshold, and a
loaded machine makes any example slow: timing belongs to benchmarks/)."""

from hypothesis import settings

from tests import containers

containers.configure_registries()

settings.register_profile("no-deadline", deadline=None)
settings.load_profile("no-deadline")
