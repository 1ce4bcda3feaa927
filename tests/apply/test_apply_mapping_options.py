"""Event-source mapping options in the stack file, through `riffle apply`
and `riffle server --stack`: filters (YAML mappings and JSON text) and a
tumbling window reach the mapping, as boto3's get_event_source_mapping
shows and as the function sees; filters are compared by meaning, so a
respelt filter changes nothing and a changed one updates only its mapping.
"""

import base64
import json
import time

import pytest

import apply_helpers  # noqa: E402

pytestmark = pytest.mark.needs_binary

# Appends every event it gets to $EVENTS_FILE, one JSON line each, and
# keeps a count as its tumbling-window state.
BOOTSTRAP = r'''#!/usr/bin/python3
import json, os, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    with open(os.environ["EVENTS_FILE"], "a") as f:
        f.write(json.dumps(event) + "\n")
    count = (event.get("state") or {}).get("count", 0)
    count += len(event.get("Records", []))
    body = json.dumps({"state": {"count": count}}).encode()
    urllib.request.urlopen(urllib.request.Request(
        API + "/invocation/" + rid + "/response", data=body, method="POST"))
'''

STACK = """\
streams:
  orders: {shards: 1}
  refunds: {shards: 1}
functions:
  agg:
    runtime: provided.al2
    code: agg
    environment: {EVENTS_FILE: EVENTS_PATH}
mappings:
  - function: agg
    stream: orders
    starting_position: TRIM_HORIZON
    tumbling_window_seconds: 2
    filters:
      - data:
          kind: [order]
          amount: [{numeric: [">", 100]}]
  - function: agg
    stream: refunds
    starting_position: TRIM_HORIZON
    filters:
      - '{"data": {"kind": ["refund"]}}'
"""


def apply(server, stack, *extra):
    """(exit code, the item lines, stdout + stderr) of `riffle apply`."""
    code, items, out, err = apply_helpers.apply(server, stack, *extra)
    return code, items, out + err


client = apply_helpers.client


def mapping(lam, stream_arn):
    found = lam.list_event_source_mappings(
        FunctionName="agg", EventSourceArn=stream_arn)["EventSourceMappings"]
    assert len(found) == 1, found
    return lam.get_event_source_mapping(UUID=found[0]["UUID"])


def patterns(m):
    filters = m.get("FilterCriteria", {}).get("Filters", [])
    return [json.loads(f["Pattern"]) for f in filters]


@pytest.fixture
def stack(tmp_path):
    d = tmp_path / "stack"
    (d / "agg").mkdir(parents=True)
    (d / "agg" / "bootstrap").write_text(BOOTSTRAP)
    (d / "agg" / "bootstrap").chmod(0o755)
    events = tmp_path / "events.jsonl"
    path = d / "stack.yaml"
    path.write_text(STACK.replace("EVENTS_PATH", str(events)))
    return path, events


def read_events(events):
    if not events.exists():
        return []
    return [json.loads(line) for line in events.read_text().splitlines()]


