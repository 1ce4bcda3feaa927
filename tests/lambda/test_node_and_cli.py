"""A Node handler under aws-lambda-ric (nodejs20.x), and the aws CLI v2
(`/usr/bin/aws lambda ...`)."""

import base64
import json
import os
import subprocess
import time

import pytest

import lambda_helpers as lh

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RIC = os.path.join(REPO, "node_modules", "aws-lambda-ric", "bin", "index.mjs")

NODE_HANDLER = r"""
export const handler = async (event, context) => {
  console.log("node got", JSON.stringify(event));
  if (event.fail) throw new Error("node failure");
  if (event.Records) {
    // Kinesis: report the record whose data is "poison" as failed.
    const failures = event.Records
      .filter(r => Buffer.from(r.kinesis.data, "base64").toString() === "poison")
      .map(r => ({ itemIdentifier: r.kinesis.sequenceNumber }));
    return { batchItemFailures: failures };
  }
  return { echo: event, requestId: context.awsRequestId,
           fn: context.functionName, memory: context.memoryLimitInMB,
           env: process.env.MY_VAR };
};
"""

needs_ric = pytest.mark.skipif(not os.path.exists(RIC),
                               reason="aws-lambda-ric is not installed (scripts/setup)")


@needs_ric
def test_node_handler_under_aws_lambda_ric(lam, functions):
    name = functions.create(
        runtime="nodejs20.x", handler="index.handler",
        zip_bytes=lh.make_zip({"index.mjs": NODE_HANDLER}),
        Environment={"Variables": {"MY_VAR": "from-env"}})
    r = lam.invoke(FunctionName=name, Payload=json.dumps({"x": 1}), LogType="Tail")
    out = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, out
    assert out["echo"] == {"x": 1}
    assert out["fn"] == name and out["env"] == "from-env"
    assert out["memory"] == "128"
    assert out["requestId"]
    assert "node got" in base64.b64decode(r["LogResult"]).decode()

    r = lam.invoke(FunctionName=name, Payload=json.dumps({"fail": True}))
    assert r["FunctionError"] == "Unhandled"
    err = json.loads(r["Payload"].read())
    assert err["errorType"] == "Error" and err["errorMessage"] == "node failure"


@needs_ric
def test_node_kinesis_batch_item_failures(lam, kinesis, functions, tmp_path):
    stream = f"node-{os.getpid()}-{int(time.time() * 1000) % 100000}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    time.sleep(0.2)
    arn = kinesis.describe_stream_summary(StreamName=stream)[
        "StreamDescriptionSummary"]["StreamARN"]
    dlq = stream + "-dlq"
    kinesis.create_stream(StreamName=dlq, ShardCount=1)
    time.sleep(0.2)
    dlq_arn = kinesis.describe_stream_summary(StreamName=dlq)[
        "StreamDescriptionSummary"]["StreamARN"]
    name = functions.create(runtime="nodejs20.x", handler="index.handler",
                            zip_bytes=lh.make_zip({"index.mjs": NODE_HANDLER}))
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=name, StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["ReportBatchItemFailures"], MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    seqs = [kinesis.put_record(StreamName=stream, PartitionKey="k",
                               Data=d)["SequenceNumber"]
            for d in (b"a", b"poison", b"b")]
    deadline = time.monotonic() + 30
    found = []
    while time.monotonic() < deadline and not found:
        it = kinesis.get_shard_iterator(StreamName=dlq, ShardId="shardId-000000000000",
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        found = kinesis.get_records(ShardIterator=it)["Records"]
        time.sleep(0.2)
    assert len(found) == 1
    info = json.loads(found[0]["Data"])["KinesisBatchInfo"]
    assert info["startSequenceNumber"] == seqs[1] == info["endSequenceNumber"]
    lam.delete_event_source_mapping(UUID=m["UUID"])
    for s in (stream, dlq):
        kinesis.delete_stream(StreamName=s)


def aws(riffle, *args, check=True):
    env = dict(os.environ)
    r = subprocess.run(["/usr/bin/aws", "--endpoint-url", riffle.aws,
                        "--output", "json", "lambda", *args],
                       capture_output=True, text=True, env=env, timeout=60)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_aws_cli(riffle, tmp_path):
    zip_path = tmp_path / "fn.zip"
    zip_path.write_bytes(lh.bootstrap_zip())
    name = f"cli-{os.getpid()}"
    out = json.loads(aws(riffle, "create-function", "--function-name", name,
                         "--runtime", "provided.al2023", "--role", lh.ROLE,
                         "--handler", "actions", "--timeout", "2",
                         "--zip-file", f"fileb://{zip_path}").stdout)
    assert out["FunctionName"] == name and out["Timeout"] == 2
    result = tmp_path / "out.json"
    r = json.loads(aws(riffle, "invoke", "--function-name", name,
                       "--cli-binary-format", "raw-in-base64-out",
                       "--payload", '{"action": "hello"}', "--log-type", "Tail",
                       str(result)).stdout)
    assert r["StatusCode"] == 200
    assert json.loads(result.read_text()) == {"ok": "hello"}
    assert "action hello" in base64.b64decode(r["LogResult"]).decode()

    r = json.loads(aws(riffle, "invoke", "--function-name", name,
                       "--cli-binary-format", "raw-in-base64-out",
                       "--payload", '{"action": "fail"}', str(result)).stdout)
    assert r["FunctionError"] == "Unhandled"

    listed = json.loads(aws(riffle, "list-functions").stdout)
    assert name in [f["FunctionName"] for f in listed["Functions"]]
    aws(riffle, "update-function-configuration", "--function-name", name,
        "--environment", "Variables={MY_VAR=cli}")
    got = json.loads(aws(riffle, "get-function", "--function-name", name).stdout)
    assert got["Configuration"]["Environment"]["Variables"] == {"MY_VAR": "cli"}
    aws(riffle, "delete-function", "--function-name", name)
    r = aws(riffle, "get-function", "--function-name", name, check=False)
    assert r.returncode != 0 and "ResourceNotFoundException" in r.stderr
