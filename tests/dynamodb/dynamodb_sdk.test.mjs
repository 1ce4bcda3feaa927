// The AWS SDK for JavaScript v3 (@aws-sdk/client-dynamodb and the document
// client of @aws-sdk/lib-dynamodb) against a riffle started by this file;
// restarts and kill -9 keep acknowledged writes; hostile expressions are
// answered at once. Run: node --test tests/
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, openSync, accessSync, constants, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DynamoDBClient, CreateTableCommand, DescribeTableCommand, PutItemCommand, GetItemCommand,
  ScanCommand, DeleteTableCommand, ConditionalCheckFailedException,
  TransactionCanceledException, ResourceNotFoundException, waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient, PutCommand, GetCommand, UpdateCommand, QueryCommand, DeleteCommand,
  BatchWriteCommand, BatchGetCommand, TransactWriteCommand, paginateQuery, paginateScan,
} from '@aws-sdk/lib-dynamodb';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const riffleBin = process.env.RIFFLE_BIN ?? join(repo, 'build', 'riffle');

let dataDir;
let server;
let endpoints;
let client;
let doc;

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

async function start() {
  const dir = join(dataDir, 'data');
  try { unlinkSync(join(dir, 'endpoints.json')); } catch { /* first start */ }
  const log = openSync(join(dataDir, 'riffle.log'), 'a');
  server = spawn(riffleBin, ['server', '--data-dir', dir, '--host', '127.0.0.1',
    '--aws-port', '0', '--registry-port', '0', '--http-port', '0'],
  { stdio: ['ignore', log, log] });
  try {
    endpoints = await waitForEndpoints(join(dir, 'endpoints.json'), server);
  } catch (e) {
    server.kill('SIGKILL');
    throw new Error(`${e.message}\n${readFileSync(join(dataDir, 'riffle.log'), 'utf8')}`);
  }
  client?.destroy();
  client = new DynamoDBClient({
    endpoint: endpoints.aws,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDRIFFLETEST', secretAccessKey: 'riffle-test-secret' },
    maxAttempts: 1,
  });
  doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
}

async function stop(signal = 'SIGTERM') {
  if (!server || server.exitCode !== null) return;
  const exited = new Promise((r) => server.once('exit', (code, sig) => r({ code, sig })));
  server.kill(signal);
  const { code } = await exited;
  if (signal === 'SIGTERM') assert.equal(code, 0, 'riffle exits 0 on SIGTERM');
}

before(async () => {
  try {
    accessSync(riffleBin, constants.X_OK);
  } catch {
    throw new Error(`riffle binary not found at ${riffleBin} (run \`make build\`)`);
  }
  dataDir = mkdtempSync(join(tmpdir(), 'riffle-ddb-sdk-'));
  await start();
});

after(async () => {
  await stop();
  client?.destroy();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

let counter = 0;
async function createTable(extra = {}) {
  const TableName = `sdk-${process.pid}-${counter++}`;
  await client.send(new CreateTableCommand({
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'N' }, ...(extra.attributes ?? [])],
    KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }, { AttributeName: 'sk', KeyType: 'RANGE' }],
    ...(extra.indexes ? { GlobalSecondaryIndexes: extra.indexes } : {}),
  }));
  await waitUntilTableExists({ client, maxWaitTime: 10, minDelay: 1 }, { TableName });
  return TableName;
}

test('document client round trip with native JavaScript values', async () => {
  const TableName = await createTable();
  const item = {
    pk: 'user#1', sk: 1, name: 'Ada', age: 36, active: true, nothing: null,
    tags: new Set(['a', 'b']), scores: new Set([1, 2.5]), blob: new Uint8Array([0, 1, 255]),
    address: { city: 'London', lines: ['1 Main St', 2] },
  };
  await doc.send(new PutCommand({ TableName, Item: item }));
  const { Item } = await doc.send(new GetCommand({ TableName, Key: { pk: 'user#1', sk: 1 } }));
  assert.equal(Item.name, 'Ada');
  assert.deepEqual(Item.tags, new Set(['a', 'b']));
  assert.deepEqual(Item.scores, new Set([1, 2.5]));
  assert.deepEqual(Item.address, { city: 'London', lines: ['1 Main St', 2] });
  assert.deepEqual(new Uint8Array(Item.blob), new Uint8Array([0, 1, 255]));

  const updated = await doc.send(new UpdateCommand({
    TableName, Key: { pk: 'user#1', sk: 1 },
    UpdateExpression: 'SET age = age + :one, #n = :n REMOVE nothing ADD tags :t',
    ExpressionAttributeNames: { '#n': 'name' },
    ExpressionAttributeValues: { ':one': 1, ':n': 'Ada L.', ':t': new Set(['c']) },
    ReturnValues: 'ALL_NEW',
  }));
  assert.equal(updated.Attributes.age, 37);
  assert.equal('nothing' in updated.Attributes, false);
  assert.deepEqual(updated.Attributes.tags, new Set(['a', 'b', 'c']));
});

