#!/usr/bin/python3
"""Figures for the event-source mapping options and riffle:native
(docs/benchmarks.md, "Mapping options and native functions").

  /usr/bin/python3 bench/mapping_options_bench.py [RIFFLE_BIN]

Starts its own `riffle server` on free ports and a fresh data directory and
prints:
- invoke round trips (boto3, sequential, warm) of the same trivial handler
  as riffle:native (C, built here) and as provided.al2 (a Python bootstrap);
- how long one shard of 400 records takes through a handler that sleeps
  50 ms per batch (BatchSize 10), with ParallelizationFactor 1 and 4;
- the same 400 records through a FilterCriteria that keeps 1 in 4.
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "lambda"))
import lambda_helpers as lh  # noqa: E402

for k, v in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
             "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
             "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}.items():
    os.environ[k] = v

NATIVE_C = r'''
#include <riffle/function.h>
#include <stdlib.h>
#include <string.h>
int riffle_handler(const char* event, size_t len, riffle_response* out) {
  out->data = malloc(len); memcpy(out->data, event, len); out->len = len;
  return 0;
}
'''
ECHO_BOOTSTRAP = r'''#!/usr/bin/python3
import os, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime"
while True:
    with urllib.request.urlopen(API + "/invocation/next") as r:
        rid = r.headers["Lambda-Runtime-Aws-Request-Id"]
        body = r.read()
    urllib.request.urlopen(urllib.request.Request(
        API + "/invocation/" + rid + "/response", data=body, method="POST"))
'''


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else str(REPO / "build" / "riffle")
    tmp = Path(tempfile.mkdtemp(prefix="riffle-bench-"))
    data = tmp / "data"
    log = open(tmp / "server.log", "w")
    server = subprocess.Popen([binary, "server", "--data-dir", str(data),
                               "--aws-port", "0", "--registry-port", "0",
                               "--http-port", "0"], stdout=log, stderr=log)
    try:
        for _ in range(200):
            if (data / "endpoints.json").exists():
                break
            time.sleep(0.05)
        aws = json.loads((data / "endpoints.json").read_text())["aws"]
        lam = lh.client("lambda", aws)
        kin = lh.client("kinesis", aws)

        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-I", str(REPO / "include"),
                        "-o", str(tmp / "libecho.so"), "-x", "c", "-"],
                       input=NATIVE_C.encode(), check=True)
        role = lh.ROLE
        lam.create_function(FunctionName="native-echo", Runtime="riffle:native",
                            Handler="libecho.so", Role=role, Code={"ZipFile": lh.make_zip(
                                {"libecho.so": ((tmp / "libecho.so").read_bytes(), 0o755)})})
        lam.create_function(FunctionName="python-echo", Runtime="provided.al2",
                            Handler="x", Role=role, Code={"ZipFile": lh.make_zip(
                                {"bootstrap": (ECHO_BOOTSTRAP, 0o755)})})
        for fn in ("native-echo", "python-echo"):
            for _ in range(20):
                lam.invoke(FunctionName=fn, Payload=b'{"x":1}')
            times = []
            for _ in range(300):
                t = time.perf_counter()
                lam.invoke(FunctionName=fn, Payload=b'{"x":1}')["Payload"].read()
                times.append((time.perf_counter() - t) * 1000)
            print(f"invoke {fn:12s} p50 {pct(times, .5):.2f} ms  p99 {pct(times, .99):.2f} ms")

        def run_mapping(factor, filters=None, keep=None):
            name = f"b-{uuid.uuid4().hex[:8]}"
            kin.create_stream(StreamName=name, ShardCount=1)
            time.sleep(0.2)
            arn = kin.describe_stream_summary(StreamName=name)[
                "StreamDescriptionSummary"]["StreamARN"]
            out = tmp / f"{name}.jsonl"
            fn = f"fn-{name}"
            lam.create_function(FunctionName=fn, Runtime="provided.al2",
                                Handler="kinesis_to_file", Role=role,
                                Code={"ZipFile": lh.bootstrap_zip()},
                                Environment={"Variables": {"OUT_FILE": str(out),
                                                           "SLEEP_MS": "50"}})
            records = [{"PartitionKey": f"k{i % 16}",
                        "Data": json.dumps({"i": i, "keep": i % 4 == 0}).encode()}
                       for i in range(400)]
            for i in range(0, 400, 100):
                kin.put_records(StreamName=name, Records=records[i:i + 100])
            want = keep if keep is not None else 400
            kwargs = {"FilterCriteria": {"Filters": [{"Pattern": json.dumps(filters)}]}} \
                if filters else {}
            t = time.perf_counter()
            m = lam.create_event_source_mapping(
                EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON",
                BatchSize=10, ParallelizationFactor=factor, **kwargs)
            while True:
                n = len(out.read_text().splitlines()) if out.exists() else 0
                if n >= want:
                    break
                time.sleep(0.01)
            took = time.perf_counter() - t
            lam.delete_event_source_mapping(UUID=m["UUID"])
            return took

        for factor in (1, 4):
            took = run_mapping(factor)
            print(f"400 records, 50 ms/batch of 10, ParallelizationFactor {factor}: "
                  f"{took:.2f} s ({400 / took:.0f} records/s)")
        took = run_mapping(1, filters={"data": {"keep": [True]}}, keep=100)
        print(f"400 records, FilterCriteria keeping 100, factor 1: {took:.2f} s")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            print(f"server did not stop in 30 s: killed (log: {tmp}/server.log)")
            server.kill()
            server.wait()
        log.close()


if __name__ == "__main__":
    main()
