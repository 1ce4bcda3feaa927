"""HTTP helpers for the registry suite (imported by name: pytest loads every
suite's conftest.py as "conftest", so tests must not import from it)."""

import requests

V1 = "application/vnd.schemaregistry.v1+json"


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
