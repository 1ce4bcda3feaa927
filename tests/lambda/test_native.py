"""The riffle:native runtime against the running binary: a handler written
in C, built here with `cc -shared -fPIC` against include/riffle/function.h,
invoked with boto3 and fed by an event-source mapping. Crashes and hangs
of the handler fail one invocation; the server stays up."""

import json
import subprocess
import time
from pathlib import Path

import pytest

import lambda_helpers as lh
from test_kinesis_mapping import read_lines, stream  # noqa: F401 (fixture)

REPO = Path(__file__).resolve().parents[2]

HANDLER_C = r'''
#include <riffle/function.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int calls;     /* per process: shows that processes stay warm */
static int inited;

int riffle_abi_version(void) { return RIFFLE_FUNCTION_ABI_VERSION; }

int riffle_init(void) {
  inited = 1;
  return getenv("FAIL_INIT") ? 3 : 0;
}

static int reply(riffle_response* out, const char* text) {
  out->len = strlen(text);
  out->data = malloc(out->len);
  memcpy(out->data, text, out->len);
  return 0;
}

int riffle_handler(const char* event, size_t len, riffle_response* out) {
  ++calls;
  printf("native handler got %zu bytes\n", len);
  if (strstr(event, "\"crash\"")) abort();
  if (strstr(event, "\"hang\"")) sleep(30);
  if (strstr(event, "\"fail\"")) {
    reply(out, "{\"errorType\": \"Boom\", \"errorMessage\": \"asked to fail\"}");
    return 1;
  }
  if (strstr(event, "\"Records\"")) {
    /* A Kinesis batch: append the number of records to $OUT_FILE. */
    int n = 0;
    for (const char* p = event; (p = strstr(p, "\"sequenceNumber\"")); ++p) ++n;
    FILE* f = fopen(getenv("OUT_FILE"), "a");
    fprintf(f, "%d\n", n);
    fclose(f);
    return reply(out, "{\"batchItemFailures\": []}");
  }
  char* buf = malloc(len + 256);
  int k = snprintf(buf, len + 256,
                   "{\"event\": %.*s, \"calls\": %d, \"inited\": %d, "
                   "\"pid\": %d, \"var\": \"%s\"}",
                   (int)len, event, calls, inited, (int)getpid(),
                   getenv("MY_VAR") ? getenv("MY_VAR") : "");
  out->data = buf;
  out->len = (size_t)k;
  return 0;
}

int other_symbol(const char* event, size_t len, riffle_response* out) {
  (void)event; (void)len;
  return reply(out, "\"from other_symbol\"");
}
'''


@pytest.fixture(scope="module")
def native_zip(tmp_path_factory):
    d = tmp_path_factory.mktemp("native")
    (d / "handler.c").write_text(HANDLER_C)
    subprocess.run(["cc", "-shared", "-fPIC", "-O1", "-Wall", "-Werror",
                    "-I", str(REPO / "include"), "-o", str(d / "libhandler.so"),
                    str(d / "handler.c")], check=True)
    return lh.make_zip({"libhandler.so": ((d / "libhandler.so").read_bytes(), 0o755)})


def invoke(lam, fn, payload):
    r = lam.invoke(FunctionName=fn, Payload=json.dumps(payload).encode())
    return r.get("FunctionError"), json.loads(r["Payload"].read() or b"null")


def test_native_handler_runs_and_stays_warm(lam, functions, native_zip):
    fn = functions.create(runtime="riffle:native", handler="libhandler.so",
                          zip_bytes=native_zip,
                          Environment={"Variables": {"MY_VAR": "hello"}})
    conf = lam.get_function_configuration(FunctionName=fn)
    assert conf["Runtime"] == "riffle:native"
    err, out = invoke(lam, fn, {"x": [1, 2]})
    assert err is None
    assert out["event"] == {"x": [1, 2]}
    assert out["inited"] == 1 and out["var"] == "hello"
    err, again = invoke(lam, fn, {"y": 1})
    assert err is None
    if again["pid"] == out["pid"]:
        assert again["calls"] == out["calls"] + 1  # globals persist

    err, other = invoke(lam, fn, {"action": "fail"})
    assert err == "Unhandled"
    assert other == {"errorType": "Boom", "errorMessage": "asked to fail"}

    lam.update_function_configuration(FunctionName=fn,
                                      Handler="libhandler.so:other_symbol")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        err, out = invoke(lam, fn, {})
        if out == "from other_symbol":
            break
        time.sleep(0.1)
    assert out == "from other_symbol"


def test_native_crash_and_hang_fail_one_invocation_not_the_server(
        lam, functions, native_zip):
    fn = functions.create(runtime="riffle:native", handler="libhandler.so",
                          zip_bytes=native_zip, Timeout=1)
    err, out = invoke(lam, fn, {"action": "crash"})
    assert err == "Unhandled"
    assert out["errorType"] == "Runtime.ExitError"
    err, out = invoke(lam, fn, {"action": "hang"})
    assert err == "Unhandled"
    assert out["errorType"] == "Sandbox.Timedout"
    err, out = invoke(lam, fn, {"ok": True})  # a new process serves it
    assert err is None and out["event"] == {"ok": True}


def test_native_load_errors(lam, functions, native_zip):
    missing = functions.create(runtime="riffle:native", handler="libnope.so",
                               zip_bytes=native_zip)
    err, out = invoke(lam, missing, {})
    assert err == "Unhandled"
    nosym = functions.create(runtime="riffle:native",
                             handler="libhandler.so:no_such_symbol",
                             zip_bytes=native_zip)
    err, out = invoke(lam, nosym, {})
    assert err == "Unhandled"
    badinit = functions.create(runtime="riffle:native", handler="libhandler.so",
                               zip_bytes=native_zip,
                               Environment={"Variables": {"FAIL_INIT": "1"}})
    err, out = invoke(lam, badinit, {})
    assert err == "Unhandled"
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        functions.create(runtime="riffle:native", handler="libhandler.so:1bad",
                         zip_bytes=native_zip)


def test_native_handler_behind_a_mapping(lam, kinesis, functions, stream,  # noqa: F811
                                         native_zip, tmp_path):
    name, arn = stream()
    out = tmp_path / "counts.txt"
    fn = functions.create(runtime="riffle:native", handler="libhandler.so",
                          zip_bytes=native_zip,
                          Environment={"Variables": {"OUT_FILE": str(out)}})
    m = lam.create_event_source_mapping(
        EventSourceArn=arn, FunctionName=fn, StartingPosition="TRIM_HORIZON",
        BatchSize=10)
    for i in range(25):
        kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"%d" % i)
    deadline = time.monotonic() + 30
    total = 0
    while time.monotonic() < deadline:
        total = sum(int(l) for l in out.read_text().split()) if out.exists() else 0
        if total >= 25:
            break
        time.sleep(0.1)
    assert total == 25
    lam.delete_event_source_mapping(UUID=m["UUID"])
