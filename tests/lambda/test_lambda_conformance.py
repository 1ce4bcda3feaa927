"""Divergences from AWS Lambda found in review: each test pins what boto3
sees from the real service."""

import json

import pytest


def test_invoke_with_an_unknown_qualifier_is_not_found(lam, functions):
    # boto3 sends Qualifier as ?Qualifier=; Lambda answers 404 for a
    # version or alias that does not exist instead of running $LATEST.
    name = functions.create(handler="echo")
    r = lam.invoke(FunctionName=name, Qualifier="$LATEST", Payload=b"{}")
    assert r["StatusCode"] == 200
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.invoke(FunctionName=name, Qualifier="prod", Payload=b"{}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert e.value.response["Error"]["Message"].startswith(
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:"
        + name + ":prod")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name, Qualifier="1")
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function_configuration(FunctionName=name, Qualifier="1")
    assert lam.get_function_configuration(
        FunctionName=name, Qualifier="$LATEST")["FunctionName"] == name


def test_response_over_6mb_is_a_function_error(lam, functions):
    # Lambda caps a synchronous response at 6 MB: the caller gets an
    # Unhandled Function.ResponseSizeTooLarge error, not the payload.
    name = functions.create(handler="actions", Timeout=20)
    r = lam.invoke(FunctionName=name, Payload=json.dumps(
        {"action": "big", "bytes": 6 * 1024 * 1024 + 200}))
    body = json.loads(r["Payload"].read())
    assert r.get("FunctionError") == "Unhandled", body.keys()
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert "Response payload size exceeded maximum allowed payload size" in \
        body["errorMessage"]
    # The process keeps serving: a small response still works.
    r = lam.invoke(FunctionName=name, Payload=json.dumps(
        {"action": "big", "bytes": 10}))
    assert "FunctionError" not in r
    assert json.loads(r["Payload"].read()) == {"blob": "x" * 10}


# A runtime that probes the Runtime API. The first invocation answers a
# made-up request id, then its own id, then its own id again (already
# answered); the second invocation returns what those got.
PROBE_BOOTSTRAP = r'''#!/usr/bin/python3
import json, os, urllib.request, urllib.error
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"

def post(path, body=b"{}"):
    try:
        with urllib.request.urlopen(urllib.request.Request(
                API + path, data=body, method="POST")) as r:
            return [r.status, json.loads(r.read() or b"null").get("errorType")]
    except urllib.error.HTTPError as e:
        return [e.code, json.loads(e.read() or b"null").get("errorType")]

seen = None
while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        r.read()
    if seen is None:
        seen = [post("/invocation/not-" + rid + "/response"),
                post("/invocation/" + rid + "/response"),
                post("/invocation/" + rid + "/response"),
                post("/invocation/" + rid + "/error")]
    else:
        post("/invocation/" + rid + "/response", json.dumps(seen).encode())
'''


def test_runtime_api_rejects_stale_and_unknown_request_ids(lam, functions):
    # Lambda's Runtime API: an id that is not the current invocation's is
    # 400 InvalidRequestID; answering when no invocation is in progress
    # (the id was already answered) is 403 InvalidStateTransition.
    import lambda_helpers as lh
    name = functions.create(
        zip_bytes=lh.make_zip({"bootstrap": (PROBE_BOOTSTRAP, 0o755)}))
    r = lam.invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(r["Payload"].read()) == {}
    r = lam.invoke(FunctionName=name, Payload=b"{}")
    assert json.loads(r["Payload"].read()) == [
        [400, "InvalidRequestID"], [202, None],
        [403, "InvalidStateTransition"], [403, "InvalidStateTransition"]]
