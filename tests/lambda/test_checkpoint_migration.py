"""Upgrading a server whose mappings kept their checkpoints in a file
(DATA_DIR/functions/mappings/<uuid>.checkpoints.json, riffle before the
lease table): on start the file seeds the mapping's lease table once, is
renamed to .checkpoints.json.migrated, and the mapping resumes after each
checkpoint; shards the file does not name start at the mapping's starting
position. A second restart migrates nothing again.

The old data directory is made from a new one: the mapping is disabled,
its lease table deleted and the file written in the old format while the
server is down, the stored mapping enabled again.
"""

import json
import time
import uuid

import pytest

import lambda_helpers as lh

pytestmark = pytest.mark.needs_binary


def handled(out_file):
    if not out_file.exists():
        return []
    return [json.loads(l) for l in out_file.read_text().splitlines() if l.strip()]


def wait_for(what, predicate, timeout=30, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


def test_upgrade_resumes_from_migrated_checkpoint_file(riffle_factory, tmp_path):
    tag = uuid.uuid4().hex[:8]
    stream, function = f"mig-{tag}", f"mig-{tag}"
    out_file = tmp_path / "handled.jsonl"
    server = riffle_factory()
    lam = lh.client("lambda", server.aws)
    kinesis = lh.client("kinesis", server.aws)
    ddb = lh.client("dynamodb", server.aws)

    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.1})
    arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    shards = [s["ShardId"] for s in kinesis.list_shards(StreamName=stream)["Shards"]]
    lam.create_function(FunctionName=function, Runtime="provided.al2", Role=lh.ROLE,
                        Handler="kinesis_to_file", Code={"ZipFile": lh.bootstrap_zip()},
                        Environment={"Variables": {"OUT_FILE": str(out_file)}})
    uid = lam.create_event_source_mapping(
        FunctionName=function, EventSourceArn=arn, StartingPosition="TRIM_HORIZON",
        BatchSize=5)["UUID"]

    # Ten records per shard, handled by the mapping as it runs today.
    seqs = {s: [] for s in shards}
    hash_keys = {s["ShardId"]: s["HashKeyRange"]["StartingHashKey"]
                 for s in kinesis.list_shards(StreamName=stream)["Shards"]}
    for i in range(10):
        for s in shards:
            r = kinesis.put_record(StreamName=stream, Data=f"{s}-{i}".encode(),
                                   PartitionKey="k", ExplicitHashKey=hash_keys[s])
            assert r["ShardId"] == s
            seqs[s].append(r["SequenceNumber"])
    wait_for("the first 20 records", lambda: len(handled(out_file)) >= 20)

    # Make it an old data directory: no lease table, a checkpoint file that
    # has shard 0 after its 4th record and does not name shard 1.
    lam.update_event_source_mapping(UUID=uid, Enabled=False)
    wait_for("the mapping to stop",
             lambda: lam.get_event_source_mapping(UUID=uid)["State"] == "Disabled")
    ddb.delete_table(TableName=f"riffle-leases-{uid}")
    server.stop()
    mappings = server.data_dir / "functions" / "mappings"
    stored = json.loads((mappings / f"{uid}.json").read_text())
    stored["enabled"] = True
    (mappings / f"{uid}.json").write_text(json.dumps(stored))
    legacy = mappings / f"{uid}.checkpoints.json"
    legacy.write_text(json.dumps({"shards": {
        shards[0]: {"checkpoint": seqs[shards[0]][3], "shard_end": False}}}))
    out_file.unlink()

    # The upgraded start: shard 0 resumes after its 4th record, shard 1 from
    # TRIM_HORIZON (the mapping's starting position).
    server.start()
    kinesis = lh.client("kinesis", server.aws)
    ddb = lh.client("dynamodb", server.aws)
    lam = lh.client("lambda", server.aws)
    wait_for("the replayed records", lambda: len(handled(out_file)) >= 16)
    time.sleep(0.5)  # nothing more may come
    got = {(h["shard"], h["seq"]) for h in handled(out_file)}
    want = {(shards[0], q) for q in seqs[shards[0]][4:]} | {(shards[1], q) for q in seqs[shards[1]]}
    assert got == want
    assert not legacy.exists()
    assert (mappings / f"{uid}.checkpoints.json.migrated").exists()
    assert "moved to lease table" in server.log()

    def checkpoints():
        items = ddb.scan(TableName=f"riffle-leases-{uid}", ConsistentRead=True)["Items"]
        return {i["leaseKey"]["S"]: i["checkpoint"]["S"] for i in items}
    wait_for("the checkpoints at each shard's end",
             lambda: checkpoints() == {s: seqs[s][-1] for s in shards})

    # A second restart migrates nothing again and replays nothing; new
    # records flow.
    server.stop()
    out_file.unlink()
    server.start()
    kinesis = lh.client("kinesis", server.aws)
    r = kinesis.put_record(StreamName=stream, Data=b"after", PartitionKey="k",
                           ExplicitHashKey=hash_keys[shards[1]])
    wait_for("the new record", lambda: handled(out_file))
    time.sleep(0.5)
    assert [(h["shard"], h["seq"], h["data"]) for h in handled(out_file)] == \
        [(shards[1], r["SequenceNumber"], "after")]
    assert server.log().count("moved to lease table") == 1  # the log spans restarts
