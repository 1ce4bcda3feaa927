"""`riffle apply` against the real binary: the payments example applied
through the public APIs only (Kinesis, DynamoDB, Lambda, the Confluent
registry and riffle's routes endpoint), checked with boto3 and the
registry's REST API; idempotence, updates of only what differs, the dry
run, function code sent as a zip, errors naming file, line and field, an
unreachable endpoint, and routes that survive a restart.
"""

import base64
import json
import os
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent.parent / "examples" / "payments"


pytestmark = pytest.mark.needs_binary


from apply_helpers import apply, client, run  # noqa: E402


def http_json(url, method="GET", body=None):
    req = urllib.request.Request(url, method=method, data=body)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@pytest.fixture
def stack_dir(tmp_path):
    """A copy of the payments example, free to edit."""
    d = tmp_path / "payments"
    shutil.copytree(EXAMPLE, d)
    return d


@pytest.fixture
def server(riffle_factory):
    return riffle_factory()


def edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_apply_creates_everything_then_nothing_changes(server, stack_dir):
    stack = stack_dir / "stack.yaml"
    code, items, out, err = apply(server, stack)
    assert code == 0, out + err
    assert items == [
        "set compatibility of payments-value to BACKWARD",
        f"registered schema payments-value version 1 (id 1) from "
        f"{stack_dir / 'payment.avsc'}",
        "created stream payments (2 shards, PROVISIONED, 24h retention)",
        "created table payments (key paymentId S; indexes byAccount)",
        "created function payments-to-table (riffle:avro-to-table)",
        items[5],
        "set read_api (title, cors)",
        "serving route getPayment GET /payments/{paymentId} "
        "(GetItem on payments)",
        "serving route listAccountPayments GET /accounts/{accountId}/payments "
        "(Query on payments.byAccount)",
    ], out
    assert items[5].startswith(
        "created mapping payments -> payments-to-table (uuid ")

    # Everything exists, as the public APIs show it.
    kinesis = client(server, "kinesis")
    summary = kinesis.describe_stream_summary(
        StreamName="payments")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2
    table = client(server, "dynamodb").describe_table(
        TableName="payments")["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == [
        "byAccount"]
    lam = client(server, "lambda")
    fn = lam.get_function(FunctionName="payments-to-table")["Configuration"]
    assert fn["Runtime"] == "riffle:avro-to-table"
    assert fn["Environment"]["Variables"] == {"TABLE_NAME": "payments"}
    mappings = lam.list_event_source_mappings(
        FunctionName="payments-to-table")["EventSourceMappings"]
    assert len(mappings) == 1
    assert mappings[0]["EventSourceArn"] == summary["StreamARN"]
    assert mappings[0]["BatchSize"] == 100
    registry = server.endpoints["registry"]
    assert http_json(f"{registry}/subjects/payments-value/versions") == (
        200, [1])
    assert http_json(f"{registry}/config/payments-value")[1][
        "compatibilityLevel"] == "BACKWARD"

    # Again: every item unchanged, and the summary says so.
    code, items, out, err = apply(server, stack)
    assert code == 0, out + err
    assert items and all(i.startswith("unchanged: ") for i in items), out
    assert "no changes: all 7 items match" in out

    # The applied pipeline works: records produced reach the table and the
    # read API.
    samples = [json.loads(line) for line in
               (stack_dir / "sample.jsonl").read_text().splitlines()[:5]]
    r = run("produce", "--endpoint", server.aws, "--registry", registry,
            "--stream", "payments", "--subject", "payments-value",
            "--partition-key-field", "accountId",
            stdin="".join(json.dumps(s) + "\n" for s in samples).encode())
    assert r.returncode == 0, r.stderr.decode()
    dynamodb = client(server, "dynamodb")
    deadline = time.monotonic() + 30
    missing = {s["paymentId"] for s in samples}
    while missing and time.monotonic() < deadline:
        missing = {p for p in missing if "Item" not in dynamodb.get_item(
            TableName="payments", Key={"paymentId": {"S": p}})}
        time.sleep(0.1)
    assert not missing, server.log()
    status, body = http_json(f"{server.http}/payments/"
                             f"{samples[0]['paymentId']}")
    assert status == 200 and body["accountId"] == samples[0]["accountId"]


