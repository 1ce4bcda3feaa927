"""PutItem, GetItem, UpdateItem and DeleteItem with boto3: conditions,
ReturnValues, numbers and sets, projections, the legacy parameters,
consumed capacity and the x-amz-crc32 header."""

import base64
import binascii
import decimal

import pytest

import dynamodb_helpers as dh
from dynamodb_helpers import expect_error, n, s


@pytest.fixture
def table(tables):
    return tables.create(range_key=("sk", "N"))


def test_put_get_round_trip_every_type(ddb, table):
    item = {
        "pk": s("a"), "sk": n(1),
        "str": s("héllo"), "num": n("-12.50"), "bin": {"B": b"\x00\x01\xff"},
        "bool": {"BOOL": False}, "null": {"NULL": True},
        "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2.5"]},
        "bs": {"BS": [b"a", b"b"]},
        "map": {"M": {"inner": {"L": [s("v"), n(3)]}}},
        "empty": s(""),
    }
    ddb.put_item(TableName=table, Item=item)
    got = ddb.get_item(TableName=table, Key={"pk": s("a"), "sk": n(1)})["Item"]
    assert got["num"] == n("-12.5")  # normalised
    assert got["bin"] == {"B": b"\x00\x01\xff"}
    assert sorted(got["ns"]["NS"]) == ["1", "2.5"]
    assert got["map"] == item["map"]
    assert got["empty"] == s("")
    assert ddb.get_item(TableName=table, Key={"pk": s("zz"), "sk": n(1)}).keys() \
        >= {"ResponseMetadata"}
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": s("zz"), "sk": n(1)})


def test_crc32_header_matches_body(raw, table):
    raw.call("PutItem", {"TableName": table, "Item": {"pk": s("c"), "sk": n(1), "t": s("é")}})
    for op, body in [("GetItem", {"TableName": table, "Key": {"pk": s("c"), "sk": n(1)}}),
                     ("DescribeTable", {"TableName": table}),
                     ("GetItem", {"TableName": "missing-table", "Key": {"pk": s("c")}})]:
        crc, content = _raw_bytes(raw, op, body)
        assert int(crc) == binascii.crc32(content)


def test_conditional_put_and_return_values(ddb, table):
    key = {"pk": s("k"), "sk": n(1)}
    ddb.put_item(TableName=table, Item={**key, "v": n(1)},
                 ConditionExpression="attribute_not_exists(pk)")
    with expect_error("ConditionalCheckFailedException", "The conditional request failed"):
        ddb.put_item(TableName=table, Item={**key, "v": n(2)},
                     ConditionExpression="attribute_not_exists(pk)")
    r = ddb.put_item(TableName=table, Item={**key, "v": n(3)}, ReturnValues="ALL_OLD",
                     ConditionExpression="v = :one",
                     ExpressionAttributeValues={":one": n(1)})
    assert r["Attributes"]["v"] == n(1)
    with expect_error("ValidationException"):
        ddb.put_item(TableName=table, Item=key, ReturnValues="ALL_NEW")


