"""Fixtures for the schema registry suite: the shared server's registry URL
and a factory of unique subject names."""

import uuid

import pytest
import requests

V1 = "application/vnd.schemaregistry.v1+json"


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


class Rest:
    """A thin requests wrapper speaking Confluent's media type."""

    def __init__(self, base):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Content-Type"] = V1
        self.session.headers["Accept"] = V1

    def call(self, method, path, body=None, **kwargs):
        data = body if isinstance(body, (str, bytes)) or body is None else None
        json_body = None if data is not None or body is None else body
        return self.session.request(method, self.base + path, data=data,
                                    json=json_body, timeout=10, **kwargs)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


@pytest.fixture(scope="session")
def rest(registry):
    return Rest(registry)
