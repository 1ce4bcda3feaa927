"""API Gateway HTTP API route keys and payload limits on the read API,
driven with python-requests (and curl for HTTP/2) against the real binary
started with tests/gateway/route_keys/stack.yaml. The function is real: the
Node handler of tests/gateway/functions/node under aws-lambda-ric, which
answers with the event it got.

- "ANY /orders/{id}" serves every method that "GET /orders/{id}" does not;
- "$default" serves what no route matches, 405s included;
- a body over API Gateway's 10 MB is refused with its 413 before it is
  read whole, and one whose event would pass Lambda's 6 MB gets the same.
"""

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

import riffle_harness as harness  # noqa: E402 (on sys.path by tests/conftest.py)

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RIC = REPO / "node_modules" / "aws-lambda-ric" / "bin" / "index.mjs"
TOO_LARGE = {"message": "Request Entity Too Large"}
MAX_BODY = 10 * 1024 * 1024  # API Gateway's HTTP API payload quota

pytestmark = pytest.mark.skipif(
    not RIC.exists(), reason="aws-lambda-ric is not installed (scripts/setup)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("route-keys")
    stack = base / "stack"
    stack.mkdir()
    shutil.copy(HERE / "route_keys" / "stack.yaml", stack / "stack.yaml")
    shutil.copytree(HERE / "functions" / "node", stack / "node")
    s = harness.RiffleServer(base / "data", ["--stack", str(stack / "stack.yaml"),
                                             "--print-help-on-ready"]).start()
    yield s
    s.stop()


def call(server, method, path, **kwargs):
    return requests.request(method, server.http + path, timeout=60, **kwargs)


def event_of(response):
    assert response.status_code == 200, response.text
    assert len(response.headers["apigw-requestid"]) == 16
    return response.json()["event"]


def test_stack_output_names_the_route_keys(server):
    # The welcome text follows endpoints.json: wait for its last line.
    deadline = time.monotonic() + 10
    while "Stop with Ctrl-C." not in server.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    log = server.log()
    assert "serving route anyOrder ANY /orders/{id} (invokes rk-api)" in log
    assert "serving route catchAll ANY $default (invokes rk-api)" in log
    # --print-help-on-ready: an ANY route's examples are plain GETs.
    assert f"  curl -s '{server.http}/orders/o-1'" in log
    assert f"  ANY {server.http}/... (any request no other route serves)" in log


def test_a_specific_method_beats_any(server):
    event = event_of(call(server, "GET", "/orders/o-1?x=1"))
    assert event["routeKey"] == "GET /orders/{id}"
    assert event["requestContext"]["routeKey"] == "GET /orders/{id}"
    assert event["pathParameters"] == {"id": "o-1"}


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def test_any_serves_every_other_method(server, method):
    r = call(server, method, "/orders/o%2F2?a=1&a=2", data=b'{"n": 1}',
             headers={"Content-Type": "application/json"})
    event = event_of(r)
    assert event["routeKey"] == "ANY /orders/{id}"
    assert event["requestContext"]["routeKey"] == "ANY /orders/{id}"
    assert event["requestContext"]["http"]["method"] == method
    assert event["pathParameters"] == {"id": "o/2"}
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["body"] == '{"n": 1}'


def test_head_reaches_any_without_a_body(server):
    r = call(server, "HEAD", "/orders/o-3")
    assert r.status_code == 200
    assert r.content == b""
    # The length of the reply a GET-like answer would have had.
    assert int(r.headers["content-length"]) > 100
    # Table routes too (HEAD used to announce a length of 0).
    r = call(server, "HEAD", "/items/none")
    assert r.status_code == 404
    assert int(r.headers["content-length"]) == len(call(server, "GET", "/items/none").content)


def test_default_catches_unmatched_paths(server):
    event = event_of(call(server, "GET", "/no/such/path?q=%20x"))
    assert event["routeKey"] == "$default"
    assert event["requestContext"]["routeKey"] == "$default"
    assert event["rawPath"] == "/no/such/path"
    assert event["rawQueryString"] == "q=%20x"
    assert event["queryStringParameters"] == {"q": " x"}
    assert "pathParameters" not in event
    # Deeper than /orders/{id}: not ANY's.
    assert event_of(call(server, "PUT", "/orders/o-1/lines"))["routeKey"] == "$default"
    assert event_of(call(server, "GET", "/"))["routeKey"] == "$default"


def test_greedy_path_variable_takes_the_rest_of_the_path(server):
    event = event_of(call(server, "DELETE", "/files/a/b%2Fc/d%20e.txt?v=1"))
    assert event["routeKey"] == "ANY /files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c/d e.txt"}
    assert event["rawPath"] == "/files/a/b%2Fc/d%20e.txt"
    assert event_of(call(server, "GET", "/files/one"))["pathParameters"] == {"proxy": "one"}
    # One segment at least: /files alone is $default's.
    assert event_of(call(server, "GET", "/files"))["routeKey"] == "$default"


