"""Query and Scan with boto3: key conditions in DynamoDB's order, filters,
projections, Select, Limit and pagination at its boundaries, segments,
secondary indexes (KEYS_ONLY, INCLUDE, ALL) and GSI backfill by
UpdateTable."""

import pytest

from dynamodb_helpers import expect_error, n, s


@pytest.fixture
def numbers(ddb, tables):
    table = tables.create(range_key=("sk", "N"))
    for i in range(30):
        ddb.put_item(TableName=table, Item={"pk": s("p"), "sk": n(i - 10),
                                            "odd": {"BOOL": i % 2 == 1}, "i": n(i)})
    ddb.put_item(TableName=table, Item={"pk": s("other"), "sk": n(0)})
    return table


def keys(items):
    return [int(i["sk"]["N"]) for i in items]


def query(ddb, table, cond, values, **kw):
    return ddb.query(TableName=table, KeyConditionExpression=cond,
                     ExpressionAttributeValues=values, **kw)


def test_key_conditions(ddb, numbers):
    p = s("p")
    assert keys(query(ddb, numbers, "pk = :p", {":p": p})["Items"]) == list(range(-10, 20))
    assert keys(query(ddb, numbers, "pk = :p AND sk < :v", {":p": p, ":v": n(-8)})["Items"]) \
        == [-10, -9]
    assert keys(query(ddb, numbers, "pk = :p AND sk <= :v", {":p": p, ":v": n(-8)})["Items"]) \
        == [-10, -9, -8]
    assert keys(query(ddb, numbers, "pk = :p AND sk > :v", {":p": p, ":v": n(17)})["Items"]) \
        == [18, 19]
    assert keys(query(ddb, numbers, "pk = :p AND sk >= :v", {":p": p, ":v": n("17.5")})["Items"]) \
        == [18, 19]
    assert keys(query(ddb, numbers, "pk = :p AND sk BETWEEN :a AND :b",
                      {":p": p, ":a": n(-1), ":b": n(1)})["Items"]) == [-1, 0, 1]
    r = query(ddb, numbers, "pk = :p", {":p": p}, ScanIndexForward=False, Limit=3)
    assert keys(r["Items"]) == [19, 18, 17]
    assert r["LastEvaluatedKey"] == {"pk": p, "sk": n(17)}


def test_filter_projection_select(ddb, numbers):
    r = query(ddb, numbers, "pk = :p", {":p": s("p"), ":t": {"BOOL": True}},
              FilterExpression="odd = :t", ProjectionExpression="sk")
    assert r["Count"] == 15 and r["ScannedCount"] == 30
    assert all(set(i) == {"sk"} for i in r["Items"])
    r = query(ddb, numbers, "pk = :p", {":p": s("p")}, Select="COUNT")
    assert r["Count"] == 30 and "Items" not in r
    with expect_error("ValidationException", match="ALL_PROJECTED_ATTRIBUTES"):
        query(ddb, numbers, "pk = :p", {":p": s("p")}, Select="ALL_PROJECTED_ATTRIBUTES")
    with expect_error("ValidationException", match="SPECIFIC_ATTRIBUTES"):
        query(ddb, numbers, "pk = :p", {":p": s("p")}, Select="SPECIFIC_ATTRIBUTES")
    # A filter on a missing attribute matches nothing and is cheap.
    r = query(ddb, numbers, "pk = :p", {":p": s("p"), ":x": n(1)}, FilterExpression="nope > :x")
    assert r["Count"] == 0


def test_pagination_boundaries(ddb, numbers):
    seen = []
    start = None
    pages = 0
    while True:
        kw = {"ExclusiveStartKey": start} if start else {}
        r = query(ddb, numbers, "pk = :p", {":p": s("p")}, Limit=10, **kw)
        seen += keys(r["Items"])
        pages += 1
        start = r.get("LastEvaluatedKey")
        if not start:
            break
    assert seen == list(range(-10, 20))
    assert pages in (3, 4)  # DynamoDB may end on an empty page
    paginator = ddb.get_paginator("scan")
    items = [i for page in paginator.paginate(TableName=numbers, PaginationConfig={"PageSize": 7})
             for i in page["Items"]]
    assert len(items) == 31


