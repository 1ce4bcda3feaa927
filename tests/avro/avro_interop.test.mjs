// Interop between riffle's Avro and avsc (npm, pinned in package.json), the
// JavaScript implementation and riffle's speed reference: avsc encodes the
// records of cases.json and `riffle avro decode` prints them exactly (Avro
// JSON and the plain projection of docs/avro.md); `riffle avro encode`
// writes avsc's bytes and avsc reads them back; container files go both
// ways (null and deflate); canonical forms and fingerprints agree.
// avsc is used without logical-type classes, so logical types travel as
// their underlying values, as the Avro JSON encoding writes them.
// Run: RIFFLE_BIN=build/riffle node --test tests/avro/
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import avro from 'avsc';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const riffleBin = process.env.RIFFLE_BIN ?? join(repo, 'build', 'riffle');
// Cases with longs beyond 2^53 are python's alone: avsc holds longs as
// JavaScript numbers.
const cases = JSON.parse(readFileSync(join(here, 'cases.json'), 'utf8'))
  .cases.filter((c) => c.node !== false);

function riffle(args, input = Buffer.alloc(0), { check = true } = {}) {
  const r = spawnSync(riffleBin, ['avro', ...args], { input, maxBuffer: 1 << 28 });
  if (r.error) throw r.error;
  if (check && r.status !== 0) {
    throw new Error(`riffle avro ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  }
  return r;
}

const jsonLines = (buf) => buf.toString('utf8').split('\n').filter((l) => l)
  .map((l) => JSON.parse(l));

function withCase(c, fn) {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'riffle-avro-'));
    try {
      const schemaFile = join(dir, 'schema.avsc');
      writeFileSync(schemaFile, JSON.stringify(c.schema));
      // wrapUnions: avsc's values then carry the branch, as Avro JSON does.
      const type = avro.Type.forSchema(c.schema, { wrapUnions: true });
      const values = c.records.map((r) => type.fromString(JSON.stringify(r)));
      await fn({ dir, schemaFile, type, values });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

// avsc's value as Avro JSON, parsed, for deep comparison.
const asAvroJson = (type, v) => JSON.parse(type.toString(v));

for (const c of cases) {
  test(`${c.name}: avsc encodings decode exactly in riffle`, withCase(c, ({ schemaFile, type, values }) => {
    const stream = Buffer.concat(values.map((v) => type.toBuffer(v)));
    assert.deepEqual(jsonLines(riffle(['decode', '--schema', schemaFile], stream).stdout), c.records);
    assert.deepEqual(
      jsonLines(riffle(['decode', '--schema', schemaFile, '--format', 'json'], stream).stdout),
      c.plain);
  }));

  test(`${c.name}: riffle encodings are avsc's bytes and decode in avsc`, withCase(c, ({ schemaFile, type, values }) => {
    const lines = c.records.map((r) => `${JSON.stringify(r)}\n`).join('');
    const out = riffle(['encode', '--schema', schemaFile], Buffer.from(lines)).stdout;
    assert.deepEqual(out, Buffer.concat(values.map((v) => type.toBuffer(v))));
    let pos = 0;
    for (const record of c.records) {
      const { value, offset } = type.decode(out, pos);
      assert.ok(offset > 0, 'avsc could not decode');
      assert.deepEqual(asAvroJson(type, value), record);
      pos = offset;
    }
    assert.equal(pos, out.length);
    // The plain projection encodes to the same bytes.
    const plain = c.plain.map((r) => `${JSON.stringify(r)}\n`).join('');
    assert.deepEqual(
      riffle(['encode', '--schema', schemaFile, '--format', 'json'], Buffer.from(plain)).stdout, out);
  }));

  // Node object streams end at a null value, so avsc cannot stream a file
  // whose records include null (python covers that case).
  const containers = c.records.includes(null) ? [] : ['null', 'deflate'];
  for (const codec of containers) {
    test(`${c.name}: riffle ${codec} container files read by avsc`, withCase(c, ({ dir, schemaFile, type }) => {
      const file = join(dir, 'riffle.avro');
      const records = Array(200).fill(c.records).flat();
      riffle(['write', file, '--schema', schemaFile, '--codec', codec],
        Buffer.from(records.map((r) => `${JSON.stringify(r)}\n`).join('')));
      const got = [];
      return new Promise((ok, fail) => {
        avro.createFileDecoder(file, { readerSchema: type })
          .on('data', (v) => got.push(asAvroJson(type, v)))
          .on('error', fail)
          .on('end', () => { try { assert.deepEqual(got, records); ok(); } catch (e) { fail(e); } });
      });
    }));

    test(`${c.name}: avsc ${codec} container files read by riffle`, withCase(c, ({ dir, type, values }) => {
      const file = join(dir, 'avsc.avro');
      const encoder = new avro.streams.BlockEncoder(type, { codec, blockSize: 256 });
      const sink = createWriteStream(file);
      encoder.pipe(sink);
      for (let i = 0; i < 100; i++) values.forEach((v) => encoder.write(v));
      encoder.end();
      return new Promise((ok, fail) => {
        encoder.on('error', fail);
        sink.on('error', fail);
        sink.on('finish', () => {
          try {
            const r = riffle(['cat', file]);
            assert.deepEqual(jsonLines(r.stdout), Array(100).fill(c.records).flat());
            ok();
          } catch (e) { fail(e); }
        });
      });
    }));
  }

  test(`${c.name}: canonical form and fingerprints match avsc`, withCase(c, ({ schemaFile }) => {
    const plainType = avro.Type.forSchema(c.schema);
    const canonical = riffle(['canonical', '--schema', schemaFile]).stdout.toString().trim();
    assert.equal(canonical, JSON.stringify(plainType.getSchema()));
    for (const algo of ['md5', 'sha256']) {
      const got = riffle(['fingerprint', '--algorithm', algo, '--schema', schemaFile]).stdout;
      assert.equal(got.toString().trim(), plainType.fingerprint(algo).toString('hex'));
    }
  }));
}

