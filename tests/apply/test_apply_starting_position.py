"""A mapping's starting position cannot change once it exists (Lambda's
UpdateEventSourceMapping cannot change StartingPosition either): a stack
file declaring another one is an error naming the file, the line and the
field, from `riffle apply` (the remote backend, dry run too) and from
`riffle server --stack` (the in-process one), and it is found before
anything else in the file is changed.
"""

import subprocess

import pytest

import apply_helpers  # noqa: E402

pytestmark = pytest.mark.needs_binary

# Line numbers matter: the errors name them.
STACK = """\
streams:
  orders: {shards: 1}
  audit: {shards: 1}
functions:
  store:
    runtime: riffle:avro-to-table
    environment: {TABLE: t}
mappings:
  - function: store
    stream: orders
    starting_position: TRIM_HORIZON
  - function: store
    stream: audit
    starting_position: AT_TIMESTAMP
    starting_position_timestamp: "1714564800.123"
"""


def apply(server, stack, *extra):
    """(exit code, the item lines, stdout + stderr) of `riffle apply`."""
    code, items, out, err = apply_helpers.apply(server, stack, *extra)
    return code, items, out + err


client = apply_helpers.client


def mappings(server):
    lam = client(server, "lambda")
    return {m["EventSourceArn"].rsplit("/", 1)[-1]: lam.get_event_source_mapping(
        UUID=m["UUID"]) for m in lam.list_event_source_mappings(
            FunctionName="store")["EventSourceMappings"]}


def shards(server, stream):
    return client(server, "kinesis").describe_stream_summary(
        StreamName=stream)["StreamDescriptionSummary"]["OpenShardCount"]


@pytest.fixture
def path(tmp_path):
    p = tmp_path / "stack.yaml"
    p.write_text(STACK)
    return p


def test_apply_refuses_another_starting_position_before_changing_anything(
        riffle_factory, path):
    server = riffle_factory()
    code, items, out = apply(server, path)
    assert code == 0, out
    # The fractional timestamp went through Lambda's seconds and back
    # unchanged: a second apply finds nothing to do.
    code, items, out = apply(server, path)
    assert code == 0, out
    assert all(i.startswith("unchanged: ") for i in items), out
    before = mappings(server)
    assert before["orders"]["StartingPosition"] == "TRIM_HORIZON"

    # Another starting position, and a change to a stream before it in the
    # file: the error comes first, the stream is left as it was.
    path.write_text(STACK.replace("starting_position: TRIM_HORIZON",
                                  "starting_position: LATEST")
                    .replace("audit: {shards: 1}", "audit: {shards: 2}"))
    uuid = before["orders"]["UUID"]
    for extra in ([], ["--dry-run"]):
        code, items, out = apply(server, path, *extra)
        assert code == 1, out
        assert (f"{path}:11: mappings[0].starting_position: mapping orders "
                "-> store: starting_position cannot change for an existing "
                "mapping (it is TRIM_HORIZON, the file declares LATEST); "
                "delete the mapping (aws lambda delete-event-source-mapping "
                f"--uuid {uuid}), then apply again") in out, out
        assert items == [], out
        assert shards(server, "audit") == 1
        assert mappings(server)["orders"]["StartingPosition"] == "TRIM_HORIZON"

    # Another timestamp is refused the same way, naming its own line.
    path.write_text(STACK.replace('"1714564800.123"',
                                  "2024-05-01T12:00:01Z"))
    code, items, out = apply(server, path)
    assert code == 1, out
    assert (f"{path}:15: mappings[1].starting_position_timestamp: mapping "
            "audit -> store: starting_position_timestamp cannot change for an "
            "existing mapping (it is AT_TIMESTAMP 2024-05-01T12:00:00.123Z, "
            "the file declares AT_TIMESTAMP 2024-05-01T12:00:01Z)") in out, out

    # The way out the message gives: delete, apply again.
    client(server, "lambda").delete_event_source_mapping(UUID=uuid)
    path.write_text(STACK.replace("starting_position: TRIM_HORIZON",
                                  "starting_position: LATEST"))
    code, items, out = apply(server, path)
    assert code == 0, out
    assert mappings(server)["orders"]["StartingPosition"] == "LATEST"


def test_server_stack_refuses_another_starting_position(riffle_factory, path):
    server = riffle_factory(extra_args=["--stack", str(path)])
    assert mappings(server)["orders"]["StartingPosition"] == "TRIM_HORIZON"
    server.stop()

    path.write_text(STACK.replace("starting_position: TRIM_HORIZON",
                                  "starting_position: LATEST")
                    .replace("audit: {shards: 1}", "audit: {shards: 2}"))
    server.extra_args = []
    r = subprocess.run(server.command() + ["--stack", str(path)],
                       capture_output=True, timeout=60)
    err = r.stdout.decode() + r.stderr.decode()
    assert r.returncode == 1, err
    assert (f"{path}:11: mappings[0].starting_position: mapping orders -> "
            "store: starting_position cannot change for an existing mapping "
            "(it is TRIM_HORIZON, the file declares LATEST)") in err, err

    server.start()
    assert shards(server, "audit") == 1
    assert mappings(server)["orders"]["StartingPosition"] == "TRIM_HORIZON"
