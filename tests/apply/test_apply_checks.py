"""`riffle apply` fails a file whole, before changing anything, for every
error that the file and the server's state decide: each test applies a base
stack, then a file that would first change earlier items (a new schema
subject, a new stream, a reshard) and whose LAST item conflicts. The error
names the file, the line and the field; nothing before the conflict was
created or changed (checked through boto3 and the registry's REST API);
`--dry-run` reports the same error.
"""

import json
import urllib.request

import pytest

import apply_helpers

pytestmark = pytest.mark.needs_binary

ORDER_V1 = {"type": "record", "name": "Order",
            "fields": [{"name": "id", "type": "string"}]}
# BACKWARD (the registry's default level) refuses a new field without a
# default: the new reader cannot read the old records.
ORDER_V2 = {"type": "record", "name": "Order",
            "fields": [{"name": "id", "type": "string"},
                       {"name": "amount", "type": "long"}]}

BASE = """\
schemas:
  orders-value: {file: order.avsc}
streams:
  orders: {shards: 1}
tables:
  orders:
    partition_key: {name: id}
    indexes:
      byCustomer:
        partition_key: {name: customer}
  events:
    partition_key: {name: id}
    sort_key: {name: at, type: N}
    ttl: expiresAt
functions:
  store:
    runtime: riffle:avro-to-table
    environment: {TABLE_NAME: orders}
mappings:
  - function: store
    stream: orders
routes:
  getOrder:
    path: /orders/{id}
    action: get_item
    table: orders
"""

# What each conflicting file changes before its last item: a new subject
# registered, a new stream created, `orders` resharded.
EARLIER = """\
schemas:
  extra-value: {file: order.avsc}
streams:
  extra: {shards: 1}
  orders: {shards: 2}
"""


def registry_get(server, path):
    url = server.endpoints["registry"] + path
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def state(server):
    """What the server holds, as the stack file would change it."""
    kinesis = apply_helpers.client(server, "kinesis")
    dynamodb = apply_helpers.client(server, "dynamodb")
    lam = apply_helpers.client(server, "lambda")
    streams = {
        n: kinesis.describe_stream_summary(StreamName=n)[
            "StreamDescriptionSummary"]["OpenShardCount"]
        for n in kinesis.list_streams()["StreamNames"]}
    tables = {}
    for n in dynamodb.list_tables()["TableNames"]:
        t = dynamodb.describe_table(TableName=n)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=n)[
            "TimeToLiveDescription"]
        tables[n] = (t["KeySchema"],
                     sorted(i["IndexName"] for i in
                            t.get("GlobalSecondaryIndexes", []) +
                            t.get("LocalSecondaryIndexes", [])),
                     ttl.get("AttributeName"))
    functions = sorted(f["FunctionName"]
                       for f in lam.list_functions()["Functions"])
    mappings = sorted((m["FunctionArn"], m["EventSourceArn"], m["BatchSize"])
                      for m in lam.list_event_source_mappings()[
                          "EventSourceMappings"])
    subjects = {s: registry_get(server, f"/subjects/{s}/versions")
                for s in registry_get(server, "/subjects")}
    with urllib.request.urlopen(server.http + "/_riffle/routes",
                                timeout=10) as r:
        routes = json.loads(r.read())
    return {"streams": streams, "tables": tables, "functions": functions,
            "mappings": mappings, "subjects": subjects, "routes": routes}


@pytest.fixture
def applied(riffle_factory, tmp_path):
    """A server with BASE applied; (server, the stack's directory)."""
    (tmp_path / "order.avsc").write_text(json.dumps(ORDER_V1))
    (tmp_path / "order-v2.avsc").write_text(json.dumps(ORDER_V2))
    server = riffle_factory()
    base = tmp_path / "base.yaml"
    base.write_text(BASE)
    code, items, out, err = apply_helpers.apply(server, base)
    assert code == 0, out + err
    return server, tmp_path


def line_of(text, needle):
    return text[:text.index(needle)].count("\n") + 1


def expect_refused(applied, text, needle, field, message):
    """Applies `text` (dry run and not) and checks it is refused naming the
    line of `needle`, `field` and `message`, with nothing changed."""
    server, d = applied
    path = d / "stack.yaml"
    path.write_text(text)
    want = f"{path}:{line_of(text, needle)}: {field}: {message}"
    before = state(server)
    assert before["streams"] == {"orders": 1}
    for extra in (["--dry-run"], []):
        code, items, out, err = apply_helpers.apply(server, path, *extra)
        assert code == 1, out + err
        assert want in err, err
        assert items == [], out
        assert state(server) == before
    return before


def test_table_key_that_differs(applied):
    text = EARLIER + """\
tables:
  orders:
    partition_key: {name: orderId}
"""
    expect_refused(applied, text, "  orders:\n    partition", "tables.orders",
                   "exists with key (id S), the stack declares (orderId S); "
                   "riffle does not recreate tables: delete it first")


def test_index_key_that_differs(applied):
    text = EARLIER + """\
tables:
  orders:
    partition_key: {name: id}
    indexes:
      byCustomer:
        partition_key: {name: client}
"""
    expect_refused(applied, text, "  orders:\n    partition",
                   "tables.orders.indexes.byCustomer",
                   "index byCustomer exists with key (customer S), the stack "
                   "declares (client S); delete the index first")


