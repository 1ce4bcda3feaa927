"""Writing and reading records through boto3: PutRecord, PutRecords,
GetShardIterator (all five types) and GetRecords, with AWS's partition-key
hashing and sequence-number rules."""

import datetime
import math
import time

import pytest

import kinesis_helpers as kh
from kinesis_helpers import expect_error

KEYS = [f"key-{i}" for i in range(64)]


def shards_of(kinesis, name):
    return kinesis.list_shards(StreamName=name)["Shards"]


def test_partition_key_md5_picks_the_shard(kinesis, streams):
    name = streams.create(shards=5)
    ranges = kh.uniform_ranges(5)
    for key, data, reply in kh.put_keys(kinesis, name, KEYS):
        expected = next(i for i, (lo, hi) in enumerate(ranges) if lo <= kh.hash_key(key) <= hi)
        assert reply["ShardId"] == kh.shard_id(expected), key
        kh.seq(reply)
        assert reply.get("EncryptionType", "NONE") == "NONE"


def test_explicit_hash_key_overrides_partition_key(kinesis, streams):
    name = streams.create(shards=4)
    for index, (lo, hi) in enumerate(kh.uniform_ranges(4)):
        for explicit in (lo, hi, (lo + hi) // 2):
            reply = kinesis.put_record(StreamName=name, PartitionKey="same-key", Data=b"x",
                                       ExplicitHashKey=str(explicit))
            assert reply["ShardId"] == kh.shard_id(index), explicit


def test_explicit_hash_key_out_of_range(kinesis, streams):
    name = streams.create()
    with expect_error("InvalidArgumentException",
                      "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
                      f"[0, 2^128-1]. Specified value was {kh.HASH_SPACE}"):
        kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x",
                           ExplicitHashKey=str(kh.HASH_SPACE))


def test_records_round_trip_in_order(kinesis, streams):
    name = streams.create(shards=3)
    written = kh.put_keys(kinesis, name, KEYS)
    before = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=5)
    for shard in shards_of(kinesis, name):
        mine = [(k, d, r) for k, d, r in written if r["ShardId"] == shard["ShardId"]]
        records = kh.read_shard(kinesis, name, shard["ShardId"])
        assert [r["SequenceNumber"] for r in records] == [r["SequenceNumber"] for _, _, r in mine]
        assert [r["Data"] for r in records] == [d for _, d, _ in mine]
        assert [r["PartitionKey"] for r in records] == [k for k, _, _ in mine]
        kh.assert_strictly_increasing(records)
        for record in records:
            assert record["ApproximateArrivalTimestamp"] >= before
            assert record.get("EncryptionType", "NONE") == "NONE"


def test_empty_and_binary_data(kinesis, streams):
    name = streams.create()
    payloads = [b"", bytes(range(256)), b"\x00" * 1000]
    for data in payloads:
        kinesis.put_record(StreamName=name, PartitionKey="k", Data=data)
    assert [r["Data"] for r in kh.read_shard(kinesis, name, kh.shard_id(0))] == payloads


def test_record_of_exactly_one_mib(kinesis, streams):
    name = streams.create()
    data = b"m" * (1024 * 1024)
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=data)
    assert kh.read_shard(kinesis, name, kh.shard_id(0))[0]["Data"] == data


def test_sequence_number_for_ordering(kinesis, streams):
    name = streams.create(shards=2)
    previous = kinesis.put_record(StreamName=name, PartitionKey="a", Data=b"0",
                                  ExplicitHashKey="1")
    for i in range(1, 10):
        reply = kinesis.put_record(StreamName=name, PartitionKey=f"k{i}", Data=str(i).encode(),
                                   ExplicitHashKey="1",
                                   SequenceNumberForOrdering=previous["SequenceNumber"])
        assert kh.seq(reply) > kh.seq(previous)
        previous = reply


