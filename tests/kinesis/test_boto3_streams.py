"""Stream lifecycle and metadata through boto3: CreateStream, DeleteStream,
DescribeStream, DescribeStreamSummary, ListStreams, ListShards, tags,
retention, stream modes, DescribeLimits, and StreamARN in place of
StreamName."""

import datetime

import pytest

import kinesis_helpers as kh
from kinesis_helpers import expect_error


def arn(name):
    return f"arn:aws:kinesis:{kh.REGION}:{kh.ACCOUNT}:stream/{name}"


# ---------------------------------------------------------------- create / describe

@pytest.mark.parametrize("count", [1, 3, 7])
def test_create_stream_splits_hash_space_like_aws(kinesis, streams, count):
    name = streams.create(shards=count)
    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert description["StreamName"] == name
    assert description["StreamARN"] == arn(name)
    assert description["StreamStatus"] == "ACTIVE"
    assert description["HasMoreShards"] is False
    assert description["RetentionPeriodHours"] == 24
    assert description["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert description["EncryptionType"] == "NONE"
    assert isinstance(description["StreamCreationTimestamp"], datetime.datetime)
    shards = description["Shards"]
    assert [s["ShardId"] for s in shards] == [kh.shard_id(i) for i in range(count)]
    assert [kh.hash_range(s) for s in shards] == kh.uniform_ranges(count)
    for shard in shards:
        assert "ParentShardId" not in shard
        assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]
        kh.seq(shard["SequenceNumberRange"]["StartingSequenceNumber"])


def test_describe_stream_summary(kinesis, streams):
    name = streams.create(shards=3)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamName"] == name
    assert summary["StreamARN"] == arn(name)
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == 3
    assert summary["RetentionPeriodHours"] == 24
    assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert summary["EncryptionType"] == "NONE"
    assert summary["ConsumerCount"] == 0
    assert summary["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]


def test_create_stream_on_demand_mode(kinesis, streams):
    # AWS gives a new on-demand stream 4 shards.
    name = streams.create(shards=None, mode="ON_DEMAND")
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["OpenShardCount"] == 4
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    assert [kh.hash_range(s) for s in shards] == kh.uniform_ranges(4)


def test_create_stream_provisioned_mode_explicitly(kinesis, streams):
    name = streams.create(shards=2, mode="PROVISIONED")
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert summary["OpenShardCount"] == 2


def test_create_existing_stream_is_resource_in_use(kinesis, streams):
    name = streams.create()
    with expect_error("ResourceInUseException",
                      f"Stream {name} under account {kh.ACCOUNT} already exists."):
        kinesis.create_stream(StreamName=name, ShardCount=1)


def test_describe_stream_pages_with_limit_and_exclusive_start(kinesis, streams):
    name = streams.create(shards=5)
    first = kinesis.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
    assert [s["ShardId"] for s in first["Shards"]] == [kh.shard_id(0), kh.shard_id(1)]
    assert first["HasMoreShards"] is True
    rest = kinesis.describe_stream(StreamName=name, ExclusiveStartShardId=kh.shard_id(1))
    rest = rest["StreamDescription"]
    assert [s["ShardId"] for s in rest["Shards"]] == [kh.shard_id(i) for i in (2, 3, 4)]
    assert rest["HasMoreShards"] is False


def test_missing_stream_is_resource_not_found_everywhere(kinesis):
    name = "no-such-stream-anywhere"
    calls = [
        lambda: kinesis.describe_stream(StreamName=name),
        lambda: kinesis.describe_stream_summary(StreamName=name),
        lambda: kinesis.delete_stream(StreamName=name),
        lambda: kinesis.list_shards(StreamName=name),
        lambda: kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x"),
        lambda: kinesis.put_records(StreamName=name, Records=[{"PartitionKey": "k", "Data": b"x"}]),
        lambda: kinesis.add_tags_to_stream(StreamName=name, Tags={"a": "b"}),
        lambda: kinesis.list_tags_for_stream(StreamName=name),
        lambda: kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["a"]),
        lambda: kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48),
        lambda: kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24),
        lambda: kinesis.update_shard_count(StreamName=name, TargetShardCount=2,
                                           ScalingType="UNIFORM_SCALING"),
    ]
    for call in calls:
        with expect_error("ResourceNotFoundException", kh.stream_not_found(name)):
            call()


