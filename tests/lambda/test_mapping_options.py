"""Event-source mapping options against the running binary with boto3:
FilterCriteria, ParallelizationFactor and TumblingWindowInSeconds. The
handlers are provided.al2 bootstraps (lambda_helpers.BOOTSTRAP) that append
what they got to a file."""

import json
import time
import urllib.request
import uuid

import pytest

import lambda_helpers as lh
from test_kinesis_mapping import read_lines, stream  # noqa: F401 (fixture)


def metric(riffle, name, **labels):
    text = urllib.request.urlopen(riffle.http + "/metrics").read().decode()
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_filter_criteria_sends_only_matching_records(
        lam, kinesis, functions, stream, tmp_path, riffle):  # noqa: F811
    name, arn = stream()
    out = tmp_path / "out.jsonl"
    fn = functions.create(handler="kinesis_to_file",
                          Environment={"Variables": {"OUT_FILE": str(out)}})
    patterns = [
        {"data": {"kind": ["keep"], "amount": [{"numeric": [">", 10]}]}},
        {"kinesis": {"partitionKey": [{"prefix": "vip-"}]}},
    ]
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON",
        BatchSize=100,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(p)} for p in patterns]})
    assert [json.loads(f["Pattern"]) for f in m["FilterCriteria"]["Filters"]] == patterns
    got = lam.get_event_source_mapping(UUID=m["UUID"])
    assert got["FilterCriteria"] == m["FilterCriteria"]

    records = [
        ("a", {"kind": "keep", "amount": 50}, True),
        ("a", {"kind": "keep", "amount": 5}, False),
        ("a", {"kind": "drop", "amount": 50}, False),
        ("vip-1", b"not json at all", True),   # metadata filter
        ("plain", b"not json either", False),  # data pattern needs JSON
        ("a", {"kind": "KEEP", "amount": 99}, False),
        ("vip-2", {"kind": "drop"}, True),
        ("a", {"kind": "keep", "amount": 11.5}, True),
        ("a", {"kind": "drop"}, False),  # the last one is filtered out
    ]
    want = []
    for pk, data, keep in records:
        raw = data if isinstance(data, bytes) else json.dumps(data).encode()
        kinesis.put_record(StreamName=name, PartitionKey=pk, Data=raw)
        if keep:
            want.append(raw.decode())
    lines = read_lines(out, len(want))
    assert [l["data"] for l in lines] == want

    # Records that match no filter are checkpointed past, as AWS does: the
    # skipped ones are counted on /metrics.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if metric(riffle, "riffle_function_mapping_filtered_records_total",
                  mapping=m["UUID"]) >= len(records) - len(want):
            break
        time.sleep(0.1)
    assert metric(riffle, "riffle_function_mapping_filtered_records_total",
                  mapping=m["UUID"]) == len(records) - len(want)

    # An update with no filters clears them.
    up = lam.update_event_source_mapping(UUID=m["UUID"], FilterCriteria={})
    assert "FilterCriteria" not in up
    lam.delete_event_source_mapping(UUID=m["UUID"])


@pytest.mark.parametrize("pattern", [
    "not json", "{}", '{"data": "x"}', '{"data": {"a": [{"numeric": [">"]}]}}',
    '{"data": {"a": [{"bogus": 1}]}}',
])
def test_invalid_filter_pattern_is_refused(lam, functions, stream, pattern):  # noqa: F811
    _, arn = stream()
    fn = functions.create()
    with pytest.raises(lam.exceptions.InvalidParameterValueException) as e:
        lam.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=fn, StartingPosition="LATEST",
            FilterCriteria={"Filters": [{"Pattern": pattern}]})
    assert "Invalid filter pattern definition." in str(e.value)


def test_too_many_filters_are_refused(lam, functions, stream):  # noqa: F811
    _, arn = stream()
    fn = functions.create()
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(
            EventSourceArn=arn, FunctionName=fn, StartingPosition="LATEST",
            FilterCriteria={"Filters": [
                {"Pattern": json.dumps({"data": {"n": [i]}})} for i in range(6)]})


