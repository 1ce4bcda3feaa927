"""BatchGetItem, BatchWriteItem, TransactWriteItems and TransactGetItems with
boto3: limits, duplicates, cancellation reasons, idempotency tokens and
conflicting concurrent transactions."""

import concurrent.futures

import pytest

import dynamodb_helpers as dh
from dynamodb_helpers import expect_error, n, s


@pytest.fixture
def table(tables):
    return tables.create()


def test_batch_write_and_get(ddb, table, tables):
    other = tables.create(hash_key=("id", "N"))
    ddb.batch_write_item(RequestItems={
        table: [{"PutRequest": {"Item": {"pk": s(f"k{i}"), "v": n(i)}}} for i in range(20)],
        other: [{"PutRequest": {"Item": {"id": n(1)}}}]})
    r = ddb.batch_write_item(RequestItems={
        table: [{"DeleteRequest": {"Key": {"pk": s("k0")}}}]}, ReturnConsumedCapacity="TOTAL")
    assert r["UnprocessedItems"] == {}
    assert r["ConsumedCapacity"][0]["CapacityUnits"] == 1.0
    r = ddb.batch_get_item(RequestItems={
        table: {"Keys": [{"pk": s(f"k{i}")} for i in range(5)], "ProjectionExpression": "v"},
        other: {"Keys": [{"id": n(1)}, {"id": n(2)}]}})
    assert sorted(int(i["v"]["N"]) for i in r["Responses"][table]) == [1, 2, 3, 4]
    assert r["Responses"][other] == [{"id": n(1)}]
    assert r["UnprocessedKeys"] == {}


def test_batch_limits_and_duplicates(ddb, table):
    with expect_error("ValidationException", match="Too many items requested for the "
                      "BatchGetItem call"):
        ddb.batch_get_item(RequestItems={
            table: {"Keys": [{"pk": s(f"k{i}")} for i in range(60)]},
            "other-table": {"Keys": [{"pk": s(f"k{i}")} for i in range(41)]}})
    with expect_error("ValidationException", match="BatchWriteItem|length less than or equal to 25"):
        ddb.batch_write_item(RequestItems={
            table: [{"PutRequest": {"Item": {"pk": s(f"k{i}")}}} for i in range(26)]})
    with expect_error("ValidationException", "Provided list of item keys contains duplicates"):
        ddb.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": {"pk": s("d")}}}, {"DeleteRequest": {"Key": {"pk": s("d")}}}]})
    with expect_error("ResourceNotFoundException"):
        ddb.batch_write_item(RequestItems={"missing-table": [
            {"PutRequest": {"Item": {"pk": s("d")}}}]})


def test_batch_write_with_an_invalid_item_writes_nothing(ddb, tables):
    """DynamoDB validates every request of a BatchWriteItem before writing
    any: an oversized item or a GSI key of the wrong type rejects the whole
    batch, and the valid requests beside it are not applied either."""
    table = tables.create(
        extra_attributes=[("g", "S")],
        GlobalSecondaryIndexes=[{
            "IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"}}])
    ddb.put_item(TableName=table, Item={"pk": s("keep")})
    valid = [{"PutRequest": {"Item": {"pk": s("new")}}},
             {"DeleteRequest": {"Key": {"pk": s("keep")}}}]
    with expect_error("ValidationException", "Item size has exceeded the maximum allowed size"):
        ddb.batch_write_item(RequestItems={table: valid + [
            {"PutRequest": {"Item": {"pk": s("big"), "v": s("x" * (400 * 1024))}}}]})
    with expect_error("ValidationException", match="Type mismatch for Index Key g"):
        ddb.batch_write_item(RequestItems={table: valid + [
            {"PutRequest": {"Item": {"pk": s("bad"), "g": n(1)}}}]})
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": s("new")}, ConsistentRead=True)
    assert "Item" in ddb.get_item(TableName=table, Key={"pk": s("keep")}, ConsistentRead=True)