def test_default_takes_what_would_be_405(server):
    # API Gateway matches method and path together: a POST to a GET-only
    # table route is $default's.
    r = call(server, "POST", "/items/i-1", data=b"x")
    assert event_of(r)["routeKey"] == "$default"


def test_table_route_and_openapi_unchanged(server):
    r = call(server, "GET", "/items/none")
    assert r.status_code == 404
    assert r.json()["code"] == "NotFound"
    assert "apigw-requestid" not in r.headers
    doc = call(server, "GET", "/openapi.json").json()
    orders = doc["paths"]["/orders/{id}"]
    assert orders["get"]["operationId"] == "getOrder"
    assert orders["x-amazon-apigateway-any-method"]["operationId"] == "anyOrder"
    fallback = doc["paths"]["$default"]["x-amazon-apigateway-any-method"]
    assert fallback["isDefaultRoute"] is True


def test_body_over_10_mb_is_apigateways_413(server):
    r = call(server, "POST", "/orders/big", data=b"a" * (MAX_BODY + 1),
             headers={"Content-Type": "text/plain"})
    assert r.status_code == 413
    assert r.json() == TOO_LARGE
    assert r.headers["content-type"] == "application/json"
    # The server goes on serving.
    assert event_of(call(server, "GET", "/orders/after"))["routeKey"] == "GET /orders/{id}"


def test_oversized_body_is_refused_before_it_is_sent_whole(server):
    # Content-Length alone over the limit: the answer comes without the
    # body ever being sent.
    url = urlparse(server.http)
    with socket.create_connection((url.hostname, url.port), timeout=10) as s:
        s.sendall(b"POST /orders/x HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
                  b"Content-Length: %d\r\n\r\n" % (MAX_BODY + 1))
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
            chunk = s.recv(4096)
            if not chunk:
                break
            reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head
    assert body == b'{"message":"Request Entity Too Large"}'


def test_chunked_body_over_10_mb_is_413(server):
    def chunks():
        for _ in range(11):
            yield b"b" * (1024 * 1024)
    r = call(server, "POST", "/orders/chunked", data=chunks(),
             headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 413
    assert r.json() == TOO_LARGE


def test_http2_body_over_10_mb_is_413(server, tmp_path):
    big = tmp_path / "big.bin"
    big.write_bytes(b"c" * (MAX_BODY + 1))
    out = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", "-X", "POST", "--data-binary", f"@{big}",
         "-H", "Content-Type: application/octet-stream", "-w", "\n%{http_code}",
         server.http + "/orders/h2"],
        capture_output=True, text=True, timeout=60).stdout
    body, _, code = out.rpartition("\n")
    assert code == "413", out[:500]
    assert body == '{"message":"Request Entity Too Large"}'


def test_event_over_lambdas_6_mb_is_413_without_invoking(server):
    # 7 MB of text is under API Gateway's 10 MB but its event is over
    # Lambda's 6 MB; 4.6 MB of binary is over it once base64.
    r = call(server, "PUT", "/orders/seven", data=b"d" * (7 * 1024 * 1024),
             headers={"Content-Type": "text/plain"})
    assert r.status_code == 413
    assert r.json() == TOO_LARGE
    assert len(r.headers["apigw-requestid"]) == 16
    r = call(server, "PUT", "/orders/binary", data=os.urandom(4700 * 1024),
             headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 413
    assert "exceeds Lambda's 6291456-byte payload limit" in server.log()


def test_a_body_under_the_limits_reaches_the_function(server):
    body = b"e" * (3 * 1024 * 1024)
    event = event_of(call(server, "POST", "/orders/three", data=body,
                          headers={"Content-Type": "text/plain"}))
    assert event["routeKey"] == "ANY /orders/{id}"
    assert event["body"] == body.decode()
    assert event["isBase64Encoded"] is False
