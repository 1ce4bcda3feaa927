"""The real riffle binary for integration tests: one place that starts it.

Every protocol suite under tests/<protocol>/ drives a running `riffle server`
with real clients. This file owns the process: free ports (port 0), a fresh
data directory, waiting for DATA_DIR/endpoints.json, clean shutdown with
SIGTERM (exit 0 asserted), restart on the same data directory, and kill -9.

Set RIFFLE_TEST_ENDPOINT=http://host:port to run the protocol conformance
tests against another Kinesis endpoint (AWS, kinesalite) instead; tests that
need the binary itself (restarts, metrics, fake clock) are then skipped.
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest


REPO = Path(__file__).resolve().parents[1]
RIFFLE_BIN = os.environ.get("RIFFLE_BIN", str(REPO / "build" / "riffle"))
EXTERNAL_ENDPOINT = os.environ.get("RIFFLE_TEST_ENDPOINT")
READY_TIMEOUT_S = 20
STOP_TIMEOUT_S = 20

# Clients sign every request, so they need credentials and a region; keep the
# user's own AWS configuration (profiles, SSO, real endpoints) out of tests.
for _name, _value in {
    "AWS_ACCESS_KEY_ID": "AKIDRIFFLETEST",
    "AWS_SECRET_ACCESS_KEY": "riffle-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_PAGER": "",
}.items():
    os.environ[_name] = _value


class RiffleServer:
    """One `riffle server` process on free ports over one data directory.

    start() may be called again after stop() or kill9(): the new process
    reuses the same data directory (that is what restart tests need) and
    gets new ports, so read `endpoints` again after each start.
    """

    def __init__(self, data_dir, extra_args=(), env=None):
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.endpoints = None
        self.log_path = self.data_dir.parent / (self.data_dir.name + ".log")
        self._log_file = None

    @property
    def aws(self):
        return self.endpoints["aws"]

    @property
    def http(self):
        return self.endpoints["http"]

    def command(self):
        return [RIFFLE_BIN, "server", "--data-dir", str(self.data_dir),
                "--host", "127.0.0.1", "--aws-port", "0", "--registry-port", "0",
                "--http-port", "0", *self.extra_args]

    def start(self):
        if not os.access(RIFFLE_BIN, os.X_OK):
            pytest.fail(f"riffle binary not found at {RIFFLE_BIN} (run `make build`)")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        endpoints_file = self.data_dir / "endpoints.json"
        # A file left by the previous run on this directory must not be
        # mistaken for this run's.
        endpoints_file.unlink(missing_ok=True)
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log_file,
                                     stderr=subprocess.STDOUT, env=self.env)
        self.endpoints = self._wait_for_endpoints(endpoints_file)
        return self

    def _wait_for_endpoints(self, path):
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"riffle exited with {self.proc.returncode} before it was "
                            f"ready\n{self.log()}")
            try:
                endpoints = json.loads(path.read_text())
                if all(k in endpoints for k in ("aws", "registry", "http")):
                    return endpoints
            except (FileNotFoundError, ValueError):
                pass  # Not written yet, or written half-way.
            time.sleep(0.02)
        self.kill9()
        pytest.fail(f"riffle wrote no endpoints.json within {READY_TIMEOUT_S}s\n{self.log()}")

    def log(self):
        try:
            return "---- riffle log ----\n" + self.log_path.read_text(errors="replace")[-20000:]
        except FileNotFoundError:
            return "(no log)"

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM):
        """Stops the server with `sig` and asserts a clean exit (status 0)."""
        if not self.running():
            return
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill9()
            pytest.fail(f"riffle did not exit within {STOP_TIMEOUT_S}s of "
                        f"{signal.Signals(sig).name}\n{self.log()}")
        self._close_log()
        assert code == 0, f"riffle exited with {code} after {signal.Signals(sig).name}\n{self.log()}"

    def kill9(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()
        self._close_log()

    def restart(self):
        self.stop()
        return self.start()

    def _close_log(self):
        if self._log_file:
            self._log_file.close()
            self._log_file = None


class ExternalServer:
    """Stands in for RiffleServer when RIFFLE_TEST_ENDPOINT is set."""

    def __init__(self, url):
        self.endpoints = {"aws": url, "registry": None, "http": None}
        self.aws = url
        self.http = None

    def log(self):
        return "(external endpoint: no log)"
