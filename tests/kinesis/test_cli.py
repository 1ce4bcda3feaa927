"""The aws CLI v2 (/usr/bin/aws, not the v1 that pyenv puts first on PATH)
against riffle with --endpoint-url."""

import base64
import json
import subprocess

import pytest

import kinesis_helpers as kh

AWS_CLI = "/usr/bin/aws"


@pytest.fixture(scope="module")
def aws(riffle):
    version = subprocess.run([AWS_CLI, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("aws-cli/2."), version.stdout

    def run(*args, expect_ok=True):
        result = subprocess.run(
            [AWS_CLI, "kinesis", *args, "--endpoint-url", riffle.aws, "--output", "json",
             "--cli-binary-format", "raw-in-base64-out"],
            capture_output=True, text=True, timeout=60)
        if expect_ok:
            assert result.returncode == 0, result.stderr
            return json.loads(result.stdout) if result.stdout.strip() else None
        return result
    return run


def test_cli_round_trip(aws, kinesis):
    name = "cli-stream"
    aws("create-stream", "--stream-name", name, "--shard-count", "2")
    try:
        kh.wait_for_status(kinesis, name)
        summary = aws("describe-stream-summary", "--stream-name", name)["StreamDescriptionSummary"]
        assert summary["StreamName"] == name and summary["OpenShardCount"] == 2
        assert summary["StreamStatus"] == "ACTIVE"

        put = aws("put-record", "--stream-name", name, "--partition-key", "cli-key",
                  "--data", "hello from the cli")
        ranges = kh.uniform_ranges(2)
        expected = next(i for i, (lo, hi) in enumerate(ranges)
                        if lo <= kh.hash_key("cli-key") <= hi)
        assert put["ShardId"] == kh.shard_id(expected)
        kh.seq(put["SequenceNumber"])

        shards = aws("list-shards", "--stream-name", name)["Shards"]
        assert [s["ShardId"] for s in shards] == [kh.shard_id(0), kh.shard_id(1)]

        shard_iterator = aws("get-shard-iterator", "--stream-name", name, "--shard-id",
                             put["ShardId"], "--shard-iterator-type",
                             "TRIM_HORIZON")["ShardIterator"]
        records = aws("get-records", "--shard-iterator", shard_iterator)["Records"]
        assert [base64.b64decode(r["Data"]) for r in records] == [b"hello from the cli"]
        assert records[0]["SequenceNumber"] == put["SequenceNumber"]
        assert records[0]["PartitionKey"] == "cli-key"
    finally:
        aws("delete-stream", "--stream-name", name)
    kh.wait_until_gone(kinesis, name)


def test_cli_error(aws):
    result = aws("describe-stream-summary", "--stream-name", "cli-missing", expect_ok=False)
    assert result.returncode == 254
    assert ("An error occurred (ResourceNotFoundException) when calling the "
            "DescribeStreamSummary operation: "
            f"{kh.stream_not_found('cli-missing')}") in result.stderr
