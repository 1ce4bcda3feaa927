"""The client library (src/client) through the binary that uses it:
`riffle produce` (Producer) and `riffle tail` (Consumer) against a real
`riffle server`, with boto3 for what the commands do not do (create and
split shards). Checks that nothing is lost, each partition key keeps its
order across a split (parents read before children) and under throttling
(`--enforce-shard-limits` answers ProvisionedThroughputExceededException).
"""

import json
import subprocess
import time
from pathlib import Path

import boto3
import pytest

HERE = Path(__file__).resolve().parent


import riffle_harness as harness  # noqa: E402 (on sys.path by tests/conftest.py)

SCHEMA = json.dumps({
    "type": "record", "name": "Event", "namespace": "test.client",
    "fields": [{"name": "key", "type": "string"},
               {"name": "n", "type": "long"},
               {"name": "pad", "type": "string"}]})


def riffle(*args, stdin=None, timeout=120):
    return subprocess.run([harness.RIFFLE_BIN, *args], input=stdin,
                          capture_output=True, timeout=timeout)


def kinesis(server):
    return boto3.client("kinesis", endpoint_url=server.aws)


def wait_active(client, stream):
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        d = client.describe_stream_summary(StreamName=stream)
        if d["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.05)
    raise AssertionError(f"{stream} never became ACTIVE")


def lines(keys, start, count, pad=""):
    """JSON lines: record i has key keys[i % len(keys)] and n = i."""
    return "".join(
        json.dumps({"key": keys[i % len(keys)], "n": i, "pad": pad}) + "\n"
        for i in range(start, start + count)).encode()


def produce(server, stream, data, *extra):
    r = riffle("produce", "--endpoint", server.aws,
               "--registry", server.endpoints["registry"],
               "--stream", stream, "--subject", f"{stream}-value",
               "--schema", str(server.schema_file),
               "--partition-key-field", "key", *extra, stdin=data)
    assert r.returncode == 0, r.stderr.decode()
    return r.stderr.decode()


def tail(server, stream, count):
    r = riffle("tail", "--endpoint", server.aws,
               "--registry", server.endpoints["registry"],
               "--stream", stream, "--max", str(count), timeout=60)
    assert r.returncode == 0, r.stderr.decode()
    return [json.loads(line) for line in r.stdout.decode().splitlines()]


def assert_each_key_in_order(records, expected_count):
    ns = sorted(r["n"] for r in records)
    assert ns == list(range(expected_count)), "records lost or duplicated"
    by_key = {}
    for r in records:
        by_key.setdefault(r["key"], []).append(r["n"])
    for key, seen in by_key.items():
        assert seen == sorted(seen), f"key {key} out of order: {seen[:20]}"


@pytest.fixture
def server(riffle_factory, tmp_path):
    s = riffle_factory(["--enforce-shard-limits"])
    s.schema_file = tmp_path / "event.avsc"
    s.schema_file.write_text(SCHEMA)
    return s


def test_tail_reads_parents_before_children_across_a_split(server):
    client = kinesis(server)
    client.create_stream(StreamName="split", ShardCount=4)
    wait_active(client, "split")
    keys = [f"key-{k}" for k in range(40)]
    first, second = 1500, 1500
    produce(server, "split", lines(keys, 0, first))

    # Split shard 1 in the middle of its hash range, between two runs.
    shards = client.list_shards(StreamName="split")["Shards"]
    target = shards[1]
    lo = int(target["HashKeyRange"]["StartingHashKey"])
    hi = int(target["HashKeyRange"]["EndingHashKey"])
    client.split_shard(StreamName="split", ShardToSplit=target["ShardId"],
                       NewStartingHashKey=str((lo + hi) // 2))
    wait_active(client, "split")
    produce(server, "split", lines(keys, first, second))

    listed = client.list_shards(StreamName="split")["Shards"]
    children = [s for s in listed if s.get("ParentShardId") == target["ShardId"]]
    assert len(children) == 2

    records = tail(server, "split", first + second)
    assert_each_key_in_order(records, first + second)
    # Some key moved from the parent to a child: its order across the split
    # is what parents-before-children guarantees.
    moved = {r["key"] for r in records}
    assert len(moved) == len(keys)


def test_producer_retries_throttled_records_and_keeps_key_order(server):
    client = kinesis(server)
    client.create_stream(StreamName="throttled", ShardCount=1)
    wait_active(client, "throttled")
    # One shard takes 1000 records/s and 1 MiB/s: 2500 records of ~700
    # bytes exceed both for about two seconds.
    count = 2500
    keys = [f"k{k}" for k in range(25)]
    err = produce(server, "throttled", lines(keys, 0, count, pad="x" * 700))
    assert f"put {count} records" in err, err
    resent = int(err.split(" re-sent")[0].rsplit(" ", 1)[1])
    assert resent > 0, f"the server never throttled: {err}"

    records = tail(server, "throttled", count)
    assert_each_key_in_order(records, count)


def test_tail_from_latest_sees_only_new_records(server):
    client = kinesis(server)
    client.create_stream(StreamName="latest", ShardCount=2)
    wait_active(client, "latest")
    produce(server, "latest", lines(["a", "b"], 0, 10))
    proc = subprocess.Popen(
        [harness.RIFFLE_BIN, "tail", "--endpoint", server.aws,
         "--registry", server.endpoints["registry"], "--stream", "latest",
         "--from", "latest", "--max", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        time.sleep(1.0)  # the tail has its LATEST iterators by now
        produce(server, "latest", lines(["a", "b"], 10, 5))
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err.decode()
    ns = sorted(json.loads(line)["n"] for line in out.decode().splitlines())
    assert ns == list(range(10, 15))


def test_produce_into_a_missing_stream_fails_clearly(server):
    r = riffle("produce", "--endpoint", server.aws,
               "--registry", server.endpoints["registry"],
               "--stream", "nope", "--subject", "nope-value",
               "--schema", str(server.schema_file),
               stdin=lines(["a"], 0, 3))
    assert r.returncode != 0
    assert "ResourceNotFoundException" in r.stderr.decode(), r.stderr.decode()
