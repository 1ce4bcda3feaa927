"""The Confluent REST API v1 with plain HTTP (requests), as curl would use
it: every documented error case with its error_code and HTTP status, the
semantics of ids, versions, deletes, references, config and mode, and
durability across restart and kill -9."""

import json
import uuid

import pytest
import requests

from registry_helpers import Rest, V1


def record(name, *fields):
    return json.dumps({"type": "record", "name": name,
                       "fields": [dict(f) for f in fields]})


A = record("Payment", {"name": "id", "type": "string"})
# Adds a field with a default: compatible both ways with A.
A2 = record("Payment", {"name": "id", "type": "string"},
            {"name": "amount", "type": "double", "default": 0})
# Adds a field without a default: not BACKWARD compatible with A.
A_BAD = record("Payment", {"name": "id", "type": "string"},
               {"name": "amount", "type": "double"})
# id as an int: A cannot read it, and it cannot read A.
A_INT = record("Payment", {"name": "id", "type": "int"})


def err(resp, status, code):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert resp.headers["Content-Type"].startswith("application/"), resp.headers
    return body["message"]


def register(rest, subject, schema, **extra):
    r = rest.post(f"/subjects/{subject}/versions", {"schema": schema, **extra})
    assert r.status_code == 200, r.text
    return r.json()["id"]


def test_root_and_types(rest):
    r = rest.get("/")
    assert r.status_code == 200 and r.json() == {}
    assert r.headers["Content-Type"] == V1
    assert sorted(rest.get("/schemas/types").json()) == ["AVRO", "JSON", "PROTOBUF"]


def test_register_lookup_and_read_back(rest, subject):
    sid = register(rest, subject, A)
    # Same schema again, even reformatted: the same id, no new version.
    assert register(rest, subject, json.dumps(json.loads(A), indent=2)) == sid
    assert rest.get(f"/subjects/{subject}/versions").json() == [1]
    # Another subject reuses the global id.
    other = subject + "-other"
    assert register(rest, other, A) == sid
    got = rest.get(f"/schemas/ids/{sid}").json()
    assert json.loads(got["schema"]) == json.loads(A)
    assert "schemaType" not in got  # Confluent omits AVRO
    v = rest.get(f"/subjects/{subject}/versions/latest").json()
    assert v == {"subject": subject, "version": 1, "id": sid, "schema": got["schema"]}
    assert rest.get(f"/subjects/{subject}/versions/-1").json() == v
    assert json.loads(rest.get(f"/subjects/{subject}/versions/1/schema").text) == json.loads(A)
    assert json.loads(rest.get(f"/schemas/ids/{sid}/schema").text) == json.loads(A)
    found = rest.post(f"/subjects/{subject}", {"schema": A}).json()
    assert found["id"] == sid and found["version"] == 1 and found["subject"] == subject
    assert sorted(rest.get(f"/schemas/ids/{sid}/subjects").json()) == sorted([subject, other])
    assert {"subject": subject, "version": 1} in rest.get(f"/schemas/ids/{sid}/versions").json()
    assert rest.get(f"/schemas/ids/{sid}?fetchMaxId=true").json()["maxId"] >= sid
    assert subject in rest.get("/subjects").json()
    assert rest.get("/subjects", params={"subjectPrefix": subject}).json() == sorted([subject, other])
    listed = rest.get("/schemas", params={"subjectPrefix": subject}).json()
    assert [(s["subject"], s["version"], s["id"]) for s in listed] == [(subject, 1, sid), (other, 1, sid)]


def test_subject_with_slash_and_unicode(rest):
    subject = f"a/b €-{uuid.uuid4().hex[:6]}"
    enc = requests.utils.quote(subject, safe="")
    sid = register(rest, enc, A)
    assert rest.get(f"/subjects/{enc}/versions/1").json()["subject"] == subject
    assert rest.get(f"/schemas/ids/{sid}/subjects").json()