def test_filters_and_tumbling_window_applied_and_compared_by_meaning(
        riffle_factory, stack):
    path, events = stack
    server = riffle_factory()
    code, items, out = apply(server, path)
    assert code == 0, out
    assert items[3].startswith("created mapping orders -> agg (uuid "), out
    assert items[4].startswith("created mapping refunds -> agg (uuid "), out

    kinesis = client(server, "kinesis")
    lam = client(server, "lambda")
    arn = {s: kinesis.describe_stream_summary(StreamName=s)[
        "StreamDescriptionSummary"]["StreamARN"] for s in ("orders", "refunds")}
    orders = mapping(lam, arn["orders"])
    refunds = mapping(lam, arn["refunds"])
    assert orders["TumblingWindowInSeconds"] == 2
    assert patterns(orders) == [
        {"data": {"kind": ["order"], "amount": [{"numeric": [">", 100]}]}}]
    assert refunds["TumblingWindowInSeconds"] == 0
    assert patterns(refunds) == [{"data": {"kind": ["refund"]}}]

    # The function sees the options at work: only matching records, in a
    # window carrying its state.
    for kind, amount in [("order", 50), ("order", 500), ("note", 900)]:
        kinesis.put_record(
            StreamName="orders", PartitionKey="k",
            Data=json.dumps({"kind": kind, "amount": amount}).encode())
    deadline = time.time() + 30
    while time.time() < deadline:
        got = [e for e in read_events(events)
               if e.get("eventSourceARN") == arn["orders"]]
        if any(e.get("isFinalInvokeForWindow") for e in got):
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"no closed window: {read_events(events)}")
    records = [json.loads(base64.b64decode(r["kinesis"]["data"]))
               for e in got for r in e.get("Records", [])]
    assert records == [{"kind": "order", "amount": 500}]
    assert all("window" in e for e in got)
    final = [e for e in got if e.get("isFinalInvokeForWindow")][0]
    assert final["state"] == {"count": 1}

    # Again: nothing changes.
    code, items, out = apply(server, path)
    assert code == 0, out
    assert all(i.startswith("unchanged: ") for i in items), out

    # The same filters spelt otherwise (keys reordered, 100.0 for 100, a
    # JSON string for a mapping and the reverse): still nothing changes.
    text = path.read_text()
    respelt = text.replace(
        "      - data:\n          kind: [order]\n"
        "          amount: [{numeric: [\">\", 100]}]\n",
        "      - '{\"data\": {\"amount\": [{\"numeric\": [\">\", 100.0]}], "
        "\"kind\": [\"order\"]}}'\n").replace(
        "      - '{\"data\": {\"kind\": [\"refund\"]}}'\n",
        "      - {data: {kind: [refund]}}\n")
    assert respelt != text
    path.write_text(respelt)
    code, items, out = apply(server, path)
    assert code == 0, out
    assert all(i.startswith("unchanged: ") for i in items), out

    # A changed filter updates its mapping only.
    before = mapping(lam, arn["orders"])["LastModified"]
    path.write_text(respelt.replace("{kind: [refund]}",
                                    "{kind: [refund, chargeback]}"))
    code, items, out = apply(server, path)
    assert code == 0, out
    assert items == [
        "unchanged: stream orders", "unchanged: stream refunds",
        "unchanged: function agg", "unchanged: mapping orders -> agg",
        "updated mapping refunds -> agg: filters changed (1 pattern)"], out
    assert patterns(mapping(lam, arn["refunds"])) == [
        {"data": {"kind": ["refund", "chargeback"]}}]
    orders = mapping(lam, arn["orders"])
    assert orders["LastModified"] == before
    assert orders["TumblingWindowInSeconds"] == 2

    # And again: nothing changes.
    code, items, out = apply(server, path)
    assert code == 0, out
    assert all(i.startswith("unchanged: ") for i in items), out


def test_server_stack_sets_the_same_options(riffle_factory, stack):
    """`riffle server --stack` (the in-process backend) creates the mapping
    with the same options, so `riffle apply` then finds nothing to do; an
    apply that removes the filters clears them."""
    path, _ = stack
    server = riffle_factory(extra_args=["--stack", str(path)])
    lam = client(server, "lambda")
    kinesis = client(server, "kinesis")
    arn = kinesis.describe_stream_summary(StreamName="orders")[
        "StreamDescriptionSummary"]["StreamARN"]
    orders = mapping(lam, arn)
    assert orders["TumblingWindowInSeconds"] == 2
    assert patterns(orders) == [
        {"data": {"kind": ["order"], "amount": [{"numeric": [">", 100]}]}}]
    # (The function's code differs by form, directory against zip:
    # docs/stack-file.md, so only the mappings are compared here.)
    code, items, out = apply(server, path)
    assert code == 0, out
    assert items[3:] == ["unchanged: mapping orders -> agg",
                         "unchanged: mapping refunds -> agg"], out

    text = path.read_text()
    start = text.index("    tumbling_window_seconds: 2\n")
    end = text.index("  - function: agg\n    stream: refunds")
    path.write_text(text[:start] + text[end:])
    code, items, out = apply(server, path)
    assert code == 0, out
    assert items[3] == ("updated mapping orders -> agg: "
                        "tumbling_window_seconds 2 -> 0, filters removed"), out
    orders = mapping(lam, arn)
    assert orders["TumblingWindowInSeconds"] == 0
    assert "FilterCriteria" not in orders or patterns(orders) == []
