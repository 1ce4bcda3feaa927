"""Interop between riffle's Avro and Apache Avro's Python implementation.

python3-avro (Debian, 1.11) encodes the records of cases.json with its own
DatumWriter and logical types (Decimal, date, time, datetime), and riffle
decodes them exactly (`riffle avro decode`, Avro JSON and the plain
projection of docs/avro.md); riffle encodes the same records and the bytes
are python's, and python's DatumReader reads them back to the same values.
Container files go both ways (null and deflate: python3-avro has no snappy
or zstandard here). Hostile input makes `riffle avro` exit 1 with a message,
never crash.

Run: RIFFLE_BIN=build/riffle /usr/bin/python3 -m pytest -q tests/avro
"""

import datetime
import decimal
import hashlib
import io
import json
import os
import random
import subprocess
from pathlib import Path

import avro.datafile
import avro.errors
import avro.io
import avro.schema
import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
RIFFLE_BIN = os.environ.get("RIFFLE_BIN", str(REPO / "build" / "riffle"))
CASES = json.loads((HERE / "cases.json").read_text())["cases"]

# python3-avro 1.11 does not know timestamp-nanos, local-timestamp-* or
# duration and warns; it falls back to the underlying type, which is what the
# spec asks of a reader that lacks a logical type.
pytestmark = pytest.mark.filterwarnings(
    "ignore::avro.errors.IgnoredLogicalType")

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def riffle(*args, stdin=b"", check=True):
    proc = subprocess.run([RIFFLE_BIN, "avro", *args], input=stdin,
                          capture_output=True, timeout=60)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"riffle avro {' '.join(args)} exited {proc.returncode}: "
            f"{proc.stderr.decode(errors='replace')}")
    return proc


def json_lines(data):
    return [json.loads(line) for line in data.decode().splitlines()]


@pytest.fixture(params=CASES, ids=[c["name"] for c in CASES])
def case(request, tmp_path):
    c = dict(request.param)
    c["schema_file"] = tmp_path / "schema.avsc"
    c["schema_file"].write_text(json.dumps(c["schema"]))
    c["parsed"] = avro.schema.parse(json.dumps(c["schema"]))
    return c


def from_avro_json(schema, value):
    """An Avro-JSON value as the Python value python3-avro reads and writes
    (bytes as bytes, logical types as Decimal, date, time, datetime)."""
    if isinstance(schema, avro.schema.UnionSchema):
        if value is None:
            return None
        (branch_name, inner), = value.items()
        for branch in schema.schemas:
            name = getattr(branch, "fullname", None) or branch.type
            if name == branch_name:
                return from_avro_json(branch, inner)
        raise AssertionError(f"no union branch {branch_name}")
    if isinstance(schema, avro.schema.RecordSchema):
        return {f.name: from_avro_json(f.type, value[f.name])
                for f in schema.fields}
    if isinstance(schema, avro.schema.ArraySchema):
        return [from_avro_json(schema.items, v) for v in value]
    if isinstance(schema, avro.schema.MapSchema):
        return {k: from_avro_json(schema.values, v) for k, v in value.items()}
    if schema.type in ("bytes", "fixed"):
        raw = value.encode("latin-1")
        if isinstance(schema, (avro.schema.BytesDecimalSchema,
                               avro.schema.FixedDecimalSchema)):
            unscaled = int.from_bytes(raw, "big", signed=True)
            return decimal.Decimal(unscaled).scaleb(-schema.get_prop("scale"))
        return raw
    if isinstance(schema, avro.schema.DateSchema):
        return datetime.date(1970, 1, 1) + datetime.timedelta(days=value)
    if isinstance(schema, (avro.schema.TimeMillisSchema,
                           avro.schema.TimeMicrosSchema)):
        micros = value * 1000 if isinstance(
            schema, avro.schema.TimeMillisSchema) else value
        return (datetime.datetime.min + datetime.timedelta(
            microseconds=micros)).time()
    if isinstance(schema, avro.schema.TimestampMillisSchema):
        return EPOCH + datetime.timedelta(milliseconds=value)
    if isinstance(schema, avro.schema.TimestampMicrosSchema):
        return EPOCH + datetime.timedelta(microseconds=value)
    return value


def python_encode(schema, value):
    buf = io.BytesIO()
    avro.io.DatumWriter(schema).write(value, avro.io.BinaryEncoder(buf))
    return buf.getvalue()


def python_decode_all(schema, data, reader_schema=None):
    buf = io.BytesIO(data)
    reader = avro.io.DatumReader(schema, reader_schema)
    out = []
    while buf.tell() < len(data):
        out.append(reader.read(avro.io.BinaryDecoder(buf)))
    return out


