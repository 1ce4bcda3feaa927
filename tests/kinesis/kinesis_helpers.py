"""Helpers shared by the Kinesis integration tests: clients, AWS's hash-key
arithmetic, readers and error assertions. Everything here is client-side; the
expected values are computed the way AWS documents them, never read back from
the server under test."""

import contextlib
import hashlib
import json
import re
import time

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import requests

ACCOUNT = "000000000000"
REGION = "us-east-1"
TARGET_PREFIX = "Kinesis_20131202."
CONTENT_TYPE = "application/x-amz-json-1.1"
HASH_SPACE = 2 ** 128
MAX_HASH_KEY = HASH_SPACE - 1
SEQUENCE_RE = re.compile(r"[0-9]{56}")


# ---------------------------------------------------------------- clients

def boto3_client(endpoint, validate=True):
    """A boto3 Kinesis client that makes exactly one attempt per call, so an
    error reaches the test instead of being retried. validate=False turns off
    botocore's client-side checks so that invalid values reach the server."""
    config = botocore.config.Config(
        parameter_validation=validate,
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=60,
    )
    return boto3.client("kinesis", endpoint_url=endpoint, region_name=REGION, config=config)


class KinesisError(Exception):
    """An AWS error reply received by RawKinesis."""

    def __init__(self, status, code, message):
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class RawKinesis:
    """Signed awsJson1.1 calls with any body, for what Debian's botocore
    (1.29) cannot send: StreamARN on most operations, ListStreams NextToken,
    malformed JSON, unknown targets."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.session = requests.Session()
        self.credentials = botocore.credentials.Credentials(
            "AKIDRIFFLETEST", "riffle-test-secret")

    def post(self, operation, body, headers=None, target=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        request = botocore.awsrequest.AWSRequest(
            method="POST", url=self.endpoint + "/", data=body,
            headers={"Content-Type": CONTENT_TYPE,
                     "X-Amz-Target": target or TARGET_PREFIX + operation,
                     **(headers or {})})
        botocore.auth.SigV4Auth(self.credentials, "kinesis", REGION).add_auth(request)
        return self.session.post(request.url, data=body, headers=dict(request.headers),
                                 timeout=60)

    def call(self, operation, payload):
        """Returns the decoded reply, or raises KinesisError."""
        reply = self.post(operation, payload)
        data = reply.json() if reply.content else {}
        if reply.status_code != 200:
            raise KinesisError(reply.status_code, error_code(data),
                               data.get("message", data.get("Message")))
        return data


def error_code(body):
    """`__type` may carry a namespace prefix ("com.amazon...#Code")."""
    return (body.get("__type") or "").rsplit("#", 1)[-1]


# ---------------------------------------------------------------- errors

@contextlib.contextmanager
def expect_error(code, message=None, match=None):
    """Asserts that the block raises AWS error `code`. `message` must equal
    the message exactly; `match` is a regex the whole message must match."""
    try:
        yield
    except botocore.exceptions.ClientError as e:
        got_code, got_message = e.response["Error"]["Code"], e.response["Error"].get("Message")
    except KinesisError as e:
        got_code, got_message = e.code, e.message
    else:
        raise AssertionError(f"expected {code}, but the call succeeded")
    assert got_code == code, f"expected {code}, got {got_code}: {got_message}"
    if message is not None:
        assert got_message == message
    if match is not None:
        assert got_message is not None and re.fullmatch(match, got_message, re.S), \
            f"message {got_message!r} does not match {match!r}"


def constraint(member, rule, value):
    """One item of a ValidationException message, in AWS's wording."""
    shown = "null" if value is None else f"'{value}'"
    return f"Value {shown} at '{member}' failed to satisfy constraint: Member must {rule}"


def validation_message(*constraints):
    count = len(constraints)
    plural = "s" if count > 1 else ""
    return f"{count} validation error{plural} detected: " + "; ".join(constraints)


def stream_not_found(name):
    return f"Stream {name} under account {ACCOUNT} not found."


# ---------------------------------------------------------------- hash keys

