// avsc's decode and encode throughput on one core for the shapes of
// bench/avro_shapes.json, the baseline for build/bench/avro_bench.
// Usage: node bench/avro_avsc.mjs [seconds-per-case]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const avro = require('avsc');
const here = dirname(fileURLToPath(import.meta.url));
const shapes = JSON.parse(readFileSync(join(here, 'avro_shapes.json'), 'utf8'));
const seconds = Number(process.argv[2] || 1);

// The shapes hold Avro JSON (unions wrapped as {"type": value}); avsc's
// default representation has [null, X] unions bare.
function unwrap(v) {
  if (Array.isArray(v)) return v.map(unwrap);
  if (v && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1 && ['string', 'double', 'float', 'long', 'int'].includes(keys[0])) {
      return v[keys[0]];
    }
    const out = {};
    for (const k of keys) out[k] = unwrap(v[k]);
    return out;
  }
  return v;
}

// Calls of fn per second. `per` is how many records one call decodes, so
// that every case warms up on, and checks the clock every, as many records.
function rate(fn, per = 1) {
  // Warm up, then count iterations in batches until the time is up.
  const inner = Math.max(1, Math.round(10000 / per));
  for (let i = 0; i < 2 * inner; i++) fn();
  let n = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  let elapsed = 0n;
  while (elapsed < limit) {
    for (let i = 0; i < inner; i++) fn();
    n += inner;
    elapsed = process.hrtime.bigint() - start;
  }
  return n / (Number(elapsed) / 1e9);
}

const results = [];
for (const [name, { schema, record }] of Object.entries(shapes)) {
  const type = avro.Type.forSchema(schema);
  const value = unwrap(record);
  const buf = type.toBuffer(value);
  let sink;
  // fromBuffer builds a JavaScript object (and, like riffle's DecodeExact,
  // rejects trailing bytes): the counterpart of riffle's decode to a Value.
  const decode = rate(() => { sink = type.fromBuffer(buf); });
  // The counterpart of riffle's decode to JSON text: the object, stringified
  // (avsc's unions are bare, as in riffle's plain JSON).
  const decodeJson = rate(() => { sink = JSON.stringify(type.fromBuffer(buf)); });
  // toBuffer returns a new Buffer per record; riffle appends to a reused
  // string. Both produce the record's bytes, which is what a producer needs.
  const encode = rate(() => { sink = type.toBuffer(value); });
  // The counterparts of riffle's batch calls (DecodeBatch over kBatch
  // records, each in a buffer of its own). avsc has no batch call; its two
  // best ways to decode many records are measured, and the faster one is
  // the baseline: fromBuffer over the kBatch buffers into a reused array,
  // and decode(buf, pos) over the same records laid end to end in one
  // buffer (no per-record Buffer; it returns {value, offset}).
  const kBatch = 256;
  const bufs = Array.from({ length: kBatch }, () => Buffer.from(buf));
  const joined = Buffer.concat(bufs);
  const values = new Array(kBatch);
  const perBuffer = rate(() => {
    for (let i = 0; i < kBatch; i++) values[i] = type.fromBuffer(bufs[i]);
  }, kBatch) * kBatch;
  const concatenated = rate(() => {
    let pos = 0;
    for (let i = 0; i < kBatch; i++) {
      const r = type.decode(joined, pos);
      values[i] = r.value;
      pos = r.offset;
    }
    if (pos !== joined.length) throw new Error('bad batch');
  }, kBatch) * kBatch;
  sink = values;
  results.push({ shape: name, bytes: buf.length, decode_per_s: Math.round(decode),
                 decode_json_per_s: Math.round(decodeJson),
                 encode_per_s: Math.round(encode),
                 batch_from_buffer_per_s: Math.round(perBuffer),
                 batch_decode_per_s: Math.round(concatenated) });
  void sink;
}
console.log(JSON.stringify({ avsc: require('avsc/package.json').version, results }, null, 1));
