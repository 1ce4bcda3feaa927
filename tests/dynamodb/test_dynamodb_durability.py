"""Restarts and kill -9 keep every acknowledged write; TTL expiry with a
fake clock."""

import concurrent.futures
import os
import threading
import time

import pytest

import dynamodb_helpers as dh
from dynamodb_helpers import n, s

pytestmark = pytest.mark.needs_binary


def make_table(c, name, **kw):
    c.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                   AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "g", "AttributeType": "S"}],
                   KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                   GlobalSecondaryIndexes=[{"IndexName": "byg", "KeySchema": [
                       {"AttributeName": "g", "KeyType": "HASH"}],
                       "Projection": {"ProjectionType": "ALL"}}], **kw)


def test_clean_restart_keeps_tables_items_and_indexes(riffle_factory):
    server = riffle_factory()
    c = dh.client(server.aws)
    make_table(c, "durable", Tags=[{"Key": "k", "Value": "v"}])
    for i in range(100):
        c.put_item(TableName="durable", Item={"pk": s(f"k{i}"), "g": s("x"), "v": n(i)})
    c.update_time_to_live(TableName="durable", TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "exp"})
    server.restart()
    c = dh.client(server.aws)
    assert c.scan(TableName="durable", Select="COUNT")["Count"] == 100
    assert c.query(TableName="durable", IndexName="byg", KeyConditionExpression="g = :g",
                   ExpressionAttributeValues={":g": s("x")}, Select="COUNT")["Count"] == 100
    assert c.describe_time_to_live(TableName="durable")["TimeToLiveDescription"][
        "TimeToLiveStatus"] == "ENABLED"


def test_kill9_keeps_every_acknowledged_write(riffle_factory):
    server = riffle_factory()
    c = dh.client(server.aws)
    make_table(c, "crash")
    acked = set()
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        cl = dh.client(server.aws)
        i = 0
        while not stop.is_set():
            key = f"w{w}-{i}"
            try:
                cl.put_item(TableName="crash", Item={"pk": s(key), "g": s("x")})
            except Exception:
                return
            with lock:
                acked.add(key)
            i += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    server.kill9()
    stop.set()
    for t in threads:
        t.join()
    assert len(acked) > 50
    server.start()
    c = dh.client(server.aws)
    found = set()
    for page in c.get_paginator("scan").paginate(TableName="crash"):
        found |= {i["pk"]["S"] for i in page["Items"]}
    assert acked <= found
    indexed = set()
    for page in c.get_paginator("query").paginate(
            TableName="crash", IndexName="byg", KeyConditionExpression="g = :g",
            ExpressionAttributeValues={":g": s("x")}):
        indexed |= {i["pk"]["S"] for i in page["Items"]}
    assert indexed == found


def test_ttl_expiry_with_fake_clock(riffle_factory, tmp_path):
    offset = tmp_path / "offset"
    offset.write_text("0")
    server = riffle_factory(extra_args=["--retention-check-ms", "200"],
                            env={"RIFFLE_FAKE_CLOCK_OFFSET_FILE": str(offset)})
    c = dh.client(server.aws)
    make_table(c, "ttl")
    c.update_time_to_live(TableName="ttl", TimeToLiveSpecification={
        "Enabled": True, "AttributeName": "exp"})
    now = int(time.time())
    c.put_item(TableName="ttl", Item={"pk": s("past"), "exp": n(now - 10)})
    c.put_item(TableName="ttl", Item={"pk": s("future"), "exp": n(now + 3600)})
    c.put_item(TableName="ttl", Item={"pk": s("ancient"), "exp": n(now - 6 * 365 * 86400)})
    c.put_item(TableName="ttl", Item={"pk": s("text"), "exp": s("soon")})
    c.put_item(TableName="ttl", Item={"pk": s("none")})

    def keys():
        return sorted(i["pk"]["S"] for i in c.scan(TableName="ttl")["Items"])

    deadline = time.time() + 10
    while "past" in keys() and time.time() < deadline:
        time.sleep(0.1)
    assert keys() == ["ancient", "future", "none", "text"]
    offset.write_text(str(7200 * 1000))
    deadline = time.time() + 10
    while "future" in keys() and time.time() < deadline:
        time.sleep(0.1)
    assert keys() == ["ancient", "none", "text"]