def test_put_records_results_follow_request_order(kinesis, streams):
    name = streams.create(shards=4)
    entries = [{"PartitionKey": key, "Data": f"batch-{i}".encode()} for i, key in enumerate(KEYS)]
    entries[5]["ExplicitHashKey"] = str(kh.MAX_HASH_KEY)
    reply = kinesis.put_records(StreamName=name, Records=entries)
    assert reply["FailedRecordCount"] == 0
    results = reply["Records"]
    assert len(results) == len(entries)
    ranges = kh.uniform_ranges(4)
    for entry, result in zip(entries, results):
        key = int(entry.get("ExplicitHashKey", kh.hash_key(entry["PartitionKey"])))
        expected = next(i for i, (lo, hi) in enumerate(ranges) if lo <= key <= hi)
        assert result["ShardId"] == kh.shard_id(expected)
        assert "ErrorCode" not in result
        kh.seq(result)
    for shard in range(4):
        mine = [r["SequenceNumber"] for r in results if r["ShardId"] == kh.shard_id(shard)]
        kh.assert_strictly_increasing(mine, "PutRecords sequence numbers within a shard")
        got = kh.read_shard(kinesis, name, kh.shard_id(shard))
        assert [r["SequenceNumber"] for r in got] == mine


def test_put_records_hash_key_out_of_range_fails_the_request(unchecked, streams):
    # AWS refuses the whole request; per-record failures are for throttling
    # and internal errors only (see test_put_records_per_record_throttling).
    name = streams.create(shards=2)
    with expect_error("InvalidArgumentException",
                      "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: "
                      f"[0, 2^128-1]. Specified value was {kh.HASH_SPACE}"):
        unchecked.put_records(StreamName=name, Records=[
            {"PartitionKey": "a", "Data": b"1"},
            {"PartitionKey": "b", "Data": b"2", "ExplicitHashKey": str(kh.HASH_SPACE)},
        ])
    assert kh.read_shard(unchecked, name, kh.shard_id(0)) == []
    assert kh.read_shard(unchecked, name, kh.shard_id(1)) == []


@pytest.mark.needs_binary
def test_put_records_per_record_throttling(riffle_factory):
    # With --enforce-shard-limits a shard takes 1,000 records/s: 3,000 in a
    # burst to one shard must throttle some entries and accept the others.
    server = riffle_factory(extra_args=["--enforce-shard-limits"])
    client = kh.boto3_client(server.aws)
    client.create_stream(StreamName="throttled", ShardCount=2)
    kh.wait_for_status(client, "throttled")
    results = []
    for batch in range(6):
        reply = client.put_records(StreamName="throttled", Records=[
            {"PartitionKey": "k", "Data": f"{batch}-{i}".encode(), "ExplicitHashKey": "7"}
            for i in range(500)])
        assert reply["FailedRecordCount"] == sum("ErrorCode" in r for r in reply["Records"])
        results += reply["Records"]
    failed = [r for r in results if "ErrorCode" in r]
    accepted = [r for r in results if "ErrorCode" not in r]
    assert failed and accepted
    for result in failed:
        assert result["ErrorCode"] == "ProvisionedThroughputExceededException"
        assert result["ErrorMessage"] == (f"Rate exceeded for shard {kh.shard_id(0)} in stream "
                                          f"throttled under account {kh.ACCOUNT}.")
        assert "SequenceNumber" not in result and "ShardId" not in result
    stored = kh.read_shard(client, "throttled", kh.shard_id(0), limit=1000)
    assert [r["SequenceNumber"] for r in stored] == [r["SequenceNumber"] for r in accepted]


def test_put_records_of_five_mib_total(kinesis, streams):
    name = streams.create()
    data = b"f" * (1024 * 1024 - 64)
    reply = kinesis.put_records(StreamName=name,
                                Records=[{"PartitionKey": f"p{i}", "Data": data} for i in range(5)])
    assert reply["FailedRecordCount"] == 0


def test_put_records_over_five_mib_total(kinesis, streams):
    name = streams.create()
    # 5.1 MiB of data: over the 5 MiB request limit, yet small enough in
    # base64 (6.8 MiB) to stay under the HTTP body limit, so the
    # Kinesis-level error answers and not a 413.
    records = [{"PartitionKey": "p", "Data": b"f" * (1024 * 1024)} for _ in range(5)]
    records.append({"PartitionKey": "p", "Data": b"g" * (100 * 1024)})
    with expect_error("InvalidArgumentException", match=r".*5 ?MB.*|.*5242880.*"):
        kinesis.put_records(StreamName=name, Records=records)


# ---------------------------------------------------------------- iterators

