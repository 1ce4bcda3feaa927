"""The awsJson1.1 envelope seen with python-requests: malformed JSON,
unknown targets, oversized bodies; and the operations port's /health and
/metrics."""

import re
import socket
import urllib.parse

import pytest
import requests

import kinesis_helpers as kh


def reply_type(reply):
    assert reply.headers.get("Content-Type", "").startswith("application/x-amz-json-1.1"), \
        reply.headers
    return kh.error_code(reply.json())


def test_malformed_json_is_serialization_exception(raw):
    reply = raw.post("ListStreams", b'{"Limit": ')
    assert reply.status_code == 400
    assert reply_type(reply) == "SerializationException"


def test_wrong_json_type_is_serialization_exception(raw):
    reply = raw.post("CreateStream", {"StreamName": "typed", "ShardCount": "three"})
    assert reply.status_code == 400
    assert reply_type(reply) == "SerializationException"


def test_json_that_is_not_an_object(raw):
    reply = raw.post("ListStreams", b"[1, 2]")
    assert reply.status_code == 400
    assert reply_type(reply) == "SerializationException"


@pytest.mark.parametrize("target", ["Kinesis_20131202.MakeCoffee", "Kinesis_20131202.",
                                    "Kinesis_20131202.putRecord"])
def test_unknown_target_is_unknown_operation(raw, target):
    reply = raw.post(None, {}, target=target)
    assert reply.status_code == 400
    assert reply_type(reply) == "UnknownOperationException"


def test_error_reply_shape(raw):
    reply = raw.post("DescribeStreamSummary", {"StreamName": "shape-of-an-error"})
    assert reply.status_code == 400
    body = reply.json()
    assert kh.error_code(body) == "ResourceNotFoundException"
    assert body["message"] == kh.stream_not_found("shape-of-an-error")
    assert reply.headers.get("x-amzn-RequestId")


def test_body_over_the_limit_is_413_before_it_is_read(riffle):
    # Announce 64 MiB, send 1 MiB of it, then wait for the answer: the server
    # must refuse without reading (or waiting for) the whole body.
    url = urllib.parse.urlsplit(riffle.aws)
    announced = 64 * 1024 * 1024
    with socket.create_connection((url.hostname, url.port), timeout=20) as sock:
        head = (f"POST / HTTP/1.1\r\nHost: {url.netloc}\r\n"
                f"Content-Type: {kh.CONTENT_TYPE}\r\n"
                "X-Amz-Target: Kinesis_20131202.PutRecords\r\n"
                "Authorization: AWS4-HMAC-SHA256 Credential=AKIDRIFFLETEST/20240101/us-east-1/"
                "kinesis/aws4_request, SignedHeaders=host, Signature=00\r\n"
                "X-Amz-Date: 20240101T000000Z\r\n"
                f"Content-Length: {announced}\r\n\r\n").encode()
        sock.sendall(head)
        try:
            sock.sendall(b"{" + b" " * (1024 * 1024))
        except OSError:
            pass  # The server may already have answered and closed.
        response = b""
        while b"\r\n" not in response:
            chunk = sock.recv(4096)
            if not chunk:
                break
            response += chunk
    status_line = response.split(b"\r\n", 1)[0].decode(errors="replace")
    assert re.match(r"HTTP/1\.1 413\b", status_line), status_line


def test_server_survives_protocol_errors(raw):
    for body in (b"", b"\x00\xff", b"{" * 10000, b'{"StreamName": "\\ud800"}'):
        reply = raw.post("DescribeStreamSummary", body)
        assert 400 <= reply.status_code < 500, (body[:20], reply.status_code)
    assert "StreamNames" in raw.call("ListStreams", {})


# ---------------------------------------------------------------- /health, /metrics

def parse_metrics(text):
    """Prometheus text format → [(name, {label: value}, float)]."""
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?", line)
        assert match, f"not a Prometheus sample line: {line!r}"
        labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"',
                                 match.group(2) or ""))
        samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def samples_with(samples, *label_values, name_re=".*"):
    return [(n, l, v) for n, l, v in samples
            if re.search(name_re, n) and all(x in l.values() for x in label_values)]


@pytest.mark.needs_binary
def test_health(riffle):
    reply = requests.get(riffle.http + "/health", timeout=10)
    assert reply.status_code == 200


@pytest.mark.needs_binary
def test_metrics(riffle, kinesis, streams):
    name = streams.create(shards=1)
    payload = b"p" * 100
    for _ in range(7):
        kinesis.put_record(StreamName=name, PartitionKey="k", Data=payload)
    assert len(kh.read_shard(kinesis, name, kh.shard_id(0))) == 7
    with kh.expect_error("ResourceNotFoundException"):
        kinesis.describe_stream_summary(StreamName="metrics-missing-stream")

    reply = requests.get(riffle.http + "/metrics", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("text/plain")
    samples = parse_metrics(reply.text)

    puts = samples_with(samples, "PutRecord", "200")
    assert puts and max(v for _, _, v in puts) >= 7, "no PutRecord/200 request counter"
    errors = [s for s in samples_with(samples, "DescribeStreamSummary")
              if {"400", "ResourceNotFoundException"} & set(s[1].values())]
    assert errors, "no DescribeStreamSummary error counter (status 400)"
    assert any(n.endswith("_bucket") and "le" in l for n, l, _ in samples), \
        "no latency histogram"

    per_stream = samples_with(samples, name)
    record_metrics = {n: v for n, _, v in per_stream if "record" in n}
    byte_metrics = {n: v for n, _, v in per_stream if "byte" in n}
    assert len([v for v in record_metrics.values() if v >= 7]) >= 2, \
        f"expected records in and out for {name}, got {record_metrics}"
    assert len([v for v in byte_metrics.values() if v >= 700]) >= 2, \
        f"expected bytes in and out for {name}, got {byte_metrics}"
