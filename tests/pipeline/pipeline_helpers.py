"""Helpers for the case-study suite: boto3 clients, the Node producer
(produce_payments.mjs), the pipeline's resources (stream, table, the
riffle:avro-to-table function and its mapping) and the comparison of stored
items with what was produced."""

import base64
import datetime
import json
import os
import subprocess
import time
import uuid
from decimal import Decimal
from pathlib import Path

import boto3
import botocore.config
from boto3.dynamodb.types import Binary, TypeDeserializer

REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE = "arn:aws:iam::000000000000:role/riffle-test"
HERE = Path(__file__).resolve().parent
PRODUCER = HERE / "produce_payments.mjs"
NODE = os.environ.get("NODE", "node")


def client(service, endpoint):
    config = botocore.config.Config(retries={"total_max_attempts": 1},
                                    connect_timeout=5, read_timeout=60)
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=config)


def stream_arn(name):
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{name}"


class Pipeline:
    """The case study's resources on one server: a payments stream, a
    failure stream, a table keyed by payment_id, the built-in function and
    its mapping. Names are unique per instance."""

    def __init__(self, server, shards=2, **mapping_options):
        self.server = server
        tag = uuid.uuid4().hex[:8]
        self.stream = f"payments-{tag}"
        self.failures = f"payments-failed-{tag}"
        self.table = f"payments-{tag}"
        self.function = f"store-payments-{tag}"
        self.subject = f"{self.stream}-value"
        self.shards = shards
        self.mapping_options = mapping_options
        self.mapping_uuid = None
        self.connect()

    def connect(self):
        """(Re)binds the clients to the server's current endpoints."""
        self.kinesis = client("kinesis", self.server.aws)
        self.dynamodb = client("dynamodb", self.server.aws)
        self.lam = client("lambda", self.server.aws)

    def create(self):
        for name, shards in ((self.stream, self.shards), (self.failures, 1)):
            self.kinesis.create_stream(StreamName=name, ShardCount=shards)
            self.kinesis.get_waiter("stream_exists").wait(
                StreamName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 100})
        self.dynamodb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "payment_id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "payment_id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST")
        # The built-in runtime takes no code; the API insists on a Code member.
        self.lam.create_function(
            FunctionName=self.function, Runtime="riffle:avro-to-table", Role=ROLE,
            Code={}, Environment={"Variables": {"TABLE_NAME": self.table}})
        options = dict(
            FunctionName=self.function, EventSourceArn=stream_arn(self.stream),
            StartingPosition="TRIM_HORIZON", BatchSize=100,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            MaximumRetryAttempts=2,
            DestinationConfig={"OnFailure": {"Destination": stream_arn(self.failures)}})
        options.update(self.mapping_options)
        options = {k: v for k, v in options.items() if v is not None}
        self.mapping_uuid = self.lam.create_event_source_mapping(**options)["UUID"]
        return self

    def produce(self, start, count, out, rate=0, batch=50, background=False,
                check=True):
        """Runs the Node producer; acknowledged payments go to `out`."""
        cmd = [NODE, str(PRODUCER), "--registry", self.server.endpoints["registry"],
               "--aws", self.server.aws, "--stream", self.stream,
               "--subject", self.subject, "--start", str(start),
               "--count", str(count), "--rate", str(rate), "--batch", str(batch),
               "--out", str(out)]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True, cwd=HERE)
        if background:
            return proc
        stdout, stderr = proc.communicate(timeout=300)
        if check:
            assert proc.returncode == 0, f"producer failed: {stderr}\n{stdout}"
        return proc.returncode, stdout, stderr

    def count(self):
        return self.dynamodb.scan(TableName=self.table, Select="COUNT",
                                  ConsistentRead=True)["Count"]

    def wait_for_count(self, n, timeout=60):
        deadline = time.monotonic() + timeout
        last = -1
        while time.monotonic() < deadline:
            last = self.count()
            if last >= n:
                return last
            time.sleep(0.1)
        raise AssertionError(f"{self.table} holds {last} items, expected {n}\n"
                             f"{self.server.log()}")

    def items(self):
        """Every item of the table, decoded, by payment_id."""
        out = {}
        deserializer = TypeDeserializer()
        for page in self.dynamodb.get_paginator("scan").paginate(
                TableName=self.table, ConsistentRead=True):
            for raw in page["Items"]:
                item = {k: plain(deserializer.deserialize(v)) for k, v in raw.items()}
                assert item["payment_id"] not in out, "a key came back twice"
                out[item["payment_id"]] = item
        return out

    def failure_records(self):
        """The failure records on the failure stream (JSON)."""
        out = []
        shard = self.kinesis.list_shards(StreamName=self.failures)["Shards"][0]["ShardId"]
        it = self.kinesis.get_shard_iterator(
            StreamName=self.failures, ShardId=shard,
            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        while it:
            reply = self.kinesis.get_records(ShardIterator=it, Limit=1000)
            out += [json.loads(r["Data"]) for r in reply["Records"]]
            if not reply["Records"]:
                break
            it = reply.get("NextShardIterator")
        return out


def plain(value):
    """boto3's Binary as bytes, recursively."""
    if isinstance(value, Binary):
        return bytes(value.value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def read_produced(path):
    """The acknowledged payments, by payment_id, from the producer's file."""
    out = {}
    if not Path(path).exists():
        return out
    for line in Path(path).read_text().splitlines():
        if line.strip():
            p = json.loads(line)
            out[p["payment_id"]] = p
    return out


def iso_millis(ms):
    t = datetime.datetime.fromtimestamp(ms // 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def expected_item(p):
    """A produced payment as riffle:avro-to-table stores it (docs/functions.md:
    long -> N, double -> N with the shortest digits, bytes -> B, enum -> S,
    timestamp-millis -> ISO-8601 S, union -> its value, array -> L, map and
    record -> M)."""
    return {
        "payment_id": p["payment_id"],
        "account": p["account"],
        "amount_cents": Decimal(p["amount_cents"]),
        "currency": p["currency"],
        "fee": Decimal(repr(float(p["fee"]))),
        "captured": p["captured"],
        "memo": p["memo"],
        "card_fingerprint": base64.b64decode(p["card_fingerprint"]),
        "created_at": iso_millis(p["created_at"]),
        "tags": p["tags"],
        "attributes": p["attributes"],
        "payer": p["payer"],
    }


def assert_stored_exactly(pipeline, produced, allowed_extra=()):
    """Every produced payment is in the table, once, field for field; the
    table holds nothing else (but `allowed_extra`: payments put without an
    acknowledgement, which may or may not have landed)."""
    items = pipeline.items()
    missing = sorted(set(produced) - set(items))
    assert not missing, f"{len(missing)} payments never stored, e.g. {missing[:5]}"
    extra = sorted(set(items) - set(produced) - set(allowed_extra))
    assert not extra, f"unexpected items {extra[:5]}"
    for pid, p in produced.items():
        assert items[pid] == expected_item(p), pid
    return items


def metrics(server):
    """/metrics as {(name, frozenset(labels)): value}."""
    import requests
    text = requests.get(server.http + "/metrics", timeout=10).text
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        name, _, labels = series.partition("{")
        pairs = []
        for part in labels.rstrip("}").split(",") if labels else []:
            k, _, v = part.partition("=")
            pairs.append((k, v.strip('"')))
        out[(name, frozenset(pairs))] = float(value)
    return out


def metric_sum(samples, name, **labels):
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= set(ls))
