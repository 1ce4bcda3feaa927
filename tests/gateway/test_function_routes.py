"""Function routes of the read API: API Gateway's HTTP API Lambda proxy
integration (payload format 2.0), driven with python-requests and
http.client against the real binary started with
tests/gateway/functions/stack.yaml. The functions are real: a Node handler
under aws-lambda-ric (nodejs20.x) and a provided.al2 bootstrap."""

import base64
import concurrent.futures
import http.client
import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RIC = REPO / "node_modules" / "aws-lambda-ric" / "bin" / "index.mjs"
INTERNAL_ERROR = {"message": "Internal Server Error"}


import riffle_harness as harness  # noqa: E402 (on sys.path by tests/conftest.py)

pytestmark = pytest.mark.skipif(
    not RIC.exists(), reason="aws-lambda-ric is not installed (scripts/setup)")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("function-routes")
    stack = base / "stack"
    shutil.copytree(HERE / "functions", stack)
    os.chmod(stack / "bootstrap" / "bootstrap", 0o755)
    s = harness.RiffleServer(base / "data", ["--stack", str(stack / "stack.yaml")]).start()
    yield s
    s.stop()


def get(server, path, **kwargs):
    return requests.get(server.http + path, timeout=30, **kwargs)


def node_event(response):
    assert response.status_code == 200, response.text
    return response.json()["event"]


def test_stack_output_names_the_function_routes(server):
    log = server.log()
    assert "serving route nodePost POST /node/{id} (invokes fr-node)" in log
    assert "serving route getItem GET /items/{id} (GetItem on fr-items)" in log


def test_path_parameters_query_strings_and_request_context(server):
    r = get(server, "/node/p%2F1?a=1&b=x%20y&a=2&empty=",
            headers={"User-Agent": "riffle-test/1", "Cookie": "c1=v1; c2=v2"})
    event = node_event(r)
    assert r.headers["x-handler"] == "node"
    assert r.headers["content-type"] == "application/json"
    assert len(r.headers["apigw-requestid"]) == 16
    # Each cookie of the handler is its own Set-Cookie header.
    assert r.raw.headers.getlist("set-cookie") == ["session=abc; HttpOnly", "theme=dark"]

    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /node/{id}"
    assert event["rawPath"] == "/node/p%2F1"
    assert event["rawQueryString"] == "a=1&b=x%20y&a=2&empty="
    assert event["pathParameters"] == {"id": "p/1"}
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y", "empty": ""}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert event["headers"]["user-agent"] == "riffle-test/1"
    assert all(name == name.lower() for name in event["headers"])
    assert event["isBase64Encoded"] is False
    assert "body" not in event

    ctx = event["requestContext"]
    port = urlparse(server.http).port
    assert event["headers"]["host"] == f"127.0.0.1:{port}"
    assert ctx["domainName"] == "127.0.0.1"
    assert ctx["domainPrefix"] == "127"
    assert ctx["accountId"] == "000000000000"
    assert len(ctx["apiId"]) == 10
    assert ctx["requestId"] == r.headers["apigw-requestid"]
    assert ctx["routeKey"] == "GET /node/{id}"
    assert ctx["stage"] == "$default"
    assert ctx["http"] == {"method": "GET", "path": "/node/p%2F1", "protocol": "HTTP/1.1",
                           "sourceIp": "127.0.0.1", "userAgent": "riffle-test/1"}
    assert abs(ctx["timeEpoch"] / 1000 - time.time()) < 60
    assert time.strftime("/%Y:", time.gmtime()) in ctx["time"]
    assert ctx["time"].endswith(" +0000")


def test_repeated_headers_are_comma_joined(server):
    u = urlparse(server.http)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    conn.putrequest("GET", "/node/h")
    conn.putheader("X-Repeat", "one")
    conn.putheader("X-Repeat", "two")
    conn.endheaders()
    r = conn.getresponse()
    assert r.status == 200
    event = json.loads(r.read())["event"]
    conn.close()
    assert event["headers"]["x-repeat"] == "one,two"


def test_post_text_body(server):
    r = requests.post(server.http + "/node/p1", data="amount=12.50&memo=hé".encode(),
                      headers={"Content-Type": "text/plain; charset=utf-8"}, timeout=30)
    event = node_event(r)
    assert event["routeKey"] == "POST /node/{id}"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["body"] == "amount=12.50&memo=hé"
    assert event["isBase64Encoded"] is False
    assert event["headers"]["content-type"] == "text/plain; charset=utf-8"

    r = requests.post(server.http + "/node/p1", json={"a": [1, 2]}, timeout=30)
    event = node_event(r)
    assert json.loads(event["body"]) == {"a": [1, 2]}
    assert event["isBase64Encoded"] is False