def test_python_encodings_decode_exactly_in_riffle(case):
    values = [from_avro_json(case["parsed"], r) for r in case["records"]]
    stream = b"".join(python_encode(case["parsed"], v) for v in values)
    got = riffle("decode", "--schema", str(case["schema_file"]), stdin=stream)
    assert json_lines(got.stdout) == case["records"]
    plain = riffle("decode", "--schema", str(case["schema_file"]),
                   "--format", "json", stdin=stream)
    assert json_lines(plain.stdout) == case["plain"]


def test_each_python_datum_alone(case):
    """--one: stdin is exactly one datum, and nothing may follow it."""
    for record in case["records"]:
        data = python_encode(case["parsed"],
                             from_avro_json(case["parsed"], record))
        got = riffle("decode", "--one", "--schema", str(case["schema_file"]),
                     stdin=data)
        assert json.loads(got.stdout) == record
        extra = riffle("decode", "--one", "--schema",
                       str(case["schema_file"]), stdin=data + b"\x00",
                       check=False)
        assert extra.returncode == 1, extra


def test_riffle_encodings_are_pythons_bytes(case):
    lines = "".join(json.dumps(r) + "\n" for r in case["records"]).encode()
    got = riffle("encode", "--schema", str(case["schema_file"]), stdin=lines)
    values = [from_avro_json(case["parsed"], r) for r in case["records"]]
    assert got.stdout == b"".join(
        python_encode(case["parsed"], v) for v in values)
    assert python_decode_all(case["parsed"], got.stdout) == values


def test_riffle_encodes_the_plain_projection_too(case):
    lines = "".join(json.dumps(r) + "\n" for r in case["plain"]).encode()
    got = riffle("encode", "--schema", str(case["schema_file"]), "--format",
                 "json", stdin=lines)
    values = [from_avro_json(case["parsed"], r) for r in case["records"]]
    assert python_decode_all(case["parsed"], got.stdout) == values


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_python_container_files_read_by_riffle(case, codec, tmp_path):
    path = tmp_path / f"python-{codec}.avro"
    with open(path, "wb") as f:
        writer = avro.datafile.DataFileWriter(f, avro.io.DatumWriter(),
                                              case["parsed"], codec=codec)
        for _ in range(50):  # several blocks' worth with a small sync interval
            for r in case["records"]:
                writer.append(from_avro_json(case["parsed"], r))
        writer.sync()
        for r in case["records"]:
            writer.append(from_avro_json(case["parsed"], r))
        writer.close()
    got = riffle("cat", str(path))
    assert json_lines(got.stdout) == case["records"] * 51
    plain = riffle("cat", "--format", "json", str(path))
    assert json_lines(plain.stdout) == case["plain"] * 51


@pytest.mark.parametrize("codec", ["null", "deflate"])
def test_riffle_container_files_read_by_python(case, codec, tmp_path):
    path = tmp_path / f"riffle-{codec}.avro"
    lines = "".join(json.dumps(r) + "\n" for r in case["records"] * 300)
    riffle("write", str(path), "--schema", str(case["schema_file"]),
           "--codec", codec, stdin=lines.encode())
    with open(path, "rb") as f:
        reader = avro.datafile.DataFileReader(f, avro.io.DatumReader())
        assert reader.meta["avro.codec"] == codec.encode()
        got = list(reader)
    assert got == [from_avro_json(case["parsed"], r)
                   for r in case["records"]] * 300


@pytest.mark.parametrize("codec", ["snappy", "zstandard"])
def test_riffle_container_codecs_python_lacks(case, codec, tmp_path):
    """python3-avro here has neither snappy nor zstandard: riffle reads back
    its own files, and the header is still one python can parse."""
    path = tmp_path / f"riffle-{codec}.avro"
    lines = "".join(json.dumps(r) + "\n" for r in case["records"])
    riffle("write", str(path), "--schema", str(case["schema_file"]),
           "--codec", codec, stdin=lines.encode())
    assert json_lines(riffle("cat", str(path)).stdout) == case["records"]


