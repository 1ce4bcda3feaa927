"""Event-source mappings from riffle streams to functions: records put with
boto3 reach a handler that appends them to a file, per shard in order and
each exactly once; poison records follow the failure rules."""

import json
import time
import uuid

import pytest

import lambda_helpers as lh


def wait_active(kinesis, stream):
    for _ in range(100):
        if kinesis.describe_stream_summary(StreamName=stream)[
                "StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.05)


@pytest.fixture
def stream(kinesis):
    names = []

    def make(shards=1):
        name = f"lam-{uuid.uuid4().hex[:10]}"
        kinesis.create_stream(StreamName=name, ShardCount=shards)
        wait_active(kinesis, name)
        names.append(name)
        return name, kinesis.describe_stream_summary(StreamName=name)[
            "StreamDescriptionSummary"]["StreamARN"]

    yield make
    for n in names:
        kinesis.delete_stream(StreamName=n, EnforceConsumerDeletion=True)


def read_lines(path, want, timeout=30):
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        try:
            lines = [json.loads(l) for l in path.read_text().splitlines()]
        except FileNotFoundError:
            lines = []
        if len(lines) >= want:
            time.sleep(0.3)  # anything extra (a duplicate) would show now
            return [json.loads(l) for l in path.read_text().splitlines()]
        time.sleep(0.1)
    return lines


def read_stream(kinesis, stream):
    out = []
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        it = kinesis.get_shard_iterator(
            StreamName=stream, ShardId=shard["ShardId"],
            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            r = kinesis.get_records(ShardIterator=it)
            out += [json.loads(rec["Data"]) for rec in r["Records"]]
            if not r["Records"]:
                break
            it = r.get("NextShardIterator")
    return out


def test_records_arrive_in_order_exactly_once(lam, kinesis, functions, stream,
                                              tmp_path):
    name, arn = stream(shards=2)
    out = tmp_path / "out.jsonl"
    fn = functions.create(handler="kinesis_to_file",
                          Environment={"Variables": {"OUT_FILE": str(out)}})
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON",
        BatchSize=7)
    assert m["State"] in ("Creating", "Enabled")
    assert m["BatchSize"] == 7 and m["EventSourceArn"] == arn
    put = []
    for batch in range(4):
        records = [{"PartitionKey": f"pk{i % 5}", "Data": f"r{batch}-{i}".encode()}
                   for i in range(25)]
        resp = kinesis.put_records(StreamName=name, Records=records)
        assert resp["FailedRecordCount"] == 0
        for rec, res in zip(records, resp["Records"]):
            put.append((res["ShardId"], res["SequenceNumber"], rec["Data"].decode()))
    lines = read_lines(out, len(put))
    assert len(lines) == len(put)
    assert sorted((l["shard"], l["seq"], l["data"]) for l in lines) == sorted(put)
    for shard in {p[0] for p in put}:
        seqs = [int(l["seq"]) for l in lines if l["shard"] == shard]
        assert seqs == sorted(seqs)
    assert {l["source"] for l in lines} == {"aws:kinesis"}
    assert {l["arn"] for l in lines} == {arn}

    got = lam.get_event_source_mapping(UUID=m["UUID"])
    assert got["State"] == "Enabled"
    assert got["LastProcessingResult"] == "OK"
    listed = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert [x["UUID"] for x in listed] == [m["UUID"]]
    lam.delete_event_source_mapping(UUID=m["UUID"])
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_event_source_mapping(UUID=m["UUID"])


def test_latest_skips_earlier_records(lam, kinesis, functions, stream, tmp_path):
    name, arn = stream()
    kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"before")
    time.sleep(0.05)
    out = tmp_path / "out.jsonl"
    fn = functions.create(handler="kinesis_to_file",
                          Environment={"Variables": {"OUT_FILE": str(out)}})
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn,
                                        StartingPosition="LATEST")
    time.sleep(0.05)
    kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"after")
    lines = read_lines(out, 1)
    assert [l["data"] for l in lines] == ["after"]
    lam.delete_event_source_mapping(UUID=m["UUID"])


