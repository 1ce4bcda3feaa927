"""Helpers for the DynamoDB integration tests: boto3 clients that make one
attempt per call, a raw signed caller for bodies boto3 will not send, and
error assertions."""

import contextlib
import json
import re

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import botocore.exceptions
import requests

REGION = "us-east-1"
ACCOUNT = "000000000000"
TARGET_PREFIX = "DynamoDB_20120810."
CONTENT_TYPE = "application/x-amz-json-1.0"


def client(endpoint, validate=True):
    """A low-level boto3 DynamoDB client. validate=False turns botocore's
    client-side checks off so that invalid values reach the server."""
    config = botocore.config.Config(
        parameter_validation=validate,
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=60,
    )
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                        config=config)


def resource(endpoint):
    config = botocore.config.Config(retries={"total_max_attempts": 1})
    return boto3.resource("dynamodb", endpoint_url=endpoint, region_name=REGION,
                          config=config)


class RawDynamo:
    """Signed awsJson1.0 calls with any body; returns (status, headers, json)."""

    def __init__(self, endpoint):
        self.endpoint = endpoint
        self.credentials = botocore.credentials.Credentials(
            "AKIDRIFFLETEST", "riffle-test-secret")
        self.session = requests.Session()

    def call(self, operation, body, raw_body=None, headers=None):
        data = raw_body if raw_body is not None else json.dumps(body)
        h = {"Content-Type": CONTENT_TYPE, "X-Amz-Target": TARGET_PREFIX + operation}
        h.update(headers or {})
        request = botocore.awsrequest.AWSRequest(
            method="POST", url=self.endpoint + "/", data=data, headers=h)
        botocore.auth.SigV4Auth(self.credentials, "dynamodb", REGION).add_auth(request)
        prepared = request.prepare()
        r = self.session.post(prepared.url, data=prepared.body,
                              headers=dict(prepared.headers), timeout=30)
        try:
            payload = r.json()
        except ValueError:
            payload = None
        return r.status_code, r.headers, payload


@contextlib.contextmanager
def expect_error(code, message=None, match=None):
    """Asserts that the block raises a botocore ClientError with `code` and
    the exact `message` (or a message matching `match`)."""
    try:
        yield
    except botocore.exceptions.ClientError as e:
        error = e.response["Error"]
        assert error["Code"] == code, f"{error['Code']}: {error.get('Message')}"
        if message is not None:
            assert error.get("Message") == message
        if match is not None:
            assert re.search(match, error.get("Message", "")), error.get("Message")
        expect_error.last = e
        return
    raise AssertionError(f"expected {code}, got success")


def s(v):
    return {"S": v}


def n(v):
    return {"N": str(v)}
