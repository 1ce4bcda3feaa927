"""Fixtures for the DynamoDB suite: clients bound to the shared server and a
factory of tables that are deleted when the test ends."""

import re
import uuid

import pytest

import dynamodb_helpers as dh


@pytest.fixture(scope="session")
def ddb(riffle):
    return dh.client(riffle.aws)


@pytest.fixture(scope="session")
def unchecked(riffle):
    return dh.client(riffle.aws, validate=False)


@pytest.fixture(scope="session")
def raw(riffle):
    return dh.RawDynamo(riffle.aws)


class TableFactory:
    def __init__(self, client, test_name):
        self.client = client
        self.base = re.sub(r"[^a-zA-Z0-9_.-]", "-", test_name)[:60]
        self.created = []

    def name(self):
        return f"{self.base}-{uuid.uuid4().hex[:8]}"

    def create(self, hash_key=("pk", "S"), range_key=None, name=None, **kwargs):
        """Creates a PAY_PER_REQUEST table (unless kwargs say otherwise) and
        returns its name."""
        name = name or self.name()
        attrs = {hash_key[0]: hash_key[1]}
        schema = [{"AttributeName": hash_key[0], "KeyType": "HASH"}]
        if range_key:
            attrs[range_key[0]] = range_key[1]
            schema.append({"AttributeName": range_key[0], "KeyType": "RANGE"})
        for extra in kwargs.pop("extra_attributes", []):
            attrs[extra[0]] = extra[1]
        args = {
            "TableName": name,
            "AttributeDefinitions": [{"AttributeName": k, "AttributeType": t}
                                     for k, t in attrs.items()],
            "KeySchema": schema,
            "BillingMode": "PAY_PER_REQUEST",
        }
        args.update(kwargs)
        self.client.create_table(**args)
        self.created.append(name)
        self.client.get_waiter("table_exists").wait(
            TableName=name, WaiterConfig={"Delay": 0.05, "MaxAttempts": 100})
        return name

    def delete_all(self):
        for name in self.created:
            try:
                self.client.delete_table(TableName=name)
            except self.client.exceptions.ResourceNotFoundException:
                pass


@pytest.fixture
def tables(ddb, request):
    factory = TableFactory(ddb, request.node.name)
    yield factory
    factory.delete_all()
