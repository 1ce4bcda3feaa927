"""Resharding through boto3: SplitShard, MergeShards and UpdateShardCount.
A closed shard ends with a null NextShardIterator and its ChildShards;
readers that finish parents before children see every partition key's
records in the order they were written; children's sequence numbers are
above their parents'."""

import collections

import kinesis_helpers as kh
from kinesis_helpers import expect_error

KEYS = [f"user-{i}" for i in range(24)]


def describe_shards(kinesis, name):
    return {s["ShardId"]: s for s in kh.list_all_shards(kinesis, name)}


def parents_of(shard):
    return [p for p in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")) if p]


def parents_first(shards):
    """Shard ids ordered so that every shard comes after its parents."""
    order, done = [], set()
    pending = sorted(shards)
    while pending:
        ready = [s for s in pending
                 if all(p in done or p not in shards for p in parents_of(shards[s]))]
        assert ready, "shard lineage has a cycle"
        for shard in ready:
            order.append(shard)
            done.add(shard)
            pending.remove(shard)
    return order


def read_whole_stream(kinesis, name):
    """Reads every shard, parents before children; returns
    {shard id: records}. Closed shards must be read to their end."""
    shards = describe_shards(kinesis, name)
    out = {}
    for shard in parents_first(shards):
        closed = "EndingSequenceNumber" in shards[shard]["SequenceNumberRange"]
        out[shard] = (kh.read_closed_shard(kinesis, name, shard)[0] if closed
                      else kh.read_shard(kinesis, name, shard))
    return out


def write_round(kinesis, name, round_number):
    return [kinesis.put_record(StreamName=name, PartitionKey=key,
                               Data=f"{key}:{round_number}".encode())
            for key in KEYS]


def assert_per_key_order(kinesis, name, rounds):
    """Each key's records, read parents first, come back in write order,
    exactly once, with sequence numbers rising across parent and child."""
    by_key = collections.defaultdict(list)
    for shard, records in read_whole_stream(kinesis, name).items():
        for record in records:
            by_key[record["PartitionKey"]].append(record)
    for key in KEYS:
        assert [r["Data"] for r in by_key[key]] == \
            [f"{key}:{n}".encode() for n in range(rounds)], key
        kh.assert_strictly_increasing(by_key[key], f"sequence numbers of {key}")


def test_split_shard(kinesis, streams):
    name = streams.create(shards=1)
    parent = kh.shard_id(0)
    before = write_round(kinesis, name, 0)
    kinesis.split_shard(StreamName=name, ShardToSplit=parent, NewStartingHashKey=str(2 ** 127))
    kh.wait_for_status(kinesis, name)

    shards = describe_shards(kinesis, name)
    assert sorted(shards) == [kh.shard_id(i) for i in range(3)]
    closed = shards[parent]["SequenceNumberRange"]
    ending = kh.seq(closed["EndingSequenceNumber"])
    assert all(kh.seq(r) <= ending for r in before)
    left, right = shards[kh.shard_id(1)], shards[kh.shard_id(2)]
    assert kh.hash_range(left) == (0, 2 ** 127 - 1)
    assert kh.hash_range(right) == (2 ** 127, kh.MAX_HASH_KEY)
    for child in (left, right):
        assert child["ParentShardId"] == parent
        assert "AdjacentParentShardId" not in child
        assert kh.seq(child["SequenceNumberRange"]["StartingSequenceNumber"]) > ending

    after = write_round(kinesis, name, 1)
    for key, reply in zip(KEYS, after):
        assert reply["ShardId"] == kh.owning_shard(shards.values(), kh.hash_key(key))

    records, children = kh.read_closed_shard(kinesis, name, parent)
    assert [r["SequenceNumber"] for r in records] == [r["SequenceNumber"] for r in before]
    assert sorted(children, key=lambda c: c["ShardId"]) == [
        {"ShardId": kh.shard_id(1), "ParentShards": [parent],
         "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(2 ** 127 - 1)}},
        {"ShardId": kh.shard_id(2), "ParentShards": [parent],
         "HashKeyRange": {"StartingHashKey": str(2 ** 127), "EndingHashKey": str(kh.MAX_HASH_KEY)}},
    ]
    assert_per_key_order(kinesis, name, rounds=2)


def test_latest_iterator_on_closed_shard_ends_at_once(kinesis, streams):
    name = streams.create(shards=1)
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x")
    kinesis.split_shard(StreamName=name, ShardToSplit=kh.shard_id(0),
                        NewStartingHashKey=str(2 ** 100))
    kh.wait_for_status(kinesis, name)
    records, reply = kh.read_from(kinesis, kh.iterator(kinesis, name, kh.shard_id(0), "LATEST"))
    assert records == []
    assert reply.get("NextShardIterator") is None
    assert [c["ShardId"] for c in reply["ChildShards"]] == [kh.shard_id(1), kh.shard_id(2)]


def test_merge_shards(kinesis, streams):
    name = streams.create(shards=3)
    first, second = kh.shard_id(1), kh.shard_id(2)
    before = write_round(kinesis, name, 0)
    kinesis.merge_shards(StreamName=name, ShardToMerge=first, AdjacentShardToMerge=second)
    kh.wait_for_status(kinesis, name)

    shards = describe_shards(kinesis, name)
    merged = shards[kh.shard_id(3)]
    assert merged["ParentShardId"] == first
    assert merged["AdjacentParentShardId"] == second
    ranges = kh.uniform_ranges(3)
    assert kh.hash_range(merged) == (ranges[1][0], ranges[2][1])
    endings = [kh.seq(shards[s]["SequenceNumberRange"]["EndingSequenceNumber"])
               for s in (first, second)]
    assert kh.seq(merged["SequenceNumberRange"]["StartingSequenceNumber"]) > max(endings)
    assert "EndingSequenceNumber" not in shards[kh.shard_id(0)]["SequenceNumberRange"]

    write_round(kinesis, name, 1)
    expected_child = [{"ShardId": kh.shard_id(3), "ParentShards": [first, second],
                       "HashKeyRange": {"StartingHashKey": str(ranges[1][0]),
                                        "EndingHashKey": str(ranges[2][1])}}]
    for parent in (first, second):
        records, children = kh.read_closed_shard(kinesis, name, parent)
        assert [r["SequenceNumber"] for r in records] == \
            [r["SequenceNumber"] for r in before if r["ShardId"] == parent]
        assert children == expected_child
    assert_per_key_order(kinesis, name, rounds=2)


def test_update_shard_count_uniform_scaling(kinesis, streams):
    name = streams.create(shards=2)
    write_round(kinesis, name, 0)
    reply = kinesis.update_shard_count(StreamName=name, TargetShardCount=4,
                                       ScalingType="UNIFORM_SCALING")
    assert (reply["StreamName"], reply["CurrentShardCount"], reply["TargetShardCount"]) == \
        (name, 2, 4)
    kh.wait_for_status(kinesis, name)
    open_shards = kh.list_all_shards(kinesis, name, ShardFilter={"Type": "AT_LATEST"})
    assert [kh.hash_range(s) for s in open_shards] == kh.uniform_ranges(4)
    write_round(kinesis, name, 1)

    kinesis.update_shard_count(StreamName=name, TargetShardCount=3, ScalingType="UNIFORM_SCALING")
    kh.wait_for_status(kinesis, name)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 3
    open_ranges = sorted(kh.hash_range(s) for s in kh.list_all_shards(
        kinesis, name, ShardFilter={"Type": "AT_LATEST"}))
    assert open_ranges[0][0] == 0 and open_ranges[-1][1] == kh.MAX_HASH_KEY
    assert all(a[1] + 1 == b[0] for a, b in zip(open_ranges, open_ranges[1:]))
    write_round(kinesis, name, 2)
    assert_per_key_order(kinesis, name, rounds=3)


def test_update_shard_count_beyond_double_or_below_half_is_invalid(kinesis, streams):
    # AWS allows at most doubling or halving the open shard count per call.
    name = streams.create(shards=4)
    for target in (9, 1):
        with expect_error("InvalidArgumentException"):
            kinesis.update_shard_count(StreamName=name, TargetShardCount=target,
                                       ScalingType="UNIFORM_SCALING")
    assert kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
        "OpenShardCount"] == 4


# ---------------------------------------------------------------- errors

def test_split_hash_key_outside_the_shard(kinesis, streams):
    name = streams.create(shards=2)
    lo, hi = kh.uniform_ranges(2)[1]
    for bad in (lo, lo + 1, hi, hi + 5):
        with expect_error(
                "InvalidArgumentException",
                f"NewStartingHashKey {bad} used in SplitShard() on shard {kh.shard_id(1)} in "
                f"stream {name} under account {kh.ACCOUNT} is not both greater than one plus "
                f"the shard's StartingHashKey {lo} and less than the shard's EndingHashKey {hi}."):
            kinesis.split_shard(StreamName=name, ShardToSplit=kh.shard_id(1),
                                NewStartingHashKey=str(bad))


def test_split_unknown_shard(kinesis, streams):
    name = streams.create()
    with expect_error("ResourceNotFoundException",
                      f"Could not find shard {kh.shard_id(5)} in stream {name} under account "
                      f"{kh.ACCOUNT}."):
        kinesis.split_shard(StreamName=name, ShardToSplit=kh.shard_id(5),
                            NewStartingHashKey=str(2 ** 127))


def test_split_closed_shard(kinesis, streams):
    name = streams.create()
    kinesis.split_shard(StreamName=name, ShardToSplit=kh.shard_id(0),
                        NewStartingHashKey=str(2 ** 127))
    kh.wait_for_status(kinesis, name)
    with expect_error("ResourceInUseException",
                      f"Shard {kh.shard_id(0)} in stream {name} under account {kh.ACCOUNT} has "
                      "already been merged or split, and thus is not eligible for merging or "
                      "splitting."):
        kinesis.split_shard(StreamName=name, ShardToSplit=kh.shard_id(0),
                            NewStartingHashKey=str(2 ** 126))


def test_merge_non_adjacent_shards(kinesis, streams):
    name = streams.create(shards=3)
    with expect_error("InvalidArgumentException",
                      f"Shards {kh.shard_id(0)} and {kh.shard_id(2)} in stream {name} under "
                      f"account {kh.ACCOUNT} are not an adjacent pair of shards eligible for "
                      "merging"):
        kinesis.merge_shards(StreamName=name, ShardToMerge=kh.shard_id(0),
                             AdjacentShardToMerge=kh.shard_id(2))


def test_merge_unknown_shard(kinesis, streams):
    name = streams.create(shards=2)
    with expect_error("ResourceNotFoundException",
                      f"Could not find shard {kh.shard_id(9)} in stream {name} under account "
                      f"{kh.ACCOUNT}."):
        kinesis.merge_shards(StreamName=name, ShardToMerge=kh.shard_id(0),
                             AdjacentShardToMerge=kh.shard_id(9))
