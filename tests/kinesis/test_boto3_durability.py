"""What survives the process: a clean restart (SIGTERM, start again on the
same data directory), kill -9 under concurrent PutRecords load, a power loss
that drops the segments' unsynced tails, and retention expiry driven by a
fake clock."""

import collections
import itertools
import threading
import time

import pytest

import kinesis_helpers as kh

pytestmark = pytest.mark.needs_binary

HOUR_MS = 3600 * 1000


def all_records(client, name):
    """{shard id: records} for every shard, read from TRIM_HORIZON."""
    return {s["ShardId"]: kh.read_shard(client, name, s["ShardId"])
            for s in kh.list_all_shards(client, name)}


def test_clean_restart_keeps_metadata_and_records(riffle_factory):
    server = riffle_factory()
    client = kh.boto3_client(server.aws)
    client.create_stream(StreamName="kept", ShardCount=3)
    kh.wait_for_status(client, "kept")
    client.add_tags_to_stream(StreamName="kept", Tags={"owner": "tests"})
    client.increase_stream_retention_period(StreamName="kept", RetentionPeriodHours=48)
    kh.put_keys(client, "kept", [f"k{i}" for i in range(60)])
    client.split_shard(StreamName="kept", ShardToSplit=kh.shard_id(0),
                       NewStartingHashKey=str(2 ** 126))
    kh.wait_for_status(client, "kept")
    kh.put_keys(client, "kept", [f"after-split-{i}" for i in range(20)], prefix="s")
    client.create_stream(StreamName="empty", ShardCount=1)
    kh.wait_for_status(client, "empty")

    shards_before = kh.list_all_shards(client, "kept")
    summary_before = client.describe_stream_summary(StreamName="kept")["StreamDescriptionSummary"]
    records_before = all_records(client, "kept")
    assert sum(len(r) for r in records_before.values()) == 80

    server.restart()
    client = kh.boto3_client(server.aws)

    assert sorted(client.list_streams()["StreamNames"]) == ["empty", "kept"]
    assert kh.list_all_shards(client, "kept") == shards_before
    summary = client.describe_stream_summary(StreamName="kept")["StreamDescriptionSummary"]
    assert summary == summary_before
    assert client.list_tags_for_stream(StreamName="kept")["Tags"] == \
        [{"Key": "owner", "Value": "tests"}]
    assert all_records(client, "kept") == records_before

    # New records continue above everything written before the restart.
    for shard, records in records_before.items():
        if "EndingSequenceNumber" in next(s for s in shards_before
                                          if s["ShardId"] == shard)["SequenceNumberRange"]:
            continue
        lo, _ = kh.hash_range(next(s for s in shards_before if s["ShardId"] == shard))
        reply = client.put_record(StreamName="kept", PartitionKey="x", Data=b"new",
                                  ExplicitHashKey=str(lo))
        assert reply["ShardId"] == shard
        assert all(kh.seq(reply) > kh.seq(r) for r in records)


class Producer(threading.Thread):
    """Writes until told to stop; keeps every acknowledged record."""

    def __init__(self, endpoint, stream, number, batch):
        super().__init__(daemon=True)
        self.client = kh.boto3_client(endpoint)
        self.stream, self.number, self.batch = stream, number, batch
        self.acked = []  # (shard id, sequence number, data), in acknowledgement order
        self.stop = threading.Event()
        self.failures = 0

    def run(self):
        for n in itertools.count():
            if self.stop.is_set():
                return
            try:
                self.put(n)
            except Exception:  # The server is being killed: unacknowledged.
                self.failures += 1
                if self.failures > 3:
                    return
                time.sleep(0.01)

    def put(self, n):
        if self.batch == 1:
            data = f"p{self.number}-{n}".encode()
            reply = self.client.put_record(StreamName=self.stream, PartitionKey=f"p{self.number}",
                                           Data=data)
            self.acked.append((reply["ShardId"], reply["SequenceNumber"], data))
            return
        entries = [{"PartitionKey": f"p{self.number}-{i}", "Data": f"p{self.number}-{n}-{i}".encode()}
                   for i in range(self.batch)]
        reply = self.client.put_records(StreamName=self.stream, Records=entries)
        for entry, result in zip(entries, reply["Records"]):
            if "SequenceNumber" in result:
                self.acked.append((result["ShardId"], result["SequenceNumber"], entry["Data"]))