def hash_key(partition_key):
    """AWS maps a partition key to the 128-bit integer of its MD5 digest."""
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def uniform_ranges(shard_count):
    """The hash ranges AWS gives a new stream: shard i starts at
    i * floor(2^128 / N); the last one ends at 2^128 - 1."""
    step = HASH_SPACE // shard_count
    return [(i * step, (i + 1) * step - 1 if i < shard_count - 1 else MAX_HASH_KEY)
            for i in range(shard_count)]


def shard_id(index):
    return f"shardId-{index:012d}"


def hash_range(shard):
    r = shard["HashKeyRange"]
    return int(r["StartingHashKey"]), int(r["EndingHashKey"])


def owning_shard(shards, key):
    """The open shard among `shards` whose hash range holds `key`."""
    matches = [s["ShardId"] for s in shards
               if "EndingSequenceNumber" not in s["SequenceNumberRange"]
               and hash_range(s)[0] <= key <= hash_range(s)[1]]
    assert len(matches) == 1, f"{len(matches)} open shards hold hash key {key}"
    return matches[0]


def seq(record_or_number):
    value = record_or_number if isinstance(record_or_number, str) \
        else record_or_number["SequenceNumber"]
    assert SEQUENCE_RE.fullmatch(value), f"not a 56-digit sequence number: {value!r}"
    return int(value)


def assert_strictly_increasing(sequence_numbers, what="sequence numbers"):
    numbers = [seq(s) for s in sequence_numbers]
    for a, b in zip(numbers, numbers[1:]):
        assert a < b, f"{what} not strictly increasing: {a} then {b}"


# ---------------------------------------------------------------- streams

def wait_for_status(client, name, status="ACTIVE", timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        summary = client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        if summary["StreamStatus"] == status:
            return summary
        assert time.monotonic() < deadline, \
            f"stream {name} still {summary['StreamStatus']} after {timeout}s"
        time.sleep(0.05)


def wait_until_gone(client, name, timeout=20):
    deadline = time.monotonic() + timeout
    while True:
        try:
            client.describe_stream_summary(StreamName=name)
        except client.exceptions.ResourceNotFoundException:
            return
        assert time.monotonic() < deadline, f"stream {name} still exists after {timeout}s"
        time.sleep(0.05)


def list_all_shards(client, name, **kwargs):
    shards, reply = [], client.list_shards(StreamName=name, **kwargs)
    while True:
        shards += reply["Shards"]
        if not reply.get("NextToken"):
            return shards
        reply = client.list_shards(NextToken=reply["NextToken"])


def iterator(client, name, shard, kind="TRIM_HORIZON", **kwargs):
    return client.get_shard_iterator(StreamName=name, ShardId=shard,
                                     ShardIteratorType=kind, **kwargs)["ShardIterator"]


def read_from(client, shard_iterator, limit=None, max_calls=200):
    """Reads with GetRecords until the shard ends (NextShardIterator null)
    or the reader has caught up (an empty page with MillisBehindLatest 0).
    Returns (records, last reply)."""
    records = []
    for _ in range(max_calls):
        kwargs = {"Limit": limit} if limit else {}
        reply = client.get_records(ShardIterator=shard_iterator, **kwargs)
        records += reply["Records"]
        shard_iterator = reply.get("NextShardIterator")
        if shard_iterator is None:
            return records, reply
        if not reply["Records"] and reply["MillisBehindLatest"] == 0:
            return records, reply
    raise AssertionError(f"shard not read to its end in {max_calls} GetRecords calls")


def read_shard(client, name, shard, **kwargs):
    return read_from(client, iterator(client, name, shard), **kwargs)[0]


def read_closed_shard(client, name, shard):
    """Reads a closed shard to its end; returns (records, ChildShards)."""
    records, reply = read_from(client, iterator(client, name, shard))
    assert reply.get("NextShardIterator") is None, \
        f"{shard} is closed, but its last GetRecords still returned a NextShardIterator"
    return records, reply.get("ChildShards")


def put_keys(client, name, keys, prefix="r"):
    """PutRecord once per key; returns [(key, data, reply)]."""
    out = []
    for i, key in enumerate(keys):
        data = f"{prefix}-{i}-{key}".encode()
        out.append((key, data, client.put_record(StreamName=name, PartitionKey=key, Data=data)))
    return out
