#!/usr/bin/env bash
# Case-study pipeline figures (docs/benchmarks.md, "Pipeline (functions)"):
# riffle (strict durability) with a payments stream, a table and a
# riffle:avro-to-table mapping (BatchSize 100, no batching window), driven
# by bench/pipeline_load. Never part of `make test`.
#   latency:    PutRecord at 1,000 and 10,000 records/s (2 shards), time
#               from the acknowledgement to the item being readable;
#   throughput: PutRecords of 500 as fast as taken on 4 shards, records
#               stored per second end to end.
#   node:       the same throughput run through bench/pipeline_node, a Node
#               handler under aws-lambda-ric doing the same work (registry,
#               avsc, BatchWriteItem through the AWS SDK); NODE_PUT_SECONDS
#               of puts (default 0.5: the backlog must drain in minutes).
# Usage: [RATES="1000 10000"] [MODES="latency throughput node"] [LAT_CONNECTIONS=16]
#        bench/pipeline_bench.sh BUILD_DIR [SECONDS] [RUNS]
#   (cmake --build BUILD_DIR --target riffle pipeline_load first)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=${1:?build dir}; DUR=${2:-10}; RUNS=${3:-3}
L=$BUILD/bench/pipeline_load
W=$(mktemp -d /tmp/riffle-pipe-bench.XXXXXX)
"$BUILD/riffle" server --data-dir "$W/data" --aws-port 0 --registry-port 0 --http-port 0 \
  > "$W/riffle.log" 2>&1 & RIFFLE=$!
trap 'kill $RIFFLE 2>/dev/null; wait 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 200); do [ -s "$W/data/endpoints.json" ] && break; sleep 0.05; done
AWS=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["aws"])' "$W/data/endpoints.json")
REG=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["registry"])' "$W/data/endpoints.json")

# One pipeline per scenario: NAME SHARDS [node]; prints the schema id.
setup() {
  AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench /usr/bin/python3 - "$AWS" "$REG" "$1" "$2" "${3:-}" "$HERE/pipeline_node" <<'PY'
import json, sys, urllib.request, boto3
aws, reg, name, shards = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
node, node_dir = sys.argv[5] == "node", sys.argv[6]
c = lambda s: boto3.client(s, endpoint_url=aws, region_name="us-east-1")
SCHEMA = {"type": "record", "name": "Payment", "namespace": "com.example.payments", "fields": [
  {"name": "payment_id", "type": "string"}, {"name": "account", "type": "string"},
  {"name": "amount_cents", "type": "long"},
  {"name": "currency", "type": {"type": "enum", "name": "Currency", "symbols": ["EUR", "USD", "GBP"]}},
  {"name": "fee", "type": "double"}, {"name": "memo", "type": ["null", "string"], "default": None},
  {"name": "created_at", "type": {"type": "long", "logicalType": "timestamp-millis"}}]}
req = urllib.request.Request(f"{reg}/subjects/{name}-value/versions", method="POST",
    data=json.dumps({"schema": json.dumps(SCHEMA)}).encode(),
    headers={"Content-Type": "application/vnd.schemaregistry.v1+json"})
sid = json.load(urllib.request.urlopen(req))["id"]
k = c("kinesis"); k.create_stream(StreamName=name, ShardCount=shards)
k.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.1})
c("dynamodb").create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
    KeySchema=[{"AttributeName": "payment_id", "KeyType": "HASH"}],
    AttributeDefinitions=[{"AttributeName": "payment_id", "AttributeType": "S"}])
lam = c("lambda")
if node:
    # Code.Directory (a riffle extension, which boto3 cannot send): the
    # handler runs in place, finding avsc and the AWS SDK in the checkout's
    # node_modules.
    body = {"FunctionName": name, "Runtime": "nodejs20.x", "Handler": "index.handler",
            "Role": "arn:aws:iam::000000000000:role/bench", "Timeout": 60,
            "Code": {"Directory": node_dir},
            "Environment": {"Variables": {"TABLE_NAME": name, "REGISTRY_URL": reg}}}
    urllib.request.urlopen(urllib.request.Request(
        f"{aws}/2015-03-31/functions", method="POST", data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20240101/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature=0"}))
else:
    lam.create_function(FunctionName=name, Runtime="riffle:avro-to-table",
        Role="arn:aws:iam::000000000000:role/bench", Code={},
        Environment={"Variables": {"TABLE_NAME": name}})
lam.create_event_source_mapping(FunctionName=name, StartingPosition="LATEST",
    EventSourceArn=f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}",
    BatchSize=100, FunctionResponseTypes=["ReportBatchItemFailures"])
print(sid)
PY
}

RATES=${RATES:-1000 10000}
MODES=${MODES:-latency throughput node}
for run in $(seq "$RUNS"); do
  [[ " $MODES " == *" latency "* ]] && for rate in $RATES; do
    name="lat-$rate-$run"; sid=$(setup "$name" 2)
    "$L" --mode latency --endpoint "$AWS" --stream "$name" --table "$name" --schema-id "$sid" \
      --rate "$rate" --seconds "$DUR" --connections "${LAT_CONNECTIONS:-16}" --tag "$name"
  done
  [[ " $MODES " == *" throughput "* ]] && {
    name="tp-$run"; sid=$(setup "$name" 4)
    "$L" --mode throughput --endpoint "$AWS" --stream "$name" --table "$name" --schema-id "$sid" \
      --seconds "${PUT_SECONDS:-2}" --connections 4 --batch 500 --shards 4 --tag "$name"
  }
  [[ " $MODES " == *" node "* ]] && {
    name="node-$run"; sid=$(setup "$name" 4 node)
    "$L" --mode throughput --endpoint "$AWS" --stream "$name" --table "$name" --schema-id "$sid" \
      --seconds "${NODE_PUT_SECONDS:-0.5}" --connections 4 --batch 500 --shards 4 --tag "$name"
  }
  :
done
