"""Fixtures for the Lambda suite: boto3 clients on the shared server and a
function factory that deletes what it creates."""

import os
import sys
import uuid

import pytest

sys.path.insert(0, os.path.dirname(__file__))
import lambda_helpers as lh  # noqa: E402


@pytest.fixture(scope="session")
def lam(riffle):
    return lh.client("lambda", riffle.aws)


@pytest.fixture(scope="session")
def kinesis(riffle):
    return lh.client("kinesis", riffle.aws)


class Functions:
    def __init__(self, lam):
        self.lam = lam
        self.names = []

    def create(self, handler="echo", runtime="provided.al2", zip_bytes=None,
               **kwargs):
        name = f"fn-{uuid.uuid4().hex[:10]}"
        self.lam.create_function(
            FunctionName=name, Runtime=runtime, Role=lh.ROLE, Handler=handler,
            Code={"ZipFile": zip_bytes or lh.bootstrap_zip()}, **kwargs)
        self.names.append(name)
        return name

    def cleanup(self):
        for name in self.names:
            try:
                self.lam.delete_function(FunctionName=name)
            except self.lam.exceptions.ResourceNotFoundException:
                pass


@pytest.fixture
def functions(lam):
    f = Functions(lam)
    yield f
    f.cleanup()