@pytest.mark.parametrize("partial", [False, True])
def test_poison_record_goes_to_the_failure_stream(lam, kinesis, functions,
                                                  stream, tmp_path, partial):
    name, arn = stream()
    dlq, dlq_arn = stream()
    out = tmp_path / "out.jsonl"
    fn = functions.create(handler="kinesis_to_file", Environment={"Variables": {
        "OUT_FILE": str(out), "PARTIAL": "1" if partial else "0"}})
    kwargs = {"FunctionResponseTypes": ["ReportBatchItemFailures"]} if partial else {
        "BisectBatchOnFunctionError": True}
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON",
        BatchSize=10, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}}, **kwargs)
    assert m["MaximumRetryAttempts"] == 1
    assert m["DestinationConfig"]["OnFailure"]["Destination"] == dlq_arn
    data = [f"good{i}" for i in range(4)] + ["poison"] + [f"good{i}" for i in range(4, 8)]
    seqs = {}
    for d in data:
        seqs[d] = kinesis.put_record(StreamName=name, PartitionKey="k",
                                     Data=d.encode())["SequenceNumber"]
    lines = read_lines(out, 8)
    assert [l["data"] for l in lines] == [d for d in data if d != "poison"]
    deadline = time.monotonic() + 20
    failures = []
    while time.monotonic() < deadline and not failures:
        failures = read_stream(kinesis, dlq)
        time.sleep(0.1)
    assert len(failures) == 1
    info = failures[0]["KinesisBatchInfo"]
    assert info["startSequenceNumber"] == seqs["poison"]
    assert info["streamArn"] == arn
    assert failures[0]["requestContext"]["condition"] == "RetryAttemptsExhausted"
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_mapping_validation_and_update(riffle, lam, functions, stream):
    name, arn = stream()
    fn = functions.create()
    unchecked = lh.client("lambda", riffle.aws, validate=False)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        unchecked.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=fn, StartingPosition="LATEST",
            BatchSize=0)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="nope",
                                        StartingPosition="LATEST")
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(
            EventSourceArn=arn.replace(name, "missing-stream"),
            FunctionName=fn, StartingPosition="LATEST")
    m = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn,
                                        StartingPosition="LATEST")
    assert m["BatchSize"] == 100 and m["MaximumRetryAttempts"] == -1
    u = lam.update_event_source_mapping(UUID=m["UUID"], BatchSize=50,
                                        Enabled=False)
    assert u["BatchSize"] == 50
    assert lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Disabled"
    d = lam.delete_event_source_mapping(UUID=m["UUID"])
    assert d["State"] == "Deleting"


@pytest.mark.needs_binary
def test_checkpoints_survive_a_restart(riffle_factory, tmp_path):
    server = riffle_factory()
    lam = lh.client("lambda", server.aws)
    kinesis = lh.client("kinesis", server.aws)
    kinesis.create_stream(StreamName="s", ShardCount=1)
    wait_active(kinesis, "s")
    arn = kinesis.describe_stream_summary(StreamName="s")[
        "StreamDescriptionSummary"]["StreamARN"]
    out = tmp_path / "out.jsonl"
    lam.create_function(FunctionName="f", Runtime="provided.al2", Role=lh.ROLE,
                        Handler="kinesis_to_file",
                        Code={"ZipFile": lh.bootstrap_zip()},
                        Environment={"Variables": {"OUT_FILE": str(out)}})
    lam.create_event_source_mapping(EventSourceArn=arn, FunctionName="f",
                                    StartingPosition="TRIM_HORIZON")
    for i in range(5):
        kinesis.put_record(StreamName="s", PartitionKey="k", Data=f"a{i}".encode())
    assert len(read_lines(out, 5)) == 5
    server.restart()
    kinesis = lh.client("kinesis", server.aws)
    for i in range(5):
        kinesis.put_record(StreamName="s", PartitionKey="k", Data=f"b{i}".encode())
    lines = read_lines(out, 10)
    assert [l["data"] for l in lines] == [f"a{i}" for i in range(5)] + [
        f"b{i}" for i in range(5)]


def table_names(dynamodb):
    return [n for page in dynamodb.get_paginator("list_tables").paginate()
            for n in page["TableNames"]]


def test_deleting_a_mapping_deletes_its_lease_table(riffle, lam, kinesis,
                                                    functions, stream,
                                                    tmp_path):
    """The lease table (checkpoints) goes with its mapping, and a mapping
    made again for the same function and stream starts at its own
    starting position, not at the old checkpoint."""
    dynamodb = lh.client("dynamodb", riffle.aws)
    name, arn = stream()
    out = tmp_path / "out.jsonl"
    fn = functions.create(handler="kinesis_to_file",
                          Environment={"Variables": {"OUT_FILE": str(out)}})
    for i in range(3):
        kinesis.put_record(StreamName=name, PartitionKey="a",
                           Data=f"first-{i}".encode())
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON")
    table = f"riffle-leases-{m['UUID']}"
    assert [l["data"] for l in read_lines(out, 3)] == [
        "first-0", "first-1", "first-2"]
    assert table in table_names(dynamodb)
    lease = dynamodb.scan(TableName=table)["Items"][0]
    assert lease["checkpoint"]["S"].isdigit()  # a sequence number

    lam.delete_event_source_mapping(UUID=m["UUID"])
    assert table not in table_names(dynamodb)
    with pytest.raises(dynamodb.exceptions.ResourceNotFoundException):
        dynamodb.describe_table(TableName=table)

    # Made again from the start: every record again, the old ones first.
    kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"second-0")
    again = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON")
    assert again["UUID"] != m["UUID"]
    lines = read_lines(out, 7)
    assert [l["data"] for l in lines[3:]] == [
        "first-0", "first-1", "first-2", "second-0"]
    lam.delete_event_source_mapping(UUID=again["UUID"])
    assert f"riffle-leases-{again['UUID']}" not in table_names(dynamodb)

    # And from LATEST: only what comes after.
    out.unlink()
    latest = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=fn, StartingPosition="LATEST")
    time.sleep(0.05)
    kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"third-0")
    assert [l["data"] for l in read_lines(out, 1)] == ["third-0"]
    lam.delete_event_source_mapping(UUID=latest["UUID"])