def test_transact_write_all_or_nothing(ddb, table):
    ddb.put_item(TableName=table, Item={"pk": s("acct1"), "bal": n(100)})
    ddb.put_item(TableName=table, Item={"pk": s("acct2"), "bal": n(0)})
    ddb.transact_write_items(TransactItems=[
        {"Update": {"TableName": table, "Key": {"pk": s("acct1")},
                    "UpdateExpression": "SET bal = bal - :v", "ConditionExpression": "bal >= :v",
                    "ExpressionAttributeValues": {":v": n(60)}}},
        {"Update": {"TableName": table, "Key": {"pk": s("acct2")},
                    "UpdateExpression": "SET bal = bal + :v",
                    "ExpressionAttributeValues": {":v": n(60)}}},
        {"Put": {"TableName": table, "Item": {"pk": s("log1")}}},
    ])
    with expect_error("TransactionCanceledException",
                      "Transaction cancelled, please refer cancellation reasons for specific "
                      "reasons [ConditionalCheckFailed, None, None]"):
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": table, "Key": {"pk": s("acct1")},
                        "UpdateExpression": "SET bal = bal - :v",
                        "ConditionExpression": "bal >= :v",
                        "ExpressionAttributeValues": {":v": n(60)}}},
            {"Update": {"TableName": table, "Key": {"pk": s("acct2")},
                        "UpdateExpression": "SET bal = bal + :v",
                        "ExpressionAttributeValues": {":v": n(60)}}},
            {"Delete": {"TableName": table, "Key": {"pk": s("log1")}}},
        ])
    reasons = expect_error.last.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["ConditionalCheckFailed", "None", "None"]
    got = ddb.transact_get_items(TransactItems=[
        {"Get": {"TableName": table, "Key": {"pk": s("acct1")}}},
        {"Get": {"TableName": table, "Key": {"pk": s("acct2")}}},
        {"Get": {"TableName": table, "Key": {"pk": s("log1")}}},
        {"Get": {"TableName": table, "Key": {"pk": s("nobody")}}}])["Responses"]
    assert [g.get("Item", {}).get("bal") for g in got] == [n(40), n(60), None, None]
    assert "Item" in got[2] and "Item" not in got[3]


def test_transact_condition_check_and_validation(ddb, table):
    with expect_error("TransactionCanceledException"):
        ddb.transact_write_items(TransactItems=[
            {"ConditionCheck": {"TableName": table, "Key": {"pk": s("x")},
                                "ConditionExpression": "attribute_exists(pk)"}},
            {"Put": {"TableName": table, "Item": {"pk": s("y")}}}])
    assert "Item" not in ddb.get_item(TableName=table, Key={"pk": s("y")})
    with expect_error("ValidationException", "Transaction request cannot include multiple "
                      "operations on one item"):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": table, "Item": {"pk": s("y")}}},
            {"Delete": {"TableName": table, "Key": {"pk": s("y")}}}])


def test_transact_idempotency_token(ddb, table):
    items = [{"Update": {"TableName": table, "Key": {"pk": s("ctr")},
                         "UpdateExpression": "ADD c :one",
                         "ExpressionAttributeValues": {":one": n(1)}}}]
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="tok-1")
    ddb.transact_write_items(TransactItems=items, ClientRequestToken="tok-1")
    assert ddb.get_item(TableName=table, Key={"pk": s("ctr")})["Item"]["c"] == n(1)
    with expect_error("IdempotentParameterMismatchException"):
        ddb.transact_write_items(TransactItems=[{"Put": {"TableName": table,
                                                         "Item": {"pk": s("other")}}}],
                                 ClientRequestToken="tok-1")


def test_conflicting_transactions_are_serializable(riffle, table):
    """Concurrent transfers between the same accounts never lose money."""
    ddb = dh.client(riffle.aws)
    accounts = [f"a{i}" for i in range(4)]
    for a in accounts:
        ddb.put_item(TableName=table, Item={"pk": s(a), "bal": n(1000)})

    def transfer(i):
        c = dh.client(riffle.aws)
        src, dst = accounts[i % 4], accounts[(i + 1) % 4]
        done = 0
        for _ in range(15):
            try:
                c.transact_write_items(TransactItems=[
                    {"Update": {"TableName": table, "Key": {"pk": s(src)},
                                "UpdateExpression": "SET bal = bal - :v",
                                "ConditionExpression": "bal >= :v",
                                "ExpressionAttributeValues": {":v": n(7)}}},
                    {"Update": {"TableName": table, "Key": {"pk": s(dst)},
                                "UpdateExpression": "SET bal = bal + :v",
                                "ExpressionAttributeValues": {":v": n(7)}}}])
                done += 1
            except c.exceptions.TransactionCanceledException:
                pass
        return done

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(transfer, range(8)))
    total = sum(int(ddb.get_item(TableName=table, Key={"pk": s(a)})["Item"]["bal"]["N"])
                for a in accounts)
    assert total == 4000
