"""Input validation: every constraint of the Kinesis API model answered with
AWS's ValidationException wording. botocore's own checks are off (the
`unchecked` client), so the invalid values reach the server. Stream names
here need not exist: AWS validates the request before it looks anything up."""

import pytest

import kinesis_helpers as kh
from kinesis_helpers import constraint, expect_error, validation_message

S = "validation-target"
NAME_PATTERN = "satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
HASH_PATTERN = r"satisfy regular expression pattern: 0|([1-9]\d{0,38})"
SEQ_PATTERN = r"satisfy regular expression pattern: 0|([1-9]\d{0,128})"
ITERATOR_TYPES = "[AFTER_SEQUENCE_NUMBER, LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, TRIM_HORIZON]"
LONG_NAME = "n" * 129
LONG_KEY = "k" * 257


def ge(n):
    return f"have value greater than or equal to {n}"


def le(n):
    return f"have value less than or equal to {n}"


def len_ge(n):
    return f"have length greater than or equal to {n}"


def len_le(n):
    return f"have length less than or equal to {n}"


# (id, operation, arguments, [(member, rule, value)])
CASES = [
    ("name-pattern", "create_stream", {"StreamName": "bad name!", "ShardCount": 1},
     [("streamName", NAME_PATTERN, "bad name!")]),
    ("name-too-long", "create_stream", {"StreamName": LONG_NAME, "ShardCount": 1},
     [("streamName", len_le(128), LONG_NAME)]),
    ("shard-count-zero", "create_stream", {"StreamName": S, "ShardCount": 0},
     [("shardCount", ge(1), 0)]),
    ("stream-mode-enum", "create_stream",
     {"StreamName": S, "ShardCount": 1, "StreamModeDetails": {"StreamMode": "FAST"}},
     [("streamModeDetails.streamMode", "satisfy enum value set: [PROVISIONED, ON_DEMAND]",
       "FAST")]),
    ("describe-name-pattern", "describe_stream_summary", {"StreamName": "a/b"},
     [("streamName", NAME_PATTERN, "a/b")]),
    ("delete-name-too-long", "delete_stream", {"StreamName": LONG_NAME},
     [("streamName", len_le(128), LONG_NAME)]),
    ("describe-limit-zero", "describe_stream", {"StreamName": S, "Limit": 0},
     [("limit", ge(1), 0)]),
    ("describe-limit-high", "describe_stream", {"StreamName": S, "Limit": 10001},
     [("limit", le(10000), 10001)]),
    ("describe-start-shard-pattern", "describe_stream",
     {"StreamName": S, "ExclusiveStartShardId": "shard id"},
     [("exclusiveStartShardId", NAME_PATTERN, "shard id")]),
    ("list-streams-limit-zero", "list_streams", {"Limit": 0}, [("limit", ge(1), 0)]),
    ("list-streams-limit-high", "list_streams", {"Limit": 10001}, [("limit", le(10000), 10001)]),
    ("list-shards-max-results-zero", "list_shards", {"StreamName": S, "MaxResults": 0},
     [("maxResults", ge(1), 0)]),
    ("list-shards-max-results-high", "list_shards", {"StreamName": S, "MaxResults": 10001},
     [("maxResults", le(10000), 10001)]),
    ("partition-key-empty", "put_record", {"StreamName": S, "PartitionKey": "", "Data": b"x"},
     [("partitionKey", len_ge(1), "")]),
    ("partition-key-too-long", "put_record",
     {"StreamName": S, "PartitionKey": LONG_KEY, "Data": b"x"},
     [("partitionKey", len_le(256), LONG_KEY)]),
    ("partition-key-missing", "put_record", {"StreamName": S, "Data": b"x"},
     [("partitionKey", "not be null", None)]),
    ("data-missing", "put_record", {"StreamName": S, "PartitionKey": "k"},
     [("data", "not be null", None)]),
    ("explicit-hash-key-pattern", "put_record",
     {"StreamName": S, "PartitionKey": "k", "Data": b"x", "ExplicitHashKey": "-1"},
     [("explicitHashKey", HASH_PATTERN, "-1")]),
    ("explicit-hash-key-40-digits", "put_record",
     {"StreamName": S, "PartitionKey": "k", "Data": b"x", "ExplicitHashKey": "1" * 40},
     [("explicitHashKey", HASH_PATTERN, "1" * 40)]),
    ("ordering-seq-pattern", "put_record",
     {"StreamName": S, "PartitionKey": "k", "Data": b"x", "SequenceNumberForOrdering": "01"},
     [("sequenceNumberForOrdering", SEQ_PATTERN, "01")]),
    ("records-empty", "put_records", {"StreamName": S, "Records": []},
     [("records", len_ge(1), "[]")]),
    ("records-entry-key-empty", "put_records",
     {"StreamName": S, "Records": [{"PartitionKey": "ok", "Data": b"x"},
                                   {"PartitionKey": "", "Data": b"x"}]},
     [("records.2.member.partitionKey", len_ge(1), "")]),
    ("records-entry-hash-key", "put_records",
     {"StreamName": S, "Records": [{"PartitionKey": "k", "Data": b"x", "ExplicitHashKey": "x"}]},
     [("records.1.member.explicitHashKey", HASH_PATTERN, "x")]),
    ("iterator-type-enum", "get_shard_iterator",
     {"StreamName": S, "ShardId": kh.shard_id(0), "ShardIteratorType": "SIDEWAYS"},
     [("shardIteratorType", f"satisfy enum value set: {ITERATOR_TYPES}", "SIDEWAYS")]),
    ("iterator-shard-id-pattern", "get_shard_iterator",
     {"StreamName": S, "ShardId": "shard 0", "ShardIteratorType": "LATEST"},
     [("shardId", NAME_PATTERN, "shard 0")]),
    ("iterator-seq-pattern", "get_shard_iterator",
     {"StreamName": S, "ShardId": kh.shard_id(0), "ShardIteratorType": "AT_SEQUENCE_NUMBER",
      "StartingSequenceNumber": "abc"},
     [("startingSequenceNumber", SEQ_PATTERN, "abc")]),
    ("get-records-limit-zero", "get_records", {"ShardIterator": "x" * 100, "Limit": 0},
     [("limit", ge(1), 0)]),
    ("get-records-limit-high", "get_records", {"ShardIterator": "x" * 100, "Limit": 10001},
     [("limit", le(10000), 10001)]),
    ("get-records-iterator-empty", "get_records", {"ShardIterator": ""},
     [("shardIterator", len_ge(1), "")]),
    ("get-records-iterator-too-long", "get_records", {"ShardIterator": "i" * 513},
     [("shardIterator", len_le(512), "i" * 513)]),
    ("split-hash-key-pattern", "split_shard",
     {"StreamName": S, "ShardToSplit": kh.shard_id(0), "NewStartingHashKey": "half"},
     [("newStartingHashKey", HASH_PATTERN, "half")]),
    ("merge-shard-pattern", "merge_shards",
     {"StreamName": S, "ShardToMerge": "a b", "AdjacentShardToMerge": kh.shard_id(1)},
     [("shardToMerge", NAME_PATTERN, "a b")]),
    ("update-count-zero", "update_shard_count",
     {"StreamName": S, "TargetShardCount": 0, "ScalingType": "UNIFORM_SCALING"},
     [("targetShardCount", ge(1), 0)]),
    ("update-scaling-enum", "update_shard_count",
     {"StreamName": S, "TargetShardCount": 2, "ScalingType": "RANDOM"},
     [("scalingType", "satisfy enum value set: [UNIFORM_SCALING]", "RANDOM")]),
    ("tags-empty", "add_tags_to_stream", {"StreamName": S, "Tags": {}},
     [("tags", len_ge(1), "{}")]),
    ("tag-keys-empty", "remove_tags_from_stream", {"StreamName": S, "TagKeys": []},
     [("tagKeys", len_ge(1), "[]")]),
    ("list-tags-limit-zero", "list_tags_for_stream", {"StreamName": S, "Limit": 0},
     [("limit", ge(1), 0)]),
]