test('conditional writes raise ConditionalCheckFailedException with the item', async () => {
  const TableName = await createTable();
  await doc.send(new PutCommand({ TableName, Item: { pk: 'c', sk: 1, v: 1 } }));
  await assert.rejects(
    doc.send(new PutCommand({
      TableName, Item: { pk: 'c', sk: 1, v: 2 }, ConditionExpression: 'attribute_not_exists(pk)',
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    })),
    (e) => {
      assert.ok(e instanceof ConditionalCheckFailedException, e.name);
      assert.deepEqual(e.Item, { pk: { S: 'c' }, sk: { N: '1' }, v: { N: '1' } });
      return true;
    });
  await assert.rejects(client.send(new GetItemCommand({ TableName: 'nope-table', Key: { pk: { S: 'x' } } })),
    (e) => e instanceof ResourceNotFoundException);
});

test('query pagination, GSI and batch operations', async () => {
  const TableName = await createTable({
    attributes: [{ AttributeName: 'g', AttributeType: 'S' }],
    indexes: [{ IndexName: 'byg', KeySchema: [{ AttributeName: 'g', KeyType: 'HASH' }],
      Projection: { ProjectionType: 'ALL' } }],
  });
  for (let chunk = 0; chunk < 4; chunk++) {
    const RequestItems = { [TableName]: [] };
    for (let i = 0; i < 25; i++) {
      const n = chunk * 25 + i;
      RequestItems[TableName].push({ PutRequest: { Item: { pk: 'p', sk: n, g: n % 2 ? 'odd' : 'even' } } });
    }
    const r = await doc.send(new BatchWriteCommand({ RequestItems }));
    assert.deepEqual(r.UnprocessedItems, {});
  }
  const seen = [];
  for await (const page of paginateQuery({ client: doc, pageSize: 30 }, {
    TableName, KeyConditionExpression: 'pk = :p', ExpressionAttributeValues: { ':p': 'p' },
  })) {
    assert.ok(page.Items.length <= 30);
    seen.push(...page.Items.map((i) => i.sk));
  }
  assert.deepEqual(seen, [...Array(100).keys()]);
  const odd = await doc.send(new QueryCommand({
    TableName, IndexName: 'byg', KeyConditionExpression: 'g = :g',
    ExpressionAttributeValues: { ':g': 'odd' }, Select: 'COUNT',
  }));
  assert.equal(odd.Count, 50);
  const got = await doc.send(new BatchGetCommand({
    RequestItems: { [TableName]: { Keys: [{ pk: 'p', sk: 3 }, { pk: 'p', sk: 500 }] } },
  }));
  assert.deepEqual(got.Responses[TableName].map((i) => i.sk), [3]);
  let scanned = 0;
  for await (const page of paginateScan({ client: doc, pageSize: 40 }, { TableName })) {
    scanned += page.Count;
  }
  assert.equal(scanned, 100);
});

