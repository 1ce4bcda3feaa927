// The AWS SDK for JavaScript v3 (@aws-sdk/client-kinesis) against a riffle
// started by this file, with the SDK's default request handler: HTTP/2,
// h2c with prior knowledge for an http:// endpoint. Run: node --test tests/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, openSync, accessSync, constants } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import http2 from 'node:http2';
import {
  KinesisClient, CreateStreamCommand, DescribeStreamSummaryCommand, PutRecordCommand,
  PutRecordsCommand, GetShardIteratorCommand, GetRecordsCommand, ListShardsCommand,
  DeleteStreamCommand, ResourceNotFoundException,
} from '@aws-sdk/client-kinesis';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const riffleBin = process.env.RIFFLE_BIN ?? join(repo, 'build', 'riffle');
const account = '000000000000';

let server;
let dataDir;
let endpoints;
let client;

async function waitForEndpoints(file, proc, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`riffle exited with ${proc.exitCode}`);
    try {
      const parsed = JSON.parse(readFileSync(file, 'utf8'));
      if (parsed.aws && parsed.http) return parsed;
    } catch { /* not written yet */ }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no ${file} after ${timeoutMs} ms`);
}

before(async () => {
  try {
    accessSync(riffleBin, constants.X_OK);
  } catch {
    throw new Error(`riffle binary not found at ${riffleBin} (run \`make build\`)`);
  }
  dataDir = mkdtempSync(join(tmpdir(), 'riffle-sdk-'));
  const log = openSync(join(dataDir, 'riffle.log'), 'a');
  server = spawn(riffleBin, ['server', '--data-dir', join(dataDir, 'data'), '--host', '127.0.0.1',
    '--aws-port', '0', '--registry-port', '0', '--http-port', '0'],
  { stdio: ['ignore', log, log] });
  try {
    endpoints = await waitForEndpoints(join(dataDir, 'data', 'endpoints.json'), server);
  } catch (e) {
    server.kill('SIGKILL');
    throw new Error(`${e.message}\n${readFileSync(join(dataDir, 'riffle.log'), 'utf8')}`);
  }
  client = new KinesisClient({
    endpoint: endpoints.aws,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDRIFFLETEST', secretAccessKey: 'riffle-test-secret' },
    maxAttempts: 1,
  });
});

after(async () => {
  client?.destroy();
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server.once('exit', (code, signal) => r({ code, signal })));
    server.kill('SIGTERM');
    const { code } = await exited;
    assert.equal(code, 0, 'riffle exits 0 on SIGTERM');
  }
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

function hashKey(partitionKey) {
  return BigInt('0x' + createHash('md5').update(partitionKey, 'utf8').digest('hex'));
}

function shardIndex(partitionKey, shardCount) {
  const step = (1n << 128n) / BigInt(shardCount);
  const index = hashKey(partitionKey) / step;
  return Number(index < BigInt(shardCount) ? index : BigInt(shardCount - 1));
}

const shardId = (i) => `shardId-${String(i).padStart(12, '0')}`;

async function waitActive(StreamName) {
  for (let i = 0; i < 400; i++) {
    const { StreamDescriptionSummary: s } = await client.send(
      new DescribeStreamSummaryCommand({ StreamName }));
    if (s.StreamStatus === 'ACTIVE') return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${StreamName} never became ACTIVE`);
}

test('the default request handler is HTTP/2', () => {
  assert.equal(client.config.requestHandler.constructor.name, 'NodeHttp2Handler');
});

test('the AWS port answers h2c with prior knowledge', async () => {
  const session = http2.connect(endpoints.aws);
  try {
    const { status, body } = await new Promise((resolvePromise, reject) => {
      const req = session.request({
        ':method': 'POST', ':path': '/',
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Kinesis_20131202.DescribeStreamSummary',
        authorization: 'AWS4-HMAC-SHA256 Credential=AKIDRIFFLETEST/20240101/us-east-1/kinesis/'
          + 'aws4_request, SignedHeaders=host, Signature=00',
        'x-amz-date': '20240101T000000Z',
      });
      let responseStatus;
      const chunks = [];
      req.on('response', (headers) => { responseStatus = headers[':status']; });
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => resolvePromise({ status: responseStatus,
        body: JSON.parse(Buffer.concat(chunks).toString()) }));
      req.on('error', reject);
      req.end(JSON.stringify({ StreamName: 'h2c-missing' }));
    });
    assert.equal(status, 400);
    assert.match(body.__type, /ResourceNotFoundException$/);
  } finally {
    session.close();
  }
});

test('stream round trip over the SDK', async () => {
  const StreamName = 'sdk-stream';
  await client.send(new CreateStreamCommand({ StreamName, ShardCount: 2 }));
  const summary = await waitActive(StreamName);
  assert.equal(summary.OpenShardCount, 2);
  assert.equal(summary.StreamARN, `arn:aws:kinesis:us-east-1:${account}:stream/${StreamName}`);

  const { Shards } = await client.send(new ListShardsCommand({ StreamName }));
  assert.deepEqual(Shards.map((s) => s.ShardId), [shardId(0), shardId(1)]);

  const one = await client.send(new PutRecordCommand({
    StreamName, PartitionKey: 'sdk-key', Data: new TextEncoder().encode('first'),
  }));
  assert.equal(one.ShardId, shardId(shardIndex('sdk-key', 2)));
  assert.match(one.SequenceNumber, /^\d{56}$/);

  const batch = await client.send(new PutRecordsCommand({
    StreamName,
    Records: ['a', 'b', 'c'].map((d) => ({ PartitionKey: 'sdk-key', Data: Buffer.from(d) })),
  }));
  assert.equal(batch.FailedRecordCount, 0);
  assert.ok(batch.Records.every((r) => r.ShardId === one.ShardId));

  const { ShardIterator } = await client.send(new GetShardIteratorCommand({
    StreamName, ShardId: one.ShardId, ShardIteratorType: 'TRIM_HORIZON',
  }));
  const got = await client.send(new GetRecordsCommand({ ShardIterator }));
  assert.deepEqual(got.Records.map((r) => Buffer.from(r.Data).toString()),
    ['first', 'a', 'b', 'c']);
  assert.deepEqual(got.Records.map((r) => r.SequenceNumber),
    [one.SequenceNumber, ...batch.Records.map((r) => r.SequenceNumber)]);
  assert.ok(got.Records.every((r) => r.ApproximateArrivalTimestamp instanceof Date));
  assert.equal(got.MillisBehindLatest, 0);
  assert.ok(got.NextShardIterator);

  await client.send(new DeleteStreamCommand({ StreamName }));
});

test('errors carry the AWS error name', async () => {
  await assert.rejects(
    client.send(new DescribeStreamSummaryCommand({ StreamName: 'sdk-missing' })),
    (err) => {
      assert.ok(err instanceof ResourceNotFoundException);
      assert.equal(err.name, 'ResourceNotFoundException');
      assert.equal(err.message, `Stream sdk-missing under account ${account} not found.`);
      assert.equal(err.$metadata.httpStatusCode, 400);
      return true;
    });
});
