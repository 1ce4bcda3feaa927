"""Two `riffle worker` processes run a Node handler under aws-lambda-ric
(nodejs20.x, code from a directory in the stack file) over a 4-shard
stream's mapping; one is killed with kill -9 mid-run. Every acknowledged
record is handled at least once, each batch is in order, no shard handles a
record before an earlier one of its shard, and the killed worker's function
processes exit on their own.

The handler appends one JSON line per invocation to the file named by its
OUT_FILE variable, with RIFFLE_WORKER_ID (set by the worker) and its pid.
"""

import json
import os
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

import pipeline_helpers as ph
from test_workers import FAILOVER_MS, Worker, leases, wait_for, watched

REPO = Path(__file__).resolve().parents[2]
RIC = REPO / "node_modules" / "aws-lambda-ric" / "bin" / "index.mjs"
SHARDS = 4
N = 2000

pytestmark = pytest.mark.needs_binary

HANDLER = r"""
import { appendFileSync } from "node:fs";

export const handler = async (event, context) => {
  const records = event.Records.map((r) => [
    r.eventID.split(":")[0],
    r.kinesis.sequenceNumber,
    Buffer.from(r.kinesis.data, "base64").toString(),
  ]);
  appendFileSync(process.env.OUT_FILE, JSON.stringify({
    worker: process.env.RIFFLE_WORKER_ID,
    pid: process.pid,
    request: context.awsRequestId,
    records,
  }) + "\n");
  return {};
};
"""


def write_stack(path, code_dir, out_file, tag):
    stream, function = f"nodew-{tag}", f"nodew-{tag}"
    path.write_text(f"""
streams:
  {stream}:
    shards: {SHARDS}
functions:
  {function}:
    runtime: nodejs20.x
    handler: index.handler
    code: {code_dir}
    concurrency: {SHARDS}
    timeout_seconds: 10
    environment:
      OUT_FILE: {out_file}
mappings:
  - function: {function}
    stream: {stream}
    starting_position: TRIM_HORIZON
    batch_size: 50
    enabled: false
""")
    return stream, function


def handled(out_file):
    """The invocations logged so far (a torn last line is not one yet)."""
    out = []
    if not out_file.exists():
        return out
    for line in out_file.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