test('transactions cancel with reasons', async () => {
  const TableName = await createTable();
  await doc.send(new PutCommand({ TableName, Item: { pk: 'a', sk: 1, bal: 10 } }));
  await assert.rejects(doc.send(new TransactWriteCommand({
    TransactItems: [
      { Update: { TableName, Key: { pk: 'a', sk: 1 }, UpdateExpression: 'SET bal = bal - :v',
        ConditionExpression: 'bal >= :v', ExpressionAttributeValues: { ':v': 20 } } },
      { Put: { TableName, Item: { pk: 'b', sk: 1 } } },
    ],
  })), (e) => {
    assert.ok(e instanceof TransactionCanceledException, e.name);
    assert.deepEqual(e.CancellationReasons.map((r) => r.Code), ['ConditionalCheckFailed', 'None']);
    return true;
  });
  await doc.send(new TransactWriteCommand({
    ClientRequestToken: 'sdk-token-1',
    TransactItems: [
      { Update: { TableName, Key: { pk: 'a', sk: 1 }, UpdateExpression: 'SET bal = bal - :v',
        ConditionExpression: 'bal >= :v', ExpressionAttributeValues: { ':v': 5 } } },
      { Put: { TableName, Item: { pk: 'b', sk: 1, bal: 5 } } },
    ],
  }));
  const { Item } = await doc.send(new GetCommand({ TableName, Key: { pk: 'a', sk: 1 } }));
  assert.equal(Item.bal, 5);
  await doc.send(new DeleteCommand({ TableName, Key: { pk: 'b', sk: 1 } }));
});

test('hostile expressions are answered within milliseconds', async () => {
  const TableName = await createTable();
  for (let i = 0; i < 10; i++) await doc.send(new PutCommand({ TableName, Item: { pk: 'h', sk: i, v: i } }));
  let t = Date.now();
  const missing = await doc.send(new QueryCommand({
    TableName, KeyConditionExpression: 'pk = :p', FilterExpression: 'absent > :v',
    ExpressionAttributeValues: { ':p': 'h', ':v': 1 },
  }));
  assert.equal(missing.Count, 0);
  const chain = Array(149).fill('v = :v').join(' OR ');
  const r = await doc.send(new QueryCommand({
    TableName, KeyConditionExpression: 'pk = :p', FilterExpression: chain,
    ExpressionAttributeValues: { ':p': 'h', ':v': 3 },
  }));
  assert.equal(r.Count, 1);
  const parens = '('.repeat(2000) + 'v = :v' + ')'.repeat(2000);
  await assert.rejects(doc.send(new QueryCommand({
    TableName, KeyConditionExpression: 'pk = :p', FilterExpression: parens,
    ExpressionAttributeValues: { ':p': 'h', ':v': 3 },
  })), (e) => e.name === 'ValidationException');
  assert.ok(Date.now() - t < 1000, `took ${Date.now() - t} ms`);
  const health = await fetch(`${endpoints.http}/health`);
  assert.equal(health.status, 200);
});

test('restart and kill -9 keep every acknowledged write', async () => {
  const TableName = await createTable();
  await doc.send(new PutCommand({ TableName, Item: { pk: 'r', sk: 0 } }));
  await stop('SIGTERM');
  await start();
  const { Item } = await doc.send(new GetCommand({ TableName, Key: { pk: 'r', sk: 0 } }));
  assert.ok(Item);

  const acked = [];
  let stopping = false;
  const writers = Array.from({ length: 8 }, async (_, w) => {
    for (let i = 0; !stopping; i++) {
      try {
        await doc.send(new PutCommand({ TableName, Item: { pk: `w${w}`, sk: i } }));
        acked.push(`w${w}/${i}`);
      } catch {
        return;
      }
    }
  });
  await new Promise((r) => setTimeout(r, 1000));
  await stop('SIGKILL');
  stopping = true;
  await Promise.all(writers);
  assert.ok(acked.length > 20, `only ${acked.length} writes acknowledged`);
  await start();
  const found = new Set();
  for await (const page of paginateScan({ client: doc }, { TableName })) {
    for (const i of page.Items) found.add(`${i.pk}/${i.sk}`);
  }
  for (const k of acked) assert.ok(found.has(k), `lost acknowledged write ${k}`);
  const d = await client.send(new DescribeTableCommand({ TableName }));
  assert.equal(d.Table.TableStatus, 'ACTIVE');
  await client.send(new DeleteTableCommand({ TableName }));
  await assert.rejects(client.send(new ScanCommand({ TableName })),
    (e) => e instanceof ResourceNotFoundException);
  await assert.rejects(client.send(new PutItemCommand({ TableName, Item: { pk: { S: 'x' }, sk: { N: '1' } } })),
    (e) => e instanceof ResourceNotFoundException);
});
