"""The Lambda control plane and Invoke with boto3, against provided.al2
functions whose bootstrap is the Python runtime in lambda_helpers."""

import base64
import json
import time

import pytest

import lambda_helpers as lh


def invoke(lam, name, event, **kwargs):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event), **kwargs)
    body = r["Payload"].read()
    return r, json.loads(body) if body else None


def test_create_get_list_update_delete(lam, functions):
    name = functions.create(Environment={"Variables": {"MY_VAR": "one"}},
                            Timeout=5, MemorySize=256, Description="d")
    conf = lam.get_function_configuration(FunctionName=name)
    assert conf["FunctionName"] == name
    assert conf["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert conf["Runtime"] == "provided.al2"
    assert conf["Timeout"] == 5 and conf["MemorySize"] == 256
    assert conf["Environment"]["Variables"] == {"MY_VAR": "one"}
    assert conf["State"] == "Active" and conf["Version"] == "$LATEST"
    assert conf["CodeSize"] > 0 and conf["CodeSha256"]

    got = lam.get_function(FunctionName=conf["FunctionArn"])
    assert got["Configuration"]["FunctionName"] == name
    assert "Location" in got["Code"]

    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert name in names

    updated = lam.update_function_configuration(
        FunctionName=name, Environment={"Variables": {"MY_VAR": "two"}},
        Timeout=7, Handler="echo")
    assert updated["Timeout"] == 7
    assert updated["RevisionId"] != conf["RevisionId"]
    _, out = invoke(lam, name, {"k": 1})
    assert out["env"]["MY_VAR"] == "two"

    lam.delete_function(FunctionName=name)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_function(FunctionName=name)


def test_errors_have_lambda_shapes(lam, functions):
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as e:
        lam.get_function(FunctionName="does-not-exist")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert "Function not found" in e.value.response["Error"]["Message"]

    name = functions.create()
    with pytest.raises(lam.exceptions.ResourceConflictException) as e:
        lam.create_function(FunctionName=name, Runtime="provided.al2",
                            Role=lh.ROLE, Handler="x",
                            Code={"ZipFile": lh.bootstrap_zip()})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409

    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(FunctionName="bad-runtime", Runtime="cobol42",
                            Role=lh.ROLE, Handler="x",
                            Code={"ZipFile": lh.bootstrap_zip()})
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_function(FunctionName="bad-zip", Runtime="provided.al2",
                            Role=lh.ROLE, Handler="x",
                            Code={"ZipFile": b"not a zip"})
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(FunctionName=name, Timeout=901)
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.invoke(FunctionName="does-not-exist", Payload=b"{}")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName=name, Payload=b"{not json")