def test_get_shard_iterator_on_missing_stream(kinesis):
    with expect_error("ResourceNotFoundException",
                      f"Shard {kh.shard_id(0)} in stream nope-stream under account "
                      f"{kh.ACCOUNT} does not exist"):
        kinesis.get_shard_iterator(StreamName="nope-stream", ShardId=kh.shard_id(0),
                                   ShardIteratorType="TRIM_HORIZON")


def test_delete_stream(kinesis, streams):
    name = streams.create(shards=2)
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"gone")
    kinesis.delete_stream(StreamName=name)
    kh.wait_until_gone(kinesis, name)
    with expect_error("ResourceNotFoundException", kh.stream_not_found(name)):
        kinesis.describe_stream(StreamName=name)
    assert name not in kinesis.list_streams(Limit=10000)["StreamNames"]
    # The name is free again, and the new stream starts empty.
    streams.create(shards=1, name=name)
    assert kh.read_shard(kinesis, name, kh.shard_id(0)) == []


# ---------------------------------------------------------------- ListStreams

def list_stream_names(kinesis, limit):
    names, reply = [], kinesis.list_streams(Limit=limit)
    names += reply["StreamNames"]
    while reply["HasMoreStreams"]:
        reply = kinesis.list_streams(Limit=limit, ExclusiveStartStreamName=names[-1])
        names += reply["StreamNames"]
    return names


def test_list_streams_pages_by_exclusive_start_name(kinesis, streams):
    created = sorted(streams.create() for _ in range(5))
    names = list_stream_names(kinesis, limit=2)
    assert names == sorted(names), "ListStreams returns names in lexicographic order"
    assert len(names) == len(set(names))
    assert set(created) <= set(names)
    first = kinesis.list_streams(Limit=1)
    assert len(first["StreamNames"]) == 1 and first["HasMoreStreams"] is True


def test_list_streams_next_token_and_summaries(raw, streams):
    created = set(streams.create(shards=1) for _ in range(3))
    seen, summaries = [], {}
    reply = raw.call("ListStreams", {"Limit": 2})
    while True:
        assert len(reply["StreamNames"]) <= 2
        seen += reply["StreamNames"]
        for summary in reply["StreamSummaries"]:
            summaries[summary["StreamName"]] = summary
        assert [s["StreamName"] for s in reply["StreamSummaries"]] == reply["StreamNames"]
        if not reply["HasMoreStreams"]:
            assert "NextToken" not in reply
            break
        reply = raw.call("ListStreams", {"NextToken": reply["NextToken"], "Limit": 2})
    assert len(seen) == len(set(seen))
    assert created <= set(seen)
    for name in created:
        summary = summaries[name]
        assert summary["StreamARN"] == arn(name)
        assert summary["StreamStatus"] == "ACTIVE"
        assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
        assert isinstance(summary["StreamCreationTimestamp"], (int, float))


# ---------------------------------------------------------------- ListShards

def test_list_shards_paginates_with_next_token(kinesis, streams):
    name = streams.create(shards=5)
    page = kinesis.list_shards(StreamName=name, MaxResults=2)
    ids = [s["ShardId"] for s in page["Shards"]]
    assert ids == [kh.shard_id(0), kh.shard_id(1)]
    while "NextToken" in page:
        page = kinesis.list_shards(NextToken=page["NextToken"], MaxResults=2)
        assert len(page["Shards"]) <= 2
        ids += [s["ShardId"] for s in page["Shards"]]
    assert ids == [kh.shard_id(i) for i in range(5)]