def shards_of(lines):
    """The shard labels of Prometheus series lines."""
    out = set()
    for line in lines:
        for part in line.split("{", 1)[1].split("}", 1)[0].split(","):
            k, _, v = part.partition("=")
            if k == "shard":
                out.add(v.strip('"'))
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead too (reaped by init later).
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not RIC.exists(), reason="aws-lambda-ric is not installed (scripts/setup)")
def test_two_workers_node_handler_one_killed(riffle_factory, tmp_path):
    tag = uuid.uuid4().hex[:8]
    code = tmp_path / "code"
    code.mkdir()
    (code / "index.mjs").write_text(HANDLER)
    out_file = tmp_path / "handled.jsonl"
    stack = tmp_path / "stack.yaml"
    stream, function = write_stack(stack, code, out_file, tag)
    server = riffle_factory(["--stack", str(stack)])
    kinesis = ph.client("kinesis", server.aws)
    ddb = ph.client("dynamodb", server.aws)
    lam = ph.client("lambda", server.aws)
    mapping = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    assert len(mapping) == 1 and mapping[0]["State"] == "Disabled"
    lease_table = f"riffle-leases-{mapping[0]['UUID']}"

    workers = [Worker(tmp_path, f"w{i}", stack, server) for i in range(2)]
    acked = {}  # (shard, sequence number) -> data
    errors = []

    def produce():
        try:
            for start in range(0, N, 50):
                entries = [{"Data": json.dumps({"i": i}).encode(),
                            "PartitionKey": f"key-{i % 40}"}
                           for i in range(start, start + 50)]
                reply = kinesis.put_records(StreamName=stream, Records=entries)
                assert reply["FailedRecordCount"] == 0, reply
                for e, r in zip(entries, reply["Records"]):
                    acked[(r["ShardId"], r["SequenceNumber"])] = e["Data"].decode()
                time.sleep(0.05)
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    with watched(workers, server):
        for w in workers:
            w.wait_ready()

        def balanced():
            try:
                ls = leases(ddb, lease_table)
            except ddb.exceptions.ResourceNotFoundException:
                return None
            owners = [l["owner"] for l in ls.values()]
            if len(ls) == SHARDS and set(owners) == {"w0", "w1"}:
                return ls
            return None
        wait_for("each worker to hold a lease", balanced, 40)

        producer = threading.Thread(target=produce)
        producer.start()
        wait_for("the first batches",
                 lambda: sum(len(h["records"]) for h in handled(out_file)) > 300, 30)
        victim = workers[0]
        held = sorted(s for s, l in leases(ddb, lease_table).items()
                      if l["owner"] == victim.name)
        assert held, "the victim holds no lease"
        victim.kill9()
        victim_pids = {h["pid"] for h in handled(out_file) if h["worker"] == victim.name}
        assert victim_pids

        producer.join(120)
        assert not producer.is_alive() and not errors, errors
        assert len(acked) == N

        def all_handled():
            seen = {(s, q) for h in handled(out_file) for s, q, _ in h["records"]}
            return set(acked) <= seen
        wait_for("every record handled", all_handled, FAILOVER_MS / 1000 + 60, step=0.2)

        log = handled(out_file)
        seen = {}
        first_order = {}  # shard -> sequence numbers in order of first handling
        for h in log:
            by_shard = {}
            for shard, seq, data in h["records"]:
                by_shard.setdefault(shard, []).append(int(seq))
                assert acked[(shard, seq)] == data
                if (shard, seq) not in seen:
                    seen[(shard, seq)] = h["worker"]
                    first_order.setdefault(shard, []).append(int(seq))
            for shard, seqs in by_shard.items():
                assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs), \
                    f"batch out of order on {shard}"
        for shard, seqs in first_order.items():
            assert seqs == sorted(seqs), f"{shard} handled a record before an earlier one"
        # The survivor took the victim's shards over.
        for shard in held:
            assert any(h["worker"] == "w1" and r[0] == shard
                       for h in log for r in h["records"]), shard
        replayed = sum(len(h["records"]) for h in log) - len(seen)
        print(f"{len(log)} invocations, {len(seen)} records, {replayed} replayed "
              f"after kill -9")

        # aws-lambda-ric exits once its Runtime API goes away with the worker.
        wait_for("the killed worker's handler processes to exit",
                 lambda: not any(alive(p) for p in victim_pids), 15)

        # The survivor counts the invocations on its /metrics.
        info = json.loads((tmp_path / "w1" / "worker.json").read_text())
        metrics = urllib.request.urlopen(info["http"] + "/metrics", timeout=5).read().decode()
        # Lambda's metrics of the function and of the mapping, per worker:
        # Invocations, Errors, Throttles, Duration, IteratorAge per shard.
        assert f'riffle_function_invocations_total{{function="{function}"}}' in metrics
        for series in ("riffle_function_errors_total", "riffle_function_throttles_total",
                       "riffle_function_duration_seconds_count",
                       "riffle_function_mapping_invocations_total",
                       "riffle_function_mapping_errors_total",
                       "riffle_function_mapping_leases"):
            assert any(l.startswith(series + "{") and f'function="{function}"' in l
                       for l in metrics.splitlines()), series
        ages = [l for l in metrics.splitlines()
                if l.startswith("riffle_function_mapping_iterator_age_ms{")]
        assert {s for s in held} <= {s for s in shards_of(ages)}, ages
        assert (tmp_path / "w1" / "functions" / function / "function.log").exists()

        workers[1].stop()
        ls = leases(ddb, lease_table)
        assert all(l["owner"] is None for l in ls.values()), ls
