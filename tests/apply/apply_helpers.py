"""What the tests/apply suites share: running `riffle apply` against a
server, and boto3 clients for it."""

import subprocess

import boto3

import riffle_harness as harness  # on sys.path by tests/conftest.py


def run(*args, stdin=None, timeout=120):
    return subprocess.run([harness.RIFFLE_BIN, *args], input=stdin,
                          capture_output=True, timeout=timeout)


def apply(server, stack, *extra):
    """(exit code, the item lines, stdout, stderr) of `riffle apply`."""
    r = run("apply", str(stack), "--endpoint", server.aws,
            "--registry", server.endpoints["registry"],
            "--http", server.http, *extra)
    out = r.stdout.decode()
    items = [line[2:] for line in out.splitlines() if line.startswith("  ")]
    return r.returncode, items, out, r.stderr.decode()


def client(server, service):
    return boto3.client(service, endpoint_url=server.aws,
                        region_name="us-east-1")