def test_condition_failure_returns_item_when_asked(ddb, raw, table):
    # Debian's botocore (1.29) predates ReturnValuesOnConditionCheckFailure:
    # a raw signed call sends it.
    key = {"pk": s("f"), "sk": n(1)}
    ddb.put_item(TableName=table, Item={**key, "v": n(7)})
    status, headers, body = raw.call("PutItem", {
        "TableName": table, "Item": key, "ConditionExpression": "v = :x",
        "ExpressionAttributeValues": {":x": n(8)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})
    assert status == 400
    assert body["__type"] == "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException"
    assert body["Item"] == {**key, "v": n(7)}
    with expect_error("ConditionalCheckFailedException"):
        ddb.delete_item(TableName=table, Key=key, ConditionExpression="v = :x",
                        ExpressionAttributeValues={":x": n(8)})
    assert "Item" not in expect_error.last.response


def _raw_bytes(raw, operation, body):
    """(crc32 header, body bytes) of one call, read without decoding."""
    import json as _json
    import botocore.auth
    import botocore.awsrequest
    request = botocore.awsrequest.AWSRequest(
        method="POST", url=raw.endpoint + "/", data=_json.dumps(body),
        headers={"Content-Type": dh.CONTENT_TYPE,
                 "X-Amz-Target": dh.TARGET_PREFIX + operation})
    botocore.auth.SigV4Auth(raw.credentials, "dynamodb", dh.REGION).add_auth(request)
    prepared = request.prepare()
    r = raw.session.post(prepared.url, data=prepared.body, headers=dict(prepared.headers))
    return r.headers["x-amz-crc32"], r.content


def test_update_expressions(ddb, table):
    key = {"pk": s("u"), "sk": n(1)}
    r = ddb.update_item(
        TableName=table, Key=key,
        UpdateExpression="SET #c = if_not_exists(#c, :zero) + :one, tags = :tags, "
                         "l = list_append(if_not_exists(l, :empty), :l) ADD tot :big",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":zero": n(0), ":one": n(1), ":tags": {"SS": ["a", "b"]},
                                   ":empty": {"L": []}, ":l": {"L": [n(1)]},
                                   ":big": n("99999999999999999999999999999999999999")},
        ReturnValues="ALL_NEW")
    attrs = r["Attributes"]
    assert attrs["count"] == n(1)
    assert attrs["tot"] == n("99999999999999999999999999999999999999")
    r = ddb.update_item(TableName=table, Key=key,
                        UpdateExpression="SET #c = #c - :one REMOVE l DELETE tags :a",
                        ExpressionAttributeNames={"#c": "count"},
                        ExpressionAttributeValues={":one": n(1), ":a": {"SS": ["a"]}},
                        ReturnValues="UPDATED_NEW")
    assert r["Attributes"] == {"count": n(0), "tags": {"SS": ["b"]}}
    r = ddb.update_item(TableName=table, Key=key, UpdateExpression="SET m = :m",
                        ExpressionAttributeValues={":m": {"M": {"a": {"L": [n(1), n(2)]}}}},
                        ReturnValues="UPDATED_OLD")
    assert "Attributes" not in r
    ddb.update_item(TableName=table, Key=key, UpdateExpression="SET m.a[5] = :v, m.b = :v",
                    ExpressionAttributeValues={":v": s("x")})
    got = ddb.get_item(TableName=table, Key=key, ProjectionExpression="m.a[2], m.b")["Item"]
    assert got == {"m": {"M": {"a": {"L": [s("x")]}, "b": s("x")}}}
    with expect_error("ValidationException",
                      "One or more parameter values were invalid: Cannot update attribute pk. "
                      "This attribute is part of the key"):
        ddb.update_item(TableName=table, Key=key, UpdateExpression="SET pk = :v",
                        ExpressionAttributeValues={":v": s("x")})


def test_updated_return_values_of_nested_paths(ddb, table):
    """UPDATED_NEW / UPDATED_OLD return the updated fragment of a map or
    list, as DynamoDB does, not the whole top-level attribute."""
    key = {"pk": s("nested"), "sk": n(1)}
    ddb.put_item(TableName=table, Item={
        **key, "m": {"M": {"a": n(1), "b": n(2)}}, "l": {"L": [s("x"), s("y")]}})
    r = ddb.update_item(TableName=table, Key=key, UpdateExpression="SET m.b = :v, l[1] = :v",
                        ExpressionAttributeValues={":v": n(9)}, ReturnValues="UPDATED_NEW")
    assert r["Attributes"] == {"m": {"M": {"b": n(9)}}, "l": {"L": [n(9)]}}
    r = ddb.update_item(TableName=table, Key=key, UpdateExpression="SET m.a = :v",
                        ExpressionAttributeValues={":v": n(7)}, ReturnValues="UPDATED_OLD")
    assert r["Attributes"] == {"m": {"M": {"a": n(1)}}}
    r = ddb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE m.b",
                        ReturnValues="UPDATED_NEW")
    assert "Attributes" not in r


