"""The read API on the http port, driven with python-requests against the
real binary started with `--stack`; items are written with boto3 through
the DynamoDB API and read back through the routes of tests/gateway/stack.yaml.
"""

import base64
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import boto3
import botocore.config
import pytest
import requests

HERE = Path(__file__).resolve().parent


import riffle_harness as harness  # noqa: E402 (on sys.path by tests/conftest.py)
ACCOUNTS = {"acct-1": 11, "acct-2": 2}


def dynamodb(endpoint):
    return boto3.client("dynamodb", endpoint_url=endpoint,
                        config=botocore.config.Config(retries={"total_max_attempts": 1}))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # Private to this module: it owns its data directory and restarts.
    base = tmp_path_factory.mktemp("gateway")
    shutil.copy(HERE / "stack.yaml", base / "stack.yaml")
    s = harness.RiffleServer(base / "data", ["--stack", str(base / "stack.yaml")]).start()
    ddb = dynamodb(s.aws)
    for account, count in ACCOUNTS.items():
        for i in range(count):
            ddb.put_item(TableName="gw-payments", Item={
                "paymentId": {"S": f"{account}-p{i:02d}"},
                "accountId": {"S": account},
                "createdAt": {"S": f"2024-03-{i + 1:02d}T10:00:00Z"},
                "amount": {"N": f"{i}.50"},
                "bigId": {"N": "12345678901234567890"},
                "tags": {"SS": ["a", "b"]},
                "raw": {"B": b"\x00\x01"},
                "ok": {"BOOL": True},
                "memo": {"NULL": True},
                "meta": {"M": {"n": {"L": [{"N": "1"}, {"S": "x"}]}}},
            })
    for seq in range(5):
        ddb.put_item(TableName="gw-ledger", Item={
            "account": {"S": "L"}, "seq": {"N": str(seq)},
            "amount": {"N": str(seq * 10)}, "secret": {"S": "hidden"}})
    yield s
    s.stop()


def url(server, path):
    return server.http + path


def assert_json_error(r, status):
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/json"
    body = r.json()
    assert set(body) == {"code", "message"}, body
    return body


def test_stack_output_names_every_change(server):
    log = server.log()
    assert "created stream gw-payments (2 shards" in log
    assert "created table gw-payments" in log
    assert "created table gw-ledger" in log
    assert "serving route listPayments GET /accounts/{accountId}/payments" in log


