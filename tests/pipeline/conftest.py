"""Fixtures for the case-study suite (tests/pipeline): Avro payments from a
Node producer through a stream and riffle:avro-to-table into a table."""

import os
import shutil
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import pipeline_helpers as ph  # noqa: E402


@pytest.fixture(autouse=True)
def _needs_node():
    if not shutil.which(ph.NODE):
        pytest.skip("node is not installed")


@pytest.fixture
def pipeline(riffle):
    """The case study on the shared server, with a 2-shard stream."""
    if not riffle.endpoints.get("registry"):
        pytest.skip("needs riffle's registry and functions")
    return ph.Pipeline(riffle).create()
