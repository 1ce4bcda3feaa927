// The case study's producer, as a user would write it: registers the payment
// schema with @kafkajs/confluent-schema-registry, encodes each payment
// (Confluent framing: 0x00 + schema id + Avro) and puts it on a Kinesis
// stream with @aws-sdk/client-kinesis (its default HTTP/2 handler).
//
// Driven by tests/pipeline (not a test itself). Payments are a pure function
// of their index, and every acknowledged payment is appended to --out as one
// JSON line (bytes in base64) once PutRecords has acknowledged it, so the
// test knows exactly what must end up in the table, also when the server is
// killed mid-stream (the producer then stops with exit status 3).
//
//   node produce_payments.mjs --registry URL --aws URL --stream NAME
//        --subject S --start 0 --count 1000 [--rate 1000] [--batch 50]
//        [--out FILE]
import { appendFileSync, fsyncSync, openSync, closeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';

export const PAYMENT_SCHEMA = {
  type: 'record',
  name: 'Payment',
  namespace: 'com.example.payments',
  fields: [
    { name: 'payment_id', type: 'string' },
    { name: 'account', type: 'string' },
    { name: 'amount_cents', type: 'long' },
    { name: 'currency', type: { type: 'enum', name: 'Currency', symbols: ['EUR', 'USD', 'GBP'] } },
    { name: 'fee', type: 'double' },
    { name: 'captured', type: 'boolean' },
    { name: 'memo', type: ['null', 'string'], default: null },
    { name: 'card_fingerprint', type: 'bytes' },
    { name: 'created_at', type: { type: 'long', logicalType: 'timestamp-millis' } },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'attributes', type: { type: 'map', values: 'string' } },
    {
      name: 'payer',
      type: {
        type: 'record',
        name: 'Payer',
        fields: [
          { name: 'name', type: 'string' },
          { name: 'country', type: 'string' },
        ],
      },
    },
  ],
};

export function payment(i) {
  const currencies = ['EUR', 'USD', 'GBP'];
  return {
    payment_id: `pay-${String(i).padStart(7, '0')}`,
    account: `acct-${i % 17}`,
    // Past 2^32 and, every 7th, negative (a refund): exact integers.
    amount_cents: (i % 7 === 0 ? -1 : 1) * (4294967296 + i * 1013),
    currency: currencies[i % 3],
    fee: (i % 100) / 8 + 0.1,
    captured: i % 2 === 0,
    memo: i % 5 === 0 ? null : `order ${i} — ünïcode ✓`,
    card_fingerprint: Buffer.from([i & 0xff, (i >> 8) & 0xff, 0x00, 0xff, 0x80]),
    created_at: 1700000000000 + i * 37,
    tags: i % 4 === 0 ? [] : [`t${i % 3}`, 'web'],
    attributes: { channel: i % 2 ? 'web' : 'pos', seq: String(i) },
    payer: { name: `Payer ${i}`, country: ['DE', 'FR', 'US'][i % 3] },
  };
}

function toJsonLine(p) {
  return JSON.stringify({ ...p, card_fingerprint: p.card_fingerprint.toString('base64') });
}

async function main() {
  const { values } = parseArgs({
    options: {
      registry: { type: 'string' },
      aws: { type: 'string' },
      stream: { type: 'string' },
      subject: { type: 'string' },
      start: { type: 'string', default: '0' },
      count: { type: 'string', default: '100' },
      rate: { type: 'string', default: '0' }, // records/s; 0: as fast as acks come
      batch: { type: 'string', default: '50' },
      out: { type: 'string' },
    },
  });
  const start = Number(values.start);
  const count = Number(values.count);
  const rate = Number(values.rate);
  const batchSize = Number(values.batch);

  const registry = new SchemaRegistry({ host: values.registry });
  const { id } = await registry.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(PAYMENT_SCHEMA) },
    { subject: values.subject },
  );
  const kinesis = new KinesisClient({
    endpoint: values.aws,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDRIFFLETEST', secretAccessKey: 'riffle-test-secret' },
    maxAttempts: 1,
  });
  const out = values.out ? openSync(values.out, 'a') : null;
  const began = Date.now();
  let sent = 0;
  try {
    for (let i = start; i < start + count; i += batchSize) {
      if (rate > 0) {
        const due = began + (sent * 1000) / rate;
        const wait = due - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      let pending = [];
      for (let k = i; k < Math.min(i + batchSize, start + count); k++) {
        const p = payment(k);
        pending.push({ p, data: await registry.encode(id, p) });
      }
      // Retry only what was refused (throttling), as a producer should.
      while (pending.length > 0) {
        const reply = await kinesis.send(new PutRecordsCommand({
          StreamName: values.stream,
          Records: pending.map(({ p, data }) => ({ Data: data, PartitionKey: p.payment_id })),
        }));
        const refused = [];
        const acked = [];
        reply.Records.forEach((r, k) => (r.ErrorCode ? refused : acked).push(pending[k]));
        if (out && acked.length) {
          appendFileSync(out, acked.map(({ p }) => toJsonLine(p) + '\n').join(''));
          fsyncSync(out);
        }
        sent += acked.length;
        pending = refused;
        if (refused.length) await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (e) {
    console.error(`producer stopped after ${sent} acknowledged records: ${e.name}: ${e.message}`);
    process.exitCode = 3;
  } finally {
    if (out !== null) closeSync(out);
    kinesis.destroy();
  }
  console.log(JSON.stringify({ schema_id: id, acknowledged: sent, ms: Date.now() - began }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