def test_get_item_as_plain_json(server):
    r = requests.get(url(server, "/payments/acct-1-p03"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {
        "paymentId": "acct-1-p03", "accountId": "acct-1",
        "createdAt": "2024-03-04T10:00:00Z",
        "amount": 3.5,                       # exact as a double: a number
        "bigId": "12345678901234567890",     # not exact: a string
        "tags": ["a", "b"],
        "raw": base64.b64encode(b"\x00\x01").decode(),
        "ok": True, "memo": None, "meta": {"n": [1, "x"]},
    }
    # Numbers keep DynamoDB's exact text.
    assert '"amount":3.5' in r.text


def test_get_item_absent_is_json_404(server):
    body = assert_json_error(requests.get(url(server, "/payments/nope")), 404)
    assert body["code"] == "NotFound"


def test_written_items_are_read_at_once(server):
    ddb = dynamodb(server.aws)
    ddb.put_item(TableName="gw-payments", Item={
        "paymentId": {"S": "fresh"}, "accountId": {"S": "acct-9"},
        "createdAt": {"S": "2024-01-01"}, "amount": {"N": "0.1"}})
    assert requests.get(url(server, "/payments/fresh")).json()["amount"] == 0.1
    ddb.delete_item(TableName="gw-payments", Key={"paymentId": {"S": "fresh"}})
    assert requests.get(url(server, "/payments/fresh")).status_code == 404


def pages(server, path, params=None):
    """Every page of a Query route, following cursors to the end."""
    params = dict(params or {})
    out = []
    for _ in range(50):
        r = requests.get(url(server, path), params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        out.append(body)
        if "cursor" not in body:
            return out
        assert re.fullmatch(r"[A-Za-z0-9_-]+", body["cursor"])
        params["cursor"] = body["cursor"]
    pytest.fail("cursor never ended")


def ids(pages_):
    return [item["paymentId"] for page in pages_ for item in page["items"]]


def test_query_pages_to_the_end(server):
    got = pages(server, "/accounts/acct-1/payments")
    assert ids(got) == [f"acct-1-p{i:02d}" for i in range(11)]
    assert [len(p["items"]) for p in got] == [3, 3, 3, 2]   # default limit 3
    got = pages(server, "/accounts/acct-1/payments", {"limit": 5})
    assert [len(p["items"]) for p in got] == [5, 5, 1]
    # Fewer items than the limit: one page, no cursor.
    assert ids(pages(server, "/accounts/acct-2/payments", {"limit": 20})) == [
        "acct-2-p00", "acct-2-p01"]
    assert requests.get(url(server, "/accounts/nobody/payments")).json() == {"items": []}


def test_order_desc(server):
    got = pages(server, "/accounts/acct-1/payments", {"order": "desc", "limit": 4})
    assert ids(got) == [f"acct-1-p{i:02d}" for i in reversed(range(11))]


def test_sort_key_conditions(server):
    p = "/accounts/acct-1/payments"
    between = ids(pages(server, p, {"from": "2024-03-03", "to": "2024-03-05T99"}))
    assert between == ["acct-1-p02", "acct-1-p03", "acct-1-p04"]
    assert ids(pages(server, p, {"from": "2024-03-10"})) == ["acct-1-p09", "acct-1-p10"]
    assert ids(pages(server, p, {"to": "2024-03-02"})) == ["acct-1-p00"]
    assert ids(pages(server, p, {"prefix": "2024-03-1"})) == ["acct-1-p09", "acct-1-p10"]
    assert ids(pages(server, p, {"prefix": "2024-03-1", "order": "desc"})) == [
        "acct-1-p10", "acct-1-p09"]
    # A numeric sort key, with a projection.
    ledger = pages(server, "/ledger/L", {"after": "1", "before": "3"})
    assert [i for pg in ledger for i in pg["items"]] == [
        {"seq": 1, "amount": 10}, {"seq": 2, "amount": 20}, {"seq": 3, "amount": 30}]


def test_etag_and_if_none_match(server):
    for path in ("/payments/acct-2-p01", "/accounts/acct-2/payments"):
        r = requests.get(url(server, path))
        etag = r.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
        r2 = requests.get(url(server, path), headers={"If-None-Match": etag})
        assert r2.status_code == 304 and r2.content == b""
        assert r2.headers["etag"] == etag
        r3 = requests.get(url(server, path), headers={"If-None-Match": '"stale"'})
        assert r3.status_code == 200
    # A change makes a new ETag.
    before = requests.get(url(server, "/payments/acct-2-p01")).headers["etag"]
    dynamodb(server.aws).update_item(
        TableName="gw-payments", Key={"paymentId": {"S": "acct-2-p01"}},
        UpdateExpression="SET amount = :a", ExpressionAttributeValues={":a": {"N": "99"}})
    r = requests.get(url(server, "/payments/acct-2-p01"), headers={"If-None-Match": before})
    assert r.status_code == 200 and r.json()["amount"] == 99


def test_cors(server):
    origin = {"Origin": "https://app.example"}
    r = requests.get(url(server, "/payments/acct-1-p00"), headers=origin)
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    assert "ETag" in r.headers["access-control-expose-headers"]
    r = requests.get(url(server, "/payments/none"), headers=origin)
    assert r.status_code == 404
    assert r.headers["access-control-allow-origin"] == "https://app.example"
    r = requests.get(url(server, "/payments/acct-1-p00"), headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    pre = requests.options(url(server, "/accounts/acct-1/payments"), headers={
        **origin, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "if-none-match"})
    assert pre.status_code == 204
    assert "GET" in pre.headers["access-control-allow-methods"]
    assert "if-none-match" in pre.headers["access-control-allow-headers"]
    assert pre.headers["access-control-max-age"] == "120"


def test_openapi_describes_every_route(server):
    doc = requests.get(url(server, "/openapi.json")).json()
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "Payments read API (tests)"
    ops = {op["operationId"]: (path, method)
           for path, methods in doc["paths"].items() for method, op in methods.items()}
    assert ops == {"getPayment": ("/payments/{paymentId}", "get"),
                   "listPayments": ("/accounts/{accountId}/payments", "get"),
                   "ledger": ("/ledger/{account}", "get")}
    names = [p["name"] for p in doc["paths"]["/ledger/{account}"]["get"]["parameters"]]
    assert names == ["account", "limit", "cursor", "order", "after", "before"]


def tamper(cursor):
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[len(raw) // 2] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def test_bad_input_gets_json_4xx(server):
    p = "/accounts/acct-1/payments"
    cursor = requests.get(url(server, p), params={"limit": 2}).json()["cursor"]
    cases = [
        (p, {"limit": "abc"}, 400, "BadRequest"),
        (p, {"limit": "0"}, 400, "BadRequest"),
        (p, {"limit": "21"}, 400, "BadRequest"),
        (p, {"limit": "-3"}, 400, "BadRequest"),
        (p, {"limit": "1.5"}, 400, "BadRequest"),
        (p, {"limit": "9" * 30}, 400, "BadRequest"),
        (p, {"order": "sideways"}, 400, "BadRequest"),
        (p, {"cursor": "garbage!"}, 400, "InvalidCursor"),
        (p, {"cursor": ""}, 400, "InvalidCursor"),
        (p, {"cursor": tamper(cursor)}, 400, "InvalidCursor"),
        (p, {"cursor": cursor[:-2]}, 400, "InvalidCursor"),
        (p, {"cursor": cursor + "AA"}, 400, "InvalidCursor"),
        ("/accounts/acct-2/payments", {"cursor": cursor}, 400, "InvalidCursor"),
        (p, {"cursor": cursor, "order": "desc"}, 400, "InvalidCursor"),
        (p, {"prefix": "2024", "from": "2024"}, 400, "BadRequest"),
        (p, {"from": "2024-04", "to": "2024-03"}, 400, "BadRequest"),
        (p, {"colour": "red"}, 400, "BadRequest"),
        ("/ledger/L", {"after": "one"}, 400, "BadRequest"),
        ("/payments/x", {"limit": "1"}, 400, "BadRequest"),
        ("/nowhere", {}, 404, "NotFound"),
        ("/payments", {}, 404, "NotFound"),
        ("/accounts/acct-1/payments/extra", {}, 404, "NotFound"),
    ]
    for path, params, status, code in cases:
        r = requests.get(url(server, path), params=params)
        body = assert_json_error(r, status)
        assert body["code"] == code, (path, params, body)
    # The cursor itself still works.
    assert requests.get(url(server, p), params={"limit": 2, "cursor": cursor}).status_code == 200
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        r = requests.request(method, url(server, "/payments/acct-1-p00"), data="{}")
        body = assert_json_error(r, 405)
        assert body["code"] == "MethodNotAllowed"
        assert "GET" in r.headers["allow"]
    assert_json_error(requests.post(url(server, "/openapi.json")), 405)


def test_ops_endpoints_stay_on_the_http_port(server):
    assert requests.get(url(server, "/health")).json() == {"status": "ok"}
    assert requests.get(url(server, "/metrics")).status_code == 200


@pytest.mark.needs_binary
def test_restart_with_the_same_stack_changes_nothing(server):
    cursor = requests.get(url(server, "/accounts/acct-1/payments"),
                          params={"limit": 2}).json()["cursor"]
    start = len(server.log())
    server.restart()
    log = server.log()[start:]
    assert "unchanged: stream gw-payments" in log
    assert "unchanged: table gw-payments" in log
    assert "unchanged: table gw-ledger" in log
    assert "created" not in log and "updated" not in log, log
    # Data and cursors survive (the cursor secret lives in DATA_DIR).
    r = requests.get(url(server, "/accounts/acct-1/payments"),
                     params={"limit": 2, "cursor": cursor})
    assert r.status_code == 200, r.text
    assert [i["paymentId"] for i in r.json()["items"]] == ["acct-1-p02", "acct-1-p03"]


@pytest.mark.needs_binary
def test_stack_errors_name_file_line_and_field(riffle_factory, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables:\n  t:\n    partition_key: {name: id, type: Q}\n")
    p = subprocess.run([harness.RIFFLE_BIN, "server", "--data-dir", str(tmp_path / "d"),
                        "--aws-port", "0", "--registry-port", "0", "--http-port", "0",
                        "--stack", str(bad)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert f"{bad}:3: tables.t.partition_key.type: must be S, N or B" in p.stdout + p.stderr


FULL_STACK = """\
streams:
  full-payments: {shards: 2, retention_hours: 48}
  full-dlq: {shards: 1}
schemas:
  full-payments-value: {file: schemas/payment.avsc, compatibility: BACKWARD}
tables:
  full-payments:
    partition_key: {name: paymentId, type: S}
    ttl: expiresAt
functions:
  full-store:
    runtime: riffle:avro-to-table
    environment: {RIFFLE_TABLE: full-payments}
    concurrency: 2
mappings:
  - function: full-store
    stream: full-payments
    batch_size: 50
    on_failure: full-dlq
routes:
  getPayment: {path: "/payments/{paymentId}", action: get_item, table: full-payments}
"""


@pytest.mark.needs_binary
def test_every_kind_applies_in_order_then_changes_nothing(riffle_factory, tmp_path):
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "payment.avsc").write_text(
        '{"type":"record","name":"Payment","fields":'
        '[{"name":"paymentId","type":"string"}]}')
    stack = tmp_path / "stack.yaml"
    stack.write_text(FULL_STACK)
    s = riffle_factory(["--stack", str(stack)])
    first = s.log()
    order = ["set compatibility of full-payments-value to BACKWARD",
             "registered schema full-payments-value version 1 (id 1)",
             "created stream full-payments (2 shards, PROVISIONED, 48h retention)",
             "created stream full-dlq (1 shards",
             "created table full-payments (key paymentId S; TTL on expiresAt)",
             "created function full-store (riffle:avro-to-table)",
             "created mapping full-payments -> full-store",
             "serving route getPayment"]
    positions = [first.find(line) for line in order]
    assert -1 not in positions, first
    assert positions == sorted(positions), first
    start = len(first)
    s.restart()
    second = s.log()[start:]
    for line in ["unchanged: schema full-payments-value (version 1, id 1)",
                 "unchanged: stream full-payments", "unchanged: stream full-dlq",
                 "unchanged: table full-payments", "unchanged: function full-store",
                 "unchanged: mapping full-payments -> full-store"]:
        assert line in second, second
    assert "created" not in second and "updated" not in second, second
    # A changed stack is applied as a change.
    stack.write_text(FULL_STACK.replace("batch_size: 50", "batch_size: 10")
                     .replace("retention_hours: 48", "retention_hours: 72"))
    start = len(s.log())
    s.restart()
    third = s.log()[start:]
    assert "updated stream full-payments: retention 72h" in third, third
    assert "updated mapping full-payments -> full-store" in third, third
