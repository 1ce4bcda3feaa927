"""Three `riffle worker` processes share a 4-shard stream's mapping by its
lease table; one is killed with kill -9 mid-run; every payment still lands
in the table exactly once, no shard stalls, and the killed worker's shards
are taken over within the failover time.

The server and the workers read one stack file. Its mapping says
`enabled: false`: the server registers it (so it has a UUID, which names the
lease table riffle-leases-<uuid>) but does not run it; `riffle worker` runs
every mapping of the file whatever its `enabled` (docs/functions.md).
"""

import contextlib
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

import pipeline_helpers as ph

REPO = Path(__file__).resolve().parents[2]
RIFFLE_BIN = os.environ.get("RIFFLE_BIN", str(REPO / "build" / "riffle"))

FAILOVER_MS = 3000
SHARDS = 4
N = 3000

pytestmark = pytest.mark.needs_binary


class Worker:
    def __init__(self, tmp, name, stack, server):
        self.name = name
        self.log_path = Path(tmp) / f"{name}.log"
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [RIFFLE_BIN, "worker", "--stack", str(stack),
             "--endpoint", server.aws, "--registry", server.endpoints["registry"],
             "--worker-id", name, "--failover-ms", str(FAILOVER_MS),
             "--poll-ms", "50", "--http-port", "0",
             "--data-dir", str(Path(tmp) / name)],
            stdout=self.log_file, stderr=subprocess.STDOUT)

    def log(self):
        return f"---- {self.name} ----\n" + self.log_path.read_text(errors="replace")[-6000:]

    def wait_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"{self.name} exited\n{self.log()}"
            if "riffle worker ready" in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} not ready\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            code = self.proc.wait(30)
            assert code == 0, f"{self.name} exited with {code}\n{self.log()}"
        self.log_file.close()

    def kill9(self):
        self.proc.kill()
        self.proc.wait()
        self.log_file.close()


def write_stack(path, tag):
    stream, table, function = f"pay-{tag}", f"pay-{tag}", f"store-{tag}"
    path.write_text(f"""
streams:
  {stream}:
    shards: {SHARDS}
tables:
  {table}:
    partition_key: {{name: payment_id, type: S}}
functions:
  {function}:
    runtime: riffle:avro-to-table
    environment:
      TABLE_NAME: {table}
mappings:
  - function: {function}
    stream: {stream}
    starting_position: TRIM_HORIZON
    batch_size: 100
    report_batch_item_failures: true
    enabled: false
""")
    return stream, table, function


def leases(ddb, table):
    out = {}
    for page in ddb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        for item in page["Items"]:
            out[item["leaseKey"]["S"]] = {
                "owner": item.get("leaseOwner", {}).get("S"),
                "counter": int(item["leaseCounter"]["N"]),
                "checkpoint": item["checkpoint"]["S"],
                "switches": int(item["ownerSwitchesSinceCheckpoint"]["N"]),
            }
    return out


