"""Fixtures for tests/worker: `riffle worker` processes sharing a mapping's
shards through its lease table, against a riffle server."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "pipeline"))


@pytest.fixture(autouse=True)
def _needs_node():
    if not shutil.which(os.environ.get("NODE", "node")):
        pytest.skip("node is not installed (the producer is the Node one)")
