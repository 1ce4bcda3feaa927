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