def test_local_index_on_an_existing_table(applied):
    text = EARLIER + """\
tables:
  events:
    partition_key: {name: id}
    sort_key: {name: at, type: N}
    ttl: expiresAt
    indexes:
      byKind:
        partition_key: {name: id}
        sort_key: {name: kind}
        local: true
"""
    expect_refused(applied, text, "  events:", "tables.events.indexes.byKind",
                   "local index byKind can only be created with the table: "
                   "delete the table first, or make it global")


def test_ttl_attribute_change(applied):
    text = EARLIER + """\
tables:
  events:
    partition_key: {name: id}
    sort_key: {name: at, type: N}
    ttl: deleteAt
"""
    expect_refused(applied, text, "  events:", "tables.events.ttl",
                   "TTL is enabled on expiresAt, the stack declares deleteAt")


def test_more_global_indexes_than_dynamodb_allows(applied):
    indexes = "".join(f"      i{n}: {{partition_key: {{name: a{n}}}}}\n"
                      for n in range(21))
    text = EARLIER + "tables:\n  wide:\n    partition_key: {name: id}\n" \
        "    indexes:\n" + indexes
    expect_refused(applied, text, "  wide:", "tables.wide.indexes",
                   "21 global indexes: DynamoDB allows 20 per table")


def test_function_code_directory_missing(applied):
    server, d = applied
    text = EARLIER + """\
functions:
  handler:
    runtime: provided.al2
    code: gone
"""
    expect_refused(applied, text, "  handler:", "functions.handler",
                   f"{d / 'gone'} is not a directory")


def test_function_configuration_lambda_would_refuse(applied):
    server, d = applied
    (d / "node").mkdir()
    (d / "node" / "index.js").write_text("exports.handler = async () => 1;\n")
    text = EARLIER + """\
functions:
  handler:
    runtime: nodejs20.x
    code: node
"""
    expect_refused(applied, text, "  handler:", "functions.handler",
                   "Handler is required for runtime nodejs20.x")


def test_mapping_stream_neither_existing_nor_declared(applied):
    text = EARLIER + """\
mappings:
  - function: store
    stream: nowhere
"""
    expect_refused(applied, text, "  - function", "mappings[0].stream",
                   "stream nowhere does not exist and the file does not "
                   "declare it")


def test_mapping_failure_stream_neither_existing_nor_declared(applied):
    text = EARLIER + """\
mappings:
  - function: store
    stream: extra
    on_failure: dead-letters
"""
    expect_refused(applied, text, "  - function", "mappings[0].on_failure",
                   "stream dead-letters does not exist and the file does not "
                   "declare it")


def test_mapping_function_neither_existing_nor_declared(applied):
    text = EARLIER + """\
mappings:
  - function: ghost
    stream: extra
"""
    expect_refused(applied, text, "  - function", "mappings[0].function",
                   "function ghost does not exist and the file does not "
                   "declare it")


def test_route_table_index_or_function_that_is_not_there(applied):
    routes = {
        "table": ("  byId:\n    path: /things/{id}\n    action: get_item\n"
                  "    table: things\n",
                  "routes.byId.table",
                  "table things does not exist and the file does not "
                  "declare it"),
        "index": ("  byId:\n    path: /o/{customer}\n    action: query\n"
                  "    table: orders\n    index: byStatus\n",
                  "routes.byId.index", "table orders has no index byStatus"),
        "function": ("  byId:\n    path: /hook\n    method: POST\n"
                     "    function: ghost\n",
                     "routes.byId.function",
                     "function ghost does not exist and the file does not "
                     "declare it"),
    }
    for route, field, message in routes.values():
        text = EARLIER + "routes:\n" + route
        expect_refused(applied, text, "  byId:", field, message)


def test_schema_the_registry_would_refuse(applied):
    text = """\
schemas:
  extra-value: {file: order.avsc}
  orders-value: {file: order-v2.avsc}
streams:
  extra: {shards: 1}
  orders: {shards: 2}
"""
    before = expect_refused(
        applied, text, "  orders-value:", "schemas.orders-value",
        'Schema being registered is incompatible with an earlier schema for '
        'subject "orders-value", details: [')
    assert before["subjects"] == {"orders-value": [1]}

    # A level that accepts it, set by the same file, judges it instead.
    server, d = applied
    path = d / "stack.yaml"
    path.write_text(text.replace("{file: order-v2.avsc}",
                                 "{file: order-v2.avsc, compatibility: NONE}"))
    code, items, out, err = apply_helpers.apply(server, path)
    assert code == 0, out + err
    assert state(server)["subjects"]["orders-value"] == [1, 2]


def test_conflict_free_file_applies(applied):
    # The earlier items on their own apply: the refusals above were the
    # last items' doing.
    server, d = applied
    path = d / "stack.yaml"
    path.write_text(EARLIER)
    code, items, out, err = apply_helpers.apply(server, path)
    assert code == 0, out + err
    after = state(server)
    assert after["streams"] == {"orders": 2, "extra": 1}
    assert "extra-value" in after["subjects"]


def test_server_stack_reshards_in_steps(riffle_factory, tmp_path):
    # `riffle server --stack` scales 1 -> 5 shards in steps of at most
    # double, as AWS allows per call (and as `riffle apply` does).
    stack = tmp_path / "stack.yaml"
    stack.write_text("streams:\n  s: {shards: 1}\n")
    server = riffle_factory(extra_args=["--stack", str(stack)])
    server.stop()
    stack.write_text("streams:\n  s: {shards: 5}\n")
    server.start()
    assert "updated stream s: 1 -> 5 shards" in server.log()
    assert state(server)["streams"] == {"s": 5}