def test_changes_update_only_what_differs(server, stack_dir):
    stack = stack_dir / "stack.yaml"
    assert apply(server, stack)[0] == 0
    edit(stack, "shards: 2", "shards: 4")
    edit(stack, "        sort_key: {name: createdAt, type: S}\n",
         "        sort_key: {name: createdAt, type: S}\n"
         "      byStatus:\n"
         "        partition_key: {name: status, type: S}\n")
    edit(stack, "      TABLE_NAME: payments\n",
         "      TABLE_NAME: payments\n      LOG_LEVEL: debug\n")
    edit(stack, "batch_size: 100", "batch_size: 250")
    code, items, out, err = apply(server, stack)
    assert code == 0, out + err
    assert items == [
        "unchanged: schema payments-value (version 1, id 1)",
        "updated stream payments: 2 -> 4 shards",
        "updated table payments: added index byStatus",
        "updated function payments-to-table: environment",
        "updated mapping payments -> payments-to-table: "
        "batch_size 100 -> 250",
        "unchanged: route getPayment",
        "unchanged: route listAccountPayments",
    ], out
    assert "5 changed" not in out and "4 changed, 3 unchanged" in out

    assert client(server, "kinesis").describe_stream_summary(
        StreamName="payments")["StreamDescriptionSummary"][
            "OpenShardCount"] == 4
    table = client(server, "dynamodb").describe_table(
        TableName="payments")["Table"]
    assert sorted(i["IndexName"] for i in table["GlobalSecondaryIndexes"]) == [
        "byAccount", "byStatus"]
    lam = client(server, "lambda")
    assert lam.get_function_configuration(
        FunctionName="payments-to-table")["Environment"]["Variables"] == {
            "TABLE_NAME": "payments", "LOG_LEVEL": "debug"}
    assert lam.list_event_source_mappings(
        FunctionName="payments-to-table")["EventSourceMappings"][0][
            "BatchSize"] == 250

    code, items, out, _ = apply(server, stack)
    assert code == 0 and all(i.startswith("unchanged: ") for i in items), out


def test_dry_run_prints_the_plan_and_changes_nothing(server, stack_dir):
    stack = stack_dir / "stack.yaml"
    code, items, out, err = apply(server, stack, "--dry-run")
    assert code == 0, out + err
    assert items[:6] == [
        "would set compatibility of payments-value to BACKWARD",
        f"would register schema payments-value from "
        f"{stack_dir / 'payment.avsc'}",
        "would create stream payments (2 shards, PROVISIONED, 24h retention)",
        "would create table payments (key paymentId S; indexes byAccount)",
        "would create function payments-to-table (riffle:avro-to-table)",
        "would create mapping payments -> payments-to-table",
    ], out
    assert "nothing was changed" in out
    assert client(server, "kinesis").list_streams()["StreamNames"] == []
    assert client(server, "dynamodb").list_tables()["TableNames"] == []
    lam = client(server, "lambda")
    assert lam.list_functions()["Functions"] == []
    assert lam.list_event_source_mappings()["EventSourceMappings"] == []
    assert http_json(f"{server.endpoints['registry']}/subjects") == (200, [])
    assert http_json(f"{server.http}/_riffle/routes") == (200, {})

    # On an applied stack, only the difference is planned.
    assert apply(server, stack)[0] == 0
    edit(stack, "shards: 2", "shards: 3")
    edit(stack, "batch_size: 100", "batch_size: 50")
    code, items, out, err = apply(server, stack, "--dry-run")
    assert code == 0, out + err
    assert "would update stream payments: 2 -> 3 shards" in items
    assert ("would update mapping payments -> payments-to-table: "
            "batch_size 100 -> 50") in items
    assert "dry run: 2 to change, 5 unchanged" in out
    assert client(server, "kinesis").describe_stream_summary(
        StreamName="payments")["StreamDescriptionSummary"][
            "OpenShardCount"] == 2


BOOTSTRAP = r'''#!/usr/bin/python3
import json, os, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    body = json.dumps({"version": VERSION, "event": event}).encode()
    urllib.request.urlopen(urllib.request.Request(
        API + "/invocation/" + rid + "/response", data=body, method="POST"))
'''


def write_function(stack_dir, version):
    code = stack_dir / "echo"
    code.mkdir(exist_ok=True)
    (code / "bootstrap").write_text(
        BOOTSTRAP.replace("VERSION", json.dumps(version)))
    (code / "bootstrap").chmod(0o755)
    (code / "lib").mkdir(exist_ok=True)
    (code / "lib" / "data.txt").write_text("some data\n")


def test_function_code_is_zipped_and_compared_by_digest(server, stack_dir):
    stack = stack_dir / "echo.yaml"
    stack.write_text("functions:\n  echo:\n    runtime: provided.al2\n"
                     "    code: echo\n    concurrency: 2\n")
    write_function(stack_dir, "v1")
    code, items, out, err = apply(server, stack)
    assert code == 0, out + err
    assert items == ["created function echo (provided.al2)"]
    lam = client(server, "lambda")
    fn = lam.get_function(FunctionName="echo")
    first_sha = fn["Configuration"]["CodeSha256"]
    assert len(base64.b64decode(first_sha)) == 32
    assert fn["Concurrency"]["ReservedConcurrentExecutions"] == 2
    reply = json.loads(lam.invoke(FunctionName="echo",
                                  Payload=b'{"n": 1}')["Payload"].read())
    assert reply == {"version": "v1", "event": {"n": 1}}

    # Touching the files without changing them changes nothing: the zip is
    # deterministic (sorted entries, fixed times).
    os.utime(stack_dir / "echo" / "bootstrap", (1, 1))
    code, items, out, _ = apply(server, stack)
    assert items == ["unchanged: function echo"], out

    write_function(stack_dir, "v2")
    code, items, out, err = apply(server, stack)
    assert code == 0, out + err
    assert items == ["updated function echo: code"], out
    assert lam.get_function(FunctionName="echo")["Configuration"][
        "CodeSha256"] != first_sha
    deadline = time.monotonic() + 20
    while True:
        reply = json.loads(lam.invoke(FunctionName="echo",
                                      Payload=b"{}")["Payload"].read())
        if reply.get("version") == "v2" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert reply["version"] == "v2"