@pytest.mark.parametrize("operation,arguments,errors",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_validation_error(unchecked, operation, arguments, errors):
    expected = validation_message(*(constraint(m, rule, v) for m, rule, v in errors))
    with expect_error("ValidationException", expected):
        getattr(unchecked, operation)(**arguments)


def test_data_over_one_mib(unchecked):
    with expect_error("ValidationException",
                      match=r"1 validation error detected: Value '.*' at 'data' failed to satisfy "
                            r"constraint: Member must have length less than or equal to 1048576"):
        unchecked.put_record(StreamName=S, PartitionKey="k", Data=b"d" * (1024 * 1024 + 1))


def test_put_records_entry_data_over_one_mib(unchecked):
    records = [{"PartitionKey": "k", "Data": b"x"},
               {"PartitionKey": "k", "Data": b"d" * (1024 * 1024 + 1)}]
    with expect_error("ValidationException",
                      match=r"1 validation error detected: Value '.*' at 'records\.2\.member\.data' "
                            r"failed to satisfy constraint: Member must have length less than "
                            r"or equal to 1048576"):
        unchecked.put_records(StreamName=S, Records=records)


def test_more_than_500_records(unchecked):
    records = [{"PartitionKey": "k", "Data": b"x"}] * 501
    with expect_error("ValidationException",
                      match=r"1 validation error detected: Value '.*' at 'records' failed to "
                            r"satisfy constraint: Member must have length less than or equal "
                            r"to 500"):
        unchecked.put_records(StreamName=S, Records=records)


def test_several_errors_are_counted_and_joined(unchecked):
    parts = {constraint("streamName", NAME_PATTERN, "bad name!"),
             constraint("shardCount", ge(1), 0)}
    try:
        unchecked.create_stream(StreamName="bad name!", ShardCount=0)
    except unchecked.exceptions.ClientError as e:
        error = e.response["Error"]
    else:
        raise AssertionError("CreateStream with two invalid members succeeded")
    assert error["Code"] == "ValidationException"
    prefix = "2 validation errors detected: "
    assert error["Message"].startswith(prefix), error["Message"]
    assert set(error["Message"][len(prefix):].split("; ")) == parts
