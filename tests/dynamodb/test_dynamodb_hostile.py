"""Hostile expressions are answered within milliseconds and leave the server
healthy (emulators in use today crash or hang on these)."""

import time

import pytest
import requests

from dynamodb_helpers import expect_error, n, s


@pytest.fixture
def table(ddb, tables):
    t = tables.create()
    for i in range(20):
        ddb.put_item(TableName=t, Item={"pk": s(f"k{i}"), "v": n(i)})
    return t


def timed(fn):
    start = time.monotonic()
    try:
        fn()
    finally:
        elapsed = time.monotonic() - start
    return elapsed


def test_filter_on_missing_attribute(ddb, table):
    r = ddb.scan(TableName=table, FilterExpression="nothere.deep[3] > :v OR nothere < v",
                 ExpressionAttributeValues={":v": n(1)})
    assert r["Count"] == 0 and r["ScannedCount"] == 20


def test_deep_or_chain(ddb, table, riffle):
    expr = " OR ".join(["v = :v"] * 149)
    start = time.monotonic()
    r = ddb.scan(TableName=table, FilterExpression=expr, ExpressionAttributeValues={":v": n(3)})
    assert time.monotonic() - start < 0.5
    assert r["Count"] == 1
    assert requests.get(riffle.http + "/health", timeout=5).status_code == 200


def test_nested_parentheses(ddb, table, riffle):
    expr = "(" * 2000 + "v = :v" + ")" * 2000
    start = time.monotonic()
    with expect_error("ValidationException"):
        ddb.scan(TableName=table, FilterExpression=expr, ExpressionAttributeValues={":v": n(3)})
    assert time.monotonic() - start < 0.5
    assert requests.get(riffle.http + "/health", timeout=5).status_code == 200
    assert ddb.get_item(TableName=table, Key={"pk": s("k1")})["Item"]["v"] == n(1)


def test_operator_and_size_limits(ddb, table):
    with expect_error("ValidationException", match="Expression size has exceeded|size"):
        ddb.scan(TableName=table, FilterExpression="v = :v" + " " * 5000,
                 ExpressionAttributeValues={":v": n(3)})
    with expect_error("ValidationException", match="IN"):
        ddb.scan(TableName=table, FilterExpression="v IN (" + ",".join([":v"] * 101) + ")",
                 ExpressionAttributeValues={":v": n(3)})