def test_invoke_passes_lambda_environment_and_headers(lam, functions):
    name = functions.create(Environment={"Variables": {"MY_VAR": "v"}},
                            MemorySize=512)
    r, out = invoke(lam, name, {"hello": "world"})
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    assert r["ExecutedVersion"] == "$LATEST"
    assert out["event"] == {"hello": "world"}
    env = out["env"]
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert env["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert env["AWS_REGION"] == "us-east-1"
    assert env["LAMBDA_TASK_ROOT"] and env["_HANDLER"] == "echo"
    assert env["MY_VAR"] == "v"
    headers = {k.lower(): v for k, v in out["headers"].items()}
    for h in ("lambda-runtime-aws-request-id", "lambda-runtime-deadline-ms",
              "lambda-runtime-invoked-function-arn", "lambda-runtime-trace-id"):
        assert h in headers, h
    assert headers["lambda-runtime-invoked-function-arn"].endswith(":function:" + name)
    assert int(headers["lambda-runtime-deadline-ms"]) > time.time() * 1000


def test_function_error_and_log_tail(lam, functions):
    name = functions.create(handler="actions")
    r, out = invoke(lam, name, {"action": "fail"}, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "RuntimeError"
    assert out["errorMessage"] == "asked to fail"
    log = base64.b64decode(r["LogResult"]).decode()
    assert "START RequestId:" in log and "REPORT RequestId:" in log
    assert "action fail" in log

    r, _ = invoke(lam, name, {"action": "print", "lines": 200}, LogType="Tail")
    log = base64.b64decode(r["LogResult"])
    assert len(log) <= 4096
    assert b"REPORT RequestId:" in log


def test_timeout_fails_and_replaces_the_process(lam, functions):
    name = functions.create(handler="actions", Timeout=1)
    start = time.monotonic()
    r, out = invoke(lam, name, {"action": "sleep", "seconds": 30})
    assert time.monotonic() - start < 10
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in out["errorMessage"]
    r, out = invoke(lam, name, {"action": "ok"})
    assert out == {"ok": "ok"}


def test_crash_fails_the_invocation_and_restarts(lam, functions):
    name = functions.create(handler="actions")
    r, out = invoke(lam, name, {"action": "crash"})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ExitError"
    assert "exit status 7" in out["errorMessage"]
    r, out = invoke(lam, name, {"action": "ok"})
    assert "FunctionError" not in r and out == {"ok": "ok"}


def test_init_error_fails_the_invocation(lam, functions):
    name = functions.create(handler="init_error")
    r, out = invoke(lam, name, {})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "InitBroken"


def test_missing_bootstrap(lam, functions):
    name = functions.create(zip_bytes=lh.make_zip({"readme.txt": "hi"}))
    r, out = invoke(lam, name, {})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.InvalidEntrypoint"


def test_event_and_dry_run(lam, functions, tmp_path):
    name = functions.create(handler="actions")
    r = lam.invoke(FunctionName=name, InvocationType="DryRun", Payload=b"{}")
    assert r["StatusCode"] == 204
    r = lam.invoke(FunctionName=name, InvocationType="Event",
                   Payload=json.dumps({"action": "ok"}))
    assert r["StatusCode"] == 202


def test_update_code_runs_new_code(lam, functions):
    name = functions.create(handler="echo")
    _, out = invoke(lam, name, {})
    assert out["env"]["_HANDLER"] == "echo"
    new = lh.make_zip({"bootstrap": (lh.BOOTSTRAP.replace('"echo")', '"actions")'), 0o755)})
    conf = lam.update_function_code(FunctionName=name, ZipFile=new)
    assert conf["CodeSha256"]
    lam.update_function_configuration(FunctionName=name, Handler="actions")
    _, out = invoke(lam, name, {"action": "ok"})
    assert out == {"ok": "ok"}


def test_concurrency_reservation(lam, functions):
    name = functions.create(handler="actions")
    r = lam.put_function_concurrency(FunctionName=name,
                                     ReservedConcurrentExecutions=0)
    assert r["ReservedConcurrentExecutions"] == 0
    assert lam.get_function(FunctionName=name)["Concurrency"] == {
        "ReservedConcurrentExecutions": 0}
    with pytest.raises(lam.exceptions.TooManyRequestsException):
        lam.invoke(FunctionName=name, Payload=b'{"action":"ok"}')
    lam.put_function_concurrency(FunctionName=name,
                                 ReservedConcurrentExecutions=2)
    r, out = invoke(lam, name, {"action": "ok"})
    assert out == {"ok": "ok"}
    assert lam.get_function_concurrency(FunctionName=name)[
        "ReservedConcurrentExecutions"] == 2
    lam.delete_function_concurrency(FunctionName=name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName=name)


def test_concurrent_invocations_use_several_processes(lam, functions):
    from concurrent.futures import ThreadPoolExecutor
    name = functions.create(handler="echo")
    lam.put_function_concurrency(FunctionName=name,
                                 ReservedConcurrentExecutions=3)
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda i: invoke(lam, name, {"i": i})[1], range(24)))
    assert sorted(o["event"]["i"] for o in outs) == list(range(24))
    assert len({o["pid"] for o in outs}) <= 3


@pytest.mark.needs_binary
def test_functions_survive_a_restart(riffle_factory):
    server = riffle_factory()
    lam = lh.client("lambda", server.aws)
    lam.create_function(FunctionName="durable", Runtime="provided.al2",
                        Role=lh.ROLE, Handler="echo",
                        Code={"ZipFile": lh.bootstrap_zip()},
                        Environment={"Variables": {"MY_VAR": "kept"}})
    server.restart()
    lam = lh.client("lambda", server.aws)
    conf = lam.get_function_configuration(FunctionName="durable")
    assert conf["Environment"]["Variables"] == {"MY_VAR": "kept"}
    _, out = invoke(lam, "durable", {})
    assert out["env"]["MY_VAR"] == "kept"


@pytest.mark.needs_binary
def test_function_metrics(riffle, lam, functions):
    import urllib.request
    name = functions.create(handler="actions")
    invoke(lam, name, {"action": "ok"})
    invoke(lam, name, {"action": "fail"})
    text = urllib.request.urlopen(riffle.http + "/metrics").read().decode()
    assert f'riffle_function_invocations_total{{function="{name}"}} 2' in text
    assert f'riffle_function_errors_total{{function="{name}"}} 1' in text