def test_legacy_key_conditions_and_filters(ddb, numbers):
    r = ddb.query(TableName=numbers, KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [s("p")]},
        "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [n(0), n(3)]}},
        QueryFilter={"odd": {"ComparisonOperator": "EQ", "AttributeValueList": [{"BOOL": True}]}},
        AttributesToGet=["sk"])
    assert r["Items"] == [{"sk": n(1)}, {"sk": n(3)}]
    r = ddb.scan(TableName=numbers, ScanFilter={
        "i": {"ComparisonOperator": "IN", "AttributeValueList": [n(1), n(2), n(40)]}})
    assert sorted(int(i["i"]["N"]) for i in r["Items"]) == [1, 2]


def test_scan_segments_cover_the_table(ddb, numbers):
    total = []
    for seg in range(4):
        r = ddb.scan(TableName=numbers, Segment=seg, TotalSegments=4)
        total += r["Items"]
    assert len(total) == 31
    with expect_error("ValidationException", match="Segment: 4 is not less than TotalSegments: 4"):
        ddb.scan(TableName=numbers, Segment=4, TotalSegments=4)


def test_query_validation(ddb, numbers):
    with expect_error("ValidationException", "Query condition missed key schema element: pk"):
        query(ddb, numbers, "sk = :v", {":v": n(1)})
    with expect_error("ValidationException", match="Condition parameter type does not match"):
        query(ddb, numbers, "pk = :v", {":v": n(1)})
    with expect_error("ValidationException", match="Either the KeyConditions or "
                      "KeyConditionExpression parameter must be specified"):
        ddb.query(TableName=numbers)


@pytest.fixture
def indexed(ddb, tables):
    table = tables.create(
        range_key=("sk", "S"),
        extra_attributes=[("g", "S"), ("gs", "N"), ("l", "N")],
        GlobalSecondaryIndexes=[
            {"IndexName": "all", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                               {"AttributeName": "gs", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}},
            {"IndexName": "keys", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}},
            {"IndexName": "incl", "KeySchema": [{"AttributeName": "gs", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]}},
        ],
        LocalSecondaryIndexes=[
            {"IndexName": "local", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                 {"AttributeName": "l", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}}])
    for i in range(6):
        item = {"pk": s(f"p{i % 2}"), "sk": s(f"s{i}"), "x": n(i), "y": n(i)}
        if i != 5:  # sparse: item 5 has no index keys
            item.update({"g": s("G"), "gs": n(10 - i), "l": n(i)})
        ddb.put_item(TableName=table, Item=item)
    return table