def wait_for(what, predicate, timeout, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def watched(workers, server):
    """Prints every worker's log and the server's when the body fails, and
    kills the workers still running at the end, whatever happened."""
    try:
        yield
    except BaseException:
        for w in workers:
            try:
                print(w.log())
            except Exception:
                pass
        print(server.log())
        raise
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait()


def last_sequence_numbers(kinesis, stream):
    """Shard id -> the sequence number of its last record."""
    out = {}
    for shard in kinesis.list_shards(StreamName=stream)["Shards"]:
        sid = shard["ShardId"]
        it = kinesis.get_shard_iterator(StreamName=stream, ShardId=sid,
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        last = None
        while it:
            reply = kinesis.get_records(ShardIterator=it, Limit=10000)
            if reply["Records"]:
                last = reply["Records"][-1]["SequenceNumber"]
            elif reply.get("MillisBehindLatest", 0) == 0:
                break
            it = reply.get("NextShardIterator")
        out[sid] = last
    return out


def test_three_workers_one_killed(riffle_factory, tmp_path):
    tag = uuid.uuid4().hex[:8]
    stack = tmp_path / "stack.yaml"
    stream, table, function = write_stack(stack, tag)
    server = riffle_factory(["--stack", str(stack)])
    kinesis = ph.client("kinesis", server.aws)
    ddb = ph.client("dynamodb", server.aws)
    lam = ph.client("lambda", server.aws)
    mapping = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    assert len(mapping) == 1 and mapping[0]["State"] == "Disabled"
    lease_table = f"riffle-leases-{mapping[0]['UUID']}"

    workers = [Worker(tmp_path, f"w{i}", stack, server) for i in range(3)]
    with watched(workers, server):
        for w in workers:
            w.wait_ready()
        # Every shard leased, and each worker holds some (balancing).
        def balanced():
            try:
                ls = leases(ddb, lease_table)
            except ddb.exceptions.ResourceNotFoundException:
                return None
            owners = [l["owner"] for l in ls.values()]
            if len(ls) == SHARDS and None not in owners and \
                    {w.name for w in workers} <= set(owners):
                return ls
            return None
        ls = wait_for("each worker to hold a lease", balanced, 40)
        assert all(l["checkpoint"] == "TRIM_HORIZON" for l in ls.values())

        # The Node producer, in the background.
        pl = ph.Pipeline(server)
        pl.stream, pl.table, pl.subject = stream, table, f"{stream}-value"
        produced_file = tmp_path / "produced.jsonl"
        producer = pl.produce(0, N, produced_file, rate=1000, batch=50, background=True)
        wait_for("the first items", lambda: pl.count() > 200, 30)

        victim = workers[0]
        held = sorted(s for s, l in leases(ddb, lease_table).items() if l["owner"] == victim.name)
        assert held, "the victim holds no lease"
        victim.kill9()
        killed_at = time.monotonic()

        def taken_over():
            ls = leases(ddb, lease_table)
            return all(ls[s]["owner"] not in (None, victim.name) for s in held)
        wait_for("the killed worker's shards to be taken over", taken_over,
                 FAILOVER_MS / 1000 + 10, step=0.05)
        takeover_s = time.monotonic() - killed_at
        # Expiry is observed by each survivor's clock: the failover time,
        # plus one lease refresh (1 s) to notice and take.
        assert takeover_s <= FAILOVER_MS / 1000 + 2.0, takeover_s
        print(f"takeover after kill -9: {takeover_s:.2f} s (failover {FAILOVER_MS} ms)")

        out, err = producer.communicate(timeout=120)
        assert producer.returncode == 0, err
        produced = ph.read_produced(produced_file)
        assert len(produced) == N
        pl.wait_for_count(N, timeout=60)
        ph.assert_stored_exactly(pl, produced)

        # No shard stalls: every lease's checkpoint reaches its shard's last
        # record.
        last = last_sequence_numbers(kinesis, stream)
        def caught_up():
            ls = leases(ddb, lease_table)
            return all(ls[s]["checkpoint"] == seq for s, seq in last.items() if seq)
        wait_for("every checkpoint at its shard's end", caught_up, 30)
        ls = leases(ddb, lease_table)
        assert {l["owner"] for l in ls.values()} <= {"w1", "w2"}

        # SIGTERM releases the leases at once.
        for w in workers[1:]:
            w.stop()
        ls = leases(ddb, lease_table)
        assert all(l["owner"] is None for l in ls.values()), ls


def test_deleting_the_mapping_stops_its_workers_cleanly(riffle_factory, tmp_path):
    """DeleteEventSourceMapping deletes the lease table; a worker running
    the mapping sees it gone, stops the mapping's shards, does not create
    the table again, stays up, and still stops cleanly on SIGTERM."""
    tag = uuid.uuid4().hex[:8]
    stack = tmp_path / "stack.yaml"
    stream, table, function = write_stack(stack, tag)
    server = riffle_factory(["--stack", str(stack)])
    ddb = ph.client("dynamodb", server.aws)
    lam = ph.client("lambda", server.aws)
    mapping = lam.list_event_source_mappings(FunctionName=function)["EventSourceMappings"]
    lease_table = f"riffle-leases-{mapping[0]['UUID']}"

    worker = Worker(tmp_path, "w0", stack, server)
    with watched([worker], server):
        worker.wait_ready()

        def all_held():
            try:
                ls = leases(ddb, lease_table)
            except ddb.exceptions.ResourceNotFoundException:
                return None
            return len(ls) == SHARDS and all(l["owner"] == "w0" for l in ls.values())
        wait_for("the worker to hold every lease", all_held, 20)

        lam.delete_event_source_mapping(UUID=mapping[0]["UUID"])
        with pytest.raises(ddb.exceptions.ResourceNotFoundException):
            ddb.describe_table(TableName=lease_table)
        wait_for("the worker to stop the mapping",
                 lambda: "was deleted; stopped" in worker.log(), 10)
        # Its shard threads are gone, it lives on, and the table stays gone
        # (a few lease refreshes later).
        wait_for("its shards to stop",
                 lambda: worker.log().count("lease lost, stopping") == SHARDS, 10)
        time.sleep(2.5)
        assert worker.proc.poll() is None, worker.log()
        with pytest.raises(ddb.exceptions.ResourceNotFoundException):
            ddb.describe_table(TableName=lease_table)
        assert "lease table: " not in worker.log()  # no warning per refresh
        worker.stop()