def test_list_shards_exclusive_start_shard_id(kinesis, streams):
    name = streams.create(shards=4)
    shards = kinesis.list_shards(StreamName=name, ExclusiveStartShardId=kh.shard_id(1))["Shards"]
    assert [s["ShardId"] for s in shards] == [kh.shard_id(2), kh.shard_id(3)]


def test_list_shards_shard_filters(kinesis, streams):
    name = streams.create(shards=2)
    kinesis.split_shard(StreamName=name, ShardToSplit=kh.shard_id(0),
                        NewStartingHashKey=str(2 ** 126))
    kh.wait_for_status(kinesis, name)
    everything = [s["ShardId"] for s in kh.list_all_shards(kinesis, name)]
    assert everything == [kh.shard_id(i) for i in range(4)]

    def filtered(**shard_filter):
        return [s["ShardId"] for s in kh.list_all_shards(kinesis, name, ShardFilter=shard_filter)]

    assert filtered(Type="AT_LATEST") == [kh.shard_id(1), kh.shard_id(2), kh.shard_id(3)]
    # AT_TRIM_HORIZON: the shards that were open at the trim horizon, before
    # the split; FROM_TRIM_HORIZON: those and every shard opened since.
    assert filtered(Type="AT_TRIM_HORIZON") == [kh.shard_id(0), kh.shard_id(1)]
    assert filtered(Type="FROM_TRIM_HORIZON") == everything
    assert filtered(Type="AFTER_SHARD_ID", ShardId=kh.shard_id(1)) == \
        [kh.shard_id(2), kh.shard_id(3)]


def test_list_shards_next_token_with_stream_name_is_invalid(kinesis, streams):
    name = streams.create(shards=3)
    token = kinesis.list_shards(StreamName=name, MaxResults=1)["NextToken"]
    with expect_error("InvalidArgumentException",
                      "NextToken and StreamName cannot be provided together."):
        kinesis.list_shards(StreamName=name, NextToken=token)


def test_list_shards_garbage_next_token(kinesis):
    with expect_error("InvalidArgumentException"):
        kinesis.list_shards(NextToken="this-is-not-a-token")


# ---------------------------------------------------------------- tags

def test_tags_add_list_remove(kinesis, streams):
    name = streams.create()
    kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "core", "env": "test", "z": ""})
    reply = kinesis.list_tags_for_stream(StreamName=name)
    assert reply["Tags"] == [{"Key": "env", "Value": "test"}, {"Key": "team", "Value": "core"},
                             {"Key": "z", "Value": ""}]
    assert reply["HasMoreTags"] is False

    kinesis.add_tags_to_stream(StreamName=name, Tags={"team": "platform"})  # overwrite
    page = kinesis.list_tags_for_stream(StreamName=name, Limit=1)
    assert page["Tags"] == [{"Key": "env", "Value": "test"}]
    assert page["HasMoreTags"] is True
    page = kinesis.list_tags_for_stream(StreamName=name, ExclusiveStartTagKey="env")
    assert page["Tags"] == [{"Key": "team", "Value": "platform"}, {"Key": "z", "Value": ""}]

    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env", "z", "never-set"])
    assert kinesis.list_tags_for_stream(StreamName=name)["Tags"] == \
        [{"Key": "team", "Value": "platform"}]


def test_more_than_50_tags_is_invalid(kinesis, streams):
    name = streams.create()
    kinesis.add_tags_to_stream(StreamName=name, Tags={f"k{i:02d}": "v" for i in range(40)})
    with expect_error("InvalidArgumentException",
                      f"Failed to add tags to stream {name} under account {kh.ACCOUNT} "
                      "because a given stream cannot have more than 50 tags associated with it."):
        kinesis.add_tags_to_stream(StreamName=name, Tags={f"n{i:02d}": "v" for i in range(11)})
    assert len(kinesis.list_tags_for_stream(StreamName=name)["Tags"]) == 40