def test_iterator_types(kinesis, streams):
    name = streams.create()
    shard = kh.shard_id(0)
    first = [kinesis.put_record(StreamName=name, PartitionKey="k", Data=f"a{i}".encode())
             for i in range(5)]
    latest = kh.iterator(kinesis, name, shard, "LATEST")
    # botocore sends Timestamp in whole seconds: start the second batch just
    # after a second boundary and ask for records from that boundary on.
    boundary = math.floor(time.time()) + 1
    time.sleep(boundary - time.time() + 0.05)
    middle = datetime.datetime.fromtimestamp(boundary, datetime.timezone.utc)
    second = [kinesis.put_record(StreamName=name, PartitionKey="k", Data=f"b{i}".encode())
              for i in range(3)]
    everything = first + second

    def read(shard_iterator):
        return [r["SequenceNumber"] for r in kh.read_from(kinesis, shard_iterator)[0]]

    def seqs(replies):
        return [r["SequenceNumber"] for r in replies]

    assert read(kh.iterator(kinesis, name, shard, "TRIM_HORIZON")) == seqs(everything)
    assert read(latest) == seqs(second)
    assert read(kh.iterator(kinesis, name, shard, "LATEST")) == []
    at = first[2]["SequenceNumber"]
    assert read(kh.iterator(kinesis, name, shard, "AT_SEQUENCE_NUMBER",
                            StartingSequenceNumber=at)) == seqs(everything[2:])
    assert read(kh.iterator(kinesis, name, shard, "AFTER_SEQUENCE_NUMBER",
                            StartingSequenceNumber=at)) == seqs(everything[3:])
    assert read(kh.iterator(kinesis, name, shard, "AT_TIMESTAMP", Timestamp=middle)) == \
        seqs(second)
    old = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    assert read(kh.iterator(kinesis, name, shard, "AT_TIMESTAMP", Timestamp=old)) == \
        seqs(everything)


def test_get_records_limit_and_next_iterator(kinesis, streams):
    name = streams.create()
    written = [kinesis.put_record(StreamName=name, PartitionKey="k", Data=str(i).encode())
               for i in range(10)]
    shard_iterator = kh.iterator(kinesis, name, kh.shard_id(0))
    pages = []
    for _ in range(4):
        reply = kinesis.get_records(ShardIterator=shard_iterator, Limit=3)
        pages.append([r["Data"] for r in reply["Records"]])
        assert reply["NextShardIterator"]
        assert isinstance(reply["MillisBehindLatest"], int)
        shard_iterator = reply["NextShardIterator"]
    assert pages == [[b"0", b"1", b"2"], [b"3", b"4", b"5"], [b"6", b"7", b"8"], [b"9"]]
    assert reply["MillisBehindLatest"] == 0
    assert "ChildShards" not in reply or reply["ChildShards"] == []
    # The last iterator continues with what is written later.
    later = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"later")
    reply = kinesis.get_records(ShardIterator=shard_iterator)
    assert [r["SequenceNumber"] for r in reply["Records"]] == [later["SequenceNumber"]]
    assert len(written) == 10


def test_iterator_can_be_reused(kinesis, streams):
    name = streams.create()
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"once")
    shard_iterator = kh.iterator(kinesis, name, kh.shard_id(0))
    first = kinesis.get_records(ShardIterator=shard_iterator)["Records"]
    again = kinesis.get_records(ShardIterator=shard_iterator)["Records"]
    assert [r["Data"] for r in first] == [r["Data"] for r in again] == [b"once"]


def test_get_records_on_empty_shard(kinesis, streams):
    name = streams.create()
    reply = kinesis.get_records(ShardIterator=kh.iterator(kinesis, name, kh.shard_id(0)))
    assert reply["Records"] == []
    assert reply["MillisBehindLatest"] == 0
    assert reply["NextShardIterator"]


def test_get_records_reads_at_most_limit_of_many(kinesis, streams):
    name = streams.create()
    for start in range(0, 1200, 500):
        count = min(500, 1200 - start)
        kinesis.put_records(StreamName=name, Records=[
            {"PartitionKey": "k", "Data": str(start + i).encode()} for i in range(count)])
    reply = kinesis.get_records(ShardIterator=kh.iterator(kinesis, name, kh.shard_id(0)),
                                Limit=1000)
    assert [r["Data"] for r in reply["Records"]] == [str(i).encode() for i in range(1000)]
    rest = kinesis.get_records(ShardIterator=reply["NextShardIterator"])
    assert [r["Data"] for r in rest["Records"]] == [str(i).encode() for i in range(1000, 1200)]


# ---------------------------------------------------------------- iterator errors

