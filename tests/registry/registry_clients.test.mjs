// Confluent's JavaScript registry clients against a riffle started by this
// file: @kafkajs/confluent-schema-registry (register, which calls GET and
// PUT /config/{subject}; encode; decode by id) and @confluentinc/schemaregistry
// (its Avro serializer with auto-registration and with useLatestVersion, and
// its deserializer). Records are checked against avsc's own encoding.
// Run: node --test tests/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, openSync, accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import avro from 'avsc';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import {
  SchemaRegistryClient, AvroSerializer, AvroDeserializer, SerdeType,
} from '@confluentinc/schemaregistry';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const riffleBin = process.env.RIFFLE_BIN ?? join(repo, 'build', 'riffle');

let server;
let dataDir;
let registryUrl;

async function waitForEndpoints(file, proc, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`riffle exited with ${proc.exitCode}`);
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8'));
      if (parsed.registry) return parsed;
    } catch { /* not written yet */ }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${file} after ${timeoutMs} ms`);
}

before(async () => {
  accessSync(riffleBin, constants.X_OK);
  dataDir = mkdtempSync(join(tmpdir(), 'riffle-registry-'));
  const log = openSync(join(dataDir, 'riffle.log'), 'a');
  server = spawn(riffleBin, ['server', '--data-dir', join(dataDir, 'data'), '--host', '127.0.0.1',
    '--aws-port', '0', '--registry-port', '0', '--http-port', '0'],
  { stdio: ['ignore', log, log] });
  try {
    registryUrl = (await waitForEndpoints(join(dataDir, 'data', 'endpoints.json'), server)).registry;
  } catch (e) {
    server.kill('SIGKILL');
    throw new Error(`${e.message}\n${readFileSync(join(dataDir, 'riffle.log'), 'utf8')}`);
  }
});

after(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', (code) => r(code)));
    server.kill('SIGTERM');
    assert.equal(await exited, 0, 'riffle exits 0 on SIGTERM');
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

const unique = (prefix) => `${prefix}${randomUUID().slice(0, 8)}`;

function paymentSchema(namespace) {
  return {
    type: 'record', name: 'Payment', namespace,
    fields: [
      { name: 'id', type: 'string' },
      { name: 'amount', type: 'double' },
      { name: 'tags', type: { type: 'array', items: 'string' } },
      { name: 'note', type: ['null', 'string'], default: null },
    ],
  };
}

const payment = { id: 'p-1', amount: 12.5, tags: ['a', 'b'], note: 'hi' };

async function get(path) {
  const r = await fetch(registryUrl + path);
  return { status: r.status, body: await r.json() };
}

test('@kafkajs/confluent-schema-registry: register, encode, decode', async () => {
  const registry = new SchemaRegistry({ host: registryUrl });
  const ns = unique('kafkajs.t');
  const schema = paymentSchema(ns);
  const subject = `${ns}.Payment`;
  // A subject without its own config answers 40408; register then PUTs it.
  assert.equal((await get(`/config/${subject}`)).body.error_code, 40408);
  const { id } = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
    { subject },
  );
  assert.ok(id > 0);
  assert.deepEqual((await get(`/config/${subject}`)).body, { compatibilityLevel: 'BACKWARD' });
  // Registering again goes through GET /config (now 200) and returns the id.
  const again = await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) },
    { subject });
  assert.equal(again.id, id);

  const encoded = await registry.encode(id, payment);
  assert.equal(encoded[0], 0);
  assert.equal(encoded.readUInt32BE(1), id);
  // The payload is exactly avsc's encoding of the record.
  assert.deepEqual(encoded.subarray(5), avro.Type.forSchema(schema).toBuffer(payment));
  // A fresh client has no cache: decode fetches GET /schemas/ids/{id}.
  const fresh = new SchemaRegistry({ host: registryUrl });
  assert.deepEqual({ ...(await fresh.decode(encoded)) }, payment);
  assert.equal(await fresh.getLatestSchemaId(subject), id);
});

test('@kafkajs/confluent-schema-registry: incompatible schema is refused', async () => {
  const registry = new SchemaRegistry({ host: registryUrl });
  const ns = unique('kafkajs.bad');
  const subject = `${ns}.Payment`;
  await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(paymentSchema(ns)) },
    { subject });
  const bad = paymentSchema(ns);
  bad.fields.push({ name: 'required', type: 'int' });
  await assert.rejects(
    registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(bad) }, { subject }),
    (e) => e.status === 409 || /incompatible/i.test(e.message),
  );
});

test('@confluentinc/schemaregistry: Avro serializer with auto-register, deserializer', async () => {
  const client = new SchemaRegistryClient({ baseURLs: [registryUrl] });
  const topic = unique('orders-');
  const ser = new AvroSerializer(client, SerdeType.VALUE, { autoRegisterSchemas: true });
  const value = { id: 'o-1', amount: 3.25, count: 7 };
  const bytes = await ser.serialize(topic, value);
  assert.equal(bytes[0], 0);
  const id = bytes.readUInt32BE(1);
  const latest = await get(`/subjects/${topic}-value/versions/latest`);
  assert.equal(latest.status, 200);
  assert.equal(latest.body.id, id);

  const reader = new SchemaRegistryClient({ baseURLs: [registryUrl] });
  const de = new AvroDeserializer(reader, SerdeType.VALUE, {});
  assert.deepEqual({ ...(await de.deserialize(topic, bytes)) }, value);
});

test('@confluentinc/schemaregistry: serializer with useLatestVersion', async () => {
  const topic = unique('payments-');
  const ns = unique('cf.t');
  const schema = paymentSchema(ns);
  const client = new SchemaRegistryClient({ baseURLs: [registryUrl] });
  const id = await client.register(`${topic}-value`,
    { schemaType: 'AVRO', schema: JSON.stringify(schema) });
  assert.ok(id > 0);
  const ser = new AvroSerializer(client, SerdeType.VALUE,
    { autoRegisterSchemas: false, useLatestVersion: true });
  const bytes = await ser.serialize(topic, payment);
  assert.equal(bytes.readUInt32BE(1), id);
  assert.deepEqual(bytes.subarray(5), avro.Type.forSchema(schema).toBuffer(payment));
  const de = new AvroDeserializer(new SchemaRegistryClient({ baseURLs: [registryUrl] }),
    SerdeType.VALUE, {});
  assert.deepEqual({ ...(await de.deserialize(topic, bytes)) }, payment);
  // The client's own reads.
  const meta = await client.getLatestSchemaMetadata(`${topic}-value`);
  assert.equal(meta.id, id);
  assert.equal(meta.version, 1);
  assert.deepEqual(await client.getAllVersions(`${topic}-value`), [1]);
  assert.equal(await client.getId(`${topic}-value`,
    { schemaType: 'AVRO', schema: JSON.stringify(schema) }), id);
});