def test_update_past_the_item_size_limit(ddb, table):
    """An UpdateItem that would grow the item past 400 KB fails with the
    message DynamoDB gives updates, and leaves the item as it was."""
    key = {"pk": s("grow"), "sk": n(1)}
    ddb.put_item(TableName=table, Item={**key, "a": s("x" * (300 * 1024))})
    with expect_error("ValidationException",
                      "Item size to update has exceeded the maximum allowed size"):
        ddb.update_item(TableName=table, Key=key, UpdateExpression="SET b = :v",
                        ExpressionAttributeValues={":v": s("y" * (200 * 1024))})
    got = ddb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert set(got) == {"pk", "sk", "a"}


def test_expression_attribute_checks(ddb, table):
    key = {"pk": s("e"), "sk": n(1)}
    with expect_error("ValidationException",
                      "Value provided in ExpressionAttributeValues unused in expressions: "
                      "keys: {:unused}"):
        ddb.put_item(TableName=table, Item=key, ConditionExpression="attribute_not_exists(pk)",
                     ExpressionAttributeValues={":unused": n(1)})
    with expect_error("ValidationException",
                      match=r"An expression attribute value used in expression is not defined"):
        ddb.put_item(TableName=table, Item=key, ConditionExpression="a = :nope")
    with expect_error("ValidationException", match=r"reserved keyword"):
        ddb.get_item(TableName=table, Key=key, ProjectionExpression="name")
    with expect_error("ValidationException",
                      "ExpressionAttributeNames can only be specified when using expressions"):
        ddb.get_item(TableName=table, Key=key, ExpressionAttributeNames={"#a": "a"})


def test_key_validation(ddb, unchecked, table):
    with expect_error("ValidationException",
                      "The provided key element does not match the schema"):
        ddb.get_item(TableName=table, Key={"pk": s("a")})
    with expect_error("ValidationException",
                      "One or more parameter values were invalid: Missing the key sk in the item"):
        ddb.put_item(TableName=table, Item={"pk": s("a")})
    with expect_error("ValidationException",
                      "One or more parameter values were invalid: Type mismatch for key sk "
                      "expected: N actual: S"):
        ddb.put_item(TableName=table, Item={"pk": s("a"), "sk": s("x")})
    with expect_error("ValidationException", match="empty string value"):
        ddb.put_item(TableName=table, Item={"pk": s(""), "sk": n(1)})
    with expect_error("ResourceNotFoundException", "Requested resource not found"):
        ddb.get_item(TableName="no-such-table", Key={"pk": s("a")})
    with expect_error("ValidationException", match="Item size has exceeded"):
        ddb.put_item(TableName=table, Item={"pk": s("a"), "sk": n(1), "big": s("x" * 410000)})
    with expect_error("ValidationException", match="number set  may not be empty|may not be empty"):
        unchecked.put_item(TableName=table, Item={"pk": s("a"), "sk": n(1), "ns": {"NS": []}})
    with expect_error("SerializationException"):
        unchecked.put_item(TableName=table, Item={"pk": {"S": 5}, "sk": n(1)})
    with expect_error("ValidationException", match="1 validation error detected"):
        unchecked.get_item(TableName="ab", Key={"pk": s("a")})


def test_number_limits(ddb, table):
    key = {"pk": s("n"), "sk": n(1)}
    ddb.put_item(TableName=table, Item={**key, "big": n("9.99E+125"), "small": n("1E-130")})
    with expect_error("ValidationException", match="Number overflow|exceeded"):
        ddb.put_item(TableName=table, Item={**key, "big": n("1E+126")})
    with expect_error("ValidationException", match="significant digits"):
        ddb.put_item(TableName=table, Item={**key, "big": n("1" * 39)})


def test_resource_api_with_decimal(riffle, table):
    t = dh.resource(riffle.aws).Table(table)
    t.put_item(Item={"pk": "r", "sk": 1, "price": decimal.Decimal("19.99"),
                     "tags": {"x", "y"}, "doc": {"a": [1, "b"]}})
    item = t.get_item(Key={"pk": "r", "sk": 1})["Item"]
    assert item["price"] == decimal.Decimal("19.99")
    assert item["tags"] == {"x", "y"}
    assert item["doc"] == {"a": [1, "b"]}