def test_not_found_errors(rest, subject):
    err(rest.get(f"/subjects/{subject}/versions"), 404, 40401)
    err(rest.get(f"/subjects/{subject}/versions/1"), 404, 40401)
    err(rest.post(f"/subjects/{subject}", {"schema": A}), 404, 40401)
    err(rest.delete(f"/subjects/{subject}"), 404, 40401)
    register(rest, subject, A)
    err(rest.get(f"/subjects/{subject}/versions/2"), 404, 40402)
    err(rest.delete(f"/subjects/{subject}/versions/2"), 404, 40402)
    err(rest.get(f"/subjects/{subject}/versions/2/referencedby"), 404, 40402)
    assert "Schema not found" in err(
        rest.post(f"/subjects/{subject}", {"schema": A2}), 404, 40403)
    err(rest.get("/schemas/ids/987654321"), 404, 40403)
    err(rest.get("/schemas/ids/987654321/schema"), 404, 40403)
    err(rest.get("/schemas/ids/987654321/versions"), 404, 40403)
    err(rest.get("/schemas/ids/987654321/subjects"), 404, 40403)
    err(rest.get(f"/config/{subject}"), 404, 40408)
    err(rest.get(f"/mode/{subject}"), 404, 40409)
    err(rest.get("/no/such/resource"), 404, 404)
    err(rest.get("/associations/resources/-/topic?resourceType=topic"), 404, 404)
    err(rest.call("PATCH", "/subjects"), 405, 405)


def test_invalid_requests(rest, subject):
    assert "Invalid schema" in err(
        rest.post(f"/subjects/{subject}/versions", {"schema": "{\"type\": \"nope\"}"}), 422, 42201)
    err(rest.post(f"/subjects/{subject}/versions", {"schema": "{"}), 422, 42201)
    err(rest.post(f"/subjects/{subject}/versions", {}), 422, 42201)
    err(rest.post(f"/subjects/{subject}/versions", {"schema": "\"int\"", "schemaType": "XML"}), 422, 42201)
    err(rest.post(f"/subjects/{subject}/versions", {"schema": "[", "schemaType": "JSON"}), 422, 42201)
    err(rest.post(f"/subjects/{subject}/versions", {"schema": "message {", "schemaType": "PROTOBUF"}), 422, 42201)
    err(rest.post(f"/subjects/{subject}/versions", "this is not json"), 400, 400)
    register(rest, subject, A)
    for bad in ("0", "-2", "abc", "2147483648"):
        assert "is not a valid version id" in err(
            rest.get(f"/subjects/{subject}/versions/{bad}"), 422, 42202)
    err(rest.delete(f"/subjects/{subject}/versions/abc"), 422, 42202)
    assert "Invalid compatibility level" in err(
        rest.put("/config", {"compatibility": "SIDEWAYS"}), 422, 42203)
    err(rest.put(f"/config/{subject}", {"compatibility": 7}), 422, 42203)
    err(rest.put(f"/mode/{subject}", {"mode": "WRITEONLY"}), 422, 42204)
    err(rest.get("/schemas/ids/abc"), 404, 404)


