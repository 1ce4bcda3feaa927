"""Helpers for the Lambda suite: clients, zip building and the custom
runtime (a `bootstrap` in Python, standard library only) used by the
provided.al2 functions."""

import io
import os
import zipfile

import boto3
import botocore.config

REGION = "us-east-1"
ROLE = "arn:aws:iam::000000000000:role/riffle-test"


def client(service, endpoint, read_timeout=60, validate=True):
    """One attempt per call; validate=False lets invalid values reach the
    server."""
    config = botocore.config.Config(
        parameter_validation=validate,
        retries={"total_max_attempts": 1}, connect_timeout=5,
        read_timeout=read_timeout)
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=config)


def make_zip(files):
    """A zip of {name: (text, mode)} or {name: text}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            text, mode = content if isinstance(content, tuple) else (content, 0o644)
            info = zipfile.ZipInfo(name)
            info.external_attr = (0o100000 | mode) << 16
            info.create_system = 3  # Unix, so the mode is kept
            z.writestr(info, text)
    return buf.getvalue()


# A Lambda custom runtime: loops on invocation/next and dispatches on the
# event. Handlers are in HANDLERS below; the function's Handler setting
# names one.
BOOTSTRAP = r'''#!/usr/bin/python3
import json, os, sys, time, urllib.request, urllib.error
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
HANDLER = os.environ.get("_HANDLER", "echo")
print("init", HANDLER, flush=True)
if HANDLER == "init_error":
    body = json.dumps({"errorType": "InitBroken", "errorMessage": "no init"}).encode()
    urllib.request.urlopen(urllib.request.Request(API + "/init/error", data=body, method="POST"))
    sys.exit(1)

def post(path, body):
    urllib.request.urlopen(urllib.request.Request(API + path, data=body, method="POST"))

def handle(event, headers):
    if HANDLER == "echo":
        return {"event": event, "env": {k: os.environ.get(k) for k in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_LOG_GROUP_NAME",
            "AWS_LAMBDA_LOG_STREAM_NAME", "AWS_REGION", "LAMBDA_TASK_ROOT",
            "_HANDLER", "MY_VAR")},
            "headers": {k: v for k, v in headers.items() if k.lower().startswith("lambda-runtime")},
            "pid": os.getpid()}
    if HANDLER == "actions":
        action = event.get("action")
        print("action", action, flush=True)
        if action == "sleep":
            time.sleep(event.get("seconds", 30))
        if action == "crash":
            os._exit(7)
        if action == "fail":
            raise RuntimeError("asked to fail")
        if action == "big":
            return {"blob": "x" * event["bytes"]}
        if action == "print":
            for i in range(event.get("lines", 1)):
                print("line", i, "x" * 60, flush=True)
        return {"ok": action}
    if HANDLER == "kinesis_to_file":
        # Appends each record to $OUT_FILE once the batch is done, so that a
        # failed batch writes nothing. A record whose data starts with
        # "poison" fails the batch, or with PARTIAL=1 is reported in
        # batchItemFailures (the records before it are written).
        import base64
        lines, failures = [], []
        t0 = time.time()
        time.sleep(float(os.environ.get("SLEEP_MS", "0")) / 1000)
        for r in event["Records"]:
            data = base64.b64decode(r["kinesis"]["data"]).decode()
            if data.startswith("poison"):
                if os.environ.get("PARTIAL") != "1":
                    raise RuntimeError("poison record " + data)
                failures.append({"itemIdentifier": r["kinesis"]["sequenceNumber"]})
                break
            lines.append(json.dumps({"shard": r["eventID"].split(":")[0],
                                     "seq": r["kinesis"]["sequenceNumber"],
                                     "pk": r["kinesis"]["partitionKey"],
                                     "data": data,
                                     "source": r["eventSource"],
                                     "arn": r["eventSourceARN"],
                                     "pid": os.getpid(), "t0": t0,
                                     "t1": time.time()}) + "\n")
        with open(os.environ["OUT_FILE"], "a") as f:
            f.write("".join(lines))
        return {"batchItemFailures": failures}
    if HANDLER == "tumbling":
        # A tumbling-window aggregate: counts records per data value in the
        # window's state; each invocation appends what it got to $OUT_FILE.
        import base64
        state = dict(event.get("state") or {})
        for r in event["Records"]:
            data = base64.b64decode(r["kinesis"]["data"]).decode()
            state[data] = state.get(data, 0) + 1
        with open(os.environ["OUT_FILE"], "a") as f:
            f.write(json.dumps({
                "final": event["isFinalInvokeForWindow"],
                "early": event["isWindowTerminatedEarly"],
                "window": event["window"], "state_in": event["state"],
                "shardId": event["shardId"], "arn": event["eventSourceARN"],
                "records": len(event["Records"])}) + "\n")
        return {"state": state, "batchItemFailures": []}
    raise RuntimeError("unknown handler " + HANDLER)

while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        headers = dict(r.headers)
        event = json.loads(r.read() or b"null")
    try:
        result = handle(event, headers)
        post("/invocation/" + rid + "/response", json.dumps(result).encode())
    except Exception as e:
        print("error", e, flush=True)
        post("/invocation/" + rid + "/error", json.dumps(
            {"errorType": type(e).__name__, "errorMessage": str(e), "stackTrace": []}).encode())
'''


def bootstrap_zip():
    return make_zip({"bootstrap": (BOOTSTRAP, 0o755)})