SEQ_ARGS_MESSAGE = ("Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
                    "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no "
                    "StartingSequenceNumber. Request specified {kind} and {which} "
                    "StartingSequenceNumber.")


@pytest.mark.parametrize("kind", ["TRIM_HORIZON", "LATEST"])
def test_sequence_number_with_positional_iterator(kinesis, streams, kind):
    name = streams.create()
    put = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x")
    with expect_error("InvalidArgumentException",
                      SEQ_ARGS_MESSAGE.format(kind=kind, which="also a")):
        kh.iterator(kinesis, name, kh.shard_id(0), kind,
                    StartingSequenceNumber=put["SequenceNumber"])


@pytest.mark.parametrize("kind", ["AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"])
def test_missing_sequence_number(kinesis, streams, kind):
    name = streams.create()
    with expect_error("InvalidArgumentException", SEQ_ARGS_MESSAGE.format(kind=kind, which="no")):
        kh.iterator(kinesis, name, kh.shard_id(0), kind)


def test_at_timestamp_without_timestamp(kinesis, streams):
    name = streams.create()
    with expect_error("InvalidArgumentException",
                      "Must specify timestampInMillis parameter for iterator of type "
                      "AT_TIMESTAMP. Current request has no timestamp parameter."):
        kh.iterator(kinesis, name, kh.shard_id(0), "AT_TIMESTAMP")


def test_at_timestamp_in_the_future(kinesis, streams):
    name = streams.create()
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    with expect_error("InvalidArgumentException",
                      match=r"The timestampInMillis parameter cannot be greater than the "
                            r"currentTimestampInMillis\. timestampInMillis: \d+, "
                            r"currentTimestampInMillis: \d+"):
        kh.iterator(kinesis, name, kh.shard_id(0), "AT_TIMESTAMP", Timestamp=future)


def test_sequence_number_of_another_shard(kinesis, streams):
    name = streams.create(shards=2)
    put = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x", ExplicitHashKey="0")
    assert put["ShardId"] == kh.shard_id(0)
    with expect_error("InvalidArgumentException",
                      f"Invalid StartingSequenceNumber. It encodes {kh.shard_id(0)}, while it "
                      f"was used in a call to a shard with {kh.shard_id(1)}"):
        kh.iterator(kinesis, name, kh.shard_id(1), "AT_SEQUENCE_NUMBER",
                    StartingSequenceNumber=put["SequenceNumber"])


def test_sequence_number_that_is_not_one(kinesis, streams):
    name = streams.create()
    # AWS decodes the shard from the number, so its wording depends on the
    # value; either of its two messages is accepted.
    with expect_error("InvalidArgumentException",
                      match=(rf"StartingSequenceNumber 12345 used in GetShardIterator on shard "
                             rf"{kh.shard_id(0)} in stream {name} under account {kh.ACCOUNT} "
                             r"is invalid\.|Invalid StartingSequenceNumber\. It encodes "
                             rf"shardId-\d{{12}}, while it was used in a call to a shard with "
                             rf"{kh.shard_id(0)}")):
        kh.iterator(kinesis, name, kh.shard_id(0), "AT_SEQUENCE_NUMBER",
                    StartingSequenceNumber="12345")


def test_unknown_shard(kinesis, streams):
    name = streams.create(shards=2)
    with expect_error("ResourceNotFoundException",
                      f"Shard {kh.shard_id(7)} in stream {name} under account {kh.ACCOUNT} "
                      "does not exist"):
        kh.iterator(kinesis, name, kh.shard_id(7))


def test_garbage_shard_iterator(kinesis):
    # Iterators are opaque; one that riffle did not issue is refused. (An
    # expired one would be ExpiredIteratorException, but that takes 5 minutes.)
    garbage = "AAAAAAAAAAE" + "x" * 200
    with expect_error("InvalidArgumentException", "Invalid ShardIterator."):
        kinesis.get_records(ShardIterator=garbage)


def test_iterator_of_deleted_stream(kinesis, streams):
    name = streams.create()
    shard_iterator = kh.iterator(kinesis, name, kh.shard_id(0))
    kinesis.delete_stream(StreamName=name)
    kh.wait_until_gone(kinesis, name)
    with expect_error("ResourceNotFoundException",
                      f"Shard {kh.shard_id(0)} in stream {name} under account {kh.ACCOUNT} "
                      "does not exist"):
        kinesis.get_records(ShardIterator=shard_iterator)