def test_content_negotiation(registry):
    for accept in ("application/vnd.schemaregistry.v1+json",
                   "application/vnd.schemaregistry+json", "application/json"):
        r = requests.get(registry + "/subjects", headers={"Accept": accept}, timeout=5)
        assert r.status_code == 200 and r.headers["Content-Type"] == accept
    r = requests.get(registry + "/subjects", headers={"Accept": "*/*"}, timeout=5)
    assert r.headers["Content-Type"] == V1
    err(requests.get(registry + "/subjects", headers={"Accept": "text/html"}, timeout=5), 406, 406)
    err(requests.post(registry + "/subjects/x/versions", data=json.dumps({"schema": A}),
                      headers={"Content-Type": "text/plain"}, timeout=5), 415, 415)
    r = requests.post(registry + f"/subjects/neg-{uuid.uuid4().hex[:6]}/versions",
                      data=json.dumps({"schema": A}),
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert r.status_code == 200, r.text


def test_incompatible_schema_409(rest, subject):
    register(rest, subject, A)
    msg = err(rest.post(f"/subjects/{subject}/versions", {"schema": A_BAD}), 409, 409)
    assert "incompatible" in msg and "READER_FIELD_MISSING_DEFAULT_VALUE" in msg
    assert register(rest, subject, A2) != register(rest, subject, A)
    assert rest.get(f"/subjects/{subject}/versions").json() == [1, 2]
    r = rest.post(f"/compatibility/subjects/{subject}/versions/1", {"schema": A_BAD},
                  params={"verbose": "true"})
    assert r.status_code == 200 and r.json()["is_compatible"] is False and r.json()["messages"]
    r = rest.post(f"/compatibility/subjects/{subject}/versions/1", {"schema": A2})
    assert r.json() == {"is_compatible": True}
    r = rest.post(f"/compatibility/subjects/{subject}/versions", {"schema": A2})
    assert r.json() == {"is_compatible": True}
    err(rest.post(f"/compatibility/subjects/{subject}/versions/9", {"schema": A2}), 404, 40402)
    # Confluent checks against no schema when the subject has no live
    # version (a CI check before the first registration): compatible. A
    # numbered version it does not have is 40402, subject or not.
    r = rest.post(f"/compatibility/subjects/{subject}-x/versions/latest", {"schema": A2})
    assert r.status_code == 200 and r.json() == {"is_compatible": True}, r.text
    r = rest.post(f"/compatibility/subjects/{subject}-x/versions/-1", {"schema": A_INT},
                  params={"verbose": "true"})
    assert r.status_code == 200 and r.json() == {"is_compatible": True, "messages": []}, r.text
    err(rest.post(f"/compatibility/subjects/{subject}-x/versions/1", {"schema": A2}), 404, 40402)
    gone = subject + "-gone"
    register(rest, gone, A)
    assert rest.delete(f"/subjects/{gone}").status_code == 200
    r = rest.post(f"/compatibility/subjects/{gone}/versions/latest", {"schema": A_INT})
    assert r.status_code == 200 and r.json() == {"is_compatible": True}, r.text
    err(rest.post(f"/compatibility/subjects/{gone}/versions/1", {"schema": A_INT}), 404, 40402)


@pytest.mark.parametrize("level,history,candidate,ok", [
    ("NONE", [A], A_BAD, True),
    ("BACKWARD", [A], A_BAD, False),
    ("FORWARD", [A], A_BAD, True),
    ("FULL", [A], A_BAD, False),
    ("FULL", [A], A2, True),
    ("BACKWARD_TRANSITIVE", [A_INT, A2], A, False),
    ("BACKWARD", [A_INT, A2], A, True),
    ("FORWARD", [A_INT, A2], A, True),
    ("FORWARD_TRANSITIVE", [A_INT, A2], A, False),
    ("FULL", [A_INT, A2], A, True),
    ("FULL_TRANSITIVE", [A_INT, A2], A, False),
])
def test_levels(rest, subject, level, history, candidate, ok):
    assert rest.put(f"/config/{subject}", {"compatibility": "NONE"}).status_code == 200
    for h in history:
        register(rest, subject, h)
    r = rest.put(f"/config/{subject}", {"compatibility": level.lower()})
    assert r.json() == {"compatibility": level}
    r = rest.post(f"/subjects/{subject}/versions", {"schema": candidate})
    if ok:
        assert r.status_code == 200, r.text
    else:
        err(r, 409, 409)


def test_soft_and_permanent_deletes(rest, subject):
    # Schemas of this test only, so that no other subject shares their ids.
    ns = "t" + uuid.uuid4().hex[:8]
    A, A_BAD, A2 = (json.dumps(dict(json.loads(s), namespace=ns))
                    for s in (globals()["A"], globals()["A_BAD"], globals()["A2"]))
    rest.put(f"/config/{subject}", {"compatibility": "NONE"})
    id1 = register(rest, subject, A)
    id2 = register(rest, subject, A_BAD)
    err(rest.delete(f"/subjects/{subject}/versions/1?permanent=true"), 404, 40407)
    assert rest.delete(f"/subjects/{subject}/versions/1").json() == 1
    err(rest.delete(f"/subjects/{subject}/versions/1"), 404, 40406)
    # Soft-deleted: readable by id and with ?deleted=true only.
    assert rest.get(f"/schemas/ids/{id1}").status_code == 200
    err(rest.get(f"/subjects/{subject}/versions/1"), 404, 40402)
    assert rest.get(f"/subjects/{subject}/versions/1?deleted=true").json()["id"] == id1
    assert rest.get(f"/subjects/{subject}/versions?deleted=true").json() == [1, 2]
    assert rest.get(f"/subjects/{subject}/versions?deletedOnly=true").json() == [1]
    # Versions count up past soft-deleted ones.
    id3 = register(rest, subject, A2)
    assert rest.get(f"/subjects/{subject}/versions").json() == [2, 3]
    err(rest.delete(f"/subjects/{subject}?permanent=true"), 404, 40405)
    assert rest.delete(f"/subjects/{subject}").json() == [2, 3]
    err(rest.delete(f"/subjects/{subject}"), 404, 40404)
    # "latest" of a subject whose versions are all soft-deleted names the
    # newest of them, as Confluent resolves it: 40406, not 40401.
    msg = err(rest.delete(f"/subjects/{subject}/versions/latest"), 404, 40406)
    assert "latest" in msg
    assert subject not in rest.get("/subjects").json()
    assert subject in rest.get("/subjects?deleted=true").json()
    assert subject in rest.get("/subjects?deletedOnly=true").json()
    assert rest.delete(f"/subjects/{subject}?permanent=true").json() == [1, 2, 3]
    err(rest.get(f"/subjects/{subject}/versions?deleted=true"), 404, 40401)
    for sid in (id1, id2, id3):
        err(rest.get(f"/schemas/ids/{sid}"), 404, 40403)
    # Ids are never reused.
    assert register(rest, subject, A) > max(id1, id2, id3)


def test_references(rest, subject):
    addr = subject + "-address"
    register(rest, addr, json.dumps({"type": "record", "name": "Address", "namespace": "ex",
                                     "fields": [{"name": "city", "type": "string"}]}))
    person = json.dumps({"type": "record", "name": "Person", "namespace": "ex",
                         "fields": [{"name": "home", "type": "ex.Address"}]})
    refs = [{"name": "ex.Address", "subject": addr, "version": 1}]
    pid = register(rest, subject, person, references=refs)
    got = rest.get(f"/schemas/ids/{pid}").json()
    assert got["references"] == refs
    assert rest.get(f"/subjects/{addr}/versions/1/referencedby").json() == [pid]
    assert "references exist" in err(rest.delete(f"/subjects/{addr}/versions/1"), 422, 42206)
    err(rest.delete(f"/subjects/{addr}"), 422, 42206)
    err(rest.post(f"/subjects/{subject}/versions", {"schema": person}), 422, 42201)
    found = rest.post(f"/subjects/{subject}", {"schema": person, "references": refs}).json()
    assert found["id"] == pid and found["references"] == refs


def test_json_and_protobuf(rest, subject):
    j = rest.post(f"/subjects/{subject}-j/versions",
                  {"schemaType": "JSON", "schema": json.dumps({"type": "object"})})
    assert j.status_code == 200, j.text
    p = rest.post(f"/subjects/{subject}-p/versions",
                  {"schemaType": "PROTOBUF",
                   "schema": 'syntax = "proto3";\nmessage M { string a = 1; }\n'})
    assert p.status_code == 200, p.text
    assert j.json()["id"] != p.json()["id"]
    got = rest.get(f"/schemas/ids/{p.json()['id']}").json()
    assert got["schemaType"] == "PROTOBUF"
    v = rest.get(f"/subjects/{subject}-j/versions/1").json()
    assert v["schemaType"] == "JSON"
    # Their compatibility cannot be checked yet: a clear error, no verdict.
    msg = err(rest.post(f"/subjects/{subject}-j/versions",
                        {"schemaType": "JSON", "schema": json.dumps({"type": "string"})}),
              422, 42201)
    assert "cannot check the compatibility of JSON" in msg
    rest.put(f"/config/{subject}-j", {"compatibility": "NONE"})
    r = rest.post(f"/subjects/{subject}-j/versions",
                  {"schemaType": "JSON", "schema": json.dumps({"type": "string"})})
    assert r.status_code == 200


def test_config(rest, subject):
    assert rest.get("/config").json()["compatibilityLevel"] in (
        "BACKWARD", "NONE", "FULL", "FORWARD", "BACKWARD_TRANSITIVE",
        "FORWARD_TRANSITIVE", "FULL_TRANSITIVE")
    err(rest.get(f"/config/{subject}"), 404, 40408)
    assert rest.get(f"/config/{subject}?defaultToGlobal=true").json() == rest.get("/config").json()
    assert rest.put(f"/config/{subject}", {"compatibility": "FULL_TRANSITIVE"}).json() == {
        "compatibility": "FULL_TRANSITIVE"}
    assert rest.get(f"/config/{subject}").json() == {"compatibilityLevel": "FULL_TRANSITIVE"}
    assert rest.delete(f"/config/{subject}").json() == {"compatibilityLevel": "FULL_TRANSITIVE"}
    err(rest.get(f"/config/{subject}"), 404, 40408)


def test_mode(rest, subject):
    assert rest.get("/mode").json() == {"mode": "READWRITE"}
    err(rest.get(f"/mode/{subject}"), 404, 40409)
    assert rest.get(f"/mode/{subject}?defaultToGlobal=true").json() == {"mode": "READWRITE"}
    register(rest, subject, A)
    assert rest.put(f"/mode/{subject}", {"mode": "READONLY"}).json() == {"mode": "READONLY"}
    assert "read-only" in err(rest.post(f"/subjects/{subject}/versions", {"schema": A2}), 422, 42205)
    err(rest.delete(f"/subjects/{subject}"), 422, 42205)
    # Reads still work.
    assert rest.post(f"/subjects/{subject}", {"schema": A}).status_code == 200
    # IMPORT needs an empty subject unless forced.
    err(rest.put(f"/mode/{subject}", {"mode": "IMPORT"}), 422, 42205)
    assert rest.delete(f"/mode/{subject}").json() == {"mode": "READONLY"}
    imp = subject + "-import"
    assert rest.put(f"/mode/{imp}", {"mode": "IMPORT"}).json() == {"mode": "IMPORT"}
    r = rest.post(f"/subjects/{imp}/versions", {"schema": "\"string\"", "id": 900000, "version": 7})
    assert r.json() == {"id": 900000}
    assert rest.get(f"/subjects/{imp}/versions").json() == [7]
    assert rest.get("/schemas/ids/900000").status_code == 200
    err(rest.post(f"/subjects/{imp}/versions", {"schema": "\"long\"", "id": 900000}), 422, 42207)
    # Outside IMPORT an explicit id is refused.
    err(rest.post(f"/subjects/{subject}-rw/versions", {"schema": "\"long\"", "id": 900001}), 422, 42205)


@pytest.mark.needs_binary
def test_durable_across_restart_and_kill9(riffle_factory):
    server = riffle_factory()
    rest = Rest(server.endpoints["registry"])
    ids = [register(rest, f"s{i}", record(f"R{i}", {"name": "a", "type": "int"})) for i in range(5)]
    rest.put("/config/s0", {"compatibility": "FULL"})
    rest.delete("/subjects/s1")
    server.kill9()
    server.start()
    rest = Rest(server.endpoints["registry"])
    for i, sid in enumerate(ids):
        assert rest.get(f"/schemas/ids/{sid}").status_code == 200
    assert rest.get("/config/s0").json() == {"compatibilityLevel": "FULL"}
    assert "s1" not in rest.get("/subjects").json()
    assert "s1" in rest.get("/subjects?deleted=true").json()
    # Permanently delete the newest schema: its id is never handed out again.
    rest.delete("/subjects/s4")
    rest.delete("/subjects/s4?permanent=true")
    server.restart()
    rest = Rest(server.endpoints["registry"])
    new_id = register(rest, "fresh", record("Fresh", {"name": "a", "type": "int"}))
    assert new_id > max(ids)
    err(rest.get(f"/schemas/ids/{ids[4]}"), 404, 40403)


@pytest.mark.needs_binary
def test_health_and_metrics_on_registry_port(riffle):
    base = riffle.endpoints["registry"]
    assert requests.get(base + "/health", timeout=5).status_code == 200


def test_normalize_keeps_defaults_and_logical_types(rest, subject):
    # Confluent's normalize=true rewrites names and attribute order but keeps
    # what readers need; stripping to Parsing Canonical Form lost the default
    # of an added field and made a default-only change answer the old id.
    ns = "t" + uuid.uuid4().hex[:8]
    rest.put(f"/config/{subject}", {"compatibility": "NONE"})

    def schema(default):
        return json.dumps({"type": "record", "name": "Payment", "namespace": ns, "fields": [
            {"name": "id", "type": "string"},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "currency", "type": "string", "default": default}]})

    r = rest.post(f"/subjects/{subject}/versions", {"schema": schema("EUR")},
                  params={"normalize": "true"})
    assert r.status_code == 200, r.text
    id1 = r.json()["id"]
    stored = json.loads(rest.get(f"/schemas/ids/{id1}").json()["schema"])
    fields = {f["name"]: f for f in stored["fields"]}
    assert stored["name"] == f"{ns}.Payment"
    assert fields["currency"]["default"] == "EUR"
    assert fields["at"]["type"] == {"type": "long", "logicalType": "timestamp-millis"}
    r = rest.post(f"/subjects/{subject}/versions", {"schema": schema("USD")},
                  params={"normalize": "true"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] != id1
    assert rest.get(f"/subjects/{subject}/versions").json() == [1, 2]
    # Attribute order still does not count.
    reordered = json.dumps(dict(reversed(list(json.loads(schema("EUR")).items()))))
    found = rest.post(f"/subjects/{subject}", {"schema": reordered}, params={"normalize": "true"})
    assert found.status_code == 200 and found.json()["id"] == id1, found.text
