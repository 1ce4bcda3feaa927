"""Table operations with boto3: CreateTable's checks in AWS's wording,
DescribeTable, ListTables pagination, DeleteTable, tags, TTL settings,
DescribeLimits and DescribeEndpoints."""

import pytest

from dynamodb_helpers import ACCOUNT, REGION, expect_error, n, s


def test_create_describe_delete(ddb, tables):
    name = tables.create(range_key=("sk", "N"), StreamSpecification={
        "StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        Tags=[{"Key": "team", "Value": "core"}])
    t = ddb.describe_table(TableName=name)["Table"]
    assert t["TableStatus"] == "ACTIVE"
    assert t["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                              {"AttributeName": "sk", "KeyType": "RANGE"}]
    assert t["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert t["TableArn"] == f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    assert t["StreamSpecification"]["StreamViewType"] == "NEW_IMAGE"
    assert t["ItemCount"] == 0
    with expect_error("ResourceInUseException"):
        tables.create(name=name)
    d = ddb.delete_table(TableName=name)["TableDescription"]
    assert d["TableStatus"] == "DELETING"
    with expect_error("ResourceNotFoundException",
                      f"Requested resource not found: Table: {name} not found"):
        ddb.describe_table(TableName=name)
    # A table re-created under the same name starts empty.
    tables.create(name=name)
    ddb.put_item(TableName=name, Item={"pk": s("a")})
    assert ddb.scan(TableName=name)["Count"] == 1


def test_list_tables_pagination(ddb, tables):
    names = sorted(tables.create(name=f"{tables.name()}-{i}") for i in range(5))
    all_names = []
    start = None
    while True:
        kw = {"ExclusiveStartTableName": start} if start else {}
        r = ddb.list_tables(Limit=2, **kw)
        assert len(r["TableNames"]) <= 2
        all_names += r["TableNames"]
        start = r.get("LastEvaluatedTableName")
        if not start:
            break
    assert all(x in all_names for x in names)
    assert all_names == sorted(all_names)


CREATE_CASES = [
    ("hash-not-first", dict(KeySchema=[{"AttributeName": "a", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}]),
     "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"),
    ("undefined-key", dict(KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "b", "AttributeType": "S"}]),
     "One or more parameter values were invalid: Some index key attributes are not defined in "
     "AttributeDefinitions. Keys: [a], AttributeDefinitions: [b]"),
    ("extra-definition", dict(KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"},
                                                    {"AttributeName": "b", "AttributeType": "S"}]),
     "One or more parameter values were invalid: Number of attributes in KeySchema does not "
     "exactly match number of attributes defined in AttributeDefinitions"),
    ("no-throughput", dict(KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"}],
                           BillingMode="PROVISIONED"),
     "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must "
     "both be specified when BillingMode is PROVISIONED"),
    ("lsi-without-range", dict(
        KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"},
                              {"AttributeName": "b", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        LocalSecondaryIndexes=[{"IndexName": "lsi", "KeySchema": [
            {"AttributeName": "a", "KeyType": "HASH"}, {"AttributeName": "b", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"}}]),
     "One or more parameter values were invalid: Table KeySchema does not have a range key, "
     "which is required when specifying a LocalSecondaryIndex"),
    ("include-without-attrs", dict(
        KeySchema=[{"AttributeName": "a", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "a", "AttributeType": "S"},
                              {"AttributeName": "b", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        GlobalSecondaryIndexes=[{"IndexName": "gsi", "KeySchema": [
            {"AttributeName": "b", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "INCLUDE"}}]),
     "One or more parameter values were invalid: ProjectionType is INCLUDE, but "
     "NonKeyAttributes is not specified"),
]


@pytest.mark.parametrize("case,args,message", CREATE_CASES, ids=[c[0] for c in CREATE_CASES])
def test_create_table_validation(unchecked, tables, case, args, message):
    with expect_error("ValidationException", message):
        unchecked.create_table(TableName=tables.name(), **args)


def test_create_table_member_constraints(unchecked):
    with expect_error("ValidationException", match=r"^1 validation error detected: Value 'ab' at "
                      r"'tableName' failed to satisfy constraint: Member must have length greater "
                      r"than or equal to 3$"):
        unchecked.describe_table(TableName="ab")


def test_tags(ddb, tables):
    name = tables.create()
    arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    with expect_error("ResourceNotFoundException"):
        ddb.list_tags_of_resource(ResourceArn=arn + "x")
    with expect_error("ValidationException"):
        ddb.list_tags_of_resource(ResourceArn="not-an-arn")


def test_ttl_settings(ddb, tables):
    name = tables.create()
    d = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert d == {"TimeToLiveStatus": "DISABLED"}
    r = ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "expires"})
    assert r["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "expires"}
    d = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert d == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires"}
    with expect_error("ValidationException", "TimeToLive is already enabled"):
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "expires"})


def test_limits_and_endpoints(ddb):
    limits = ddb.describe_limits()
    assert limits["TableMaxWriteCapacityUnits"] == 40000
    endpoints = ddb.describe_endpoints()["Endpoints"]
    assert endpoints[0]["CachePeriodInMinutes"] == 1440