def test_parallelization_factor_runs_batches_of_a_shard_at_once(
        lam, kinesis, functions, stream, tmp_path):  # noqa: F811
    name, arn = stream()
    out = tmp_path / "out.jsonl"
    fn = functions.create(handler="kinesis_to_file", Environment={
        "Variables": {"OUT_FILE": str(out), "SLEEP_MS": "100"}})
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON",
        BatchSize=3, ParallelizationFactor=4)
    assert m["ParallelizationFactor"] == 4
    assert lam.get_event_source_mapping(UUID=m["UUID"])["ParallelizationFactor"] == 4
    put = []
    for batch in range(3):
        records = [{"PartitionKey": f"key{i % 8}", "Data": f"{batch}-{i}".encode()}
                   for i in range(20)]
        resp = kinesis.put_records(StreamName=name, Records=records)
        assert resp["FailedRecordCount"] == 0
        put += [(r["PartitionKey"], r["Data"].decode(), res["SequenceNumber"])
                for r, res in zip(records, resp["Records"])]
    lines = read_lines(out, len(put), timeout=60)
    assert sorted((l["pk"], l["data"], l["seq"]) for l in lines) == sorted(put)
    # In order per partition key.
    for key in {p[0] for p in put}:
        seqs = [int(l["seq"]) for l in lines if l["pk"] == key]
        assert seqs == sorted(seqs), key
    # Several batches of the one shard ran at the same time.
    spans = {(l["pid"], l["t0"], l["t1"]) for l in lines}
    overlapping = max(sum(1 for _, a, b in spans if a <= t < b)
                      for _, t, _ in spans)
    assert overlapping >= 2
    assert len({pid for pid, _, _ in spans}) >= 2

    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_event_source_mapping(UUID=m["UUID"], ParallelizationFactor=11)
    lam.delete_event_source_mapping(UUID=m["UUID"])


def test_tumbling_window_carries_state_to_a_final_invoke(
        lam, kinesis, functions, stream, tmp_path):  # noqa: F811
    name, arn = stream()
    out = tmp_path / "out.jsonl"
    fn = functions.create(handler="tumbling",
                          Environment={"Variables": {"OUT_FILE": str(out)}})
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON",
        BatchSize=2, TumblingWindowInSeconds=2)
    assert m["TumblingWindowInSeconds"] == 2
    assert lam.get_event_source_mapping(UUID=m["UUID"])["TumblingWindowInSeconds"] == 2
    shard = kinesis.list_shards(StreamName=name)["Shards"][0]["ShardId"]
    values = ["a", "b", "a", "c", "a"]
    for v in values:
        kinesis.put_record(StreamName=name, PartitionKey="k", Data=v.encode())

    # Every record ends in the state of a final invocation (the five may
    # straddle a window boundary).
    deadline = time.monotonic() + 30
    finals = []
    while time.monotonic() < deadline:
        lines = [json.loads(l) for l in out.read_text().splitlines()] \
            if out.exists() else []
        finals = [l for l in lines if l["final"]]
        if sum(sum(f["state_in"].values()) for f in finals) >= len(values):
            break
        time.sleep(0.2)
    totals = {}
    for f in finals:
        for k, n in f["state_in"].items():
            totals[k] = totals.get(k, 0) + n
    assert totals == {"a": 3, "b": 1, "c": 1}
    for f in finals:
        assert f["records"] == 0 and not f["early"]
        assert f["shardId"] == shard and f["arn"] == arn
        start = time.strptime(f["window"]["start"], "%Y-%m-%dT%H:%M:%SZ")
        end = time.strptime(f["window"]["end"], "%Y-%m-%dT%H:%M:%SZ")
        assert time.mktime(end) - time.mktime(start) == 2
    # Within a window, each invocation got the state the previous returned.
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    by_window = {}
    for l in lines:
        by_window.setdefault(l["window"]["start"], []).append(l)
    for calls in by_window.values():
        assert calls[0]["state_in"] == {}
        seen = 0
        for c in calls:
            assert sum(c["state_in"].values()) == seen
            seen += c["records"]

    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_event_source_mapping(UUID=m["UUID"], TumblingWindowInSeconds=901)
    lam.delete_event_source_mapping(UUID=m["UUID"])
