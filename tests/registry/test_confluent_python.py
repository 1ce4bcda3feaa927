"""confluent-kafka-python (Debian 1.7.0) against riffle's registry:
SchemaRegistryClient (register, get_schema, lookup_schema, versions,
compatibility, deletes) and the legacy confluent_kafka.avro
MessageSerializer with python3-avro (encode with auto-registration, decode
by id)."""

import io
import json
import struct

import pytest

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

PAYMENT = {
    "type": "record", "name": "Payment", "namespace": "riffle.test",
    "fields": [
        {"name": "id", "type": "string"},
        {"name": "amount", "type": "double"},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}


@pytest.fixture(scope="module")
def client(registry):
    return SchemaRegistryClient({"url": registry})


def test_register_get_lookup(client, subject):
    schema = Schema(json.dumps(PAYMENT), "AVRO")
    sid = client.register_schema(subject, schema)
    assert isinstance(sid, int) and sid > 0
    assert client.register_schema(subject, schema) == sid
    got = client.get_schema(sid)
    assert json.loads(got.schema_str) == PAYMENT
    assert got.schema_type == "AVRO"
    reg = client.lookup_schema(subject, schema)
    assert reg.schema_id == sid and reg.version == 1 and reg.subject == subject
    latest = client.get_latest_version(subject)
    assert latest.schema_id == sid and latest.version == 1
    assert client.get_versions(subject) == [1]
    assert subject in client.get_subjects()
    assert client.get_version(subject, 1).schema_id == sid


def test_errors_surface_confluent_codes(client, subject):
    with pytest.raises(SchemaRegistryError) as e:
        client.get_schema(987654)
    assert e.value.http_status_code == 404 and e.value.error_code == 40403
    with pytest.raises(SchemaRegistryError) as e:
        client.lookup_schema(subject, Schema(json.dumps(PAYMENT), "AVRO"))
    assert e.value.error_code == 40401
    with pytest.raises(SchemaRegistryError) as e:
        client.register_schema(subject, Schema('{"type": "nope"}', "AVRO"))
    assert e.value.http_status_code == 422 and e.value.error_code == 42201


def test_compatibility_and_deletes(client, subject):
    client.register_schema(subject, Schema(json.dumps(PAYMENT), "AVRO"))
    bad = dict(PAYMENT, fields=PAYMENT["fields"] + [{"name": "x", "type": "int"}])
    assert client.test_compatibility(subject, Schema(json.dumps(bad), "AVRO")) is False
    with pytest.raises(SchemaRegistryError) as e:
        client.register_schema(subject, Schema(json.dumps(bad), "AVRO"))
    assert e.value.http_status_code == 409
    assert client.set_compatibility(subject, "NONE") == {"compatibility": "NONE"}
    client.register_schema(subject, Schema(json.dumps(bad), "AVRO"))
    assert client.get_versions(subject) == [1, 2]
    assert client.delete_version(subject, 2) == 2
    # permanent=True soft-deletes first (answering the live versions), then
    # deletes for good.
    assert client.delete_subject(subject, permanent=True) == [1]
    assert subject not in client.get_subjects()


def test_legacy_avro_message_serializer(registry, subject):
    import avro.io
    import avro.schema
    from confluent_kafka.avro.cached_schema_registry_client import CachedSchemaRegistryClient
    from confluent_kafka.avro.serializer.message_serializer import MessageSerializer

    legacy = CachedSchemaRegistryClient({"url": registry})
    serializer = MessageSerializer(legacy)
    schema = avro.schema.parse(json.dumps(PAYMENT))
    value = {"id": "p-1", "amount": 12.5, "note": "hi"}
    message = serializer.encode_record_with_schema(subject, schema, value)
    assert message[0] == 0
    sid = struct.unpack(">I", message[1:5])[0]
    # The id is the registry's: read back by id with a fresh client.
    fresh = MessageSerializer(CachedSchemaRegistryClient({"url": registry}))
    assert fresh.decode_message(message) == value
    # The payload is plain Avro binary that python's avro reads too.
    reader = avro.io.DatumReader(schema)
    decoded = reader.read(avro.io.BinaryDecoder(io.BytesIO(message[5:])))
    assert decoded == value
    assert SchemaRegistryClient({"url": registry}).get_schema(sid).schema_type == "AVRO"


def test_same_schema_written_differently_keeps_its_id(client, subject):
    # What a Java producer sends (Avro's Schema.toString: "type" first, the
    # namespace split from the name) and what a Python one sends for the same
    # schema: Confluent gives them one id and one version.
    python_style = {
        "name": "riffle.test.Payment",
        "fields": [{"type": "string", "name": "id"}],
        "type": "record",
    }
    java_style = {
        "type": "record", "name": "Payment", "namespace": "riffle.test",
        "fields": [{"name": "id", "type": "string"}],
    }
    sid = client.register_schema(subject, Schema(json.dumps(python_style), "AVRO"))
    assert client.register_schema(subject, Schema(json.dumps(java_style), "AVRO")) == sid
    assert client.get_versions(subject) == [1]
    assert client.register_schema(subject + "-j", Schema(json.dumps(java_style), "AVRO")) == sid
    reg = client.lookup_schema(subject, Schema(json.dumps(java_style), "AVRO"))
    assert reg.schema_id == sid and reg.version == 1
    # Attribute order does not count for a primitive either (a property of
    # its own keeps this test's schema apart from other tests' primitives).
    tag = json.dumps(subject)
    pid = client.register_schema(
        subject + "-p", Schema('{"type": "string", "x-test": %s}' % tag, "AVRO"))
    assert client.register_schema(
        subject + "-q", Schema('{"x-test": %s, "type": "string"}' % tag, "AVRO")) == pid
