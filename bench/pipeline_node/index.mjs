// The case study's function written as users write it for AWS Lambda: a
// Node handler (nodejs20.x under aws-lambda-ric) that reads the Confluent
// framing, fetches the writer schema by id from the registry (cached),
// decodes with avsc and stores the payments with the AWS SDK's
// BatchWriteItem. bench/pipeline_bench.sh (MODES=node) measures riffle
// running it; it is riffle:avro-to-table's work done the portable way.
import avro from "avsc";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { BatchWriteCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";

const table = process.env.TABLE_NAME;
const registry = process.env.REGISTRY_URL;
// AWS_ENDPOINT_URL (set by riffle) points the SDK at riffle.
const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const types = new Map(); // schema id -> Promise<avro.Type>

function typeOf(id) {
  let t = types.get(id);
  if (!t) {
    t = fetch(`${registry}/schemas/ids/${id}`)
      .then((r) => (r.ok ? r.json() : Promise.reject(new Error(`schema ${id}: ${r.status}`))))
      .then((body) => avro.Type.forSchema(JSON.parse(body.schema)));
    types.set(id, t);
    t.catch(() => types.delete(id));
  }
  return t;
}

async function writeAll(requests) {
  let pending = requests;
  for (let attempt = 0; pending.length; ++attempt) {
    const reply = await ddb.send(new BatchWriteCommand({ RequestItems: { [table]: pending } }));
    pending = reply.UnprocessedItems?.[table] ?? [];
    if (pending.length) await new Promise((r) => setTimeout(r, Math.min(100, 5 << attempt)));
  }
}

export const handler = async (event) => {
  const failures = [];
  const byKey = new Map(); // one write per key per batch, the last wins
  for (const r of event.Records) {
    try {
      const buf = Buffer.from(r.kinesis.data, "base64");
      if (buf.length < 5 || buf[0] !== 0) throw new Error("not Confluent-framed");
      const type = await typeOf(buf.readInt32BE(1));
      const item = type.fromBuffer(buf.subarray(5));
      byKey.set(item.payment_id, item);
    } catch (e) {
      failures.push({ itemIdentifier: r.kinesis.sequenceNumber });
    }
  }
  const puts = [...byKey.values()].map((Item) => ({ PutRequest: { Item } }));
  const chunks = [];
  for (let i = 0; i < puts.length; i += 25) chunks.push(writeAll(puts.slice(i, i + 25)));
  await Promise.all(chunks);
  return { batchItemFailures: failures };
};