def test_legacy_parameters(ddb, table):
    key = {"pk": s("legacy"), "sk": n(1)}
    ddb.put_item(TableName=table, Item={**key, "a": n(1), "b": s("x")},
                 Expected={"pk": {"Exists": False}})
    with expect_error("ConditionalCheckFailedException"):
        ddb.put_item(TableName=table, Item=key, Expected={"pk": {"Exists": False}})
    ddb.put_item(TableName=table, Item={**key, "a": n(2), "b": s("x")},
                 Expected={"a": {"Value": n(1)}, "b": {"ComparisonOperator": "BEGINS_WITH",
                                                       "AttributeValueList": [s("x")]}})
    got = ddb.get_item(TableName=table, Key=key, AttributesToGet=["a"])["Item"]
    assert got == {"a": n(2)}
    r = ddb.update_item(TableName=table, Key=key, ReturnValues="ALL_NEW",
                        AttributeUpdates={"a": {"Action": "ADD", "Value": n(5)},
                                          "b": {"Action": "DELETE"},
                                          "c": {"Value": s("new")}})
    assert r["Attributes"] == {**key, "a": n(7), "c": s("new")}
    with expect_error("ValidationException", match="Can not use both expression and "
                      "non-expression parameters in the same request"):
        ddb.put_item(TableName=table, Item=key, Expected={"a": {"Exists": False}},
                     ConditionExpression="attribute_exists(a)")
    with expect_error("ConditionalCheckFailedException"):
        ddb.delete_item(TableName=table, Key=key, ConditionalOperator="OR",
                        Expected={"a": {"ComparisonOperator": "GT", "AttributeValueList": [n(100)]},
                                  "c": {"ComparisonOperator": "NULL"}})
    ddb.delete_item(TableName=table, Key=key, ConditionalOperator="OR",
                    Expected={"a": {"ComparisonOperator": "GT", "AttributeValueList": [n(100)]},
                              "c": {"ComparisonOperator": "NOT_NULL"}})


def test_consumed_capacity(ddb, tables):
    table = tables.create(extra_attributes=[("g", "S")], GlobalSecondaryIndexes=[{
        "IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"}}])
    r = ddb.put_item(TableName=table, Item={"pk": s("a"), "g": s("x"), "d": s("y" * 1500)},
                     ReturnConsumedCapacity="INDEXES")
    cc = r["ConsumedCapacity"]
    assert cc["TableName"] == table
    assert cc["Table"]["CapacityUnits"] == 2.0
    assert cc["GlobalSecondaryIndexes"]["byg"]["CapacityUnits"] == 2.0
    assert cc["CapacityUnits"] == 4.0
    r = ddb.get_item(TableName=table, Key={"pk": s("a")}, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 0.5
    r = ddb.get_item(TableName=table, Key={"pk": s("a")}, ConsistentRead=True,
                     ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 1.0
    r = ddb.delete_item(TableName=table, Key={"pk": s("a")}, ReturnConsumedCapacity="TOTAL")
    assert r["ConsumedCapacity"]["CapacityUnits"] == 4.0


def test_item_collection_metrics_with_lsi(ddb, tables):
    table = tables.create(range_key=("sk", "S"), extra_attributes=[("l", "N")],
                          LocalSecondaryIndexes=[{
                              "IndexName": "byl",
                              "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                            {"AttributeName": "l", "KeyType": "RANGE"}],
                              "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    r = ddb.put_item(TableName=table, Item={"pk": s("p"), "sk": s("1"), "l": n(1)},
                     ReturnItemCollectionMetrics="SIZE")
    assert r["ItemCollectionMetrics"]["ItemCollectionKey"] == {"pk": s("p")}
    assert len(r["ItemCollectionMetrics"]["SizeEstimateRangeGB"]) == 2