def write_until_killed(server, stream, shards, batches, seconds):
    """Creates `stream`, runs one Producer per batch size for `seconds`,
    kills the server with -9, and returns the producers."""
    client = kh.boto3_client(server.aws)
    client.create_stream(StreamName=stream, ShardCount=shards)
    kh.wait_for_status(client, stream)
    producers = [Producer(server.aws, stream, n, batch) for n, batch in enumerate(batches)]
    for p in producers:
        p.start()
    time.sleep(seconds)
    server.kill9()
    for p in producers:
        p.stop.set()
        p.join(30)
    return producers


# Relaxed acknowledges once a batch is in the kernel's page cache (no
# fdatasync): that too must survive the process being killed.
@pytest.mark.parametrize("durability", ["strict", "relaxed"])
def test_kill_9_under_load_loses_no_acknowledged_record(riffle_factory, durability):
    server = riffle_factory(["--durability", durability])
    producers = write_until_killed(server, "crash", 4, [1, 1, 1, 25, 25, 100], 2.0)
    acked = [record for p in producers for record in p.acked]
    assert len(acked) > 100, "too few writes acknowledged before the kill to prove anything"

    server.start()
    client = kh.boto3_client(server.aws)
    stored = all_records(client, "crash")
    for shard, records in stored.items():
        kh.assert_strictly_increasing(records, f"sequence numbers in {shard}")
        data = [r["Data"] for r in records]
        assert len(data) == len(set(data)), f"duplicate records in {shard}"

    position = {(shard, r["SequenceNumber"]): (i, r["Data"])
                for shard, records in stored.items() for i, r in enumerate(records)}
    missing = [(s, q) for s, q, _ in acked if (s, q) not in position]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged records lost, e.g. {missing[:3]}"
    for shard, sequence_number, data in acked:
        assert position[(shard, sequence_number)][1] == data
    # Each producer's acknowledged records keep their order within a shard.
    for p in producers:
        per_shard = collections.defaultdict(list)
        for shard, sequence_number, _ in p.acked:
            per_shard[shard].append(position[(shard, sequence_number)][0])
        for shard, indexes in per_shard.items():
            assert indexes == sorted(indexes), f"producer {p.number} reordered in {shard}"

    # Nothing after the last acknowledged record is a gap, and writing resumes above it.
    reply = client.put_record(StreamName="crash", PartitionKey="after", Data=b"after")
    last = stored[reply["ShardId"]]
    assert not last or kh.seq(reply) > kh.seq(last[-1])


def assert_every_acknowledged_record(server, stream, acked):
    """Every (shard, sequence number, data) in `acked` reads back from
    `stream` with its data, and each shard's sequence numbers increase."""
    client = kh.boto3_client(server.aws)
    stored = all_records(client, stream)
    position = {(shard, r["SequenceNumber"]): r["Data"]
                for shard, records in stored.items() for r in records}
    missing = [(s, q) for s, q, _ in acked if (s, q) not in position]
    assert not missing, f"{len(missing)} of {len(acked)} acknowledged records lost"
    for shard, sequence_number, data in acked:
        assert position[(shard, sequence_number)] == data
    for shard, records in stored.items():
        kh.assert_strictly_increasing(records, f"sequence numbers in {shard}")


def test_journal_restores_segment_tails_a_power_loss_would_drop(riffle_factory):
    """A strict put is acknowledged once the shared write-ahead journal is
    flushed; the shard segments are synced only later. Emulate a power loss
    after kill -9: every segment loses what was never synced (here, all of
    it: the run is too short for the journal to retire a file), and the
    restart must replay each acknowledged record from the journal."""
    server = riffle_factory()
    producers = write_until_killed(server, "power", 2, [1, 1, 10], 1.0)
    acked = [record for p in producers for record in p.acked]
    assert len(acked) > 50, "too few writes acknowledged to prove anything"

    segments = list((server.data_dir / "streams").glob("*/*/*.log"))
    assert segments, "no segment files found"
    for segment in segments:
        with open(segment, "r+b") as f:
            f.truncate(0)

    server.start()
    assert "replayed" in server.log_path.read_text()
    assert_every_acknowledged_record(server, "power", acked)