# ---------------------------------------------------------------- retention

def retention(kinesis, name):
    return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "RetentionPeriodHours"]


def test_retention_increase_and_decrease(kinesis, streams):
    name = streams.create()
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8760)
    assert retention(kinesis, name) == 8760
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert retention(kinesis, name) == 48
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)  # same: ok
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    assert retention(kinesis, name) == 24


def test_retention_errors(kinesis, streams):
    name = streams.create()
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=72)
    too_short = ("Minimum allowed retention period is 24 hours. "
                 "Requested retention period (23 hours) is too short.")
    too_long = ("Maximum allowed retention period is 8760 hours. "
                "Requested retention period (8761 hours) is too long.")
    with expect_error("InvalidArgumentException", too_short):
        kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=23)
    with expect_error("InvalidArgumentException", too_long):
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8761)
    with expect_error("InvalidArgumentException",
                      f"Requested retention period (48 hours) for stream {name} can not be "
                      "shorter than existing retention period (72 hours). "
                      "Use DecreaseRetentionPeriod API."):
        kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    with expect_error("InvalidArgumentException",
                      f"Requested retention period (96 hours) for stream {name} can not be "
                      "longer than existing retention period (72 hours). "
                      "Use IncreaseRetentionPeriod API."):
        kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=96)
    assert retention(kinesis, name) == 72


# ---------------------------------------------------------------- modes and limits

def test_update_stream_mode(kinesis, streams):
    name = streams.create(shards=2)
    kinesis.update_stream_mode(StreamARN=arn(name), StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = kh.wait_for_status(kinesis, name)
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"still writable")
    kinesis.update_stream_mode(StreamARN=arn(name),
                               StreamModeDetails={"StreamMode": "PROVISIONED"})
    summary = kh.wait_for_status(kinesis, name)
    assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}


def test_update_stream_mode_unknown_stream(kinesis):
    with expect_error("ResourceNotFoundException", kh.stream_not_found("nope-mode")):
        kinesis.update_stream_mode(StreamARN=arn("nope-mode"),
                                   StreamModeDetails={"StreamMode": "ON_DEMAND"})