def test_binary_body_round_trips_as_base64(server):
    data = bytes(range(256)) * 4
    r = requests.put(server.http + "/boot/x/y?q=1", data=data,
                     headers={"Content-Type": "application/octet-stream"}, timeout=30)
    assert r.status_code == 201, r.text
    # The bootstrap saw base64 and answered base64: the bytes come back.
    assert r.content == data
    assert r.headers["content-type"] == "application/octet-stream"
    event = json.loads(r.headers["x-event"])
    assert event["isBase64Encoded"] is True
    assert event["pathParameters"] == {"a": "x", "b": "y"}
    assert event["routeKey"] == "PUT /boot/{a}/{b}"

    # A text body through the same bootstrap stays text.
    r = requests.put(server.http + "/boot/x/y", data="plain", timeout=30,
                     headers={"Content-Type": "text/plain"})
    assert r.status_code == 201
    assert r.text == "plain"
    assert json.loads(r.headers["x-event"])["isBase64Encoded"] is False


def test_bootstrap_get_has_no_body(server):
    r = get(server, "/boot/1/2")
    assert r.status_code == 200, r.text
    assert r.content == b""
    event = json.loads(r.headers["x-event"])
    assert event["requestContext"]["http"]["method"] == "GET"
    assert "queryStringParameters" not in event


def test_bare_object_and_string_are_200_json(server):
    r = get(server, "/bare")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"hello": "world", "amount": 12.5}

    r = get(server, "/text")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.text == "plain string"


def test_handler_that_throws_is_500(server):
    r = get(server, "/throws")
    assert r.status_code == 500
    assert r.json() == INTERNAL_ERROR
    assert r.headers["content-type"] == "application/json"
    assert "handler failed on purpose" in server.log()


def test_timeout_is_500_and_never_holds_the_server(server):
    get(server, "/bare")  # warm
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        slow = [pool.submit(get, server, "/slow") for _ in range(2)]
        time.sleep(0.2)
        # Other routes are served while the slow function runs.
        for path in ("/bare", "/items/none", "/health"):
            t = time.monotonic()
            r = get(server, path)
            assert r.status_code in (200, 404), (path, r.text)
            assert time.monotonic() - t < 1.0, path
        for f in slow:
            r = f.result()
            assert r.status_code == 500
            assert r.json() == INTERNAL_ERROR
        # The function's timeout (1 s), plus a cold start.
        assert time.monotonic() - started < 8


def test_route_timeout_is_503_while_the_function_runs_on(server):
    get(server, "/bare")  # warm
    started = time.monotonic()
    r = get(server, "/slow-route")
    elapsed = time.monotonic() - started
    assert r.status_code == 503, r.text
    assert r.json() == {"message": "Service Unavailable"}
    assert len(r.headers["apigw-requestid"]) == 16
    assert 0.45 < elapsed < 2.5, elapsed
    assert "did not answer within 500 ms" in server.log()


def test_table_route_and_bad_requests_keep_their_shapes(server):
    r = get(server, "/items/none")
    assert r.status_code == 404
    assert r.json()["code"] == "NotFound"
    r = requests.delete(server.http + "/node/1", timeout=30)
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, POST, OPTIONS"
    r = requests.options(server.http + "/boot/1/2", timeout=30)
    assert r.status_code == 204
    assert r.headers["allow"] == "GET, PUT, OPTIONS"


def test_openapi_lists_function_routes(server):
    doc = get(server, "/openapi.json").json()
    paths = doc["paths"]
    assert paths["/node/{id}"]["get"]["operationId"] == "nodeGet"
    post = paths["/node/{id}"]["post"]
    assert post["operationId"] == "nodePost"
    assert "requestBody" in post
    assert [p["name"] for p in post["parameters"]] == ["id"]
    assert "500" in post["responses"]
    assert paths["/boot/{a}/{b}"]["put"]["operationId"] == "bootPut"
    assert "fr-slow" in paths["/slow"]["get"]["summary"]
    assert paths["/items/{id}"]["get"]["operationId"] == "getItem"


def test_http2_and_curl(server):
    # h2c with prior knowledge, as curl and the AWS SDKs speak it.
    out = subprocess.run(
        ["curl", "-s", "--http2-prior-knowledge", "-X", "POST", "-H", "Content-Type: application/json",
         "--data", '{"n": 1}', "-D", "-", server.http + "/node/h2?via=curl"],
        capture_output=True, text=True, timeout=30, check=True).stdout
    head, _, body = out.partition("\n\n")  # text=True: universal newlines
    assert head.startswith("HTTP/2 200"), head
    event = json.loads(body)["event"]
    assert event["requestContext"]["http"]["protocol"] == "HTTP/2.0"
    assert event["routeKey"] == "POST /node/{id}"
    assert event["queryStringParameters"] == {"via": "curl"}
    assert json.loads(event["body"]) == {"n": 1}
    assert event["requestContext"]["domainName"] == "127.0.0.1"
