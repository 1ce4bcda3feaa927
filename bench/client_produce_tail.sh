#!/bin/bash
# riffle produce and riffle tail (the client library's Producer and
# Consumer) against a local riffle server: 100,000 Avro records of ~86
# bytes into a 4-shard stream, KEYS distinct partition keys (default 1000),
# then read back. Prints the wall time of each. Figures: docs/client-library.md.
#   RIFFLE_BIN=build/riffle KEYS=10 bench/client_produce_tail.sh
set -euo pipefail
BIN=${RIFFLE_BIN:-build/riffle}
KEYS=${KEYS:-1000}
COUNT=${COUNT:-100000}
WORK=$(mktemp -d)
trap 'kill $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
export AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x AWS_DEFAULT_REGION=us-east-1
"$BIN" server --data-dir "$WORK/data" --aws-port 0 --registry-port 0 \
  --http-port 0 --threads 2 > "$WORK/server.log" 2>&1 &
PID=$!
for _ in $(seq 200); do [ -f "$WORK/data/endpoints.json" ] && break; sleep 0.05; done
endpoint() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$WORK/data/endpoints.json" "$1"; }
AWS=$(endpoint aws)
REG=$(endpoint registry)
/usr/bin/aws --endpoint-url "$AWS" kinesis create-stream --stream-name bench --shard-count 4
echo '{"type":"record","name":"E","fields":[{"name":"key","type":"string"},{"name":"n","type":"long"},{"name":"pad","type":"string"}]}' > "$WORK/e.avsc"
python3 -c "
import json
for i in range($COUNT): print(json.dumps({'key': 'k%d' % (i % $KEYS), 'n': i, 'pad': 'x' * 60}))" > "$WORK/in.jsonl"
/usr/bin/time -f "produce: %e s wall" "$BIN" produce --endpoint "$AWS" --registry "$REG" \
  --stream bench --subject bench-value --schema "$WORK/e.avsc" --partition-key-field key < "$WORK/in.jsonl"
/usr/bin/time -f "tail: %e s wall" "$BIN" tail --endpoint "$AWS" --registry "$REG" \
  --stream bench --max "$COUNT" | wc -l
