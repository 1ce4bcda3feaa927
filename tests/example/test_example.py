"""The payments example (examples/payments/) run as a new user runs it: the
real binary started with the example's stack.yaml, sample.jsonl fed through
`riffle produce`, then read back through the read API with plain HTTP and
through `riffle tail`.
"""

import json
import re
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent.parent / "examples" / "payments"


import riffle_harness as harness  # noqa: E402 (on sys.path by tests/conftest.py)
SAMPLES = [json.loads(line) for line in
           (EXAMPLE / "sample.jsonl").read_text().splitlines() if line.strip()]


def riffle(*args, stdin=None, timeout=60):
    return subprocess.run([harness.RIFFLE_BIN, *args], input=stdin,
                          capture_output=True, timeout=timeout)


def get(url):
    """(status, JSON body) of a GET."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def produce_args(server, *extra):
    return ("produce", "--endpoint", server.aws,
            "--registry", server.endpoints["registry"],
            "--stream", "payments", "--subject", "payments-value", *extra)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("example")
    s = harness.RiffleServer(base / "data",
                          ["--stack", str(EXAMPLE / "stack.yaml")]).start()
    # As scripts/run-example (make run) and the README do.
    r = riffle(*produce_args(s, "--partition-key-field", "accountId"),
               stdin=(EXAMPLE / "sample.jsonl").read_bytes())
    assert r.returncode == 0, r.stderr.decode()
    assert f"put {len(SAMPLES)} records" in r.stderr.decode()
    # The function stores the records asynchronously: wait for the last
    # payment of each shard's keys to be readable.
    deadline = time.monotonic() + 30
    missing = {p["paymentId"] for p in SAMPLES}
    while missing and time.monotonic() < deadline:
        missing = {pid for pid in missing
                   if get(f"{s.http}/payments/{pid}")[0] != 200}
        if missing:
            time.sleep(0.2)
    assert not missing, f"never stored: {sorted(missing)}\n{s.log()}"
    yield s
    s.stop()


def test_samples_cover_several_accounts_and_pages():
    accounts = {p["accountId"] for p in SAMPLES}
    assert len(SAMPLES) >= 50 and len(accounts) == 4


def test_every_payment_is_readable_by_id(server):
    for p in SAMPLES:
        status, item = get(f"{server.http}/payments/{p['paymentId']}")
        assert status == 200, item
        assert item["paymentId"] == p["paymentId"]
        assert item["accountId"] == p["accountId"]
        assert item["currency"] == p["currency"]
        assert item["status"] == p["status"]
        assert item["createdAt"] == p["createdAt"]
        # A decimal(12,2) is a DynamoDB number: a JSON number when exact.
        assert Decimal(str(item["amount"])) == Decimal(p["amount"])
        assert item["memo"] == p.get("memo")


def test_unknown_payment_is_a_json_404(server):
    status, body = get(f"{server.http}/payments/no-such-payment")
    assert status == 404 and body["code"] == "NotFound"


@pytest.mark.parametrize("order", ["asc", "desc"])
def test_paging_an_account_yields_its_payments_in_created_order(server, order):
    for account in sorted({p["accountId"] for p in SAMPLES}):
        expected = [p["paymentId"] for p in
                    sorted((p for p in SAMPLES if p["accountId"] == account),
                           key=lambda p: p["createdAt"],
                           reverse=order == "desc")]
        seen, pages, cursor = [], 0, None
        while True:
            url = f"{server.http}/accounts/{account}/payments?limit=4&order={order}"
            if cursor:
                url += f"&cursor={cursor}"
            status, page = get(url)
            assert status == 200, page
            pages += 1
            assert len(page["items"]) <= 4
            seen += [i["paymentId"] for i in page["items"]]
            assert all(i["accountId"] == account for i in page["items"])
            cursor = page.get("cursor")
            if not cursor:
                break
            assert pages < 100
        assert seen == expected
        assert pages >= 3


def test_from_to_selects_a_date_range(server):
    account = "acct-alice"
    expected = [p["paymentId"] for p in SAMPLES if p["accountId"] == account
                and "2024-03-05" <= p["createdAt"] <= "2024-03-11"]
    status, page = get(f"{server.http}/accounts/{account}/payments"
                       "?from=2024-03-05&to=2024-03-11&limit=100")
    assert status == 200
    assert [i["paymentId"] for i in page["items"]] == expected


def test_tail_prints_records_decoded(server):
    r = riffle("tail", "--endpoint", server.aws,
               "--registry", server.endpoints["registry"],
               "--stream", "payments", "--max", "10")
    assert r.returncode == 0, r.stderr.decode()
    lines = r.stdout.decode().splitlines()
    assert len(lines) == 10
    by_id = {p["paymentId"]: dict(p, memo=p.get("memo")) for p in SAMPLES}
    for line in lines:
        record = json.loads(line)
        assert record == by_id[record["paymentId"]]


def test_tail_from_trim_horizon_sees_every_record_in_key_order(server):
    r = riffle("tail", "--endpoint", server.aws,
               "--registry", server.endpoints["registry"],
               "--stream", "payments", "--max", str(len(SAMPLES)))
    assert r.returncode == 0, r.stderr.decode()
    records = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert sorted(p["paymentId"] for p in records) == \
        sorted(p["paymentId"] for p in SAMPLES)
    # The partition key was accountId: each account's records kept the
    # input order on the stream.
    for account in {p["accountId"] for p in SAMPLES}:
        assert [p["paymentId"] for p in records if p["accountId"] == account] \
            == [p["paymentId"] for p in SAMPLES if p["accountId"] == account]


def test_produce_names_the_first_bad_line(server, tmp_path):
    good = dict(SAMPLES[0], paymentId="bad-batch-1")
    lines = [json.dumps(good), "",
             json.dumps(dict(good, paymentId="bad-batch-2", status="LOST")),
             json.dumps(dict(good, paymentId="bad-batch-3"))]
    r = riffle(*produce_args(server), stdin=("\n".join(lines) + "\n").encode())
    assert r.returncode != 0
    err = r.stderr.decode()
    assert "line 3:" in err and "LOST" in err, err
    # The records before the bad line were put; none after it.
    deadline = time.monotonic() + 20
    while get(f"{server.http}/payments/bad-batch-1")[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert get(f"{server.http}/payments/bad-batch-3")[0] == 404


def test_produce_registers_with_schema_and_rejects_bad_json(server):
    r = riffle(*produce_args(server, "--schema", str(EXAMPLE / "payment.avsc")),
               stdin=b'{"paymentId": "x", not json}\n')
    assert r.returncode != 0
    assert "line 1:" in r.stderr.decode()


def test_produce_unknown_subject_says_so(server):
    r = riffle("produce", "--endpoint", server.aws,
               "--registry", server.endpoints["registry"],
               "--stream", "payments", "--subject", "no-such-subject",
               stdin=b"{}\n")
    assert r.returncode != 0
    assert "no-such-subject" in r.stderr.decode()


def test_tail_from_latest_follows_new_records(server):
    tail = subprocess.Popen(
        [harness.RIFFLE_BIN, "tail", "--endpoint", server.aws,
         "--registry", server.endpoints["registry"], "--stream", "payments",
         "--from", "latest", "--max", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)  # let it take its LATEST iterators
        new = [dict(SAMPLES[i], paymentId=f"late-{i}") for i in range(2)]
        r = riffle(*produce_args(server),
                   stdin="".join(json.dumps(p) + "\n" for p in new).encode())
        assert r.returncode == 0, r.stderr.decode()
        out, err = tail.communicate(timeout=20)
    finally:
        tail.kill()
    assert tail.returncode == 0, err.decode()
    ids = sorted(json.loads(line)["paymentId"] for line in out.decode().splitlines())
    assert ids == ["late-0", "late-1"]


def test_make_run_script_starts_feeds_and_stops(tmp_path):
    # What `make run` runs (scripts/run-example), on free ports so that it
    # cannot collide with a server already on the defaults.
    script = EXAMPLE.parent.parent / "scripts" / "run-example"
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [str(script), harness.RIFFLE_BIN, str(data), "--aws-port", "0",
         "--registry-port", "0", "--http-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    # readline() blocks: a watchdog ends a script that never gets there.
    watchdog = threading.Timer(60, proc.kill)
    watchdog.start()
    try:
        while True:
            line = proc.stdout.readline()
            assert line, "run-example ended early:\n" + "".join(lines)
            lines.append(line)
            # Its last words once the samples are in.
            if line.startswith("Stop with Ctrl-C.") and any(
                    "The payments example is running" in x for x in lines):
                break
        out = "".join(lines)
        assert f"put {len(SAMPLES)} records on stream payments" in out, out
        assert "Read API (routes of stack.yaml):" in out, out
        http = json.loads((data / "endpoints.json").read_text())["http"]
        # The welcome text shows the routes' examples as curl commands on
        # the server's real URL; each works once the samples are stored.
        urls = re.findall(r"^  curl -s '([^']+)'$", out, re.MULTILINE)
        assert f"{http}/payments/pay-0001" in urls, out
        assert len(urls) == 3, out
        deadline = time.monotonic() + 30
        while get(f"{http}/payments/pay-0001")[0] != 200:
            assert time.monotonic() < deadline, out
            time.sleep(0.2)
        for url in urls:
            status, body = get(url)
            assert status == 200, (url, body)
            assert body.get("items", [body]), (url, body)
        # Ctrl-C stops the server cleanly and the script with it.
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        watchdog.cancel()
        proc.kill()
    assert proc.returncode == 0, out + rest
    assert "riffle stopped" in rest, rest


def test_tail_skips_records_it_cannot_decode(server):
    import boto3
    kinesis = boto3.client("kinesis", endpoint_url=server.aws)
    kinesis.create_stream(StreamName="tail-mixed", ShardCount=1)
    good = riffle(*produce_args(server)[:5], "--stream", "tail-mixed",
                  "--subject", "payments-value",
                  stdin=(json.dumps(SAMPLES[0]) + "\n").encode())
    kinesis.put_record(StreamName="tail-mixed", Data=b"not avro",
                       PartitionKey="k")
    kinesis.put_record(StreamName="tail-mixed",
                       Data=b"\x00\x00\x00\x03\xe7rest", PartitionKey="k")
    assert good.returncode == 0, good.stderr.decode()
    again = riffle(*produce_args(server)[:5], "--stream", "tail-mixed",
                   "--subject", "payments-value",
                   stdin=(json.dumps(SAMPLES[1]) + "\n").encode())
    assert again.returncode == 0, again.stderr.decode()
    r = riffle("tail", "--endpoint", server.aws,
               "--registry", server.endpoints["registry"],
               "--stream", "tail-mixed", "--max", "2")
    assert r.returncode == 0, r.stderr.decode()
    ids = [json.loads(line)["paymentId"] for line in r.stdout.decode().splitlines()]
    assert ids == [SAMPLES[0]["paymentId"], SAMPLES[1]["paymentId"]]
    assert r.stderr.decode().count("cannot decode") == 2, r.stderr.decode()


def test_tail_reads_parents_before_children_across_a_reshard(server):
    import boto3
    kinesis = boto3.client("kinesis", endpoint_url=server.aws)
    kinesis.create_stream(StreamName="tail-reshard", ShardCount=1)

    def produce(records):
        r = riffle(*produce_args(server)[:5], "--stream", "tail-reshard",
                   "--subject", "payments-value", "--partition-key-field",
                   "accountId",
                   stdin="".join(json.dumps(p) + "\n" for p in records).encode())
        assert r.returncode == 0, r.stderr.decode()

    first = [dict(p, paymentId=f"r1-{i:02d}") for i, p in enumerate(SAMPLES[:30])]
    second = [dict(p, paymentId=f"r2-{i:02d}") for i, p in enumerate(SAMPLES[30:])]
    produce(first)
    kinesis.update_shard_count(StreamName="tail-reshard", TargetShardCount=2,
                               ScalingType="UNIFORM_SCALING")
    deadline = time.monotonic() + 20
    while kinesis.describe_stream_summary(StreamName="tail-reshard")[
            "StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    produce(second)
    r = riffle("tail", "--endpoint", server.aws,
               "--registry", server.endpoints["registry"],
               "--stream", "tail-reshard", "--max", str(len(SAMPLES)))
    assert r.returncode == 0, r.stderr.decode()
    records = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert len(records) == len(SAMPLES)
    # Every account's records in input order: the parent's (r1-*) before
    # its children's (r2-*).
    for account in {p["accountId"] for p in SAMPLES}:
        got = [p["paymentId"] for p in records if p["accountId"] == account]
        want = [p["paymentId"] for p in first + second
                if p["accountId"] == account]
        assert got == want
