"""Every test run, however started: no container pull leaves this machine (tests/containers.py)."""

from tests import containers

containers.configure_registries()
