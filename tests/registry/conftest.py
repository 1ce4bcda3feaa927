"""Fixtures for the schema registry suite: the shared server's registry URL
and a factory of unique subject names."""

import uuid

import pytest
from registry_helpers import Rest


@pytest.fixture(scope="session")
def registry(riffle):
    if not riffle.endpoints.get("registry"):
        pytest.skip("no registry endpoint")
    return riffle.endpoints["registry"]


@pytest.fixture
def subject(request):
    """A fresh subject name per test (and a maker for more)."""
    base = request.node.name.replace("[", "-").replace("]", "")[:40]
    return f"{base}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def rest(registry):
    return Rest(registry)