test('schema resolution: riffle reads avsc data the way avsc resolves it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'riffle-avro-'));
  try {
    const writerSchema = { type: 'record', name: 'P', fields: [
      { name: 'id', type: 'int' }, { name: 'gone', type: 'string' },
      { name: 'amount', type: 'float' }] };
    const readerSchema = { type: 'record', name: 'P', fields: [
      { name: 'amount', type: 'double' }, { name: 'id', type: 'long' },
      { name: 'note', type: ['null', 'string'], default: null },
      { name: 'count', type: 'int', default: 3 }] };
    writeFileSync(join(dir, 'w.avsc'), JSON.stringify(writerSchema));
    writeFileSync(join(dir, 'r.avsc'), JSON.stringify(readerSchema));
    const writer = avro.Type.forSchema(writerSchema);
    const reader = avro.Type.forSchema(readerSchema);
    const records = [{ id: 1, gone: 'x', amount: 2.5 }, { id: -7, gone: '', amount: -0.125 }];
    const data = Buffer.concat(records.map((r) => writer.toBuffer(r)));
    const resolver = reader.createResolver(writer);
    const expected = records.map((r) => {
      const v = reader.fromBuffer(writer.toBuffer(r), resolver);
      return JSON.parse(reader.toString(v));
    });
    const got = riffle(['decode', '--schema', join(dir, 'w.avsc'), '--reader-schema',
      join(dir, 'r.avsc'), '--format', 'json'], data);
    assert.deepEqual(jsonLines(got.stdout), expected);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('hostile bytes end in exit code 1 with a message, never a crash', () => {
  const dir = mkdtempSync(join(tmpdir(), 'riffle-avro-'));
  try {
    const schemaFile = join(dir, 's.avsc');
    writeFileSync(schemaFile, JSON.stringify(cases[0].schema));
    let seed = 11;
    const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed; };
    for (let i = 0; i < 40; i++) {
      const noise = Buffer.from(Array.from({ length: 1 + (rand() % 300) }, () => rand() % 256));
      const r = riffle(['decode', '--schema', schemaFile], noise, { check: false });
      assert.ok(r.status === 0 || r.status === 1, `status ${r.status} signal ${r.signal}`);
      if (r.status === 1) assert.match(r.stderr.toString(), /^riffle avro decode: message \d+/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
