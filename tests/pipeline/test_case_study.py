"""The case study end to end, on real clients: a Node producer
(@kafkajs/confluent-schema-registry + @aws-sdk/client-kinesis) puts Avro
payments on a stream; an event-source mapping feeds them to the built-in
riffle:avro-to-table function, which stores each as an item; boto3 reads
every item back and compares it field by field with what was produced.

Also: a poison record goes to the failure path while its shard keeps
flowing; kill -9 of the server mid-stream loses nothing and applies nothing
twice; a reshard mid-stream stores every record."""

import time

import pytest

import pipeline_helpers as ph


def test_payments_land_in_the_table_exactly_once(pipeline, tmp_path):
    out = tmp_path / "produced.jsonl"
    pipeline.produce(0, 600, out, batch=50)
    produced = ph.read_produced(out)
    assert len(produced) == 600
    pipeline.wait_for_count(600)
    before = ph.assert_stored_exactly(pipeline, produced)

    # Both shards carried payments.
    shards = pipeline.kinesis.list_shards(StreamName=pipeline.stream)["Shards"]
    assert len(shards) == 2

    # A replay (the same payments again) changes nothing; a sentinel put
    # after it tells when the mapping is past the replay.
    pipeline.produce(0, 100, tmp_path / "replayed.jsonl")
    pipeline.produce(600, 1, out)
    pipeline.wait_for_count(601)
    after = pipeline.items()
    after.pop("pay-0000600")
    assert after == before
    assert pipeline.failure_records() == []

    samples = ph.metrics(pipeline.server)
    mapping = pipeline.mapping_uuid
    assert ph.metric_sum(samples, "riffle_function_mapping_invocations_total",
                         mapping=mapping) >= 2
    assert ph.metric_sum(samples, "riffle_function_mapping_errors_total",
                         mapping=mapping) == 0
    ages = [(n, ls) for (n, ls) in samples
            if n == "riffle_function_mapping_iterator_age_ms"
            and ("mapping", mapping) in ls]
    assert len(ages) == 2  # one per shard
    assert ph.metric_sum(samples, "riffle_function_invocations_total",
                         function=pipeline.function) >= 2


