"""Fixtures for the Kinesis suite: clients bound to the shared server and a
factory of streams that are deleted when the test ends."""

import re
import uuid

import pytest

import kinesis_helpers as kh


@pytest.fixture(scope="session")
def kinesis(riffle):
    """boto3 client with botocore's own parameter validation on."""
    return kh.boto3_client(riffle.aws)


@pytest.fixture(scope="session")
def unchecked(riffle):
    """boto3 client that sends invalid parameters as they are, so that the
    server's validation answers."""
    return kh.boto3_client(riffle.aws, validate=False)


@pytest.fixture(scope="session")
def raw(riffle):
    return kh.RawKinesis(riffle.aws)


class StreamFactory:
    def __init__(self, client, test_name):
        self.client = client
        self.base = re.sub(r"[^a-zA-Z0-9_.-]", "-", test_name)[:60]
        self.created = []

    def name(self):
        return f"{self.base}-{uuid.uuid4().hex[:8]}"

    def create(self, shards=1, mode=None, name=None):
        """Creates a stream and waits until it is ACTIVE; returns its name."""
        name = name or self.name()
        kwargs = {"StreamName": name}
        if shards is not None:
            kwargs["ShardCount"] = shards
        if mode is not None:
            kwargs["StreamModeDetails"] = {"StreamMode": mode}
        self.client.create_stream(**kwargs)
        self.created.append(name)
        kh.wait_for_status(self.client, name)
        return name

    def delete_all(self):
        for name in self.created:
            try:
                self.client.delete_stream(StreamName=name)
            except self.client.exceptions.ResourceNotFoundException:
                pass


@pytest.fixture
def streams(kinesis, request):
    factory = StreamFactory(kinesis, request.node.name)
    yield factory
    factory.delete_all()