@pytest.mark.needs_binary
def test_describe_limits_counts_open_shards(riffle_factory):
    # A private server: streams other tests delete must not change the counts.
    client = kh.boto3_client(riffle_factory().aws)
    before = client.describe_limits()
    for key in ("ShardLimit", "OpenShardCount", "OnDemandStreamCount", "OnDemandStreamCountLimit"):
        assert isinstance(before[key], int), key
    assert (before["OpenShardCount"], before["OnDemandStreamCount"]) == (0, 0)
    assert before["ShardLimit"] > 0 and before["OnDemandStreamCountLimit"] > 0
    client.create_stream(StreamName="limits-a", ShardCount=3)
    client.create_stream(StreamName="limits-b", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    kh.wait_for_status(client, "limits-a")
    kh.wait_for_status(client, "limits-b")
    after = client.describe_limits()
    assert after["OpenShardCount"] == 3 + 4
    assert after["OnDemandStreamCount"] == 1
    client.split_shard(StreamName="limits-a", ShardToSplit=kh.shard_id(0),
                       NewStartingHashKey="12345")
    kh.wait_for_status(client, "limits-a")
    assert client.describe_limits()["OpenShardCount"] == 8  # One closed, two opened.


@pytest.mark.needs_binary
def test_create_stream_over_shard_limit(riffle_factory):
    client = kh.boto3_client(riffle_factory().aws)
    client.create_stream(StreamName="some-shards", ShardCount=2)
    kh.wait_for_status(client, "some-shards")
    limits = client.describe_limits()
    extra = limits["ShardLimit"] - limits["OpenShardCount"] + 1
    with expect_error(
            "LimitExceededException",
            match=(rf"This request would exceed the shard limit for the account {kh.ACCOUNT} in "
                   rf"{kh.REGION}\. Current shard count for the account: "
                   rf"{limits['OpenShardCount']}\. Limit: {limits['ShardLimit']}\. Number of "
                   rf"additional shards that would have resulted from this request: {extra}\. "
                   r"Refer to the AWS Service Limits page \(https?://docs\.aws\.amazon\.com/"
                   r"general/latest/gr/aws_service_limits\.html\) for current limits and how to "
                   r"request higher limits\.")):
        client.create_stream(StreamName="too-many-shards", ShardCount=extra)
    with expect_error("ResourceNotFoundException", kh.stream_not_found("too-many-shards")):
        client.describe_stream_summary(StreamName="too-many-shards")


# ---------------------------------------------------------------- StreamARN

def test_stream_arn_accepted_wherever_stream_name_is(raw, kinesis, streams):
    name = streams.create(shards=2)
    by_arn = {"StreamARN": arn(name)}
    assert raw.call("DescribeStream", by_arn)["StreamDescription"]["StreamName"] == name
    assert raw.call("DescribeStreamSummary", by_arn)["StreamDescriptionSummary"][
        "OpenShardCount"] == 2
    assert len(raw.call("ListShards", by_arn)["Shards"]) == 2
    put = raw.call("PutRecord", {**by_arn, "PartitionKey": "k", "Data": "aGVsbG8="})
    kh.seq(put["SequenceNumber"])
    batch = raw.call("PutRecords", {**by_arn, "Records": [{"PartitionKey": "k", "Data": "eA=="}]})
    assert batch["FailedRecordCount"] == 0
    shard_iterator = raw.call("GetShardIterator", {
        **by_arn, "ShardId": put["ShardId"], "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
    records = raw.call("GetRecords", {"ShardIterator": shard_iterator, "StreamARN": arn(name)})
    assert [r["Data"] for r in records["Records"]][:1] == ["aGVsbG8="]
    raw.call("AddTagsToStream", {**by_arn, "Tags": {"via": "arn"}})
    assert raw.call("ListTagsForStream", by_arn)["Tags"] == [{"Key": "via", "Value": "arn"}]
    raw.call("RemoveTagsFromStream", {**by_arn, "TagKeys": ["via"]})
    raw.call("IncreaseStreamRetentionPeriod", {**by_arn, "RetentionPeriodHours": 30})
    raw.call("DecreaseStreamRetentionPeriod", {**by_arn, "RetentionPeriodHours": 25})
    assert retention(kinesis, name) == 25
    raw.call("SplitShard", {**by_arn, "ShardToSplit": kh.shard_id(0),
                            "NewStartingHashKey": str(2 ** 125)})
    kh.wait_for_status(kinesis, name)
    raw.call("MergeShards", {**by_arn, "ShardToMerge": kh.shard_id(2),
                             "AdjacentShardToMerge": kh.shard_id(3)})
    kh.wait_for_status(kinesis, name)
    raw.call("UpdateShardCount", {**by_arn, "TargetShardCount": 4,
                                  "ScalingType": "UNIFORM_SCALING"})
    kh.wait_for_status(kinesis, name)
    raw.call("DeleteStream", by_arn)
    kh.wait_until_gone(kinesis, name)


def test_stream_arn_of_missing_stream(raw):
    with expect_error("ResourceNotFoundException", kh.stream_not_found("arn-missing")):
        raw.call("DescribeStreamSummary", {"StreamARN": arn("arn-missing")})


def test_neither_stream_name_nor_arn(raw):
    # AWS answers a request that names no stream with a client error; the
    # exact type differs by operation, so only its class is checked here.
    for operation in ("DescribeStreamSummary", "PutRecord", "DeleteStream"):
        reply = raw.post(operation, {"PartitionKey": "k", "Data": "eA=="} if
                         operation == "PutRecord" else {})
        assert reply.status_code == 400, (operation, reply.text)
        assert kh.error_code(reply.json()) in ("ValidationException", "InvalidArgumentException")
