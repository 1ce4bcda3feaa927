"""Fixtures over tests/riffle_harness.py (the riffle process: free ports, a
fresh data directory, endpoints.json, clean shutdown, restart, kill -9).

Test modules that need the process class or the binary's path themselves
import riffle_harness: this directory is on sys.path for every suite.
"""

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from riffle_harness import EXTERNAL_ENDPOINT, ExternalServer, RiffleServer  # noqa: E402,F401


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "needs_binary: drives the riffle process itself "
        "(restart, kill, metrics); skipped with RIFFLE_TEST_ENDPOINT")


def pytest_collection_modifyitems(config, items):
    if not EXTERNAL_ENDPOINT:
        return
    skip = pytest.mark.skip(reason="RIFFLE_TEST_ENDPOINT points at another server")
    for item in items:
        if "needs_binary" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def riffle(tmp_path_factory):
    """A server shared by every test that does not restart or kill it.

    Tests that share it use unique stream names and delete what they create.
    """
    if EXTERNAL_ENDPOINT:
        yield ExternalServer(EXTERNAL_ENDPOINT)
        return
    server = RiffleServer(tmp_path_factory.mktemp("riffle") / "data").start()
    yield server
    server.stop()


@pytest.fixture
def riffle_factory(tmp_path):
    """Makes private servers: riffle_factory(extra_args=[...], env={...}).

    Each gets its own data directory; all are stopped (exit 0 asserted)
    or, if a test left them killed, just reaped at teardown.
    """
    servers = []

    def make(extra_args=(), env=None):
        server = RiffleServer(tmp_path / f"data{len(servers)}", extra_args, env)
        servers.append(server)
        return server.start()

    yield make
    for server in servers:
        server.stop()