def test_gsi_and_lsi_queries(ddb, indexed):
    d = ddb.describe_table(TableName=indexed)["Table"]
    assert {i["IndexName"] for i in d["GlobalSecondaryIndexes"]} == {"all", "keys", "incl"}
    assert d["LocalSecondaryIndexes"][0]["IndexName"] == "local"
    assert d["ItemCount"] == 6
    r = ddb.query(TableName=indexed, IndexName="all", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": s("G")})
    assert [int(i["gs"]["N"]) for i in r["Items"]] == [6, 7, 8, 9, 10]
    assert "y" in r["Items"][0]
    r = ddb.query(TableName=indexed, IndexName="keys", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": s("G")})
    assert r["Count"] == 5
    assert set(r["Items"][0]) == {"pk", "sk", "g"}
    r = ddb.query(TableName=indexed, IndexName="incl", KeyConditionExpression="gs = :v",
                  ExpressionAttributeValues={":v": n(9)})
    assert r["Items"] == [{"pk": s("p1"), "sk": s("s1"), "gs": n(9), "x": n(1)}]
    r = ddb.query(TableName=indexed, IndexName="local",
                  KeyConditionExpression="pk = :p AND l > :l",
                  ExpressionAttributeValues={":p": s("p0"), ":l": n(0)})
    assert [i["sk"]["S"] for i in r["Items"]] == ["s2", "s4"]
    r = ddb.query(TableName=indexed, IndexName="local", Select="ALL_ATTRIBUTES",
                  KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": s("p0")})
    assert "y" in r["Items"][0]
    with expect_error("ValidationException", match="not supported for global secondary index"):
        ddb.query(TableName=indexed, IndexName="keys", Select="ALL_ATTRIBUTES",
                  KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": s("G")})
    with expect_error("ValidationException",
                      "Consistent reads are not supported on global secondary indexes"):
        ddb.query(TableName=indexed, IndexName="all", ConsistentRead=True,
                  KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": s("G")})
    # Index pagination: LastEvaluatedKey carries table and index keys.
    r = ddb.query(TableName=indexed, IndexName="all", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": s("G")}, Limit=2)
    assert set(r["LastEvaluatedKey"]) == {"pk", "sk", "g", "gs"}
    r2 = ddb.query(TableName=indexed, IndexName="all", KeyConditionExpression="g = :g",
                   ExpressionAttributeValues={":g": s("G")}, ExclusiveStartKey=r["LastEvaluatedKey"])
    assert [int(i["gs"]["N"]) for i in r2["Items"]] == [8, 9, 10]
    assert ddb.scan(TableName=indexed, IndexName="keys")["Count"] == 5


def test_index_maintained_on_update_and_delete(ddb, indexed):
    ddb.update_item(TableName=indexed, Key={"pk": s("p0"), "sk": s("s0")},
                    UpdateExpression="SET gs = :v", ExpressionAttributeValues={":v": n(100)})
    r = ddb.query(TableName=indexed, IndexName="all", KeyConditionExpression="g = :g AND gs > :v",
                  ExpressionAttributeValues={":g": s("G"), ":v": n(9)})
    assert [int(i["gs"]["N"]) for i in r["Items"]] == [100]
    ddb.update_item(TableName=indexed, Key={"pk": s("p0"), "sk": s("s0")},
                    UpdateExpression="REMOVE g")
    ddb.delete_item(TableName=indexed, Key={"pk": s("p1"), "sk": s("s1")})
    r = ddb.query(TableName=indexed, IndexName="keys", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": s("G")})
    assert sorted(i["sk"]["S"] for i in r["Items"]) == ["s2", "s3", "s4"]
    with expect_error("ValidationException", match="Type mismatch for Index Key gs"):
        ddb.put_item(TableName=indexed, Item={"pk": s("z"), "sk": s("z"), "gs": s("text")})


def test_update_table_creates_and_deletes_gsi(ddb, tables):
    table = tables.create()
    for i in range(50):
        ddb.put_item(TableName=table, Item={"pk": s(f"k{i}"), "color": s("red" if i % 5 else "blue")})
    d = ddb.update_table(TableName=table, AttributeDefinitions=[
        {"AttributeName": "color", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {
            "IndexName": "bycolor", "KeySchema": [{"AttributeName": "color", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"}}}])["TableDescription"]
    assert d["GlobalSecondaryIndexes"][0]["IndexName"] == "bycolor"
    r = ddb.query(TableName=table, IndexName="bycolor", KeyConditionExpression="color = :c",
                  ExpressionAttributeValues={":c": s("blue")})
    assert r["Count"] == 10
    ddb.update_table(TableName=table, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "bycolor"}}])
    with expect_error("ValidationException", match="does not have the specified index"):
        ddb.query(TableName=table, IndexName="bycolor", KeyConditionExpression="color = :c",
                  ExpressionAttributeValues={":c": s("blue")})
    d = ddb.update_table(TableName=table, BillingMode="PROVISIONED",
                         ProvisionedThroughput={"ReadCapacityUnits": 5,
                                                "WriteCapacityUnits": 6})["TableDescription"]
    assert d["ProvisionedThroughput"]["WriteCapacityUnits"] == 6
    with expect_error("ValidationException", match="At least one of"):
        ddb.update_table(TableName=table)
