"""Starts the real cfyd binary on free ports for each test module."""

import json
import os
import pathlib
import signal
import subprocess
import tempfile
import time

import pytest

READY_TIMEOUT_S = 30


class Cfyd:
    def __init__(self, binary, extra_args=()):
        self._tmp = tempfile.TemporaryDirectory(prefix="cfyd-compat-")
        self.data_dir = pathlib.Path(self._tmp.name) / "data"
        self.log_path = pathlib.Path(self._tmp.name) / "cfyd.log"
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [binary, "serve", "--ephemeral-ports", "--data-dir", str(self.data_dir), *extra_args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        self.ports = self._wait_ready()

    def _wait_ready(self):
        ports_file = self.data_dir / "ports.json"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if ports_file.exists():
                try:
                    return json.loads(ports_file.read_text())
                except ValueError:
                    pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"cfyd exited early:\n{self.log()}")
            time.sleep(0.01)
        raise RuntimeError(f"cfyd not ready:\n{self.log()}")

    def url(self, listener, path):
        return f"http://127.0.0.1:{self.ports[listener]}{path}"

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self._tmp.cleanup()


@pytest.fixture(scope="module")
def cfyd():
    binary = os.environ.get("COMPAT_CFYD_BIN")
    if not binary:
        pytest.fail("COMPAT_CFYD_BIN is not set: run the suites through tests/compat/run")
    instance = Cfyd(binary)
    try:
        yield instance
    finally:
        instance.stop()