def test_local_and_global_indexes_and_ttl(server, tmp_path):
    stack = tmp_path / "events.yaml"
    stack.write_text(
        "tables:\n  events:\n"
        "    partition_key: {name: id, type: S}\n"
        "    sort_key: {name: at, type: N}\n"
        "    ttl: expiresAt\n"
        "    indexes:\n"
        "      byKind:\n"
        "        partition_key: {name: id, type: S}\n"
        "        sort_key: {name: kind, type: S}\n"
        "        local: true\n"
        "        projection: keys_only\n"
        "      byUser:\n"
        "        partition_key: {name: user, type: S}\n"
        "        projection: [kind]\n")
    code, items, out, err = apply(server, stack)
    assert code == 0, out + err
    assert items == ["created table events (key id S, at N; indexes byKind, "
                     "byUser; TTL on expiresAt)"], out
    dynamodb = client(server, "dynamodb")
    table = dynamodb.describe_table(TableName="events")["Table"]
    lsi = table["LocalSecondaryIndexes"][0]
    assert lsi["IndexName"] == "byKind"
    assert lsi["Projection"]["ProjectionType"] == "KEYS_ONLY"
    gsi = table["GlobalSecondaryIndexes"][0]
    assert gsi["Projection"] == {"ProjectionType": "INCLUDE",
                                 "NonKeyAttributes": ["kind"]}
    assert dynamodb.describe_time_to_live(TableName="events")[
        "TimeToLiveDescription"] == {"TimeToLiveStatus": "ENABLED",
                                     "AttributeName": "expiresAt"}
    assert apply(server, stack)[1] == ["unchanged: table events"]
    # Removing ttl disables it.
    edit(stack, "    ttl: expiresAt\n", "")
    assert apply(server, stack)[1] == ["updated table events: TTL off"]
    assert dynamodb.describe_time_to_live(TableName="events")[
        "TimeToLiveDescription"]["TimeToLiveStatus"] == "DISABLED"


def test_stack_errors_name_file_line_and_field(server, stack_dir):
    stack = stack_dir / "stack.yaml"
    edit(stack, "partition_key: {name: paymentId, type: S}",
         "partition_key: {name: paymentId, type: X}")
    code, items, out, err = apply(server, stack)
    assert code == 2
    assert f"{stack}:17: tables.payments.partition_key.type: must be S, N " \
           "or B" in err, err
    assert client(server, "kinesis").list_streams()["StreamNames"] == []


def test_apply_errors_name_the_item_and_its_line(server, stack_dir):
    # A table of that name with another key: riffle will not recreate it.
    client(server, "dynamodb").create_table(
        TableName="payments", BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
    stack = stack_dir / "stack.yaml"
    code, items, out, err = apply(server, stack)
    assert code == 1, out + err
    assert (f"{stack}:16: tables.payments: exists with key (id S), the stack "
            "declares (paymentId S)") in err, err
    # Found before anything was changed: the items before it in the file
    # were not applied either (tests/apply/test_apply_checks.py has each
    # check of that pre-pass).
    assert items == [], out
    assert client(server, "kinesis").list_streams()["StreamNames"] == []
    assert client(server, "lambda").list_functions()["Functions"] == []


def test_unreachable_endpoint_is_a_clear_error(stack_dir):
    stack = stack_dir / "stack.yaml"
    r = run("apply", str(stack), "--endpoint", "http://127.0.0.1:1",
            "--registry", "http://127.0.0.1:1", "--http", "http://127.0.0.1:1",
            timeout=30)
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.startswith("riffle apply: "), err
    assert "127.0.0.1:1" in err and "Connection refused" in err, err


def test_routes_survive_a_restart_and_agree_with_server_stack(
        riffle_factory, stack_dir):
    stack = stack_dir / "stack.yaml"
    server = riffle_factory()
    assert apply(server, stack)[0] == 0
    # A restart without --stack serves the routes of the last apply.
    server.restart()
    status, _ = http_json(f"{server.http}/payments/nope")
    assert status == 404  # the route answers: no such item
    status, body = http_json(f"{server.http}/openapi.json")
    assert "/accounts/{accountId}/payments" in body["paths"]
    code, items, out, _ = apply(server, stack)
    assert code == 0 and all(i.startswith("unchanged: ") for i in items), out

    # `riffle server --stack` on the same data is the same apply: nothing
    # to change, the same routes served.
    server.stop()
    server.extra_args = ["--stack", str(stack)]
    server.start()
    assert "unchanged: route getPayment" in server.log()
    assert "created" not in server.log().split("applying")[-1]

    # A bad routes document is refused with a 400 naming the field.
    status, body = http_json(
        f"{server.http}/_riffle/routes", "PUT",
        b'{"routes": {"r": {"path": "/r/{id}", "action": "scan", '
        b'"table": "payments"}}}')
    assert status == 400
    assert "routes.r.action" in body["message"]