def test_invoke_api_stores_a_kinesis_event(pipeline, tmp_path):
    """The built-in function answers Lambda's Invoke with a Kinesis event
    too, naming undecodable records in batchItemFailures."""
    import base64
    import json

    # Encode one payment with the producer's own code path: produce it to
    # the stream and take the bytes back from the stream.
    pipeline.produce(0, 1, tmp_path / "one.jsonl")
    pipeline.wait_for_count(1)
    shard_records = []
    for shard in pipeline.kinesis.list_shards(StreamName=pipeline.stream)["Shards"]:
        it = pipeline.kinesis.get_shard_iterator(
            StreamName=pipeline.stream, ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        shard_records += pipeline.kinesis.get_records(ShardIterator=it)["Records"]
    assert len(shard_records) == 1
    good = shard_records[0]["Data"]
    pipeline.dynamodb.delete_item(TableName=pipeline.table,
                                  Key={"payment_id": {"S": "pay-0000000"}})
    event = {"Records": [
        {"kinesis": {"data": base64.b64encode(good).decode(), "sequenceNumber": "1"}},
        {"kinesis": {"data": base64.b64encode(b"\x09junk").decode(),
                     "sequenceNumber": "2"}},
    ]}
    reply = pipeline.lam.invoke(FunctionName=pipeline.function,
                                Payload=json.dumps(event).encode())
    assert "FunctionError" not in reply
    assert json.loads(reply["Payload"].read()) == {
        "batchItemFailures": [{"itemIdentifier": "2"}]}
    assert pipeline.count() == 1


@pytest.mark.parametrize("rule", ["report_batch_item_failures", "bisect"])
def test_poison_record_goes_to_the_failure_path_and_the_shard_flows(
        riffle, tmp_path, rule):
    options = {}
    if rule == "bisect":
        # No partial-failure replies: the function fails the whole batch,
        # and halving it isolates the poison records.
        options = dict(FunctionResponseTypes=None, BisectBatchOnFunctionError=True)
    p = ph.Pipeline(riffle, shards=1, **options).create()
    out = tmp_path / "produced.jsonl"
    p.produce(0, 40, out)
    poison = [
        p.kinesis.put_record(StreamName=p.stream, Data=b"\x07 not Avro at all",
                             PartitionKey="poison")["SequenceNumber"],
        # Confluent framing with a schema id nobody registered.
        p.kinesis.put_record(StreamName=p.stream, Data=b"\x00\x7f\xff\xff\xfe\x02",
                             PartitionKey="poison")["SequenceNumber"],
    ]
    p.produce(40, 40, out)
    produced = ph.read_produced(out)
    p.wait_for_count(80)
    ph.assert_stored_exactly(p, produced)

    # The failure records name exactly the poison records (adjacent ones may
    # share one record: a partial failure gives up through the last one
    # reported).
    deadline = time.monotonic() + 30
    failures, covered = [], []
    while time.monotonic() < deadline and len(covered) < 2:
        failures = p.failure_records()
        covered = sorted({s for r in failures for s in poison
                          if int(r["KinesisBatchInfo"]["startSequenceNumber"]) <= int(s)
                          <= int(r["KinesisBatchInfo"]["endSequenceNumber"])})
        time.sleep(0.1)
    assert covered == sorted(poison), failures
    assert sum(r["KinesisBatchInfo"]["batchSize"] for r in failures) == 2
    for record in failures:
        info = record["KinesisBatchInfo"]
        assert info["startSequenceNumber"] in poison
        assert info["endSequenceNumber"] in poison
        assert info["streamArn"] == ph.stream_arn(p.stream)
        assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"

    # The shard kept flowing past them: later payments are stored.
    p.produce(80, 10, out)
    p.wait_for_count(90)
    samples = ph.metrics(riffle)
    assert ph.metric_sum(samples, "riffle_function_mapping_failed_records_total",
                         mapping=p.mapping_uuid, destination="on_failure") == 2


@pytest.mark.needs_binary
def test_kill9_mid_stream_then_restart_stores_everything_once(
        riffle_factory, tmp_path):
    server = riffle_factory()
    p = ph.Pipeline(server).create()
    out = tmp_path / "produced.jsonl"
    total = 4000
    producer = p.produce(0, total, out, rate=1500, background=True)
    deadline = time.monotonic() + 30
    while p.count() < 400:
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    server.kill9()
    producer.communicate(timeout=60)  # stops: its server is gone
    acked = ph.read_produced(out)
    assert 0 < len(acked) < total

    server.start()
    p.connect()
    # A producer retries what was not acknowledged: the in-flight batch is
    # put again (it may already be on the stream, and then in the table).
    resume = max(int(pid.split("-")[1]) for pid in acked) + 1
    p.produce(resume, total - resume, out)
    produced = ph.read_produced(out)
    assert len(produced) == total
    p.wait_for_count(total)
    ph.assert_stored_exactly(p, produced)
    assert p.failure_records() == []


def test_resharding_mid_stream_stores_every_record(riffle, tmp_path):
    p = ph.Pipeline(riffle, shards=2).create()
    out = tmp_path / "produced.jsonl"
    total = 3000
    producer = p.produce(0, total, out, rate=1500, background=True)
    deadline = time.monotonic() + 30
    while p.count() < 300:
        assert time.monotonic() < deadline, riffle.log()
        time.sleep(0.05)
    shard = p.kinesis.list_shards(StreamName=p.stream)["Shards"][0]
    lo = int(shard["HashKeyRange"]["StartingHashKey"])
    hi = int(shard["HashKeyRange"]["EndingHashKey"])
    p.kinesis.split_shard(StreamName=p.stream, ShardToSplit=shard["ShardId"],
                          NewStartingHashKey=str((lo + hi) // 2))
    stdout, stderr = producer.communicate(timeout=120)
    assert producer.returncode == 0, stderr
    produced = ph.read_produced(out)
    assert len(produced) == total
    p.wait_for_count(total)
    ph.assert_stored_exactly(p, produced)
    shards = p.kinesis.list_shards(StreamName=p.stream)["Shards"]
    assert len(shards) == 4  # the closed parent, its two children, the other