def test_power_loss_after_journal_retirements_keeps_every_acknowledged_record(riffle_factory):
    """Once a journal file (16 MiB) is retired, each shard's active segment
    is synced and carries a `synced` mark, which the next start trusts
    instead of scanning the prefix it names. Emulate a power loss after
    kill -9 that keeps exactly that synced prefix and leaves a zero-filled
    tail after it (a file extended but never written): the start must cut
    the tail, and the journal must replay every acknowledged record past
    the mark."""
    server = riffle_factory()
    client = kh.boto3_client(server.aws)
    client.create_stream(StreamName="marked", ShardCount=2)
    kh.wait_for_status(client, "marked")
    streams = server.data_dir / "streams"
    acked = []  # (shard id, sequence number, data)
    stop = threading.Event()

    def produce():
        for n in itertools.count():
            if stop.is_set():
                return
            entries = [{"PartitionKey": f"k{i}", "Data": f"{n}-{i}-".encode() + b"x" * 8000}
                       for i in range(50)]
            try:
                reply = client.put_records(StreamName="marked", Records=entries)
            except Exception:  # The server is being killed: unacknowledged.
                return
            for entry, result in zip(entries, reply["Records"]):
                if "SequenceNumber" in result:
                    acked.append((result["ShardId"], result["SequenceNumber"], entry["Data"]))

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    deadline = time.monotonic() + 60
    while len(list(streams.glob("*/*/synced"))) < 2:
        assert time.monotonic() < deadline, "no journal file was retired"
        time.sleep(0.05)
    time.sleep(0.3)  # a tail past the marks, in the journal only
    server.kill9()
    stop.set()
    producer.join(30)

    for mark in streams.glob("*/*/synced"):
        data = mark.read_bytes()
        assert len(data) == 84 and data[:4] == b"RSYN"
        base = int.from_bytes(data[16:24], "little")
        size = int.from_bytes(data[24:32], "little")
        segments = sorted(mark.parent.glob("*.log"))
        assert segments[-1].name == f"{base:020d}.log", "the mark names the active segment"
        assert segments[-1].stat().st_size >= size
        with open(segments[-1], "r+b") as f:
            f.truncate(size)
            f.seek(size)
            f.write(b"\0" * 8192)

    server.start()
    assert "replayed" in server.log_path.read_text()
    assert_every_acknowledged_record(server, "marked", acked)


# ---------------------------------------------------------------- retention

def fake_clock_server(riffle_factory, tmp_path):
    clock = tmp_path / "clock-offset-ms"
    clock.write_text("0")
    server = riffle_factory(extra_args=["--retention-check-ms", "100"],
                            env={"RIFFLE_FAKE_CLOCK_OFFSET_FILE": str(clock)})
    return server, clock


def wait_for(predicate, timeout=10, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_retention_expiry_moves_trim_horizon(riffle_factory, tmp_path):
    server, clock = fake_clock_server(riffle_factory, tmp_path)
    client = kh.boto3_client(server.aws)
    client.create_stream(StreamName="aging", ShardCount=1)
    kh.wait_for_status(client, "aging")
    shard = kh.shard_id(0)
    old = [client.put_record(StreamName="aging", PartitionKey="k", Data=f"old{i}".encode())
           for i in range(5)]

    clock.write_text(str(25 * HOUR_MS))  # One hour past the 24-hour retention.
    new = [client.put_record(StreamName="aging", PartitionKey="k", Data=f"new{i}".encode())
           for i in range(3)]
    assert kh.seq(new[0]) > kh.seq(old[-1]), "sequence numbers went backwards with the clock"

    def trim_horizon_data():
        return [r["Data"] for r in kh.read_shard(client, "aging", shard)]

    wait_for(lambda: trim_horizon_data() == [b"new0", b"new1", b"new2"],
             what="expired records to disappear from TRIM_HORIZON")
    # Expired records are unreadable by sequence number too.
    at_old = kh.iterator(client, "aging", shard, "AT_SEQUENCE_NUMBER",
                         StartingSequenceNumber=old[0]["SequenceNumber"])
    assert all(not r["Data"].startswith(b"old") for r in kh.read_from(client, at_old)[0])


def test_longer_retention_keeps_records(riffle_factory, tmp_path):
    server, clock = fake_clock_server(riffle_factory, tmp_path)
    client = kh.boto3_client(server.aws)
    client.create_stream(StreamName="kept-longer", ShardCount=1)
    kh.wait_for_status(client, "kept-longer")
    client.increase_stream_retention_period(StreamName="kept-longer", RetentionPeriodHours=48)
    client.put_record(StreamName="kept-longer", PartitionKey="k", Data=b"young enough")
    clock.write_text(str(25 * HOUR_MS))
    time.sleep(0.5)  # Several retention passes.
    assert [r["Data"] for r in kh.read_shard(client, "kept-longer", kh.shard_id(0))] == \
        [b"young enough"]
    clock.write_text(str(49 * HOUR_MS))
    wait_for(lambda: kh.read_shard(client, "kept-longer", kh.shard_id(0)) == [],
             what="the record to expire after 48 hours")