def crc64_avro(data):
    """The spec's reference CRC-64-AVRO ("Schema Fingerprints")."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for b in data:
        fp = (fp >> 8) ^ table[(fp ^ b) & 0xFF]
    return fp


def test_canonical_form_and_fingerprints(case):
    canonical = riffle("canonical", "--schema",
                       str(case["schema_file"])).stdout.decode().strip()
    # python3-avro 1.11's own canonical form departs from the spec (it
    # writes a named type in full again inside a later union and keeps
    # {"type": "long"} once it strips a logical type), so the text itself is
    # compared with avsc's in the node test; here python must read it as the
    # same layout (logical types are not part of the canonical form): it
    # reads every datum whole and writes it back byte for byte.
    again = avro.schema.parse(canonical)
    for record in case["records"]:
        data = python_encode(case["parsed"],
                             from_avro_json(case["parsed"], record))
        [value] = python_decode_all(again, data)
        assert python_encode(again, value) == data
    raw = canonical.encode()
    fp = riffle("fingerprint", "--schema", str(case["schema_file"]))
    assert fp.stdout.decode().strip() == crc64_avro(raw).to_bytes(
        8, "little").hex()
    for algo, fn in [("md5", hashlib.md5), ("sha256", hashlib.sha256)]:
        got = riffle("fingerprint", "--algorithm", algo, "--schema",
                     str(case["schema_file"]))
        assert got.stdout.decode().strip() == fn(raw).hexdigest()


def test_framings(tmp_path):
    case = CASES[0]
    schema_file = tmp_path / "s.avsc"
    schema_file.write_text(json.dumps(case["schema"]))
    lines = "".join(json.dumps(r) + "\n" for r in case["records"]).encode()
    confluent = riffle("encode", "--schema", str(schema_file), "--framing",
                       "confluent", "--schema-id", "258", stdin=lines).stdout
    assert confluent.startswith(b"\x00\x00\x00\x01\x02")
    got = riffle("decode", "--schema", str(schema_file), "--framing",
                 "confluent", "--schema-id", "258", stdin=confluent)
    assert json_lines(got.stdout) == case["records"]
    wrong = riffle("decode", "--schema", str(schema_file), "--framing",
                   "confluent", "--schema-id", "259", stdin=confluent,
                   check=False)
    assert wrong.returncode == 1
    assert b"schema id 258, expected 259" in wrong.stderr

    single = riffle("encode", "--schema", str(schema_file), "--framing",
                    "single-object", stdin=lines).stdout
    fp = bytes.fromhex(riffle("fingerprint", "--schema",
                              str(schema_file)).stdout.decode().strip())
    assert single.startswith(b"\xc3\x01" + fp)
    got = riffle("decode", "--schema", str(schema_file), "--framing",
                 "single-object", stdin=single)
    assert json_lines(got.stdout) == case["records"]

    # A Glue message (version 3, zlib, schema version UUID), one per call.
    import zlib
    datum = python_encode(avro.schema.parse(json.dumps(case["schema"])),
                          from_avro_json(avro.schema.parse(
                              json.dumps(case["schema"])),
                              case["records"][0]))
    glue = b"\x03\x05" + bytes(range(16)) + zlib.compress(datum)
    got = riffle("decode", "--one", "--schema", str(schema_file), "--framing",
                 "glue", stdin=glue)
    assert json.loads(got.stdout) == case["records"][0]
    streamed = riffle("decode", "--schema", str(schema_file), "--framing",
                      "glue", stdin=glue, check=False)
    assert streamed.returncode == 1 and b"--one" in streamed.stderr
    plain_glue = b"\x03\x00" + bytes(16) + datum
    got = riffle("decode", "--schema", str(schema_file), "--framing", "glue",
                 stdin=plain_glue * 2)
    assert json_lines(got.stdout) == [case["records"][0]] * 2


def test_schema_resolution_matches_python(tmp_path):
    writer = {"type": "record", "name": "P", "fields": [
        {"name": "id", "type": "int"},
        {"name": "gone", "type": "string"},
        {"name": "amount", "type": "float"},
        {"name": "kind", "type": {"type": "enum", "name": "K",
                                  "symbols": ["A", "B", "C"]}}]}
    reader = {"type": "record", "name": "P", "fields": [
        {"name": "amount", "type": "double"},
        {"name": "id", "type": "long"},
        {"name": "kind", "type": {"type": "enum", "name": "K",
                                  "symbols": ["A", "B", "C", "D"]}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "count", "type": "int", "default": 3}]}
    (tmp_path / "w.avsc").write_text(json.dumps(writer))
    (tmp_path / "r.avsc").write_text(json.dumps(reader))
    ws = avro.schema.parse(json.dumps(writer))
    rs = avro.schema.parse(json.dumps(reader))
    records = [{"id": 1, "gone": "x", "amount": 2.5, "kind": "B"},
               {"id": -7, "gone": "", "amount": -0.125, "kind": "C"}]
    data = b"".join(python_encode(ws, r) for r in records)
    got = riffle("decode", "--schema", str(tmp_path / "w.avsc"),
                 "--reader-schema", str(tmp_path / "r.avsc"), stdin=data)
    assert json_lines(got.stdout) == python_decode_all(ws, data, rs)


def test_errors_exit_1_with_a_message(tmp_path):
    case = CASES[0]
    schema_file = tmp_path / "s.avsc"
    schema_file.write_text(json.dumps(case["schema"]))
    good = python_encode(avro.schema.parse(json.dumps(case["schema"])),
                         from_avro_json(avro.schema.parse(
                             json.dumps(case["schema"])), case["records"][0]))

    truncated = riffle("decode", "--schema", str(schema_file),
                       stdin=good[:-3], check=False)
    assert truncated.returncode == 1
    assert truncated.stderr.startswith(b"riffle avro decode: message 0")

    second = riffle("decode", "--schema", str(schema_file),
                    stdin=good + good[:5], check=False)
    assert second.returncode == 1
    assert f"message 1 (byte {len(good)})".encode() in second.stderr
    assert len(second.stdout.splitlines()) == 1  # the good one was printed

    bad_schema = tmp_path / "bad.avsc"
    bad_schema.write_text('{"type": "record", "name": "R", "fields": '
                          '[{"name": "a", "type": "int", "default": "x"}]}')
    got = riffle("decode", "--schema", str(bad_schema), check=False)
    assert got.returncode == 1 and b"field 'a'" in got.stderr

    got = riffle("decode", "--schema", str(tmp_path / "missing.avsc"),
                 check=False)
    assert got.returncode == 1 and b"cannot open" in got.stderr

    incompatible = tmp_path / "int.avsc"
    incompatible.write_text('"int"')
    got = riffle("decode", "--schema", str(schema_file), "--reader-schema",
                 str(incompatible), check=False)
    assert got.returncode == 1 and b"do not resolve" in got.stderr

    got = riffle("encode", "--schema", str(schema_file),
                 stdin=b'{"n": null}\n', check=False)
    assert got.returncode == 1 and got.stderr.startswith(
        b"riffle avro encode: line 1")

    got = riffle("encode", "--schema", str(schema_file), "--framing",
                 "confluent", check=False)
    assert got.returncode == 1 and b"--schema-id" in got.stderr

    got = riffle("decode", "--schema", str(schema_file), "--framing",
                 "single-object", stdin=b"\xc3\x01" + bytes(8) + good,
                 check=False)
    assert got.returncode == 1 and b"fingerprint" in got.stderr

    null_schema = tmp_path / "null.avsc"
    null_schema.write_text('"null"')
    got = riffle("decode", "--schema", str(null_schema), stdin=b"x",
                 check=False)
    assert got.returncode == 1 and b"--one" in got.stderr

    not_avro = tmp_path / "not.avro"
    not_avro.write_bytes(b"Obj\x01garbage")
    got = riffle("cat", str(not_avro), check=False)
    assert got.returncode == 1 and got.stderr.startswith(b"riffle avro cat:")


def test_corrupt_container_files_fail_cleanly(tmp_path):
    case = CASES[0]
    schema_file = tmp_path / "s.avsc"
    schema_file.write_text(json.dumps(case["schema"]))
    lines = "".join(json.dumps(r) + "\n" for r in case["records"] * 20)
    path = tmp_path / "f.avro"
    riffle("write", str(path), "--schema", str(schema_file), "--codec",
           "deflate", stdin=lines.encode())
    data = path.read_bytes()
    rng = random.Random(3)
    for _ in range(60):
        corrupt = bytearray(data)
        if rng.random() < 0.3:
            corrupt = corrupt[:rng.randrange(len(corrupt))]
        else:
            for _ in range(rng.randint(1, 4)):
                corrupt[rng.randrange(len(corrupt))] = rng.randrange(256)
        got = riffle("cat", "-", stdin=bytes(corrupt), check=False)
        assert got.returncode in (0, 1), got  # never a signal


def test_random_bytes_never_crash(tmp_path):
    rng = random.Random(7)
    for case in CASES:
        schema_file = tmp_path / f"{case['name']}.avsc"
        schema_file.write_text(json.dumps(case["schema"]))
        for _ in range(25):
            noise = bytes(rng.randrange(256)
                          for _ in range(rng.randrange(1, 200)))
            for fmt in ("avro-json", "json"):
                got = riffle("decode", "--schema", str(schema_file),
                             "--format", fmt, stdin=noise, check=False)
                assert got.returncode in (0, 1), got
